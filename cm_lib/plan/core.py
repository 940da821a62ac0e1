"""A request's plan (notebooks 04, 05): the structure a request asks for, and its two ABC spellings.

A plan holds only what the request asks for: the header (M:, L:, K:), the form (section letters such as
AABB), one chord symbol per bar, an opening motif. A field the request leaves out stays free (None / empty).

It is written two ways, both ABC:
- `plan_text`: what a reader answers (SmolLM2's plan SFT, the rules reader's output shown to a student):
  the header fields asked for, ABC's own parts field `P:` for the form, then the motif's bars and/or a line
  of chord-only bars (`"A" | "D" | "A" | "E7" |`). It copies the request and counts nothing: a reader's job
  is to read, and small models are poor at counting.
- `plan_skeleton`: the tune the grammar binds (cm_lib.generate.plan_grammar), drawn for the student: every
  planned bar as `…` with its chord symbol, repeat signs and section ends where the layout puts them.

The layout (`plan_layout`) turns form letters into sections the way the corpus writes them: a letter
written twice in a row is one section between repeat signs (AABB -> two repeated sections), a lone letter
a plain section ended by a double bar; 8 bars a section (4 when that would pass MAX_PLANNED_BARS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from cm_lib.abc.chords import split_chords
from cm_lib.abc.keys import abc_key, parse_key
from cm_lib.corpus.composer import composer_header
from cm_lib.errors import CourseError

SECTION_BARS = 8  # bars of a planned section (as most of the corpus' repeated sections)
SHORT_SECTION_BARS = 4  # ... when SECTION_BARS would make the tune longer than MAX_PLANNED_BARS
MAX_PLANNED_BARS = 32
PLAN_FIELDS = ("key", "meter", "unit", "form", "chords", "motif")  # what a plan may fix, in request words
SLOT = "…"  # a bar left for the writer, in plan_skeleton


class RequestError(CourseError, ValueError):
    """A request that is not a JSON object of known fields with usable values (cm_lib.metrics.parse_request, the studio)."""


def normalise_key(value: str | None) -> str | None:
    """A key in words or as K: ('G major', 'Gmaj', 'Ador') in the grammar's spelling ('G', 'Ador'); None if unreadable."""
    if not value or not str(value).strip():
        return None
    try:
        return abc_key(str(value).strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Plan:
    """What a request fixes of a tune; None or () where it asks nothing (notebooks 04, 05)."""

    meter: str | None = None  # M: value, e.g. "6/8", "C"
    unit: str | None = None  # L: value, e.g. "1/8" (a motif fixes it: its notes are written in it)
    key: str | None = None  # K: value, e.g. "G", "Em", "Ador" (normalise_key)
    form: str | None = None  # section letters, e.g. "AABB"
    chords: tuple[str, ...] = field(default_factory=tuple)  # one chord symbol per bar, in order
    motif: str | None = None  # the tune's opening bars, ABC, e.g. "A | d2B A2F |"

    def header(self) -> dict[str, str]:
        """The header fields the plan fixes, ABC names: {"M": "6/8", "K": "G"} (for constrain.tune_grammar)."""
        out = {"M": self.meter, "L": self.unit, "K": self.key}
        return {k: v for k, v in out.items() if v}

    def fields(self) -> dict[str, str]:
        """The fields the plan fixes, in request words and comparable form: chords as 'A D A E7', the motif without spaces."""
        out: dict[str, str] = {}
        if self.key:
            out["key"] = self.key
        if self.meter:
            out["meter"] = self.meter
        if self.unit:
            out["unit"] = self.unit
        if self.form:
            out["form"] = self.form
        if self.chords:
            out["chords"] = " ".join(self.chords)
        if self.motif:
            out["motif"] = "".join(self.motif.split())
        return out

    @property
    def empty(self) -> bool:
        """True when the plan fixes nothing."""
        return not self.fields()


def make_plan(key: str | None = None, meter: str | None = None, unit: str | None = None, form: str | None = None,
              chords: str | list[str] | tuple[str, ...] | None = None, motif: str | None = None) -> Plan:
    """A Plan from request values in words or ABC (key 'G major' or 'G', chords 'A D E7' or a list); blanks stay free."""
    form = "".join(str(form or "").split()).upper() or None
    opening = " ".join(str(motif or "").split()) or None
    if opening and not opening.endswith(("|", "]", ":")):
        opening += " |"  # the motif's last bar ends where the writer's first bar starts
    return Plan(meter=(meter or "").strip() or None, unit=(unit or "").strip() or None, key=normalise_key(key),
                form=form, chords=tuple(split_chords(chords)), motif=opening)


# -- the layout the grammar binds --------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Planned bars: the motif's literal bars first, then bars to write; None bars = as many as the writer likes."""

    motif_bars: tuple[str, ...]  # the opening's bars, verbatim (each counts as one planned bar)
    bars: int | None  # planned bars in all (motif included); None: free length
    chords: tuple[str | None, ...]  # the chord symbol that opens each planned bar (None: none planned)
    starts: frozenset[int]  # bars that open a repeated section ("|:" before them)
    ends: dict[int, str]  # bar index -> the sign after it that ends a section (":|", "||", "|]")
    free_ends: bool  # no form planned: the writer picks bar lines (repeats, double bars) between the planned bars


def form_sections(form: str) -> list[bool]:
    """Repeat flag per section of a form: a letter twice in a row is one repeated section (AABB -> [True, True]; ABA -> three plain)."""
    out: list[bool] = []
    letters = [c for c in form if c.isalpha()]
    i = 0
    while i < len(letters):
        run = 1
        while i + run < len(letters) and letters[i + run] == letters[i]:
            run += 1
        out += [True] * (run // 2) + [False] * (run % 2)
        i += run
    return out


def motif_bars(motif: str | None) -> list[str]:
    """The bars of a motif ('A | d2B A2F |' -> ['A', 'd2B A2F']), bar lines removed."""
    if not motif:
        return []
    return [b.strip() for b in re.split(r":\|\]|\|\]|:\||\|:|::|\|+", motif) if b.strip()]


def plan_layout(plan: Plan) -> Layout:
    """The bars a plan binds: sections from its form, one chord per bar (cycled when the form has more bars), the motif first."""
    opening = tuple(motif_bars(plan.motif))
    m = len(opening)
    chords = list(plan.chords)
    starts: set[int] = set()
    ends: dict[int, str] = {}
    if plan.form:
        reps = form_sections(plan.form)
        k = len(reps)
        per = SECTION_BARS if k * SECTION_BARS <= MAX_PLANNED_BARS else SHORT_SECTION_BARS
        if chords and not m and len(chords) % k == 0 and len(chords) // k >= SHORT_SECTION_BARS:
            per = len(chords) // k  # the progression spans the tune, one chord per bar
        per = max(per, m + 1)
        total: int | None = k * per
        for s, repeat in enumerate(reps):
            first, last = s * per, (s + 1) * per - 1
            if repeat:
                starts.add(first)
            ends[last] = ":|" if repeat else ("|]" if s == k - 1 else "||")
    elif chords:
        total = m + len(chords)
    else:
        total = None
    per_bar: list[str | None] = []
    if total is not None:
        per_bar = [None] * m + [chords[(i - m) % len(chords)] if chords else None for i in range(m, total)]
    return Layout(opening, total, tuple(per_bar), frozenset(starts), ends, free_ends=not plan.form)


# -- the two spellings -------------------------------------------------------------------------------


def plan_text(plan: Plan) -> str:
    """The plan as a reader writes it: asked header fields (M:, L:, P: for the form, K:), then motif and chord lines."""
    lines = []
    if plan.meter:
        lines.append(f"M:{plan.meter}")
    if plan.unit:
        lines.append(f"L:{plan.unit}")
    if plan.form:
        lines.append(f"P:{plan.form}")
    if plan.key:
        lines.append(f"K:{plan.key}")
    if plan.motif:
        lines.append(plan.motif)
    if plan.chords:
        lines.append(" | ".join(f'"{c}"' for c in plan.chords) + " |")
    return "\n".join(lines) + "\n" if lines else ""


_FIELD_LINE = re.compile(r"^\s*([H-Zh-z]):\s*(.*?)\s*$")  # not a note letter: "A:|" is music
_CHORD_BAR = re.compile(r'^\s*"([^"]+)"\s*$')


def parse_plan_text(text: str) -> Plan:
    """The plan a reader's answer states (plan_text's format); what it does not state stays free, nothing is filled in."""
    values: dict[str, str] = {}
    chords: list[str] = []
    motif: list[str] = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        m = _FIELD_LINE.match(line)
        if m and (m.group(1) == "M" or "|" not in m.group(2)):  # a field line ("P:A d2B|..." is music)
            if m.group(1) in "MLPK":
                values.setdefault(m.group(1), m.group(2))
            continue  # another field (X:, T:, ...) is not part of a plan
        bars = [b for b in re.split(r"\|+", line) if b.strip()]
        if bars and all(_CHORD_BAR.match(b) for b in bars):
            if not chords:
                chords = [_CHORD_BAR.match(b).group(1).strip() for b in bars]  # type: ignore[union-attr]
        elif "|" in line:
            motif.append(line.strip())
    form = values.get("P", "")
    return Plan(meter=values.get("M") or None, unit=values.get("L") or None, key=normalise_key(values.get("K")),
                form="".join(form.split()) if form and form.replace(" ", "").isalpha() else None,
                chords=tuple(chords), motif=" ".join(motif) or None)


def plan_skeleton(plan: Plan, per_line: int = 4) -> str:
    """The tune the grammar binds, drawn as ABC: header, then each planned bar as … with its chord and section signs."""
    head = ["X:1"] + [f"{k}:{v}" for k, v in (("M", plan.meter), ("L", plan.unit), ("P", plan.form)) if v]
    head.append(f"K:{plan.key}" if plan.key else "K:(free)")
    lay = plan_layout(plan)
    if lay.bars is None:
        opening = " | ".join(lay.motif_bars) + " | " if lay.motif_bars else ""
        return "\n".join(head) + f"\n{opening}{SLOT} | {SLOT} (as many bars as the writer likes) |]\n"
    pieces = []
    for i in range(lay.bars):
        content = lay.motif_bars[i] if i < len(lay.motif_bars) else SLOT
        chord = f'"{lay.chords[i]}" ' if lay.chords[i] else ""
        lead = "|: " if i in lay.starts else ""
        end = lay.ends.get(i, "|]" if i == lay.bars - 1 else "|")
        pieces.append((f"{lead}{chord}{content} {end}", end != "|"))
    lines, line, count = [], [], 0
    for text, section_end in pieces:
        line.append(text)
        count += 1
        if section_end or count % per_line == 0:
            lines.append(" ".join(line))
            line = []
            if section_end:
                count = 0
    if line:
        lines.append(" ".join(line))
    return "\n".join(head) + "\n" + "\n".join(lines) + "\n"


def plan_prompt(plan: Plan) -> str | None:
    """The header a writer continues without a grammar: X:1, the plan's M:, its L: if it has one, K:, then its motif;
    None when the plan lacks M: or K: (nothing is filled in; notebook 04's pair, exercise 4). The header is the
    composer's own (`cm_lib.corpus.composer.composer_header`), the one builder of a tune's header lines."""
    if not plan.meter or not plan.key:
        return None
    return composer_header(plan.meter, plan.unit, plan.key) + (f"{plan.motif} " if plan.motif else "")


SOURCE_PARTS = (("key", "key"), ("meter", "meter"), ("unit", "unit length"), ("form", "sections and repeats"),
                ("chords", "chord symbols"), ("motif", "opening"))


def plan_sources(plan: Plan | None) -> dict[str, str]:
    """Who decided each part of a tune: 'plan' where a bound plan fixes it, 'model' for the rest (the notes always); notebook 05's studio."""
    fixed = plan.fields() if plan is not None else {}
    out = {label: ("plan" if name in fixed else "model") for name, label in SOURCE_PARTS}
    return {**out, "notes": "model"}


def without(plan: Plan, *names: str) -> Plan:
    """The plan with some fields freed ('key', 'meter', 'unit', 'form', 'chords', 'motif')."""
    blank = {"chords": ()}
    return replace(plan, **{n: blank.get(n) for n in names})


def same_key(a: str | None, b: str | None) -> bool:
    """Whether two key spellings name the same key (tonic and mode): 'G' = 'Gmaj' = 'G major'."""
    if not a or not b:
        return not a and not b
    try:
        ka, kb = parse_key(a), parse_key(b)
    except ValueError:
        return False
    return (ka.tonic, ka.mode) == (kb.tonic, kb.mode)
