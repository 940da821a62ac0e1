"""Sounding notes of a tune: MIDI pitches (key signature and bar-scoped accidentals applied) and durations."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from cm_lib.abc.duration import NumberTooLargeError
from cm_lib.abc.tune import Tune, parse_tune
from cm_lib.abc.walk import Walker


@dataclass(slots=True)
class NoteEvent:
    """One sounding note (a chord counts once, with its top note): pitch, length, place (notebook 01)."""

    midi: int
    duration: Fraction  # in whole notes
    voice: str
    line: int  # 1-based line in the tune
    bar: int  # 1-based bar number within its voice
    tied: bool = False  # continuation of a tie from the previous note of the same pitch


def _refuse_absurd(line: int | None, err: ValueError) -> None:
    if isinstance(err, NumberTooLargeError):
        where = f"line {line}: " if line else ""
        raise NumberTooLargeError(f"{where}{err}")


def tune_notes(tune: Tune, voice: str | None = None) -> list[NoteEvent]:
    """Every sounding note of a parsed tune (optionally one voice), in written order (notebook 01).

    Raises AbcError (NumberTooLargeError) for a number with too many digits; other defects are read
    leniently (see `check` for them).
    """
    walker = Walker(tune)
    for _name, _value, err in walker.header_errors:
        _refuse_absurd(None, err)
    out: list[NoteEvent] = []
    tuplet: dict[str, tuple[int, Fraction]] = {}  # voice -> (notes left, ratio)
    tie_from: int | None = None
    tie_pending: int | None = None
    broken: Fraction | None = None
    last: NoteEvent | None = None

    def emit(midi: int, dur: Fraction, vid: str, line: int, bar: int) -> None:
        nonlocal tie_pending, broken, last
        left, ratio = tuplet.get(vid, (0, Fraction(1)))
        if left:
            dur = dur * ratio
            tuplet[vid] = (left - 1, ratio)
        if broken is not None:
            dur = dur * broken
            broken = None
        tied = tie_pending is not None and tie_pending == midi
        tie_pending = None
        ev = NoteEvent(midi, dur, vid, line, bar, tied)
        if voice is None or voice == vid:
            out.append(ev)
        last = ev

    chord_line = 0
    for ev in walker:
        kind = ev.kind
        if kind == "note":
            if ev.in_grace or ev.in_chord:
                continue
            emit(ev.midi, ev.duration, ev.voice, ev.line, ev.bar)
            tie_from = ev.midi
        elif kind == "rest":
            if ev.in_chord or ev.in_grace:
                continue
            left, ratio = tuplet.get(ev.voice, (0, Fraction(1)))
            if left:
                tuplet[ev.voice] = (left - 1, ratio)
            broken = None
            tie_pending = None
            last = None
        elif kind == "chord_open":
            chord_line = ev.line
        elif kind == "chord_close":
            if ev.midis:
                top = max(ev.midis)
                emit(top, (ev.first_duration or Fraction(1)) * (ev.length or Fraction(1)), ev.voice, chord_line,
                     ev.bar)
                tie_from = top
        elif kind == "tie":
            if not walker.current.in_chord:
                tie_pending = tie_from
        elif kind == "broken":
            if last is not None:
                n = len(ev.text)
                small = Fraction(1, 2**n)
                big = 2 - small
                left_f, right_f = (big, small) if ev.text[0] == ">" else (small, big)
                last.duration = last.duration * left_f
                broken = right_f
        elif kind == "tuplet":
            if ev.p >= 2:
                tuplet[ev.voice] = (ev.r, ev.ratio)
        elif kind == "bar":
            last = None
        elif kind == "field" or kind == "fieldline":
            if ev.error is not None:
                _refuse_absurd(ev.line, ev.error)
        elif kind == "voice":
            tie_pending = None
            broken = None
            last = None
        elif kind == "too_large":
            raise NumberTooLargeError(f"line {ev.line}: {ev.message}")
    return out


def notes(text: str, voice: str | None = None) -> list[NoteEvent]:
    """Sounding notes of the first tune in `text` (chords: top note); raises AbcError if no tune (notebook 01)."""
    return tune_notes(parse_tune(text), voice)


def pitches(text: str, voice: str | None = None) -> list[int]:
    """MIDI numbers of the sounding notes in order (chords -> top note, tied continuations skipped) (notebook 01)."""
    return [n.midi for n in notes(text, voice) if not n.tied]


def durations(text: str, voice: str | None = None) -> list[Fraction]:
    """Durations (whole notes) matching `pitches`: a tied continuation's length is added to its note (notebook 01)."""
    out: list[Fraction] = []
    for n in notes(text, voice):
        if n.tied and out:
            out[-1] += n.duration
        else:
            out.append(n.duration)
    return out

