"""Notebook 05's exercise checkers: the right answers pass and each plausible wrong answer fails."""

from __future__ import annotations

import math
from collections import Counter

from cm_lib.exercises import nb05
from cm_lib.metrics import read_tune, tune_metrics
from cm_lib.stats import wilson_interval


def _entropy(notes, log=math.log2, weighted=False, fold=True):  # noqa: ANN001, ANN202 - answer variants
    counts: Counter = Counter()
    for midi, dur in notes:
        counts[midi % 12 if fold else midi] += dur if weighted else 1
    total = sum(counts.values())
    return -sum(c / total * log(c / total) for c in counts.values()) + 0.0


def test_entropy_right_answer_matches_the_library() -> None:
    assert nb05.check_pitch_class_entropy(_entropy)
    abc = "X:1\nM:4/4\nL:1/8\nK:D\nD2 F A d4|]\n"  # the first case, as a tune
    assert math.isclose(tune_metrics(abc, parser=None)["pitch_class_entropy"], round(_entropy(nb05.ENTROPY_CASES[0]), 4))
    assert math.isclose(_entropy(nb05.ENTROPY_CASES[3]), math.log2(12))


def test_entropy_wrong_answers_fail() -> None:
    assert not nb05.check_pitch_class_entropy(lambda notes: _entropy(notes, log=math.log))  # nats
    assert not nb05.check_pitch_class_entropy(lambda notes: _entropy(notes, weighted=True))  # by duration
    assert not nb05.check_pitch_class_entropy(lambda notes: _entropy(notes, fold=False))  # pitches, not classes
    assert not nb05.check_pitch_class_entropy(lambda notes: math.log2(len({m % 12 for m, _ in notes})))  # uniform
    assert not nb05.check_pitch_class_entropy(lambda notes: 1 / 0)  # raises: a hint, no traceback
    assert not nb05.check_pitch_class_entropy(None)


def test_bar_consistency_hand_worked() -> None:
    data = read_tune(nb05.BAR_TUNE)
    bars = data.bars[data.voices[0]]
    assert [b.duration * 8 for b in bars] == [1, 8, 8, 7, 8, 7]  # pickup, 3 full + 1 short, short final bar
    assert nb05.bar_consistency_answer() == 0.75  # 3 of the 4 candidates
    assert nb05.check_bar_consistency(0.75)
    assert nb05.check_bar_consistency(3 / 4)


def test_bar_consistency_wrong_answers_fail() -> None:
    assert not nb05.check_bar_consistency(0.5)  # pickup and final bar counted: 3 / 6
    assert not nb05.check_bar_consistency(0.6)  # only one of them left out: 3 / 5
    assert not nb05.check_bar_consistency(4 / 6)  # every bar counted, final bar as completing the pickup
    assert not nb05.check_bar_consistency(1.0)
    assert not nb05.check_bar_consistency("three quarters")


def test_wilson_right_answer_passes() -> None:
    assert nb05.check_wilson_interval(wilson_interval)
    assert nb05.check_wilson_interval(lambda k, n: list(wilson_interval(k, n)))


def test_wilson_wrong_answers_fail() -> None:
    def wald(k: int, n: int) -> tuple[float, float]:
        p = k / n
        h = 1.96 * math.sqrt(p * (1 - p) / n)
        return max(0.0, p - h), min(1.0, p + h)

    assert not nb05.check_wilson_interval(wald)
    assert not nb05.check_wilson_interval(lambda k, n: wilson_interval(k, n, z=1.645))  # 90%, not 95%
    assert not nb05.check_wilson_interval(lambda k, n: wilson_interval(k, n - 1))  # off by one
    assert not nb05.check_wilson_interval(lambda k, n: k / n)  # not a pair
