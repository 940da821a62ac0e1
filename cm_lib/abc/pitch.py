"""Sounding notes of a tune: MIDI pitches (key signature and bar-scoped accidentals applied) and durations."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from cm_lib.abc.check import length_of, tuplet_time
from cm_lib.abc.lexer import tokenize_body
from cm_lib.abc.theory import (
    ACC_VALUE,
    LETTER_SEMITONE,
    default_unit,
    meter_numerator,
    parse_key,
    parse_meter,
    parse_unit,
)
from cm_lib.abc.tune import Tune, split_tunes
from cm_lib.errors import AbcError


@dataclass
class NoteEvent:
    """One sounding note (a chord counts once, with its top note): pitch, length, place."""

    midi: int
    duration: Fraction  # in whole notes
    voice: str
    line: int  # 1-based line in the tune
    bar: int  # 1-based bar number within its voice
    tied: bool = False  # continuation of a tie from the previous note of the same pitch


def _try(fn, value, default):  # noqa: ANN001, ANN202 - small local helper
    try:
        return fn(value)
    except ValueError:
        return default


def key_accidentals(value: str) -> dict[str, int]:
    """Letter -> alteration for a K: value; {} when the value is not a valid key."""
    try:
        return dict(parse_key(value).accidentals)
    except ValueError:
        return {}


def midi_of(letter: str, octave: str, acc: str | None, key_acc: dict[str, int], bar_acc: dict) -> int:
    """MIDI number of a note, updating `bar_acc` (accidentals carried to the end of the bar)."""
    upper = letter.upper()
    octave_n = (5 if letter.islower() else 4) + octave.count("'") - octave.count(",")
    slot = (upper, octave_n)
    if acc:
        alt = ACC_VALUE[acc]
        bar_acc[slot] = alt
    else:
        alt = bar_acc.get(slot, key_acc.get(upper, 0))
    return 12 * (octave_n + 1) + LETTER_SEMITONE[upper] + alt


def tune_notes(tune: Tune, voice: str | None = None) -> list[NoteEvent]:
    """Every sounding note of a parsed tune (optionally one voice), in written order."""
    meter = _try(parse_meter, tune.meter, None) if tune.meter else None
    unit0 = _try(parse_unit, tune.unit_length, None) if tune.unit_length else None
    unit_default = unit0 or default_unit(meter)
    num = meter_numerator(tune.meter or "")
    compound0 = bool(num and num % 3 == 0 and num > 3)
    key0 = key_accidentals(tune.key) if tune.key is not None else {}
    off = tune.header_lines + 1
    state: dict[str, dict] = {}
    vid = "1"

    def vstate(v: str) -> dict:
        if v not in state:
            state[v] = {"key": key0, "acc": {}, "unit": unit_default, "bar": 1, "filled": False, "tup": 0, "tf": Fraction(1),
                        "compound": compound0}
        return state[v]

    out: list[NoteEvent] = []
    s = vstate(vid)
    in_chord = in_grace = False
    chord: list[int] = []
    chord_len: Fraction | None = None
    chord_line = 0
    tie_from: int | None = None
    tie_pending: int | None = None
    broken: Fraction | None = None
    last: NoteEvent | None = None

    def emit(midi: int, dur: Fraction, line: int) -> None:
        nonlocal tie_pending, broken, last
        if s["tup"]:
            dur = dur * s["tf"]
            s["tup"] -= 1
        if broken is not None:
            dur = dur * broken
            broken = None
        tied = tie_pending is not None and tie_pending == midi
        tie_pending = None
        ev = NoteEvent(midi, dur, vid, line, s["bar"], tied)
        s["filled"] = True
        if voice is None or voice == vid:
            out.append(ev)
        last = ev

    for tok in tokenize_body(tune.body):
        kind = tok.kind
        m = tok.m
        line = tok.line + off
        if kind == "note":
            midi = midi_of(m.group("letter"), m.group("oct"), m.group("acc"), s["key"], s["acc"])
            ln = length_of(m.group("nnum"), m.group("nsl"), m.group("nden")) or Fraction(1)
            if in_grace:
                continue
            if in_chord:
                chord.append(midi)
                if chord_len is None:
                    chord_len = ln
                continue
            emit(midi, ln * s["unit"], line)
            tie_from = midi
        elif kind == "rest":
            if in_chord or in_grace:
                continue
            ln = length_of(m.group("rnum"), m.group("rsl"), m.group("rden")) or Fraction(1)
            if s["tup"]:
                s["tup"] -= 1
            s["filled"] = True
            broken = None
            tie_pending = None
            last = None
        elif kind == "mrest":
            if not (in_chord or in_grace):
                s["filled"] = True
        elif kind == "chord_open":
            if not in_grace:
                in_chord, chord, chord_len, chord_line = True, [], None, line
        elif kind == "chord_close":
            if in_chord:
                in_chord = False
                if chord:
                    ln = length_of(m.group("cnum"), m.group("csl"), m.group("cden")) or Fraction(1)
                    top = max(chord)
                    emit(top, (chord_len or Fraction(1)) * ln * s["unit"], chord_line)
                    tie_from = top
        elif kind == "grace_open":
            in_grace = True
        elif kind == "grace_close":
            in_grace = False
        elif kind == "tie":
            if not in_chord:
                tie_pending = tie_from
        elif kind == "broken":
            if last is not None:
                n = len(m.group())
                small = Fraction(1, 2**n)
                big = 2 - small
                left, right = (big, small) if m.group()[0] == ">" else (small, big)
                last.duration = last.duration * left
                broken = right
        elif kind == "tuplet":
            p = int(m.group("tp"))
            if p < 2:
                continue
            q_text, r_text = m.group("tq"), m.group("tr")
            q = tuplet_time(p, q_text, s["compound"])
            s["tup"] = int(r_text) if r_text and r_text != "0" else p
            s["tf"] = Fraction(q, p)
        elif kind == "bar":
            in_chord = in_grace = False
            s["acc"] = {}
            if s["filled"]:  # bars are numbered like the checker's: empty bars (|| at a line end) skipped
                s["bar"] += 1
                s["filled"] = False
            last = None
        elif kind == "field" or kind == "fieldline":
            name, value = (m.group("fname"), m.group("fvalue")) if kind == "field" else (tok.name, tok.value)
            if name == "K":
                s["key"] = key_accidentals(value)
                s["acc"] = {}
            elif name == "L":
                s["unit"] = _try(parse_unit, value, s["unit"])
            elif name == "M":
                if unit0 is None:
                    s["unit"] = default_unit(_try(parse_meter, value, None))
                nm = meter_numerator(value)
                s["compound"] = bool(nm and nm % 3 == 0 and nm > 3)
            elif name == "V":
                parts = value.split()
                vid = parts[0] if parts else "1"
                s = vstate(vid)
                tie_pending = None
                broken = None
                last = None
    return out


def _first_tune(text: str) -> Tune:
    tunes = split_tunes(text)
    if not tunes:
        raise AbcError("no tune found (no X: or K: line)")
    return tunes[0]


def notes(text: str, voice: str | None = None) -> list[NoteEvent]:
    """Sounding notes of the first tune in `text` (chords: top note); raises AbcError if no tune."""
    return tune_notes(_first_tune(text), voice)


def pitches(text: str, voice: str | None = None) -> list[int]:
    """MIDI numbers of the sounding notes in order (chords -> top note, tied continuations skipped)."""
    return [n.midi for n in notes(text, voice) if not n.tied]


def durations(text: str, voice: str | None = None) -> list[Fraction]:
    """Durations (whole notes) matching `pitches`: a tied continuation's length is added to its note."""
    out: list[Fraction] = []
    for n in notes(text, voice):
        if n.tied and out:
            out[-1] += n.duration
        else:
            out.append(n.duration)
    return out
