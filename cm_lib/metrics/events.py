"""The one place cm_lib.metrics reads ABC (notebook 05): notes, rests, bars, bar lines and chord symbols of a tune.

Every metric works on the `TuneData` built here, from one walk of `cm_lib.abc.walk` (the same events
the checker and the pitch reader see). Notes come from `cm_lib.abc.pitch.tune_notes` (key signature,
bar accidentals, ties, tuplets, broken rhythm; a chord counts once, with its top note); bar durations,
meters and section flags from `cm_lib.abc.check.measure_bars`, so a bar is measured exactly as
`check(..., "bars")` measures it, in the same pass that gives the checker's verdict; rests, bar lines,
chord symbols and each bar's closing line from the walker's events, aligned to the notes by the order
in which `tune_notes` emits them (a note outside chords and grace notes, or a chord's closing ]).
A rest's duration takes the tuplet it is in and a broken rhythm (>, <) touching it, as the checker does.
A note tied on (``C2-|C2``) is one Note whose `ties` keep each continuation's duration, bar and chord
symbol, so a tied note that crosses a bar line or a chord change is still placed and judged piece by piece.
Known difference: after a rest with a broken rhythm (``z>A``) `tune_notes` leaves the note's duration
whole (1/8 here) where the checker shortens it (1/16); bar durations are the checker's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from cm_lib.abc.check import measure_bars
from cm_lib.abc.keys import Key, parse_key, parse_meter, parse_unit
from cm_lib.abc.pitch import tune_notes
from cm_lib.abc.tune import Tune, split_tunes
from cm_lib.abc.walk import is_chord_symbol, walk
from cm_lib.errors import AbcError


@dataclass
class Piece:
    """One written piece of a note: itself or a tied continuation, with its own bar and chord symbol."""

    duration: Fraction
    bar: int
    chord: str | None
    order: int


@dataclass
class Note:
    """One sounding note: MIDI pitch, duration in whole notes (tie continuations merged), voice, bar, chord."""

    midi: int
    duration: Fraction
    voice: str
    bar: int  # 1-based bar number within its voice (as the checker numbers bars)
    chord: str | None = None  # the chord symbol in force in this voice, as written ("A7")
    order: int = 0  # position among the tune's notes and rests, in written order
    ties: list[Piece] = field(default_factory=list)  # the tied continuations merged into this note

    def pieces(self) -> list[Piece]:
        """The note as written: its first piece (where it is struck), then each tied continuation."""
        if not self.ties:
            return [Piece(self.duration, self.bar, self.chord, self.order)]
        first = self.duration - sum((p.duration for p in self.ties), Fraction(0))
        return [Piece(first, self.bar, self.chord, self.order), *self.ties]


@dataclass
class Rest:
    """One rest (z or x): duration in whole notes (tuplet and broken rhythm applied), voice, bar."""

    duration: Fraction
    voice: str
    bar: int
    order: int = 0  # position among the tune's notes and rests, in written order
    bars: int = 0  # > 0 for a multi-bar rest Z/X: how many whole bars (its duration is then 0)


@dataclass
class Bar:
    """One bar of a voice: its duration and meter (whole notes), and how its bar lines read."""

    number: int
    duration: Fraction
    measure: Fraction | None  # None for free meter (M:none)
    only_mrest: bool
    left_section: bool  # the bar line before it is a section line (repeat, ||, |], [|, volta)
    right_section: bool  # the bar line after it is a section line
    closing: str = ""  # the bar line text after it ("|", ":|", "|1", ...); "" at the end of the tune
    starts_volta: bool = False  # the bar begins a first/second ending ([1, |2, :|2)


@dataclass
class TuneData:
    """A tune as the metrics see it."""

    tune: Tune
    key: Key | None  # None when K: is missing or invalid
    meter: Fraction | None
    meter_text: str | None
    unit: Fraction | None
    notes: list[Note] = field(default_factory=list)
    rests: list[Rest] = field(default_factory=list)
    bars: dict[str, list[Bar]] = field(default_factory=dict)  # voice -> bars in order
    chord_symbols: dict[str, list[str]] = field(default_factory=dict)  # voice -> chord symbols in order
    bar_lines: list[str] = field(default_factory=list)  # every bar line and ending token as written
    error_codes: list[str] | None = None  # the bars-level checker's error codes (None: not checked)

    @property
    def voices(self) -> list[str]:
        """Voice ids in order of first appearance (notes first, then bars)."""
        seen = dict.fromkeys(n.voice for n in self.notes)
        seen.update(dict.fromkeys(self.bars))
        return list(seen) or ["1"]

    def melody(self, voice: str | None = None) -> list[Note]:
        """The notes of one voice (default: the first voice)."""
        v = voice if voice is not None else self.voices[0]
        return [n for n in self.notes if n.voice == v]

    def melodies(self) -> list[list[Note]]:
        """The notes of each voice, one list per voice."""
        return [self.melody(v) for v in self.voices]

    def timeline(self, voice: str | None = None) -> list[Note | Rest]:
        """The notes and rests of one voice (default: the first voice) in written order."""
        v = voice if voice is not None else self.voices[0]
        events: list[Note | Rest] = [n for n in self.notes if n.voice == v]
        events += [r for r in self.rests if r.voice == v]
        return sorted(events, key=lambda e: e.order)


def read_tune(abc: str | Tune, bars: bool = True) -> TuneData:
    """TuneData of the first tune of `abc` (text or a parsed Tune); AbcError when there is no tune.

    With bars=False only the notes are read (no rests, bar measurements, bar lines or chord symbols):
    what the novelty index needs, about twice as fast.
    """
    if isinstance(abc, Tune):
        tune = abc
    else:
        tunes = split_tunes(abc)
        if not tunes:
            raise AbcError("no tune found (no X: or K: line)")
        tune = tunes[0]
    data = TuneData(tune, _key(tune.key), _safe(parse_meter, tune.meter), tune.meter, _safe(parse_unit, tune.unit_length))
    events = tune_notes(tune)
    if bars:
        slots, closings = _scan(tune, data)
    else:
        slots, closings = [(None, i) for i in range(len(events))], {}
    if len(slots) != len(events):  # alignment failed: keep the notes, drop the chord symbols
        slots = [(None, i) for i in range(len(events))]
    last: dict[str, Note] = {}
    for ev, (chord, order) in zip(events, slots):
        prev = last.get(ev.voice)
        if ev.tied and prev is not None and prev.midi == ev.midi:
            prev.duration += ev.duration
            prev.ties.append(Piece(ev.duration, ev.bar, chord, order))
            continue
        note = Note(ev.midi, ev.duration, ev.voice, ev.bar, chord, order)
        data.notes.append(note)
        last[ev.voice] = note
    if bars:
        data.bars, data.error_codes = _bars(tune, closings)
    return data


def _safe(fn, value):  # noqa: ANN001, ANN202 - parse or None
    if value is None:
        return None
    try:
        return fn(value)
    except ValueError:
        return None


def _key(value: str | None) -> Key | None:
    if value is None:
        return None
    try:
        return parse_key(value)
    except ValueError:
        return None


def _broken_factors(text: str) -> tuple[Fraction, Fraction]:
    """(factor of the element before, factor of the element after) of a broken rhythm > or <."""
    small = Fraction(1, 2 ** len(text))
    big = 2 - small
    return (big, small) if text[0] == ">" else (small, big)


def _scan(tune: Tune, data: TuneData) -> tuple[list[tuple[str | None, int]], dict[str, list[tuple[str, bool]]]]:  # noqa: C901
    """One walk: for each note `tune_notes` emits, (chord symbol in force, order); the rests into `data`;
    per voice the bar line closing each non-empty bar with whether that bar begins an ending."""
    slots: list[tuple[str | None, int]] = []
    current: dict[str, str | None] = {}
    closings: dict[str, list[tuple[str, bool]]] = {}
    filled: dict[str, bool] = {}
    volta_next: dict[str, bool] = {}
    volta_this: dict[str, bool] = {}
    tuplet: dict[str, tuple[int, Fraction]] = {}  # voice -> (elements left, ratio)
    broken: Fraction | None = None  # factor waiting for the element after a > or <
    last_rest: Rest | None = None  # the element just before, when it is a rest
    order = 0

    def element(vid: str) -> Fraction:
        """Advance the voice's tuplet; the factor on this element's duration."""
        nonlocal broken
        factor = Fraction(1)
        left, ratio = tuplet.get(vid, (0, factor))
        if left:
            factor = ratio
            tuplet[vid] = (left - 1, ratio)
        if broken is not None:
            factor, broken = factor * broken, None
        fill(vid)
        return factor

    def fill(vid: str) -> None:
        if not filled.get(vid):
            filled[vid] = True
            volta_this[vid] = volta_next.pop(vid, False)

    walker = walk(tune)
    for ev in walker:
        kind, vid = ev.kind, ev.voice
        if kind == "space":
            continue
        if kind == "note":
            if ev.in_grace or ev.in_chord:
                continue
            element(vid)
            slots.append((current.get(vid), order))
            order += 1
            last_rest = None
        elif kind == "chord_close":
            if ev.midis:
                element(vid)
                slots.append((current.get(vid), order))
                order += 1
            last_rest = None
        elif kind == "rest":
            if ev.in_chord or ev.in_grace:
                continue
            last_rest = Rest(ev.duration * element(vid), vid, ev.bar, order)
            data.rests.append(last_rest)
            order += 1
        elif kind == "mrest":
            if walker.current.in_chord or walker.current.in_grace:
                continue
            fill(vid)  # as in the checker: a multi-bar rest takes no tuplet or broken rhythm
            data.rests.append(Rest(Fraction(0), vid, ev.bar, order, ev.count))
            order += 1
            last_rest = None
        elif kind == "broken":
            before, after = _broken_factors(ev.text)
            if last_rest is not None:
                last_rest.duration *= before
            broken = after
            last_rest = None
        elif kind == "tuplet":
            if ev.p >= 2:
                tuplet[vid] = (ev.r, ev.ratio)
        elif kind == "quote":
            if is_chord_symbol(ev.text):
                text = ev.text[1:-1]
                current[vid] = text
                data.chord_symbols.setdefault(vid, []).append(text)
        elif kind == "bar":
            broken, last_rest = None, None
            text = ev.text
            data.bar_lines.append(text)
            bars = closings.setdefault(vid, [])
            if filled.get(vid):
                bars.append((text, volta_this.get(vid, False)))
                filled[vid] = False
            elif bars:  # an empty bar ("|" at a line end, then "|" again): its line joins the previous one
                prev, volta = bars[-1]
                bars[-1] = (text if prev == "|" else prev if text == "|" else prev + text, volta)
            if ev.ending:
                volta_next[vid] = True
        elif kind == "ending":
            data.bar_lines.append(ev.text)
            volta_next[vid] = True
        elif kind == "voice":
            broken, last_rest = None, None
    for v, is_filled in filled.items():
        if is_filled:
            closings.setdefault(v, []).append(("", volta_this.get(v, False)))
    return slots, closings


def _bars(tune: Tune, closings: dict[str, list[tuple[str, bool]]]) -> tuple[dict[str, list[Bar]], list[str]]:
    """Bars per voice as the bars-level checker measures them, with the bar lines from `_scan`, and the
    checker's error codes (`measure_bars` is `check_tune(tune, "bars")` keeping its measurements)."""
    result, measured = measure_bars(tune)
    errors = [p.code for p in result.problems if p.severity == "error"]
    if "internal-error" in errors:  # a tune the checker cannot measure has no bar data
        return {}, errors
    out: dict[str, list[Bar]] = {}
    for vid, measures in measured.items():
        texts = closings.get(vid, [])
        aligned = len(texts) == len(measures)
        bars = []
        for i, b in enumerate(measures):
            closing, volta = texts[i] if aligned else ("", False)
            bars.append(Bar(b.number, b.duration, b.measure, b.only_mrest, b.left_section, b.right_section,
                            closing, volta))
        out[vid] = bars
    return out, errors
