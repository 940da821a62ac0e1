"""One walk over an ABC tune body: typed, located events, with each voice's meter, unit, key and accidentals.

The checker, the pitch and duration readers, transposition and description are all built on this
walker, so voice switching (`V:` lines and `[V:]`), fields inside the body, the compound-meter rule,
octave arithmetic and accidentals carried to the end of a bar live here, once.

    >>> from cm_lib.abc import parse_tune, walk
    >>> [(e.kind, e.text) for e in walk(parse_tune("X:1\\nK:G\\nF2|")) if e.kind != "space"]
    [('note', 'F2'), ('bar', '|')]

Every event has `kind` (see EVENT_KINDS), `text` (as written), `line` (1-based line in the tune),
`col`/`end` (0-based columns of the text in that line), `voice` (the voice id) and `bar` (1-based bar
number within the voice; bars with no note or rest are not counted). Notes, rests, chord ends,
tuplets, fields and voice changes carry more (their own dataclasses below). Lengths are written
multipliers (`Fraction`, None when written as zero); durations are whole notes (length x unit
length), before tuplets and broken rhythm, which the reader applies (a Tuplet event says how).

The module is the event types and one state machine (`Walker`: a dispatch over the lexer's tokens that carries
each voice's state); it is kept whole although it passes ~400 lines (tests/test_architecture.py, STATE_MACHINES).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from cm_lib.abc.duration import NumberTooLargeError, check_digits, is_compound, length_of, tuplet_time
from cm_lib.abc.keys import (
    ACC_VALUE,
    LETTER_SEMITONE,
    default_unit,
    meter_numerator,
    parse_key,
    parse_meter,
    parse_unit,
)
from cm_lib.abc.lexer import iter_tokens
from cm_lib.abc.tune import Tune, parse_tune

# Kinds of event, in the order of the lexer's alternatives, plus the walker's own "voice" and "too_large".
EVENT_KINDS = {
    "note": "a note (Note)",
    "rest": "a rest z or invisible rest x (Rest)",
    "mrest": "a multi-measure rest Z or X (MultiRest)",
    "chord_open": "[ opening a chord",
    "chord_close": "] closing a chord, with the chord's length (ChordEnd)",
    "grace_open": "{ or {/ opening grace notes",
    "grace_close": "} closing grace notes",
    "bar": "a bar line, with its ending number if any (Bar)",
    "ending": "[1, [2 ... starting an ending",
    "tuplet": "(p:q:r (Tuplet)",
    "slur_open": "(", "slur_close": ")", "tie": "-", "broken": "> or < (broken rhythm)",
    "decochar": "a one-letter decoration (. ~ H-W h-w)",
    "deco": "a decoration !trill! or +trill+",
    "quote": 'a chord symbol "Am" or an annotation "^text"',
    "unclosed_quote": "a \" with no closing quote on its line",
    "field": "an inline field [K:D] (Field)",
    "fieldline": "a field on its own line in the body, V:1 or w: ... (Field)",
    "voice": "the voice changes (VoiceChange; after its V: field)",
    "space": "spaces, tabs, ` and y", "comment": "% comment", "cont": "\\ line continuation",
    "linebreak": "$ or * score line break", "overlay": "& voice overlay",
    "other": "a character that is not ABC music here",
    "too_large": "a number with too many digits (TooLarge; no other event is made of its text)",
}


@dataclass(slots=True)
class Event:
    """One thing written in a tune body, where it is and which voice and bar it belongs to (notebook 01)."""

    kind: str
    text: str
    line: int  # 1-based line in the tune
    col: int  # 0-based column where the text starts in that line
    end: int  # 0-based column just after the text
    voice: str
    bar: int  # 1-based bar number within the voice


@dataclass(slots=True)
class Note(Event):
    """A note: letter as written, octave (4 for C-B, 5 for c-b, ' and , move it), accidental, MIDI pitch."""

    letter: str  # as written: "C".."B" or "c".."b"
    octave: int  # scientific octave: C is C4 (MIDI 60), c is C5
    accidental: str | None  # "^", "^^", "_", "__", "=" or None
    midi: int  # sounding pitch: key signature and the bar's earlier accidentals applied
    length: Fraction | None  # written multiplier; None when written as zero (A0)
    duration: Fraction  # whole notes: (length or 1) x unit length
    pitch_end: int  # column just after the pitch (where its length starts)
    in_chord: bool
    in_grace: bool


@dataclass(slots=True)
class Rest(Event):
    """A rest `z` (or invisible `x`) with its written length and duration."""

    invisible: bool
    length: Fraction | None
    duration: Fraction
    in_chord: bool
    in_grace: bool


@dataclass(slots=True)
class MultiRest(Event):
    """`Z4` (or invisible `X4`): count whole bars of rest."""

    count: int


@dataclass(slots=True)
class ChordEnd(Event):
    """The `]` closing a chord, with the length written after it (None when zero) and the chord's pitches."""

    length: Fraction | None
    midis: tuple[int, ...]  # the notes since the matching [ (empty for [] or a ] with no chord open)
    first_duration: Fraction | None  # duration of the chord's first note


@dataclass(slots=True)
class Bar(Event):
    """A bar line (`|`, `||`, `:|`, `|]`, `[|`, `::` ...), with the ending number written after it."""

    ending: str | None  # "1" in `:|1` or "2" in `|2`

    @property
    def is_section(self) -> bool:
        """Repeat, double bar, thick bar or numbered ending: a section may end here."""
        t = self.text
        return ":" in t or "||" in t or "]" in t or "[" in t or t[-1:].isdigit()


@dataclass(slots=True)
class Tuplet(Event):
    """`(p:q:r`: the next r notes take q/p of their written time; `valid` is False when out of range."""

    p: int
    q: int
    r: int
    valid: bool  # p >= 2, p <= 9 unless q is written, no written 0 for q or r

    @property
    def ratio(self) -> Fraction:
        """What each note's duration is multiplied by: q/p."""
        return Fraction(self.q, self.p)


@dataclass(slots=True)
class Field(Event):
    """A field in the body, inline `[M:3/4]` or on its own line; `error` when its value does not parse."""

    name: str
    value: str
    inline: bool
    error: ValueError | None  # why a K:, M: or L: value is invalid (NumberTooLargeError for absurd numbers)


@dataclass(slots=True)
class VoiceChange(Event):
    """The voice changes to `voice` (made after the V: field that switches it); `new` for its first time."""

    new: bool


@dataclass(slots=True)
class TooLarge(Event):
    """A note, rest, tuplet or multi-measure rest whose number has too many digits."""

    message: str


@dataclass
class VoiceState:
    """What a voice carries at this point of the walk: meter, unit length, key, the bar's accidentals."""

    id: str
    meter: Fraction | None  # bar length in whole notes; None for free meter or no M:
    unit: Fraction
    compound: bool
    key: dict[str, int]  # upper-case letter -> alteration of the key signature
    bar_acc: dict[tuple[str, int], int] = field(default_factory=dict)  # (letter, octave) -> alteration
    bar: int = 1
    filled: bool = False  # the current bar holds a note or rest
    in_chord: bool = False
    in_grace: bool = False
    chord: list[int] = field(default_factory=list)
    chord_first: Fraction | None = None
    durations: dict[tuple[str, str, str], tuple[Fraction | None, Fraction]] = field(default_factory=dict, repr=False)

    def duration_of(self, num: str, slashes: str, den: str) -> tuple[Fraction | None, Fraction]:
        """(written length, duration in whole notes) of a length as written, at this voice's unit length."""
        key = (num, slashes, den)
        try:
            return self.durations[key]
        except KeyError:
            pass
        ln = length_of(num, slashes, den)
        value = (ln, self.unit if ln is None else ln * self.unit)
        if len(self.durations) < 1000:
            self.durations[key] = value
        return value


def is_chord_symbol(text: str) -> bool:
    """A quoted text that is a chord symbol ("Am7"), not an annotation ("^text", "<text" ...) (notebook 01)."""
    return text[1:2] not in ("^", "_", "<", ">", "@", '"')


class Walker:
    """Iterate to get a tune body's events; `voices` and `current` show each voice's state meanwhile."""

    def __init__(self, tune: Tune) -> None:
        self.tune = tune
        self.offset = tune.header_lines + 1
        self.meter: Fraction | None = None
        self.meter_text = ""
        self.unit: Fraction | None = None
        self.header_errors: list[tuple[str, str, ValueError]] = []  # (field name, value, error)
        for name, value in tune.fields:
            if name == "M":
                try:
                    self.meter, self.meter_text = parse_meter(value), value
                except ValueError as err:
                    self.header_errors.append((name, value, err))
            elif name == "L":
                try:
                    self.unit = parse_unit(value)
                except ValueError as err:
                    self.header_errors.append((name, value, err))
        self.key: dict[str, int] = {}
        if tune.key is not None:
            try:
                self.key = dict(parse_key(tune.key).accidentals)
            except ValueError as err:
                self.header_errors.append(("K", tune.key, err))
        self.voices: dict[str, VoiceState] = {}
        self.current = self._voice("1")

    def _voice(self, vid: str) -> VoiceState:
        v = self.voices.get(vid)
        if v is None:
            unit = self.unit if self.unit is not None else default_unit(self.meter)
            num = meter_numerator(self.meter_text) if self.meter_text else None
            v = VoiceState(vid, self.meter, unit, is_compound(num), self.key)
            self.voices[vid] = v
        return v

    def _field(self, name: str, value: str) -> ValueError | None:
        """Apply a body field to the current voice; the parse error, if any."""
        v = self.current
        try:
            if name == "K":
                v.bar_acc = {}
                v.key = {}
                v.key = dict(parse_key(value).accidentals)
            elif name == "M":
                meter = parse_meter(value)
                v.meter = meter
                v.compound = is_compound(meter_numerator(value))
                if len(self.voices) == 1:
                    self.meter, self.meter_text = meter, value
                if self.unit is None:
                    v.unit = default_unit(meter)
                    v.durations = {}
            elif name == "L":
                unit = parse_unit(value)
                v.unit = unit
                v.durations = {}
                if len(self.voices) == 1:
                    self.unit = unit
        except ValueError as err:
            return err
        return None

    def __iter__(self) -> Iterator[Event]:  # noqa: C901 - one dispatch over the token kinds
        off = self.offset
        for tok in iter_tokens(self.tune.body):
            kind = tok.kind
            line = tok.line + off
            v = self.current
            vid = v.id
            m = tok.m
            if m is None:  # a field on its own line
                text = f"{tok.name}:{tok.value}"
                yield Field("fieldline", text, line, 0, len(text), vid, v.bar, tok.name, tok.value, False,
                            self._field(tok.name, tok.value))
                if tok.name == "V":
                    yield self._switch(tok.value, line, 0, len(text))
                continue
            text = m.group()
            col = m.start()
            if kind == "note":
                letter, octs, acc = m.group("letter"), m.group("oct"), m.group("acc")
                try:
                    ln, dur = v.duration_of(m.group("nnum"), m.group("nsl"), m.group("nden"))
                except NumberTooLargeError as err:
                    yield TooLarge("too_large", text, line, col, m.end(), vid, v.bar, str(err))
                    continue
                upper = letter.upper()
                octave = (5 if letter > "Z" else 4) + (octs.count("'") - octs.count(",") if octs else 0)
                slot = (upper, octave)
                if acc:
                    alt = ACC_VALUE[acc]
                    v.bar_acc[slot] = alt
                else:
                    alt = v.bar_acc.get(slot, v.key.get(upper, 0))
                midi = 12 * (octave + 1) + LETTER_SEMITONE[upper] + alt
                if v.in_chord:
                    v.chord.append(midi)
                    if v.chord_first is None:
                        v.chord_first = dur
                elif not v.in_grace:
                    v.filled = True
                yield Note("note", text, line, col, m.end(), vid, v.bar, letter, octave, acc, midi, ln, dur,
                           m.start("nnum"), v.in_chord, v.in_grace)
            elif kind == "space":
                yield Event("space", text, line, col, m.end(), vid, v.bar)
            elif kind == "bar":
                yield Bar("bar", text, line, col, m.end(), vid, v.bar, m.group("endnum"))
                v.bar_acc = {}
                v.in_chord = v.in_grace = False
                if v.filled:
                    v.bar += 1
                    v.filled = False
            elif kind == "rest":
                try:
                    ln, dur = v.duration_of(m.group("rnum"), m.group("rsl"), m.group("rden"))
                except NumberTooLargeError as err:
                    yield TooLarge("too_large", text, line, col, m.end(), vid, v.bar, str(err))
                    continue
                if not (v.in_chord or v.in_grace):
                    v.filled = True
                yield Rest("rest", text, line, col, m.end(), vid, v.bar, m.group("rkind") == "x", ln, dur,
                           v.in_chord, v.in_grace)
            elif kind == "chord_open":
                if not v.in_grace:
                    v.in_chord, v.chord, v.chord_first = True, [], None
                yield Event(kind, text, line, col, m.end(), vid, v.bar)
            elif kind == "chord_close":
                try:
                    ln = length_of(m.group("cnum"), m.group("csl"), m.group("cden"))
                except NumberTooLargeError as err:
                    yield TooLarge("too_large", text, line, col, m.end(), vid, v.bar, str(err))
                    continue
                midis: tuple[int, ...] = ()
                first = None
                if v.in_chord:
                    v.in_chord = False
                    midis, first = tuple(v.chord), v.chord_first
                    if midis and not v.in_grace:
                        v.filled = True
                yield ChordEnd(kind, text, line, col, m.end(), vid, v.bar, ln, midis, first)
            elif kind == "tuplet":
                p_text, q_text, r_text = m.group("tp"), m.group("tq"), m.group("tr")
                try:
                    check_digits(p_text, q_text, r_text)
                except NumberTooLargeError as err:
                    yield TooLarge("too_large", text, line, col, m.end(), vid, v.bar, str(err))
                    continue
                p = int(p_text)
                valid = not (p < 2 or (p > 9 and not q_text) or q_text == "0" or r_text == "0")
                q = tuplet_time(p, q_text, v.compound)
                r = int(r_text) if r_text and r_text != "0" else p
                yield Tuplet(kind, text, line, col, m.end(), vid, v.bar, p, q, r, valid)
            elif kind == "mrest":
                count_text = m.group("mcount")
                try:
                    check_digits(count_text)
                except NumberTooLargeError as err:
                    yield TooLarge("too_large", text, line, col, m.end(), vid, v.bar, str(err))
                    continue
                if not (v.in_chord or v.in_grace):
                    v.filled = True
                yield MultiRest(kind, text, line, col, m.end(), vid, v.bar, int(count_text or 1))
            elif kind == "grace_open":
                v.in_grace = True
                yield Event(kind, text, line, col, m.end(), vid, v.bar)
            elif kind == "grace_close":
                v.in_grace = False
                yield Event(kind, text, line, col, m.end(), vid, v.bar)
            elif kind == "field":
                name, value = m.group("fname"), m.group("fvalue")
                yield Field(kind, text, line, col, m.end(), vid, v.bar, name, value, True,
                            self._field(name, value) if name in "KLM" else None)
                if name == "V":
                    yield self._switch(value, line, col, m.end())
            else:
                yield Event(kind, text, line, col, m.end(), vid, v.bar)

    def _switch(self, value: str, line: int, col: int, end: int) -> VoiceChange:
        parts = value.split()
        vid = parts[0] if parts else "1"
        new = vid not in self.voices
        self.current = self._voice(vid)
        return VoiceChange("voice", value, line, col, end, vid, self.current.bar, new)


def walk(tune: Tune) -> Walker:
    """The events of a parsed tune's body, in written order (iterate over the result) (notebook 01)."""
    return Walker(tune)


def walk_text(text: str) -> Walker:
    """The events of the first tune of `text`; AbcError when there is no tune (notebook 01)."""
    return Walker(parse_tune(text))
