"""cm_lib.abc.walk: the exact events of hand-written tunes, their positions, voices, tuplets and chords."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cm_lib.abc import (
    EVENT_KINDS,
    Bar,
    ChordEnd,
    Field,
    MultiRest,
    Note,
    NumberTooLargeError,
    Rest,
    TooLarge,
    Tuplet,
    VoiceChange,
    iter_music21_tunes,
    parse_tune,
    read_tunes,
    walk,
    walk_text,
)
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir

TUNE = 'X:1\nM:6/8\nL:1/8\nK:G\n"D"F2^G (3ABc|[CEG]2 z/ !trill!d:|\nV:2\n[V:3]B,,>C|2 Z2|]\n'


def _events(text: str) -> list:
    return [e for e in walk(parse_tune(text)) if e.kind != "space"]


def test_exact_events_of_a_small_tune() -> None:
    got = [(e.kind, e.text, e.line, e.col, e.voice, e.bar) for e in _events(TUNE)]
    assert got == [
        ("quote", '"D"', 5, 0, "1", 1), ("note", "F2", 5, 3, "1", 1), ("note", "^G", 5, 5, "1", 1),
        ("tuplet", "(3", 5, 8, "1", 1), ("note", "A", 5, 10, "1", 1), ("note", "B", 5, 11, "1", 1),
        ("note", "c", 5, 12, "1", 1), ("bar", "|", 5, 13, "1", 1), ("chord_open", "[", 5, 14, "1", 2),
        ("note", "C", 5, 15, "1", 2), ("note", "E", 5, 16, "1", 2), ("note", "G", 5, 17, "1", 2),
        ("chord_close", "]2", 5, 18, "1", 2), ("rest", "z/", 5, 21, "1", 2), ("deco", "!trill!", 5, 24, "1", 2),
        ("note", "d", 5, 31, "1", 2), ("bar", ":|", 5, 32, "1", 2), ("fieldline", "V:2", 6, 0, "1", 3),
        ("voice", "2", 6, 0, "2", 1), ("field", "[V:3]", 7, 0, "2", 1), ("voice", "3", 7, 0, "3", 1),
        ("note", "B,,", 7, 5, "3", 1), ("broken", ">", 7, 8, "3", 1), ("note", "C", 7, 9, "3", 1),
        ("bar", "|2", 7, 10, "3", 1), ("mrest", "Z2", 7, 13, "3", 2), ("bar", "|]", 7, 15, "3", 2),
    ]
    assert {e.kind for e in _events(TUNE)} <= set(EVENT_KINDS)


def test_typed_events_carry_pitch_length_and_structure() -> None:
    ev = _events(TUNE)
    f2, g_sharp = ev[1], ev[2]
    assert isinstance(f2, Note) and (f2.letter, f2.octave, f2.accidental, f2.midi) == ("F", 4, None, 66)  # K:G
    assert (f2.length, f2.duration, f2.pitch_end, f2.end) == (Fraction(2), Fraction(1, 4), 4, 5)
    assert (g_sharp.accidental, g_sharp.midi) == ("^", 68)
    tup = ev[3]
    assert isinstance(tup, Tuplet) and (tup.p, tup.q, tup.r, tup.valid, tup.ratio) == (3, 2, 3, True, Fraction(2, 3))
    chord_notes = [e for e in ev if isinstance(e, Note) and e.in_chord]
    assert [n.midi for n in chord_notes] == [60, 64, 67]
    end = ev[12]
    assert isinstance(end, ChordEnd) and (end.length, end.midis, end.first_duration) == (Fraction(2), (60, 64, 67),
                                                                                          Fraction(1, 8))
    rest = ev[13]
    assert isinstance(rest, Rest) and (rest.invisible, rest.length, rest.duration) == (False, Fraction(1, 2),
                                                                                        Fraction(1, 16))
    bars = [e for e in ev if isinstance(e, Bar)]
    assert [(b.text, b.ending, b.is_section) for b in bars] == [("|", None, False), (":|", None, True),
                                                                  ("|2", "2", True), ("|]", None, True)]
    assert isinstance(ev[17], Field) and (ev[17].name, ev[17].value, ev[17].inline) == ("V", "2", False)
    assert isinstance(ev[18], VoiceChange) and ev[18].new
    low_b = ev[21]
    assert (low_b.octave, low_b.midi) == (2, 47)  # B,, is two octaves below B
    assert isinstance(ev[25], MultiRest) and ev[25].count == 2


def test_accidentals_last_to_the_bar_and_voices_keep_their_own_state() -> None:
    text = "X:1\nL:1/4\nK:F\nB ^F F | F [K:D] F c|\nV:2\nF L:1/8\n[L:1/2] B|\n"
    notes = [e for e in _events(text) if isinstance(e, Note)]
    assert [n.midi for n in notes] == [70, 66, 66, 65, 66, 73, 65, 70]  # Bb, F#, F# (bar), F, K:D -> F#, C#
    assert [n.voice for n in notes] == ["1"] * 6 + ["2"] * 2
    assert [n.duration for n in notes][-1] == Fraction(1, 2)  # the inline L: of voice 2
    assert notes[0].duration == Fraction(1, 4)
    back = "X:1\nL:1/8\nK:C\nV:1\nA|\nV:2\nA|\nV:1\n[L:1/4]A|\nV:2\nA|\n"
    assert [e.duration for e in _events(back) if isinstance(e, Note)] == [Fraction(1, 8), Fraction(1, 8),
                                                                          Fraction(1, 4), Fraction(1, 8)]


def test_compound_meter_tuplets_and_invalid_tuplets() -> None:
    six_eight = [e for e in _events("X:1\nM:6/8\nK:C\n(5ABcde (2AB (1A (10AB|\n") if isinstance(e, Tuplet)]
    assert [(t.p, t.q, t.r, t.valid) for t in six_eight] == [(5, 3, 5, True), (2, 3, 2, True), (1, 3, 1, False),
                                                             (10, 3, 10, False)]
    common = [e for e in _events("X:1\nM:4/4\nK:C\n(5ABcde (3:4:2AB|\n") if isinstance(e, Tuplet)]
    assert [(t.p, t.q, t.r) for t in common] == [(5, 2, 5), (3, 4, 2)]


def test_grace_notes_and_field_errors() -> None:
    ev = _events("X:1\nK:C\n{ag}A [M:3/x] [K:H] [L:1/" + "9" * 20 + "]|\n")
    grace = [e for e in ev if isinstance(e, Note) and e.in_grace]
    assert [g.text for g in grace] == ["a", "g"]
    fields = [e for e in ev if isinstance(e, Field)]
    assert [type(f.error).__name__ for f in fields] == ["ValueError", "ValueError", "NumberTooLargeError"]


def test_huge_numbers_become_too_large_events() -> None:
    ev = _events("X:1\nK:C\nA" + "1" * 5000 + " (" + "3" * 50 + "AB Z" + "9" * 30 + "|\n")
    big = [e for e in ev if isinstance(e, TooLarge)]
    assert [(e.col, e.line) for e in big] == [(0, 3), (5002, 3), (5056, 3)]
    assert "digits" in big[0].message
    assert issubclass(NumberTooLargeError, AbcError)


def test_walk_text_and_no_tune() -> None:
    assert [e.text for e in walk_text("K:C\nAB|") if e.kind == "note"] == ["A", "B"]
    with pytest.raises(AbcError, match="no tune"):
        walk_text("just words")


def test_walker_reads_the_whole_corpus_sample_with_its_voices() -> None:
    kinds: set[str] = set()
    tunes = [tune for _, (_, tune) in zip(range(300), iter_music21_tunes(["oneill"]))]
    tunes += read_tunes(data_samples_dir() / "chords.abc") + read_tunes(data_samples_dir() / "two_voices.abc")
    for tune in tunes:
        for e in walk(tune):
            kinds.add(e.kind)
            assert e.line > tune.header_lines and 0 <= e.col <= e.end
    assert {"note", "bar", "rest", "tuplet", "quote", "chord_open", "chord_close", "voice"} <= kinds


def test_measure_bars_gives_the_checkers_bar_durations_meters_and_sections() -> None:
    from cm_lib.abc.check import BarMeasure, check_tune, measure_bars

    tune = parse_tune("X:1\nM:3/4\nL:1/8\nK:G\nD2|:G2 (3ABA z2|d>c B2 z2|Z2|[M:2/4]z4:|\nV:2\nz4|\n")
    result, bars = measure_bars(tune)
    assert result == check_tune(tune, "bars") and result.ok
    e, q, h = Fraction(1, 8), Fraction(3, 4), Fraction(1, 2)
    assert bars["1"] == [
        BarMeasure(1, 5, 2 * e, q, False, True, True),  # the pickup D2, then |:
        BarMeasure(2, 5, q, q, False, True, False),  # G2 + a triplet of eighths (1/4) + z2
        BarMeasure(3, 5, q, q, False, False, False),  # d>c (3/16 + 1/16) B2 z2
        BarMeasure(4, 5, 2 * q, q, True, False, False),  # Z2: two bars of rest
        BarMeasure(5, 5, h, h, False, False, True),  # the meter changed inside the bar's line
    ]
    assert bars["2"] == [BarMeasure(1, 7, h, h, False, True, False)]  # a voice begun later takes the meter then in force
    bad, _ = measure_bars(parse_tune("X:1\nM:2/4\nL:1/4\nK:C\nC D E|\n"))
    assert [p.code for p in bad.problems] == ["bar-too-long"]
