"""Interval statistics and their wording: every rate with its n and 95% interval, every mean with its interval.

One home for the course's statistics (metrics, bench, evaluate and the widgets share it):
- a proportion k/n: ``rate(k, n)`` -> ``{"k", "n", "rate", "ci95"}`` with the Wilson score interval
  (``wilson_interval``, z = 1.96); ``rate_of(values)`` counts the True values among the defined ones;
- an accuracy over shuffled copies of the same questions: ``accuracy_interval(hits, rows, n_questions)``
  (the interval uses the number of distinct questions: shuffles of one question are not independent);
- a mean: ``mean_interval`` (normal approximation, mean ± 1.96·s/√n, for differences that may be
  negative), ``paired_change`` (after - before over the same items), ``bootstrap_mean`` (a seeded
  percentile bootstrap whose interval stays between the smallest and largest value: a share stays in
  [0, 1], an entropy above 0);
- the words notebooks print: ``format_rate`` ('17/20 = 85% [64%, 95%]'), ``format_mean``,
  ``compare_rates``, ``versus_target``, ``interval_sign`` — each read from the interval, not the point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: two-sided 95% intervals
N_BOOT = 2000  # bootstrap resamples of bootstrap_mean


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion successes/n (95% by default); (0, 1) when n == 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(k: int, n: int) -> dict[str, Any]:
    """{"k", "n", "rate", "ci95"}: a proportion with its Wilson 95% interval (rate None when n == 0)."""
    lo, hi = wilson_interval(k, n)
    return {"k": int(k), "n": int(n), "rate": round(k / n, 4) if n else None, "ci95": [round(lo, 4), round(hi, 4)]}


def rate_of(values: Sequence[Any]) -> dict[str, Any]:
    """rate() of the True values among the defined (not None) ones."""
    defined = [bool(v) for v in values if v is not None]
    return rate(sum(defined), len(defined))


def accuracy_interval(hits: float, rows: int, n_questions: int | None = None) -> dict[str, float]:
    """{"accuracy", "n", "lo", "hi"}: hits/rows with a Wilson 95% interval over n_questions (default: rows)."""
    n = rows if n_questions is None else n_questions
    acc = hits / rows if rows else float("nan")
    lo, hi = wilson_interval(acc * n, n) if rows else (float("nan"), float("nan"))
    return {"accuracy": acc, "n": n, "lo": lo, "hi": hi}


def mean_interval(values: Sequence[float], z: float = Z95) -> dict[str, Any]:
    """Mean of per-item values with a normal-approximation 95% interval (n items)."""
    n = len(values)
    mean = sum(values) / n if n else math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    half = z * sd / math.sqrt(n) if n > 1 else math.nan
    return {"mean": round(mean, 4), "ci95": [round(mean - half, 4), round(mean + half, 4)], "n": n}


def paired_change(before: Sequence[float], after: Sequence[float]) -> dict[str, Any]:
    """Mean after - before over the same items, with its 95% interval: the interval says whether a change is real."""
    if len(before) != len(after):
        raise ValueError(f"{len(before)} values before but {len(after)} after")
    return mean_interval([a - b for a, b in zip(after, before)])


def bootstrap_mean(values: Sequence[Any], seed: int | np.random.SeedSequence = 0, n_boot: int = N_BOOT) -> dict[str, Any]:
    """n, mean and seeded percentile-bootstrap 95% interval of the defined values (ci95 None below 2).

    The 2.5th and 97.5th percentiles of `n_boot` resampled
    means, clipped to the smallest and largest value.
    """
    import numpy as np

    xs = np.array([float(v) for v in values if v is not None])
    if not len(xs):
        return {"n": 0, "mean": None, "ci95": None}
    if len(xs) < 2:
        return {"n": 1, "mean": float(xs[0]), "ci95": None}
    rng = np.random.default_rng(seed)
    means = rng.multinomial(len(xs), np.full(len(xs), 1 / len(xs)), size=n_boot) @ xs / len(xs)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"n": len(xs), "mean": float(xs.mean()), "ci95": [float(max(lo, xs.min())), float(min(hi, xs.max()))]}


def format_rate(r: Mapping[str, Any]) -> str:
    """'17/20 = 85% [64%, 95%]' for a rate() dict."""
    if not r["n"]:
        return "n = 0"
    lo, hi = r["ci95"]
    return f"{r['k']}/{r['n']} = {100 * r['rate']:.0f}% [{100 * lo:.0f}%, {100 * hi:.0f}%]"


def format_mean(d: Mapping[str, Any], digits: int = 2) -> str:
    """'2.07 [1.91, 2.22]': a mean_interval() dict as its mean and 95% interval (notebook 04)."""
    lo, hi = d["ci95"]
    return f"{d['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def versus_target(r: Mapping[str, Any], target: float) -> str:
    """Where a rate()'s 95% interval lies against a target: 'above', 'below' or 'not distinguishable from'; notebooks 03, 04."""
    lo, hi = r["ci95"]
    return "above" if lo >= target else ("below" if hi < target else "not distinguishable from")


def compare_rates(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """How rate() a stands to rate() b by their 95% intervals: 'higher than', 'lower than', 'not clearly different from' (notebooks 04, 05)."""
    if not a["n"] or not b["n"]:
        return "not comparable (n = 0) with"
    if a["ci95"][0] > b["ci95"][1]:
        return "higher than"
    if a["ci95"][1] < b["ci95"][0]:
        return "lower than"
    return "not clearly different from"


def interval_sign(d: Mapping[str, Any]) -> str:
    """Where a mean_interval()'s 95% interval lies against 0: 'positive', 'negative' or 'includes 0' (notebooks 03, 04)."""
    lo, hi = d["ci95"]
    return "positive" if lo > 0 else ("negative" if hi < 0 else "includes 0")
