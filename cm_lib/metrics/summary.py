"""A set of tunes in a few numbers (notebook 05): rates with 95% Wilson intervals, means of the rest.

For a True/False metric: ``rate = k / n`` over the tunes where it is defined (not None), with the
Wilson score interval (``cm_lib.stats.rate_of``, z = 1.96). For a numeric metric: n, mean, standard
deviation (population), min and max over the tunes where it is defined. Means with an interval use
``cm_lib.stats.bootstrap_mean`` (a seeded percentile bootstrap whose interval lies between the smallest
and largest value, so a share stays within [0, 1] and an entropy above 0, which a normal interval
(mean ± 1.96·s/√n) does not guarantee on small or skewed sets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cm_lib.stats import rate_of

RATE_METRICS = ("valid_syntax", "valid_bars", "valid_parser", "key_ok", "meter_ok", "unit_ok", "form_ok",
                "key_agreement", "has_repeat_signs", "motif_recurs", "copy_rate")
MEAN_METRICS = ("bar_consistency", "in_scale_rate", "pitch_range", "pitch_class_entropy", "mean_abs_interval",
                "stepwise_share", "n_sections", "bar_self_similarity", "repeated_bar_rate", "near_repeated_bar_rate",
                "chord_following", "chord_tone_ratio", "novelty_4gram", "nn_similarity", "n_notes", "n_bars")


def mean(values: Sequence[Any]) -> dict[str, Any]:
    """n, mean, std, min and max of the defined values."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))
    return {"n": len(xs), "mean": round(m, 4), "std": round(sd, 4), "min": round(min(xs), 4), "max": round(max(xs), 4)}


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Set summary of per-tune metric rows (from `tune_metrics`): rates and means, plus the form counts."""
    forms: dict[str, int] = {}
    for r in rows:
        if r.get("form"):
            forms[r["form"]] = forms.get(r["form"], 0) + 1
    return {
        "n_tunes": len(rows),
        "rates": {name: rate_of([r.get(name) for r in rows]) for name in RATE_METRICS},
        "means": {name: mean([r.get(name) for r in rows]) for name in MEAN_METRICS},
        "forms": dict(sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
