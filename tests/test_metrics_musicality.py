"""cm_lib.metrics.musicality: the music measures that tell a trained model from a grammar-only sampler.

Each per-tune measure on hand-written ABC whose value is worked out here; then sets of real music21 tunes
against a seeded stand-in for the grammar-only sampler (uniformly random notes filling each bar under a
chord symbol per bar): the intervals, the reading in both directions, determinism."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from cm_lib.abc import iter_music21_tunes, transpose
from cm_lib.metrics import compare_sets, read_tune, tune_metrics
from cm_lib.metrics.chords import chord_pitch_classes, chord_tone_ratio
from cm_lib.metrics.distributions import jsd_interval, tune_features
from cm_lib.metrics.musicality import (
    MEASURES,
    REFERENCE_LABEL,
    compare,
    format_cell,
    musicality_cells,
    musicality_reading,
    musicality_table,
    tune_musicality,
)
from cm_lib.metrics.pitch_stats import stepwise_share
from cm_lib.metrics.structure import HELD, MAX_SLOTS, bar_grids, motif_recurs, opening_motif, repetition

HEAD = "X:1\nM:4/4\nL:1/8\nK:C\n"


def test_stepwise_share_by_hand() -> None:
    assert stepwise_share(read_tune(HEAD + "CDEF GABc|]\n")) == 1.0  # a scale: only steps (2 2 1 2 2 2 1)
    # C C G G A A G: 0 +7 0 +2 0 -2 -> two steps among six intervals; repeated notes are not steps
    assert stepwise_share(read_tune(HEAD + "CCGG AAG2|]\n")) == pytest.approx(2 / 6)
    # a tied note is one note (C2-C2 then D: one interval, a step); a rest does not break the line
    assert stepwise_share(read_tune(HEAD + "C2-C2 D2 z2|E8|]\n")) == 1.0
    assert stepwise_share(read_tune(HEAD + "Cc Cc Cc Cc|]\n")) == 0.0  # octave leaps
    assert stepwise_share(read_tune(HEAD + "C8|]\n")) is None  # one note: no interval


def test_motif_recurrence_by_hand() -> None:
    # opening C D E C G (+2 +2 -4 +7); bar 3 has it a fifth higher (G A B G d): a transposed recurrence
    up = read_tune(HEAD + "CDEC G2z2|FEDC B,2C2|GABG d2z2|c2B2 c4|]\n")
    assert opening_motif(up) == [2, 2, -4, 7] and motif_recurs(up) is True
    # the same bar 3 as a diatonic sequence (D E F D A: +2 +1 -3 +7) is not a recurrence
    seq = read_tune(HEAD + "CDEC G2z2|FEDC B,2C2|DEFD A2z2|c2B2 c4|]\n")
    assert motif_recurs(seq) is False
    # the pattern starting on the opening's last note (G A B G d from note 5) shares a note: not "after"
    shared = read_tune(HEAD + "CDEC GABG|d2 c2 B2 A2|]\n")
    assert [b.midi - a.midi for a, b in zip(shared.notes[4:8], shared.notes[5:9])] == [2, 2, -4, 7]
    assert motif_recurs(shared) is False
    assert motif_recurs(read_tune(HEAD + "CDEC GABG|]\n")) is None  # 8 notes < 2 x 5
    assert motif_recurs(read_tune(transpose(up.tune.text, 3))) is True


def test_chord_qualities_the_grammar_writes() -> None:
    from cm_lib.generate.constrain import CHORD_SYMBOL_RE

    qualities = CHORD_SYMBOL_RE.split("(")[1].split(")")[0].split("|")
    want = {"m": {0, 3, 7}, "7": {0, 4, 7, 10}, "m7": {0, 3, 7, 10}, "maj7": {0, 4, 7, 11}, "dim": {0, 3, 6},
            "aug": {0, 4, 8}, "sus4": {0, 5, 7}, "6": {0, 4, 7, 9}, "m6": {0, 3, 7, 9}, "9": {0, 4, 7, 10, 2}}
    assert sorted(qualities) == sorted(want)
    for q, pcs in want.items():
        assert chord_pitch_classes("C" + q) == frozenset(pcs), q
        assert chord_pitch_classes("Eb" + q) == frozenset((p + 3) % 12 for p in pcs), q


def test_chord_tone_ratio_is_weighted_by_duration() -> None:
    # under C: C for 6 eighths (a chord tone) and D for 2 (not): 6/8 of the time, though 1 of 2 notes
    d = read_tune(HEAD + '"C"C6 D2|]\n')
    assert chord_tone_ratio(d) == pytest.approx(0.75)
    assert sum(n.midi % 12 in {0, 4, 7} for n in d.notes) / len(d.notes) == 0.5
    # a G tied from C into Am counts half under C (a tone) and half under Am (not one)
    tied = read_tune(HEAD + '"C"G8-|"Am"G4 A4|]\n')
    assert len(tied.notes) == 2 and [p.chord for p in tied.notes[0].pieces()] == ["C", "Am"]
    assert chord_tone_ratio(tied) == pytest.approx((8 + 4) / 16)
    # a 9 chord's ninth is a chord tone: D under C9
    assert chord_tone_ratio(read_tune(HEAD + '"C9"D8|]\n')) == 1.0
    assert chord_tone_ratio(read_tune(HEAD + "CDEF GABc|]\n")) is None  # no chord symbol


def test_repeated_bars_with_a_note_tied_over_the_bar_line() -> None:
    # bar 1 C struck (tied on), bar 2 = the held C then D; bar 3 = C struck; bar 4 = C struck then D.
    d = read_tune("X:1\nM:4/4\nL:1/4\nK:C\nC4-|C2 D2|C4|C2 D2|]\n")
    grids = bar_grids(d)
    c, dn = 60 * (MAX_SLOTS + 1), 62 * (MAX_SLOTS + 1)
    assert grids[0][0] == c and (grids[0][96:] == -1).all()  # bar 1 ends at its bar line
    assert grids[1][0] == c + HELD and grids[1][48] == dn + 48 and grids[3][0] == c
    assert repetition(d)["repeated_bar_rate"] == pytest.approx(1 / 4)  # only bar 3 (= bar 1)
    assert repetition(read_tune("X:1\nM:4/4\nL:1/4\nK:C\nC4|C2 D2|C4|C2 D2|]\n"))["repeated_bar_rate"] == 0.5


def test_tune_metrics_carry_the_new_measures() -> None:
    text = HEAD + "CDEC G2z2|FEDC B,2C2|GABG d2z2|c2B2 c4|]\n"
    m = tune_metrics(text, parser=None)
    assert m["motif_recurs"] is True and m["stepwise_share"] == pytest.approx(round(stepwise_share(read_tune(text)), 4))
    moved = tune_metrics(transpose(text, -5), parser=None)
    assert (moved["motif_recurs"], moved["stepwise_share"]) == (m["motif_recurs"], m["stepwise_share"])


# --- sets: real tunes against a seeded stand-in for the grammar-only sampler


def random_tune(rng: random.Random, n_bars: int = 16) -> str:
    """Uniformly random notes of the C major scale over two octaves, durations 1-4 eighths filling each 4/4
    bar, under one diatonic chord symbol per bar: what a sampler knowing only the bar grammar writes."""
    letters = "C D E F G A B c d e f g a b".split()
    bars = []
    for _ in range(n_bars):
        left, notes = 8, []
        while left:
            d = rng.randint(1, min(4, left))
            notes.append(rng.choice(letters) + (str(d) if d > 1 else ""))
            left -= d
        bars.append(f'"{rng.choice(["C", "Dm", "Em", "F", "G", "G7", "Am"])}"' + "".join(notes))
    return HEAD + "|".join(bars) + "|]\n"


@pytest.fixture(scope="module")
def real() -> list[str]:
    tunes = [t.text for _, t in itertools.islice(iter_music21_tunes(), 0, 13000, 43)]
    random.Random(0).shuffle(tunes)
    return tunes  # 302 tunes of all collections


@pytest.fixture(scope="module")
def table(real: list[str]) -> list[dict]:
    rng = random.Random(0)
    sets = {"real (held-out)": real[:60], "grammar-only": [random_tune(rng) for _ in range(60)],
            "real, other half": real[60:120]}
    return musicality_table(sets, real[120:270], seed=0, harmonise=("real (held-out)", "real, other half"))


def test_jsd_interval_real_against_real_and_random(real: list[str]) -> None:
    rng = random.Random(1)
    data = [read_tune(t) for t in real[:200]]
    rand = [read_tune(random_tune(rng)) for _ in range(60)]
    held, ref = data[:60], data[60:]
    # random notes of the scale: far apart in intervals, less so in pitch classes (in-scale, none favoured)
    for feature, factor in (("interval", 30), ("tonic_pitch_class", 5)):
        f_held = np.stack([tune_features(d)[feature] for d in held if d.notes])
        f_ref = np.stack([tune_features(d)[feature] for d in ref if d.notes])
        f_rand = np.stack([tune_features(d)[feature] for d in rand])
        same, far = jsd_interval(f_held, f_ref, seed=0), jsd_interval(f_rand, f_ref, seed=0)
        assert same["ci95"][0] == 0.0 and same["ci95"][0] <= same["value"] <= same["ci95"][1] < 0.02, feature
        assert far["ci95"][0] > factor * same["ci95"][1], feature
        assert jsd_interval(f_held, f_ref, seed=0) == same and jsd_interval(f_held, f_ref, seed=1) != same
    # the plug-in value is compare_sets' JSD
    assert jsd_interval(np.stack([tune_features(d)["interval"] for d in held if d.notes]),
                        np.stack([tune_features(d)["interval"] for d in ref if d.notes]))["plug_in"] == pytest.approx(
        compare_sets(held, ref)["interval"]["jsd"], abs=1e-4)
    assert jsd_interval(f_held[:1], f_ref)["value"] is None


def test_table_real_tunes_against_the_random_sampler(table: list[dict]) -> None:
    rows = {r["set"]: r for r in table}
    assert list(rows) == ["real (held-out)", "grammar-only", "real, other half", REFERENCE_LABEL]
    real, rand, ref = rows["real (held-out)"], rows["grammar-only"], rows[REFERENCE_LABEL]
    assert real["n_tunes"] == 60 and ref["n_tunes"] == 150 and ref["reference"] and ref["interval_jsd"] is None
    # most real tunes are harmonised for their chord-tone ratio; the random tunes have chords of their own
    assert real["chord_tone_ratio"]["n"] >= 50 and real["n_harmonised"] == real["chord_tone_ratio"]["n"]
    assert rand["chord_tone_ratio"]["n"] == 60 and rand["n_harmonised"] == 0
    # the random sampler: further from real tunes on every measure, intervals apart
    assert rand["chord_tone_ratio"]["ci95"][1] < real["chord_tone_ratio"]["ci95"][0]
    assert rand["interval_jsd"]["ci95"][0] > real["interval_jsd"]["ci95"][1]
    assert rand["stepwise_share"]["ci95"][1] < real["stepwise_share"]["ci95"][0]
    assert rand["motif_recurs"]["ci95"][1] < real["motif_recurs"]["ci95"][0]
    assert real["interval_jsd"]["ci95"][0] == 0.0  # held-out real tunes: the sampling floor reaches 0
    for row in table:  # every interval within its measure's range, around its value
        for key, _, kind in MEASURES:
            d = row[key]
            if d is None or d.get("ci95") is None:
                continue
            lo, hi = d["ci95"]
            value = d["value"] if kind == "jsd" else d["mean"] if kind == "mean" else d["rate"]
            assert 0.0 <= lo <= value + 1e-9 and value <= hi + 1e-9 and hi <= 1.0, (row["set"], key)


def test_reading_in_both_directions(table: list[dict]) -> None:
    text = musicality_reading(table, model="real (held-out)")
    assert text.startswith("**Floor met**") and "is **closer to real tunes than** grammar-only" in text
    rows = {r["set"]: r for r in table}
    assert format_cell("jsd", rows["grammar-only"]["interval_jsd"]) in text
    back = musicality_reading(table, model="grammar-only", baseline="real (held-out)")
    assert back.startswith("**Floor not met**") and "**further from real tunes than**" in back
    same = musicality_reading(table, model="real, other half", baseline="real (held-out)")
    assert same.startswith("**Floor not met**") and "not distinguishable" in same
    assert "real tunes (chords by the course harmoniser) 0." in text
    assert musicality_reading(table, model="SmolLM2").startswith("No reading: no row for 'SmolLM2'")
    # without the reference's row there is no real chord-tone ratio to be closer to
    alone = musicality_reading(table[:-1], model="real (held-out)")
    assert alone.startswith("**Floor not met**") and "no real value to compare with" in alone


def test_compare_by_hand() -> None:
    lo_jsd, hi_jsd = {"n": 50, "value": 0.02, "ci95": [0.01, 0.03]}, {"n": 50, "value": 0.3, "ci95": [0.25, 0.35]}
    assert compare("jsd", lo_jsd, hi_jsd, None) == "closer" and compare("jsd", hi_jsd, lo_jsd, None) == "further"
    a, b = {"n": 9, "mean": 0.70, "ci95": [0.65, 0.75]}, {"n": 9, "mean": 0.45, "ci95": [0.40, 0.50]}
    assert compare("mean", a, b, 0.74) == "closer" and compare("mean", a, b, 0.2) == "further"
    assert compare("mean", a, {"n": 9, "mean": 0.72, "ci95": [0.70, 0.8]}, 0.74) == "not distinguishable"
    assert compare("mean", a, b, None) == "not measurable" and compare("mean", {"n": 0}, b, 0.7) == "not measurable"


def test_table_is_seeded_per_set_and_refuses_the_reference(real: list[str], table: list[dict]) -> None:
    rng = random.Random(0)
    alone = musicality_table({"real (held-out)": real[:60], "grammar-only": [random_tune(rng) for _ in range(60)]},
                             real[120:270], seed=0, harmonise=("real (held-out)",))
    assert alone[:2] == table[:2] and alone[-1] == table[-1]  # adding a set changes no other row
    with pytest.raises(ValueError, match="shares 150 of its 150 tunes with the reference"):
        musicality_table({"real": real[120:270]}, real[120:270])
    with pytest.raises(ValueError, match="reference's own row"):
        musicality_table({REFERENCE_LABEL: real[:5]}, real[120:270])


def test_cells_for_the_notebook(table: list[dict]) -> None:
    cells = musicality_cells(table)
    assert list(cells) == [r["set"] for r in table]
    labels = [label for _, label, _ in MEASURES]
    assert list(cells["grammar-only"]) == ["tunes", *labels]
    rand = next(r for r in table if r["set"] == "grammar-only")
    lo, hi = rand["stepwise_share"]["ci95"]
    assert cells["grammar-only"][labels[3]] == f"{rand['stepwise_share']['mean']:.2f} [{lo:.2f}, {hi:.2f}] (n = 60)"
    k = rand["motif_recurs"]["k"]
    assert cells["grammar-only"][labels[5]].startswith(f"{k}/60 = ")
    assert cells[REFERENCE_LABEL][labels[0]] == "— (the reference)"
    assert "chords by the harmoniser in" in cells["real (held-out)"][labels[2]]
    assert format_cell("mean", {"n": 1, "mean": 0.5, "ci95": None}) == "n = 1: 0.50"


def test_tune_musicality_never_raises() -> None:
    assert tune_musicality(None) is None and tune_musicality("no tune here") is None
    empty = tune_musicality("X:1\nK:C\n")
    assert empty is not None and empty["features"] is None and empty["stepwise_share"] is None
    assert math.isclose(sum(tune_musicality(HEAD + "CDEF GABc|]\n")["features"]["interval"]), 1.0)
