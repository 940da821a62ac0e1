"""The one place cm_lib.metrics reads ABC (notebook 05): notes, bars, bar lines and chord symbols of a tune.

Every metric works on the `TuneData` built here, so switching to a new ABC walker means changing this
module only. Notes come from `cm_lib.abc.pitch.tune_notes` (key signature, bar accidentals, ties, tuplets,
broken rhythm); bar durations from the bars-level checker (`cm_lib.abc.check`), so a bar is measured
exactly as `check(..., "bars")` measures it; bar lines and chord symbols from the lexer
(`cm_lib.abc.lexer.tokenize_body`), aligned to the notes by replaying how `tune_notes` emits them.
Known limit until the walker lands: rests are not events (a bar's notes are laid end to end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from cm_lib.abc.check import TICKS, _Checker  # the checker's bar measurements (no public API yet)
from cm_lib.abc.lexer import tokenize_body
from cm_lib.abc.pitch import tune_notes
from cm_lib.abc.theory import Key, parse_key, parse_meter, parse_unit
from cm_lib.abc.tune import Tune, split_tunes
from cm_lib.errors import AbcError

_ANNOTATION_START = ("^", "_", "<", ">", "@")


@dataclass
class Note:
    """One sounding note: MIDI pitch, duration in whole notes (tie continuations merged), voice, bar, chord."""

    midi: int
    duration: Fraction
    voice: str
    bar: int  # 1-based bar number within its voice (as the checker numbers bars)
    chord: str | None = None  # the chord symbol in force in this voice, as written ("A7")


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


def read_tune(abc: str | Tune, bars: bool = True) -> TuneData:
    """TuneData of the first tune of `abc` (text or a parsed Tune); AbcError when there is no tune.

    With bars=False only the notes are read (no bar measurements, bar lines or chord symbols): what the
    novelty index needs, about twice as fast.
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
    chords_at, closings = _scan(tune, data) if bars else ([None] * len(events), {})
    if len(chords_at) != len(events):  # alignment failed: keep the notes, drop the chord symbols
        chords_at = [None] * len(events)
    last: dict[str, Note] = {}
    for ev, chord in zip(events, chords_at):
        prev = last.get(ev.voice)
        if ev.tied and prev is not None and prev.midi == ev.midi:
            prev.duration += ev.duration
            continue
        note = Note(ev.midi, ev.duration, ev.voice, ev.bar, chord)
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


def _scan(tune: Tune, data: TuneData) -> tuple[list[str | None], dict[str, list[tuple[str, bool]]]]:
    """Replay `tune_notes`' emission order: the chord symbol in force at each note event, and per voice
    the bar line closing each non-empty bar with whether that bar begins an ending."""
    chords_at: list[str | None] = []
    current: dict[str, str | None] = {}
    closings: dict[str, list[tuple[str, bool]]] = {}
    filled: dict[str, bool] = {}
    volta_next: dict[str, bool] = {}
    volta_this: dict[str, bool] = {}
    vid = "1"
    in_chord = in_grace = False
    chord_notes = 0

    def fill() -> None:
        if not filled.get(vid):
            filled[vid] = True
            volta_this[vid] = volta_next.pop(vid, False)

    for tok in tokenize_body(tune.body):
        kind, m = tok.kind, tok.m
        if kind == "note":
            if in_grace:
                continue
            if in_chord:
                chord_notes += 1
                continue
            chords_at.append(current.get(vid))
            fill()
        elif kind in ("rest", "mrest"):
            if not (in_chord or in_grace):
                fill()
        elif kind == "chord_open":
            if not in_grace:
                in_chord, chord_notes = True, 0
        elif kind == "chord_close":
            if in_chord:
                in_chord = False
                if chord_notes:
                    chords_at.append(current.get(vid))
                    fill()
        elif kind == "grace_open":
            in_grace = True
        elif kind == "grace_close":
            in_grace = False
        elif kind == "quote":
            text = m.group()[1:-1]
            if text and not text.startswith(_ANNOTATION_START):
                current[vid] = text
                data.chord_symbols.setdefault(vid, []).append(text)
        elif kind == "bar":
            in_chord = in_grace = False
            text = m.group()
            data.bar_lines.append(text)
            bars = closings.setdefault(vid, [])
            if filled.get(vid):
                bars.append((text, volta_this.get(vid, False)))
                filled[vid] = False
            elif bars:  # an empty bar ("|" at a line end, then "|" again): its line joins the previous one
                prev, volta = bars[-1]
                bars[-1] = (text if prev == "|" else prev if text == "|" else prev + text, volta)
            if m.group("endnum"):
                volta_next[vid] = True
        elif kind == "ending":
            data.bar_lines.append(m.group())
            volta_next[vid] = True
        elif kind in ("field", "fieldline"):
            name, value = (m.group("fname"), m.group("fvalue")) if kind == "field" else (tok.name, tok.value)
            if name == "V":
                parts = value.split()
                vid = parts[0] if parts else "1"
    for v, is_filled in filled.items():
        if is_filled:
            closings.setdefault(v, []).append(("", volta_this.get(v, False)))
    return chords_at, closings


def _bars(tune: Tune, closings: dict[str, list[tuple[str, bool]]]) -> tuple[dict[str, list[Bar]], list[str]]:
    """Bars per voice as the bars-level checker measures them, with the bar lines from `_scan`, and the
    checker's error codes (the same verdict as `check_tune(tune, "bars")`, which runs these steps)."""
    checker = _Checker(tune, "bars")
    try:
        checker.header()
        checker.body(tokenize_body(tune.body))
        checker.finish_bars()
    except Exception:  # noqa: BLE001 - a tune the checker cannot measure has no bar data
        return {}, ["internal-error"]
    errors = [p.code for p in checker.problems if p.severity == "error"]
    out: dict[str, list[Bar]] = {}
    for vid, voice in checker.voices.items():
        texts = closings.get(vid, [])
        aligned = len(texts) == len(voice.bars)
        bars = []
        for i, b in enumerate(voice.bars):
            closing, volta = texts[i] if aligned else ("", False)
            bars.append(Bar(
                number=b.number, duration=Fraction(b.dur) / TICKS,
                measure=None if b.measure is None else Fraction(b.measure) / TICKS, only_mrest=b.only_mrest,
                left_section=b.left_section, right_section=b.right_section, closing=closing, starts_volta=volta,
            ))
        if bars:
            out[vid] = bars
    return out, errors
