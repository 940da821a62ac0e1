"""Checks for notebook 05 (generate and evaluate music): pitch-class entropy, bar consistency, a copy rate's interval."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from cm_lib.exercises._common import call, verdict
from cm_lib.stats import wilson_interval

# (midi pitch, duration in whole notes) of a few melodies: the entropy checker's cases. Durations differ
# so that a duration-weighted entropy gives other numbers; octaves repeat so that pitch != pitch class.
ENTROPY_CASES = [
    [(62, 0.25), (66, 0.125), (69, 0.125), (74, 0.5)],  # D F# A D': three pitch classes, D twice
    [(60, 0.125)] * 3 + [(64, 0.375), (67, 0.125), (72, 0.125)],  # C C C E G C'
    [(67, 0.5), (67, 0.25)],  # one pitch class: 0 bits
    [(60 + i, 0.125 * (1 + i % 3)) for i in range(12)],  # all twelve once: log2 12 bits
]

# A 4/4 tune with a pickup (1/8), four full-length candidates of which one is short (7/8), and a
# short final bar: the bar-consistency exercise's tune.
BAR_TUNE = "X:1\nT:Bar check\nM:4/4\nL:1/8\nK:G\nD|G2 B2 d2 B2|c2 A2 F2 A2|G2 B2 d3|e2 d2 c2 A2|G4 G3|]\n"


def _verdict(name: str, ok: bool, good: str, hint: str) -> bool:
    return verdict(f"nb05.{name}", ok, good, hint)


def _entropy_bits(notes: list[tuple[int, float]], weighted: bool = False, fold: bool = True) -> float:
    """The course's definition (cm_lib.metrics.pitch_stats): Shannon entropy in bits of pitch-class counts.

    `weighted` and `fold=False` give the two plausible wrong variants (by duration; pitches, not classes)."""
    counts: Counter = Counter()
    for m, d in notes:
        counts[m % 12 if fold else m] += d if weighted else 1
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) + 0.0


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def check_pitch_class_entropy(fn: Callable[[list[tuple[int, float]]], float]) -> bool:
    """`fn(notes)` with notes as (midi, duration): entropy in bits of the pitch-class counts, on four melodies."""
    for notes in ENTROPY_CASES:
        got, err = call(fn, list(notes))
        if err:
            return _verdict("pitch_class_entropy", False, "", err)
        want = _entropy_bits(notes)
        x = _number(got)
        if x is not None and abs(x - want) < 1e-6:
            continue
        hint = f"for {[m for m, _ in notes]} you returned {got!r}, expected {want:.4f} bits"
        if x is not None and want and abs(x - want * math.log(2)) < 1e-6:
            hint += ": that is the entropy in nats; use log base 2 (bits)"
        elif x is not None and abs(x - _entropy_bits(notes, weighted=True)) < 1e-6:
            hint += ": that weights notes by duration; count each note once, whatever its length"
        elif x is not None and abs(x - _entropy_bits(notes, fold=False)) < 1e-6:
            hint += ": that counts pitches, not pitch classes; fold octaves first (pitch class = midi % 12)"
        else:
            hint += ": p_c = (notes with pitch class c) / (all notes), H = -sum p_c log2 p_c"
        return _verdict("pitch_class_entropy", False, "", hint)
    return _verdict("pitch_class_entropy", True,
                    f"right on {len(ENTROPY_CASES)} melodies (0 bits for one pitch class, log2 12 = 3.585 for all twelve)", "")


def bar_consistency_answer() -> float:
    """The bar consistency of BAR_TUNE by the library's rule (cm_lib.metrics.bars)."""
    from cm_lib.metrics.bars import bar_consistency
    from cm_lib.metrics.events import read_tune

    value = bar_consistency(read_tune(BAR_TUNE))
    if value is None:  # pragma: no cover - BAR_TUNE has candidate bars
        raise AssertionError("BAR_TUNE has no candidate bar")
    return value


def check_bar_consistency(answer: float) -> bool:
    """The share of BAR_TUNE's full bars (pickup and final bar left out) whose duration equals the meter."""
    want = bar_consistency_answer()
    x = _number(answer)
    ok = x is not None and abs(x - want) < 1e-3
    hint = f"you gave {answer!r}. List each bar's length in eighths (L:1/8, 4/4 wants 8)"
    if x is not None and abs(x - 3 / 6) < 1e-3:
        hint += "; the pickup D| and the short final bar are not full bars: leave them out of the count"
    elif x is not None and abs(x - 3 / 5) < 1e-3:
        hint += "; both the pickup and the final bar are left out, not just one of them"
    return _verdict("bar_consistency", ok, f"right: {want:g} (the pickup and the final bar are not candidates)", hint)


def check_wilson_interval(fn: Callable[[int, int], tuple[float, float]]) -> bool:
    """`fn(k, n)` -> the 95% Wilson score interval (lo, hi) of k copies among n tunes, on five cases."""
    for k, n in ((0, 40), (1, 500), (12, 500), (39, 40), (5, 10)):
        got, err = call(fn, k, n)
        if err:
            return _verdict("wilson_interval", False, "", err)
        want = wilson_interval(k, n)
        try:
            lo, hi = (float(v) for v in got)
        except (TypeError, ValueError):
            return _verdict("wilson_interval", False, "", f"return a pair (lo, hi); for ({k}, {n}) you returned {got!r}")
        if abs(lo - want[0]) < 1e-4 and abs(hi - want[1]) < 1e-4:
            continue
        hint = f"for k={k}, n={n} you returned ({lo:.4f}, {hi:.4f}), expected ({want[0]:.4f}, {want[1]:.4f})"
        if k == 0 and hi < 1e-9:
            hint += ": that is the Wald interval p ± z·sqrt(p(1-p)/n), which collapses to 0 when no copy is seen"
        else:
            hint += ": centre (p + z²/2n)/(1 + z²/n), half-width z·sqrt(p(1-p)/n + z²/4n²)/(1 + z²/n), z = 1.96"
        return _verdict("wilson_interval", False, "", hint)
    return _verdict("wilson_interval", True, "right: even 0 copies in 40 tunes leaves an upper bound of "
                    f"{100 * wilson_interval(0, 40)[1]:.1f}%", "")
