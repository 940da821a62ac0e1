"""Grammar-constrained ABC (notebook 05): Lark grammars of a single-voice ABC subset and the llguidance logits processor.

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
from typing import Any

from cm_lib.abc.keys import abc_key, default_unit, parse_key, parse_meter, parse_unit
from cm_lib.errors import CourseError

MODES = ("none", "syntax", "bars")

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
    from cm_lib.abc.keys import parse_key

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


CHORD_SYMBOL_RE = r'"[A-G][#b]?(m|7|m7|maj7|dim|aug|sus4|6|m6|9)?"'
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

    Used by `cm_lib.evaluate.answer_records(obey_header=True)`, `generate --obey-request` and the studio;
    a key the key parser cannot read is a CourseError.
    """
    out: dict[str, str] = {}
    if request.get("meter"):
        out["M"] = str(request["meter"]).strip()
    if request.get("key"):
        try:
            out["K"] = abc_key(str(request["key"]))
        except ValueError as e:
            raise CourseError(f"requested key {request['key']!r} is not a key: {e}") from None
    return out


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
    if mode not in ("syntax", "bars"):
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


# -- llguidance ---------------------------------------------------------------------------------------

_LL_TOKENIZERS: dict[tuple[int, int], Any] = {}
_COMPILED: dict[tuple[int, int, str], Any] = {}


def _ll_tokenizer(tokenizer: Any, vocab_size: int) -> Any:
    key = (id(tokenizer), vocab_size)
    if key not in _LL_TOKENIZERS:
        import llguidance.hf

        _LL_TOKENIZERS[key] = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size)
    return _LL_TOKENIZERS[key]


def matcher(tokenizer: Any, grammar: str, vocab_size: int) -> Any:
    """A fresh llguidance LLMatcher for `grammar` (compiled once per tokenizer and grammar, then copied)."""
    import llguidance

    key = (id(tokenizer), vocab_size, grammar)
    if key not in _COMPILED:
        m = llguidance.LLMatcher(_ll_tokenizer(tokenizer, vocab_size), grammar, log_level=0)
        if m.is_error():
            raise CourseError(f"the ABC grammar does not compile: {m.get_error()}")
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        _COMPILED[key] = m
    return _COMPILED[key].deep_copy()


_CLOSING: dict[tuple[int, int], Any] = {}


def _closing_score(t: str) -> float:
    """How much a token helps to close a tune at once (higher is better); see GrammarLogitsProcessor."""
    core = t.strip(" ")
    if core.rstrip("\n").endswith("|]"):
        return 100.0
    if "|]" in core:
        return 90.0
    if core.rstrip("\n").endswith("|"):
        return 60.0
    if "|" in core:
        return -1.0  # "|2", "|:": bar lines that open something rather than close
    if core == "]":
        return 95.0  # closes a chord, or completes "|]"
    if "\n" in t:
        return 30.0
    if re.fullmatch(r"\d+", core):
        return 10.0 + min(int(core), 16) / 2
    if re.fullmatch(r"[A-Ga-gz]", core):
        return 5.0
    if core in ("'", ","):
        return -5.0
    if any(c in t for c in '[({"><~ '):
        return -10.0
    return 0.0


BAR_END_RE = re.compile(r"[^\s|:\[\]]\s*(?::\||\|\]|\|\||\||::)")  # a bar line right after music: one bar written
_TEXTS: dict[tuple[int, int], list[str]] = {}


def token_texts(tokenizer: Any, vocab_size: int) -> list[str]:
    """Each token id's text (ids past the tokenizer's length: empty), decoded once per tokenizer."""
    key = (id(tokenizer), vocab_size)
    if key not in _TEXTS:
        n = min(vocab_size, len(tokenizer))
        _TEXTS[key] = tokenizer.batch_decode([[i] for i in range(n)]) + [""] * (vocab_size - n)
    return _TEXTS[key]


def closing_scores(tokenizer: Any, vocab_size: int) -> Any:
    """Per-token preference while closing a tune: bar lines first, then newline, then long notes; brackets last."""
    import torch

    key = (id(tokenizer), vocab_size)
    if key not in _CLOSING:
        scores = torch.tensor([_closing_score(t) for t in token_texts(tokenizer, vocab_size)])
        _CLOSING[key] = scores
    return _CLOSING[key]


def unpack_bitmask(bitmask: Any, vocab_size: int) -> Any:
    """Bool tensor (rows, vocab) from llguidance's packed int32 bitmask (bit i of word w allows token 32w+i)."""
    import torch

    words = torch.from_numpy(bitmask)
    bits = (words.unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    return bits.reshape(words.shape[0], -1)[:, :vocab_size].bool()


class GrammarLogitsProcessor:
    """A transformers LogitsProcessor: each row may only take tokens its grammar allows; near the budget, it closes.

    Once `max_new_tokens - step <= reserve`, the row is steered (deterministically) along the shortest way
    to finish: EOS when the tune is complete, else the allowed token with the best closing score.
    """

    def __init__(self, tokenizer: Any, grammars: list[str], prompt_len: int, max_new_tokens: int,
                 vocab_size: int, reserve: int = 24, budgets: list[Any] | None = None) -> None:
        import numpy as np

        self.matchers = [matcher(tokenizer, g, vocab_size) for g in grammars]
        # plan rows (plan_grammar.PlanBudget): a token reserve for each planned bar still to write
        self.budgets = list(budgets) if budgets is not None else [None] * len(grammars)
        self.texts = token_texts(tokenizer, vocab_size) if any(self.budgets) else []
        self.written = [""] * len(grammars)
        self.bars_left = [None if b is None else (b.bars or 1) for b in self.budgets]
        self.in_header = [b is not None and b.header_tokens > 0 for b in self.budgets]
        self.prompt_len = prompt_len
        self.max_new_tokens = max_new_tokens
        self.vocab_size = vocab_size
        self.reserve = reserve
        self.eos = tokenizer.eos_token_id
        self.done = [False] * len(grammars)
        self.failed = [False] * len(grammars)
        self.closing = closing_scores(tokenizer, vocab_size)
        self.bitmask = np.full((len(grammars), (vocab_size + 31) // 32), -1, dtype=np.int32)
        self.mask_seconds = 0.0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import time

        from llguidance.numpy import fill_next_token_bitmask

        t0 = time.perf_counter()
        step = input_ids.shape[1] - self.prompt_len
        rows = range(len(self.matchers))
        if step > 0:
            for r in rows:
                if self.done[r]:
                    continue
                m = self.matchers[r]
                tok = int(input_ids[r, -1])
                if not m.consume_token(tok):
                    self.done[r] = self.failed[r] = True
                elif m.is_stopped():
                    self.done[r] = True
                if self.budgets[r] is not None:
                    self._wrote(r, self.texts[tok] if tok < len(self.texts) else "")
        for r in rows:
            if not self.done[r]:
                fill_next_token_bitmask(self.matchers[r], self.bitmask, r)
        allowed = unpack_bitmask(self.bitmask, scores.shape[-1])
        for r in rows:
            if self.done[r]:
                allowed[r] = False
                allowed[r, self.eos] = True
        left = self.max_new_tokens - step
        scores = scores.masked_fill(~allowed, float("-inf"))
        if left <= self.reserve + max(self._planned_reserve(r) for r in rows):
            for r in rows:
                if self.done[r] or left > self.reserve + self._planned_reserve(r):
                    continue
                if allowed[r, self.eos] and self.matchers[r].is_accepting():
                    choice = self.eos
                else:
                    choice = self._closing_choice(r, allowed[r], scores[r])
                scores[r] = float("-inf")
                scores[r, choice] = 0.0
        self.mask_seconds += time.perf_counter() - t0
        return scores

    def _wrote(self, r: int, text: str) -> None:
        """Follow row r's text: its header's end, then the bars it has written (recounted when a bar line comes)."""
        self.written[r] += text
        if self.in_header[r]:
            head, sep, body = self.written[r].partition("K:")
            if sep and "\n" in body:
                self.in_header[r] = False
                self.written[r] = body.split("\n", 1)[1]
            return
        if any(c in text for c in "|:]"):
            budget = self.budgets[r]
            self.bars_left[r] = max(0, (budget.bars or 1) - len(BAR_END_RE.findall(self.written[r])))

    def _planned_reserve(self, r: int) -> int:
        """Tokens row r keeps for what its plan still asks: the header, then the cheapest bar per planned bar left."""
        budget = self.budgets[r]
        if budget is None or self.done[r]:
            return 0
        if self.in_header[r]:
            return budget.minimum
        return self.bars_left[r] * budget.bar_tokens

    def _closing_choice(self, r: int, allowed: Any, logits: Any, width: int = 12) -> int:
        """The allowed token whose closing score plus half the best score it allows next is highest (logits break ties).

        Half: a long note ("8") then beats a short one that only opens the way to it ("b" then "8").
        """
        import numpy as np
        import torch
        from llguidance.numpy import fill_next_token_bitmask

        ids = allowed.nonzero().flatten()
        first = self.closing[ids] * 1e4 + logits[ids].float().clamp(min=-1e3, max=1e3)
        order = ids[first.argsort(descending=True)][:width].tolist()
        mask = np.full((1, self.bitmask.shape[1]), -1, dtype=np.int32)
        best, best_value = order[0], float("-inf")
        for tok in order:
            m = self.matchers[r].deep_copy()
            if not m.consume_token(tok):
                continue
            if m.is_accepting():
                after = 1000.0
            else:
                fill_next_token_bitmask(m, mask, 0)
                nxt = unpack_bitmask(mask, allowed.shape[0])[0]
                after = float(self.closing[: allowed.shape[0]][nxt].max()) if bool(nxt.any()) else -1e6
            value = (float(self.closing[tok]) + 0.5 * after) * 1e4 + float(logits[tok].clamp(min=-1e3, max=1e3))
            if value > best_value:
                best, best_value = tok, value
        return int(torch.tensor(best))
