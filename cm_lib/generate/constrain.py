"""Grammar-constrained ABC (notebook 05): Lark grammars of a single-voice ABC subset (applied by cm_lib.generate.processor).

`syntax` mode admits any bar contents; `bars` mode admits only bars whose durations sum exactly to the
meter at the tune's L: (a shorter first bar is allowed as a pickup), with one grammar per bar length.
The header (X: M: L: K:) is either in the prompt (its meter and unit choose the bar grammar) or written
by the model (the grammar then offers one branch per supported meter/unit pair, keeping only the M:/L:/K:
values a request imposes: `header`, e.g. `request_header({"key": "F major", "meter": "6/8"})`). Every
sample ends with a full bar, `|]`, a newline and EOS. Checked against `cm_lib.abc.check` in tests/test_generate_constrain.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from cm_lib.abc.check import LEVELS
from cm_lib.abc.chords import written_symbol_pattern
from cm_lib.abc.keys import abc_key, default_unit, parse_key, parse_meter, parse_unit
from cm_lib.errors import CourseError
from cm_lib.plan.core import make_plan

MODES = ("none", *LEVELS)  # no grammar, or the checker's levels (cm_lib.abc.LEVELS)

# Note lengths in half units of L: (so "/" is 1), with the ways ABC writes them.
LENGTHS: dict[int, tuple[str, ...]] = {
    1: ("/", "/2"), 2: ("",), 3: ("3/2",), 4: ("2",), 6: ("3",), 8: ("4",), 12: ("6",), 16: ("8",),
}
# Meter/unit pairs the model may write in its own header (bars mode: each gets its bar grammar).
METERS = ("2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/8", "2/2", "C", "C|", "5/4", "7/8", "3/2", "6/4")
UNITS = ("1/8", "1/16", "1/4")
MIN_BAR, MAX_BAR = 3, 48  # bar lengths (half units) with a grammar: a 2-half-unit bar could read "z:|", a field
KEY_MODES = ("", "m", "min", "maj", "dor", "mix", "phr", "lyd", "loc", "aeo")


def valid_keys() -> list[str]:
    """Every K: value of the grammar (tonic, accidental, mode) that cm_lib.abc's key parser accepts."""
    out = []
    for tonic in "ABCDEFG":
        for acc in ("", "#", "b"):
            for mode in KEY_MODES:
                try:
                    parse_key(tonic + acc + mode)
                except ValueError:
                    continue
                out.append(tonic + acc + mode)
    return out


CHORD_SYMBOL_RE = written_symbol_pattern()  # the chord symbols the grammar writes (cm_lib.abc.chords)
PITCH_RE = r"[\^_=]?[A-Ga-g][,']{0,2}"


@dataclass(frozen=True)
class PromptHeader:
    """What the prompt already says of the tune: its header fields (after the last X:) and whether K: ended it."""

    fields: dict[str, str]
    complete: bool
    ends_with_newline: bool


def prompt_header(prompt: str) -> PromptHeader | None:
    """The header a raw prompt opens (X:... lines up to K:), or None when the prompt starts no tune."""
    lines = prompt.replace("\r\n", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if re.match(r"^\s*X:", line)]
    if not starts:
        return None
    fields: dict[str, str] = {}
    complete = False
    for line in lines[starts[-1]:]:
        m = re.match(r"^\s*([A-Za-z]):(.*)$", line)
        if not m:
            if line.strip():
                return None  # music or prose after the header: the prompt is not a bare header
            continue
        fields[m.group(1)] = m.group(2).strip()
        if m.group(1) == "K":
            complete = True
    return PromptHeader(fields, complete, prompt.endswith("\n"))


def bar_halves(meter: str | None, unit: str | None) -> int | None:
    """Length of a bar in half units of L: for M:/L: values (ABC's default L: when None); None if not supported."""
    try:
        measure = parse_meter(meter) if meter else Fraction(1)
        if measure is None:
            return None
        step = parse_unit(unit) if unit else default_unit(measure)
    except ValueError:
        return None
    halves = measure / step * 2
    if halves.denominator != 1 or not MIN_BAR <= halves.numerator <= MAX_BAR:
        return None
    return int(halves.numerator)


def _alts(options: list[str]) -> str:
    return " | ".join(options)


def elements() -> dict[int, list[str]]:
    """Element alternatives by duration (half units): notes, rests, chords, ties, broken rhythm, triplets."""
    pre = "pre? "
    el: dict[int, list[str]] = {}
    for d in LENGTHS:
        el.setdefault(d, []).extend([f'{pre}"."? N{d}', f"R{d}", f'{pre}"[" N2 N2 N2? C{d}'])
    for d in (2, 4):
        for e in (2, 4):
            el.setdefault(d + e, []).append(f'{pre}N{d} "-" N{e}')
    for d in (1, 2, 4):
        el.setdefault(2 * d, []).extend([f'{pre}N{d} ">" N{d}', f'{pre}N{d} "<" N{d}'])
    for d in (1, 2):
        el.setdefault(2 * d, []).append(f'{pre}"(3" N{d} N{d} N{d}')
    return el


def _terminals() -> list[str]:
    out = []
    for d, suffixes in LENGTHS.items():
        suffix = "(" + "|".join(re.escape(s).replace("/", r"\/") for s in suffixes) + ")" if suffixes != ("",) else ""
        out.append(f"N{d}: /{PITCH_RE}{suffix}/")
        out.append(f"R{d}: /z{suffix}/")
        out.append(f"C{d}: /\\]{suffix}/")
    out += [
        f"GCH: /{CHORD_SYMBOL_RE}/",
        f"GRACE: /\\{{{PITCH_RE}({PITCH_RE}){{0,2}}\\}}/",
        "XNUM: /[1-9][0-9]{0,2}/",
        "TITLE: /[A-Z][A-Za-z' ]{0,18}[A-Za-z]/",
        "KEY: /(" + "|".join(re.escape(k) for k in sorted(valid_keys(), key=len, reverse=True)) + ")/",
    ]
    return out


# Bar lines between bars, and the tune's last one (grammar text), shared with cm_lib.generate.plan_grammar.
SEP = '("|" | "||" | ":|" | "|:" | "::" | "|1" | "|2" | ":|2") ("\\n" ("|:" | "|1" | "|2" | "[1" | "[2" | "|")?)? " "?'
FIN = '("|]" | ":|" | "||") "\\n"'


def body_rules(halves: int | None, el: dict[int, list[str]]) -> list[str]:
    """Rules of a body whose bars last `halves` half units (any length when None): `body_{halves or 'any'}`.

    No literal may extend a shorter one through a byte that could start music: llguidance's lexer does not
    back off, so a literal "|[1" made "|" + "[DFA]" unwritable (hence "|" and "[1" only after a line break).
    """
    sep, fin = SEP, FIN
    # A line that starts with a one-letter bar and ':' ("z:|", "A::") reads as a field line: bars that may be
    # a single element take only bar lines that do not start with ':'.
    sep_nc = '("|" | "||" | "|:" | "|1" | "|2") ("\\n" ("|:" | "|1" | "|2" | "[1" | "[2" | "|")?)? " "?'
    fin_nc = '("|]" | "||") "\\n"'
    if halves is None:
        return [
            "bone: el \")\"? \" \"?",
            "bmany: (el \")\"? \" \"?) (el \")\"? \" \"?)+",
            f"body_any: (\"|:\" \" \"?)? (bmany {sep} | bone {sep_nc})* (bmany {fin} | bone {fin_nc})",
        ]
    rules = []
    for k in range(1, halves + 1):
        options = [f'el{d} ")"? " "? b{halves}_{k - d}' for d in sorted(el) if d < k]
        if k in el:
            options.append(f'el{k} ")"? " "?')
        rules.append(f"b{halves}_{k}: {_alts(options)}")
    # A first bar of p (a pickup) lets a bar of halves - p stand before a section's bar line (ABC's pairing).
    full = f"b{halves}_{halves}"
    lead = '("|:" " "?)?'
    sec = '("||" | ":|" | "|:" | "::") ("\\n" "|:"?)? " "?'
    variants = [f"{lead} ({full} {sep})* {full} {fin}"]
    for p in range(1, halves):
        short_sec, short_fin = (sec, fin) if halves - p > 2 else ('"||" ("\\n" "|:"?)? " "?', fin_nc)
        rules.append(f'm{halves}_{p}: {full} {sep} | b{halves}_{halves - p} {short_sec} (b{halves}_{p} "|" " "?)?')
        rules.append(f"e{halves}_{p}: {full} {fin} | b{halves}_{halves - p} {short_fin}")
        variants.append(f'{lead} b{halves}_{p} ("|" | "|:") ("\\n" | " ")? m{halves}_{p}* e{halves}_{p}')
    rules.append(f"body_{halves}: " + _alts([f"({v})" for v in variants]))
    return rules


IMPOSABLE = ("M", "L", "K")
_SAFE_VALUE_RE = re.compile(r"^[A-Za-z0-9#/+()|=^_ -]{1,40}$")  # what may stand inside a grammar literal


def request_header(request: Mapping[str, str]) -> dict[str, str]:
    """The header fields a request imposes, in ABC spelling: {"key": "F major", "meter": "6/8"} -> {"M": "6/8", "K": "F"}.

    The request's key and meter as a plan holds them (`cm_lib.plan.core.Plan.header`, the one builder of imposed
    header fields). Used by `cm_lib.evaluate.answer_records(obey_header=True)` and `generate --obey-request`; a key
    the key parser cannot read is a CourseError.
    """
    if request.get("key"):
        try:
            abc_key(str(request["key"]))
        except ValueError as e:
            raise CourseError(f"requested key {request['key']!r} is not a key: {e}") from None
    return make_plan(key=request.get("key"), meter=request.get("meter")).header()


def check_header(header: Mapping[str, str]) -> dict[str, str]:
    """The imposed header fields, checked: only M:, L:, K:, each readable by cm_lib.abc's parsers (CourseError if not)."""
    out: dict[str, str] = {}
    for name, value in header.items():
        value = str(value).strip()
        if name not in IMPOSABLE:
            raise CourseError(f"cannot impose header field {name}: (only {', '.join(IMPOSABLE)})")
        if not _SAFE_VALUE_RE.match(value):
            raise CourseError(f"cannot impose {name}:{value!r}: write it as ABC, e.g. M:6/8, L:1/8, K:Em")
        try:
            if name == "K":
                parse_key(value)
            elif name == "L":
                parse_unit(value)
            elif parse_meter(value) is None and value != "none":
                raise ValueError(f"invalid meter {value!r}")
        except ValueError as e:
            raise CourseError(f"cannot impose {name}:{value}: the ABC parser rejects it ({e})") from None
        out[name] = value
    return out


def _header_combos(fixed: dict[str, str]) -> list[tuple[str, str, int | None]]:
    """(meter, unit, bar halves) pairs a generated header may choose, keeping any M:/L: the prompt or request fixed."""
    meters = [fixed["M"]] if "M" in fixed else list(METERS)
    units = [fixed["L"]] if "L" in fixed else list(UNITS)
    return [(m, u, bar_halves(m, u)) for m in meters for u in units]


BodyRules = Callable[[int | None, dict[int, list[str]]], list[str]]  # (bar halves, elements) -> rules of body_<h|any>


def tune_grammar(prompt: str, mode: str, chat: bool = False, header: Mapping[str, str] | None = None,
                 body: BodyRules | None = None, chord_symbols: bool = True) -> str:
    """The Lark grammar of what may follow `prompt` in `mode` ('syntax' or 'bars'): a tune body, or a whole tune.

    `header` imposes M:/L:/K: values (ABC spelling: {"M": "6/8", "K": "Em"}) on a header the model writes (a
    chat answer, or a raw prompt that stops before K:); fields the prompt already wrote must agree with it.
    `body` replaces the body rules (cm_lib.generate.plan_grammar: a plan's bars); `chord_symbols=False` keeps
    chord symbols out of the notes (a plan writes its own, one per bar).
    """
    if mode not in LEVELS:
        raise CourseError(f"unknown constrain mode {mode!r}; choose from {MODES}")
    make_body = body or body_rules
    imposed = check_header(header or {})
    head = None if chat else prompt_header(prompt)
    given = head.fields if head is not None else {}
    clash = {k: (given[k], v) for k, v in imposed.items() if k in given and given[k] != v}
    if clash:
        said = ", ".join(f"{k}:{a} but the request imposes {k}:{b}" for k, (a, b) in clash.items())
        raise CourseError(f"the prompt's header says {said}")
    if head is not None and head.complete and set(imposed) - set(given):
        missing = ", ".join(f"{k}:{imposed[k]}" for k in imposed if k not in given)
        raise CourseError(f"the prompt's header is complete (K: written), so {missing} cannot be imposed")
    el = elements()
    rules = ["el: " + _alts([f"el{d}" for d in sorted(el)])]
    rules += [f"el{d}: {_alts(opts)}" for d, opts in sorted(el.items())]
    # no "." before "(": ".(" lexes as a dotted slur, so staccato stands only right before a note (el rules)
    rules.append('pre: "("? GCH? "~"? GRACE? | "("' if chord_symbols else 'pre: "("? "~"? GRACE? | "("')
    bodies: set[int | None] = set()
    if head is not None and head.complete:
        halves = bar_halves(head.fields.get("M"), head.fields.get("L")) if mode == "bars" else None
        if mode == "bars" and halves is None:
            raise CourseError(f"bars mode cannot count bars of M:{head.fields.get('M')} L:{head.fields.get('L')}; "
                              "use --constrain syntax")
        bodies.add(halves)
        lead = "" if head.ends_with_newline else '"\\n" '
        rules.append(f"start: {lead}body_{halves or 'any'}")
    else:
        fixed = {**imposed, **given}
        # bars mode needs a countable bar; syntax mode too, unless the prompt or request chose the meter
        combos = [c for c in _header_combos(fixed) if c[2] is not None or (mode == "syntax" and "M" in fixed)]
        if not combos:
            if mode == "bars" and ("M" in fixed or "L" in fixed):
                raise CourseError(f"bars mode cannot count bars of M:{fixed.get('M', 'any')} L:{fixed.get('L', 'any')}; "
                                  "use --constrain syntax")
            raise CourseError(f"no supported meter/unit for the prompt's header {fixed}")
        kline = f'"K:{imposed["K"]}\\n"' if "K" in imposed and "K" not in given else '"K:" KEY "\\n"'
        branches = []
        seen: set[tuple[str, int | None]] = set()
        for m, u, h in combos:
            body = h if mode == "bars" else None
            if (m + u, body) in seen:
                continue
            seen.add((m + u, body))
            bodies.add(body)
            mline = "" if "M" in given else f'"M:{m}\\n" '
            lline = "" if "L" in given else f'"L:{u}\\n" '
            branches.append(f'{mline}{lline}{kline} body_{body or "any"}')
        title = "" if "T" in given else '("T:" TITLE "\\n")? '
        rules.append("combo: " + _alts(branches))
        if head is None:
            rules.append(f'start: (" " | "\\n")? "X:" XNUM "\\n" {title}combo')
        else:
            lead = "" if head.ends_with_newline else '"\\n" '
            rules.append(f"start: {lead}{title}combo")
    for b in sorted(bodies, key=lambda x: -1 if x is None else x):
        rules += make_body(b, el)
    return "\n".join(rules + _terminals()) + "\n"
