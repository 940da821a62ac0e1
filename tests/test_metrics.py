"""cm_lib.metrics per tune: every metric on a tune whose value is worked out by hand here, plus invariance
under transposition (cm_lib.abc.transpose) and a sweep over real music21 tunes."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from cm_lib.abc import iter_music21_tunes, read_tunes, transpose
from cm_lib.metrics import METRIC_NAMES, NEAR_THRESHOLD, read_tune, tune_metrics
from cm_lib.metrics.bars import bar_consistency, bar_consistency_per_voice
from cm_lib.metrics.chords import chord_following, chord_pitch_classes, chord_tone_ratio, parse_chord
from cm_lib.metrics.header import RequestError, header_compliance, parse_request
from cm_lib.metrics.key import (
    KK_MAJOR,
    estimated_key,
    in_scale_rate,
    key_agreement,
    krumhansl_schmuckler,
    scale_pitch_classes,
)
from cm_lib.metrics.pitch_stats import mean_abs_interval, pitch_class_entropy, pitch_range
from cm_lib.metrics.structure import has_repeat_signs, n_sections, repetition
from cm_lib.metrics.validity import abc2midi_messages, valid_bars, valid_parser, valid_syntax

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples"
# 3/4 with a pickup (D), two full bars, a bar one beat short (A G) and a full final bar.
SHORT_BAR = "X:1\nT:Short bar\nM:3/4\nL:1/4\nK:G\nD|G A B|c2 B|A G|G3|]\n"
# Two voices in 2/4: voice 1 all full; voice 2's middle bar lasts 1/4.
TWO_VOICES = "X:1\nT:Two\nM:2/4\nL:1/8\nK:C\nV:1\nCDEF|GABc|c4|]\nV:2\nC,4|G,2|C,4|]\n"
# AABB: two repeated four-bar sections; bar 3 = bar 1, bar 7 = bar 5, bar 8 = bar 6 but its last quarter.
AABB = ("X:1\nT:Hand form\nM:4/4\nL:1/4\nK:C\n"
        "|:C D E F|G A B c|C D E F|G2 G2:|\n"
        "|:c B A G|F E D C|c B A G|F E D E:|\n")
# Pitch statistics: C4 E4 G4 C5 (MIDI 60 64 67 72), the C tied over a bar line (one note).
ARPEGGIO = "X:1\nT:Arpeggio\nM:4/4\nL:1/4\nK:C\nC E G c-|c4|]\n"
# G major with a written F natural and C sharp: 6 of 8 notes in the scale.
OUT_OF_SCALE = "X:1\nT:Accidentals\nM:4/4\nL:1/8\nK:G\nGAB=F ^cdef|]\n"
# The twelve pitch classes with durations proportional to the Krumhansl-Kessler major profile (L:1/100).
KK_TUNE = ("X:1\nT:Profile\nM:none\nL:1/100\nK:C\n"
           "C635 ^C223 D348 ^D233 E438 F409 ^F252 G519 ^G239 A366 ^A229 B288|]\n")
CHORDS = ('X:1\nT:Chords\nM:4/4\nL:1/4\nK:D\n"D"D F A d|"G"B G "A7"E A|"D"D3 z|"N.C."C C C C|]\n')


def data(text: str):  # noqa: ANN201
    return read_tune(text)


def test_validity_levels() -> None:
    assert valid_syntax(SHORT_BAR) and not valid_bars(SHORT_BAR)
    assert valid_syntax(AABB) and valid_bars(AABB)
    broken = "X:1\nM:4/4\nL:1/8\nK:G\n[[[ GAB |"
    assert not valid_syntax(broken)
    assert valid_parser(AABB) and valid_parser(AABB, "abc2xml")
    n_notes, lines = abc2midi_messages(broken)
    assert any(line.startswith("Error") for line in lines)  # abc2midi complains but does not fail
    assert not valid_parser(broken)
    assert not valid_parser("X:1\nT:No notes\nK:C\n", "abc2xml")
    with pytest.raises(ValueError, match="unknown parser"):
        valid_parser(AABB, "lilypond")


def test_checker_levels_equal_the_public_checker(real_tunes: list[str]) -> None:
    from cm_lib.abc import check
    from cm_lib.metrics.validity import checker_levels, valid_bars

    texts = real_tunes + [t.text for t in read_tunes(SAMPLES / "mistakes.abc")] + [SHORT_BAR, AABB, "X:1\nK:C\n"]
    levels = [checker_levels(read_tune(t)) for t in texts]
    assert levels == [(check(t, "syntax").ok, valid_bars(t)) for t in texts]  # bars: the checker + a countable M:
    assert sum(check(t, "bars").ok and not valid_bars(t) for t in texts) >= 1  # "X:1 K:C": free meter
    assert {lv for lv in levels} == {(True, True), (True, False), (False, False)}


def test_bar_consistency_by_hand() -> None:
    # SHORT_BAR: pickup D and the final bar are allowed; candidates G A B | c2 B | A G | G3 -> 3 of 4 full.
    assert bar_consistency(data(SHORT_BAR)) == pytest.approx(3 / 4)
    # TWO_VOICES: voice 1 3/3, voice 2 2/3 (G,2 is a quarter in 2/4); pooled 5/6.
    d = data(TWO_VOICES)
    assert bar_consistency_per_voice(d) == {"1": 1.0, "2": pytest.approx(2 / 3)}
    assert bar_consistency(d) == pytest.approx(5 / 6)
    # A section's short last bar and the next section's short first bar add up to the meter: both count.
    split = "X:1\nM:3/4\nL:1/4\nK:C\nC|D E F|G2:|:C|D E F|G2|]\n"
    assert bar_consistency(data(split)) == 1.0
    # A section's short last bar completing the pickup counts; an unrelated short bar does not.
    completes = "X:1\nM:3/4\nL:1/4\nK:C\nC|D E F|G2:|A B c|d2 c|B A|G3|]\n"
    assert bar_consistency(data(completes)) == pytest.approx(5 / 6)
    assert bar_consistency(data("X:1\nM:none\nL:1/4\nK:C\nC D E F G|]\n")) is None


def test_header_compliance_by_hand() -> None:
    d = data(SHORT_BAR)
    assert header_compliance(d, {"key": "G major", "meter": "3/4", "unit": "1/4"}) == {
        "key_ok": True, "meter_ok": True, "unit_ok": True, "form_ok": None}
    assert header_compliance(d, {"key": "E minor", "meter": "6/8", "unit": "1/8"}) == {
        "key_ok": False, "meter_ok": False, "unit_ok": False, "form_ok": None}
    assert header_compliance(data("X:1\nM:C\nK:Ador\nABcd|]\n"), {"key": "A dorian", "meter": "4/4", "unit": "1/8"})[
        "unit_ok"]  # no L: in 4/4 -> ABC's default 1/8
    assert header_compliance(data("X:1\nM:C|\nK:F#\nABcd|]\n"), {"key": "Gb major", "meter": "2/2"})["key_ok"]
    assert header_compliance(data(AABB), {"form": "AABB"}, form="AABB")["form_ok"] is True
    for bad, msg in (("{", "not valid JSON"), ("[1]", "JSON object"), ('{"tempo": 3}', "unknown request field"),
                     ('{"key": "H major"}', "request key"), ('{"chords": "D G"}', "list of chord")):
        with pytest.raises(RequestError, match=msg):
            parse_request(bad)


def test_key_consistency_by_hand() -> None:
    assert scale_pitch_classes(read_tune("X:1\nK:Ddor\nD|]").key) == frozenset({0, 2, 4, 5, 7, 9, 11})
    assert in_scale_rate(data(OUT_OF_SCALE)) == pytest.approx(6 / 8)
    # KK_TUNE's duration histogram *is* the major profile on C: r = 1 for C major.
    weights = np.asarray([635, 223, 348, 233, 438, 409, 252, 519, 239, 366, 229, 288]) / 800
    t, quality, r = krumhansl_schmuckler(weights)
    assert (t, quality) == (0, "major") and r == pytest.approx(1.0)
    assert krumhansl_schmuckler(np.roll(KK_MAJOR, 5))[:2] == (5, "major")
    d = data(KK_TUNE)
    assert estimated_key(d) == "C major" and key_agreement(d) is True
    assert in_scale_rate(d) == pytest.approx(7 / 12)  # one note per pitch class, seven in C major
    assert key_agreement(data(KK_TUNE.replace("K:C", "K:Am"))) is False  # A minor: other tonic
    assert key_agreement(data(KK_TUNE.replace("K:C", "K:Cmix").replace("B288", "=B288"))) is True  # mixolydian ~ major
    assert key_agreement(data(KK_TUNE.replace("K:C", "K:none"))) is None and in_scale_rate(
        data(KK_TUNE.replace("K:C", "K:none"))) is None


def test_pitch_statistics_by_hand() -> None:
    d = data(ARPEGGIO)
    assert [n.midi for n in d.notes] == [60, 64, 67, 72] and d.notes[-1].duration == Fraction(5, 4)
    assert pitch_range(d) == 12
    assert pitch_class_entropy(d) == pytest.approx(1.5)  # C twice, E once, G once: -(1/2 log 1/2 + 2 * 1/4 log 1/4)
    assert mean_abs_interval(d) == pytest.approx((4 + 3 + 5) / 3)
    chromatic = "X:1\nL:1/8\nK:C\nC^CD^DEF^FG^GA^AB|]\n"
    assert pitch_class_entropy(data(chromatic)) == pytest.approx(math.log2(12))
    assert mean_abs_interval(data(chromatic)) == 1.0


def test_rests_are_read_with_tuplets_and_broken_rhythm() -> None:
    d = data("X:1\nM:2/4\nL:1/8\nK:C\n(3zAB A>z|Z|]\n")
    # (3: z takes 2/3 of an eighth; A>z: the rest gets half its eighth; Z: one whole bar of rest.
    assert [(r.duration, r.bar, r.bars) for r in d.rests] == [
        (Fraction(1, 12), 1, 0), (Fraction(1, 16), 1, 0), (Fraction(0), 2, 1)]
    assert [type(e).__name__ for e in d.timeline()] == ["Rest", "Note", "Note", "Note", "Rest", "Rest"]
    # the checker's bar 1: triplet 3 x 1/12 + A>z (3/16 + 1/16) = 1/2; bar 2: Z lasts the meter
    assert [(b.duration, b.only_mrest) for b in d.bars["1"]] == [(Fraction(1, 2), False), (Fraction(1, 2), True)]
    assert bar_consistency(d) == 1.0 and d.error_codes == []


def test_structure_by_hand() -> None:
    d = data(AABB)
    assert has_repeat_signs(d) and n_sections(d) == 2
    rep = repetition(d)
    assert NEAR_THRESHOLD == 0.75
    # exact: bars 3 and 7; near: also bar 8 (3/4 of bar 6); pairs: (1,3)=1, (5,7)=1, (6,8)=3/4,
    # (2,4)=1/4 (the first quarter G matches G2's first quarter), all other 24 pairs 0.
    assert rep["repeated_bar_rate"] == pytest.approx(2 / 8)
    assert rep["near_repeated_bar_rate"] == pytest.approx(3 / 8)
    assert rep["bar_self_similarity"] == pytest.approx(3.0 / 28)
    assert tune_metrics(AABB, parser=None)["form"] == "AABB"
    # Rests take their time and are silence: bar 1 = z A B c, bar 2 = bar 1, bar 3 = z2 B c (silent for
    # its first half: shares z, B and c with bar 1 = 3/4), bar 4 = z4, bar 5 = z z z z (the same silence).
    # Pairs: (1,2)=1, (4,5)=1, (1,3)=(2,3)=3/4, (3,4)=(3,5)=1/2, bar 1 or 2 with bar 4 or 5 = 1/4.
    rests = repetition(data("X:1\nM:4/4\nL:1/4\nK:C\nz A B c|z A B c|z2 B c|z4|z z z z|]\n"))
    assert rests["repeated_bar_rate"] == pytest.approx(2 / 5)  # bars 2 and 5
    assert rests["near_repeated_bar_rate"] == pytest.approx(3 / 5)  # also bar 3
    assert rests["bar_self_similarity"] == pytest.approx((1 + 1 + 2 * 0.75 + 2 * 0.5 + 4 * 0.25) / 10)
    plain = data(SHORT_BAR)
    assert not has_repeat_signs(plain) and n_sections(plain) == 1
    # an ending joins its section: |: A |1 B :|2 C || is one section, with repeat signs
    endings = "X:1\nM:2/4\nL:1/4\nK:C\n|:C D|E F|G A|1 B c:|2 c B||\n"
    assert has_repeat_signs(data(endings)) and n_sections(data(endings)) == 1
    assert has_repeat_signs(data("X:1\nM:2/4\nL:1/4\nK:C\nC D|E F|[2 G A|]\n"))


def test_chords_by_hand() -> None:
    assert parse_chord("A7") == (9, frozenset({9, 1, 4, 7}))
    assert chord_pitch_classes("Dm/F") == frozenset({2, 5, 9})
    assert parse_chord("Bbmaj7")[1] == frozenset({10, 2, 5, 9}) and parse_chord("F#m7b5")[1] == frozenset({6, 9, 0, 4})
    assert parse_chord("N.C.") is None and parse_chord("Dmin") == parse_chord("Dm")
    d = data(CHORDS)
    assert d.chord_symbols == {"1": ["D", "G", "A7", "D", "N.C."]}
    # under D: D F# A d (all chord tones, 1 beat each); under G: B G (2 beats, both tones);
    # under A7: E A (2 beats, both); under D: D3 (3 beats, tone); under N.C.: not counted -> 11/11 beats.
    assert chord_tone_ratio(d) == pytest.approx(1.0)
    off = data(CHORDS.replace('"G"B G', '"G"B C'))  # C (1 beat) is not in G major
    assert chord_tone_ratio(off) == pytest.approx(10 / 11)
    assert chord_following(d, ["D", "G", "A7", "D"]) == 1.0
    assert chord_following(d, ["D", "A7", "G", "D"]) == pytest.approx(3 / 4)  # LCS D A7 D (or D G D)
    assert chord_following(d, ["Dm", "Em"]) == 0.0
    assert chord_following(d, []) is None


def test_tune_metrics_names_and_request() -> None:
    m = tune_metrics(CHORDS, request={"key": "D", "meter": "4/4", "chords": ["D", "G", "A7", "D"]}, parser=None)
    assert set(m) == set(METRIC_NAMES)
    assert m["key_ok"] and m["meter_ok"] and m["unit_ok"] is None and m["chord_following"] == 1.0
    assert m["valid_parser"] is None and m["novelty_4gram"] is None
    none = tune_metrics("just some prose, no tune")
    assert none["valid_syntax"] is False and none["n_notes"] == 0 and none["pitch_range"] is None


INTERVAL_METRICS = ("valid_syntax", "valid_bars", "bar_consistency", "in_scale_rate", "key_agreement", "pitch_range",
                    "pitch_class_entropy", "mean_abs_interval", "n_sections", "has_repeat_signs", "bar_self_similarity",
                    "repeated_bar_rate", "near_repeated_bar_rate", "form", "chord_tone_ratio", "n_notes", "n_bars")


@pytest.mark.parametrize("text", [AABB, CHORDS, KK_TUNE, SHORT_BAR])
@pytest.mark.parametrize("semitones", [2, -5])
def test_transposition_keeps_interval_metrics_and_shifts_the_key(text: str, semitones: int) -> None:
    a = tune_metrics(text, parser=None)
    b = tune_metrics(transpose(text, semitones), parser=None)
    for name in INTERVAL_METRICS:
        assert a[name] == b[name], name
    if a["estimated_key"]:
        from cm_lib.abc.keys import NOTE_NAMES

        tonic, quality = a["estimated_key"].split()
        assert b["estimated_key"] == f"{NOTE_NAMES[(NOTE_NAMES.index(tonic) + semitones) % 12]} {quality}"


@pytest.fixture(scope="module")
def real_tunes() -> list[str]:
    return [t.text for _, t in itertools.islice(iter_music21_tunes(), 0, 3000, 60)]


def test_real_tunes_have_sane_values(real_tunes: list[str]) -> None:
    rows = [tune_metrics(t, parser=None) for t in real_tunes]
    assert len(rows) == 50
    valid = [r for r in rows if r["valid_bars"]]
    assert len(valid) >= 30  # 37 of these 50 when written
    # real, bars-valid tunes: bars keep the meter, notes stay in the key, K-S mostly agrees
    assert np.mean([r["bar_consistency"] for r in valid if r["bar_consistency"] is not None]) > 0.98
    assert np.mean([r["bar_consistency"] for r in rows if r["bar_consistency"] is not None]) > 0.85
    assert np.mean([r["in_scale_rate"] for r in rows if r["in_scale_rate"] is not None]) > 0.9
    assert 0.5 < np.mean([r["key_agreement"] for r in rows if r["key_agreement"] is not None]) <= 1.0
    for r in rows:
        assert 0 <= r["pitch_class_entropy"] <= math.log2(12) + 1e-9
        if r["repeated_bar_rate"] is not None:
            assert 0 <= r["repeated_bar_rate"] <= r["near_repeated_bar_rate"] <= 1
        assert r["n_sections"] >= 1
    assert sum(r["has_repeat_signs"] for r in rows) >= 10


def test_krumhansl_schmuckler_agrees_with_music21() -> None:
    from music21 import converter

    from cm_lib.metrics.key import tonic_pitch_class

    texts = [t.text for _, t in itertools.islice(iter_music21_tunes(), 0, 6000, 500)]
    agree = 0
    for text in texts:
        theirs = converter.parse(text, format="abc").analyze("key.krumhanslkessler")
        ours = estimated_key(read_tune(text))
        agree += (ours is not None and tonic_pitch_class(ours.split()[0]) == theirs.tonic.pitchClass
                  and ours.split()[1] == theirs.mode)
    assert len(texts) == 12 and agree >= 10  # 29 of 30 when written (one G minor vs C major)


def test_tune_metrics_never_raises_on_garbage() -> None:
    import random

    rng = random.Random(0)
    alphabet = "ABCDEFGabcdefgz|:[]()^_=,'/23456<>-\"{}!~ .\n" + "V:1\nM:6/8\nL:1/16\nK:Dm\n"
    heads = ["X:1\nM:4/4\nL:1/8\nK:G\n", "X:1\nK:C\n", "X:1\nM:none\nK:none\n", "X:1\nM:3/4\nL:1/4\nK:Hp\n", "K:Ador\n", ""]
    request = {"key": "G", "meter": "4/4", "unit": "1/8", "chords": ["G", "D7"], "form": "AB"}
    for _ in range(150):
        text = rng.choice(heads) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        m = tune_metrics(text, request=request, parser=None)
        assert set(m) == set(METRIC_NAMES) and isinstance(m["valid_syntax"], bool)


def test_bars_valid_needs_a_meter_to_count_against() -> None:
    from cm_lib.abc import check
    from cm_lib.metrics import tune_metrics
    from cm_lib.metrics.validity import valid_bars

    body = "K:D\nA2B | c2 | d4 e2 f2 g | a |\n"  # bars of 3, 2, 13 and 1 eighths
    free = "X:1\nL:1/8\n" + body  # no M: line: ABC reads free meter, and the checker finds nothing to fault
    assert check(free, "bars").ok and not valid_bars(free)
    assert not valid_bars("X:1\nM:none\nL:1/8\n" + body)
    assert not valid_bars("X:1\nM:6/8\nL:1/8\n" + body)  # the same bars against 6/8: too short and too long
    jig = "X:1\nM:6/8\nL:1/8\nK:D\nA2B c2d | e2f g3 | f2e d3 |]\n"
    assert valid_bars(jig)
    assert tune_metrics(free)["valid_bars"] is False and tune_metrics(jig)["valid_bars"] is True
    assert tune_metrics(free)["valid_syntax"] is True
