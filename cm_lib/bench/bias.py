"""Letter-position bias (notebook 06): which letters a run predicts, and the baselines its accuracy must beat.

A model that always answers "A" scores exactly the share of questions whose answer is A. So an
accuracy means something only beside (1) the histogram of predicted letters, (2) the always-A
baseline and (3) the majority-letter baseline (always the most common answer letter of this set:
the best a letter-only strategy can do, using the answer key). All rates carry n and a Wilson 95%
interval over distinct questions, as `results.summarize` does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from cm_lib.bench.schema import LETTERS
from cm_lib.stats import accuracy_interval


def letter_histogram(predictions: Sequence[dict[str, Any]], key: str = "pred") -> dict[str, int]:
    """Counts of each letter A-D (and "none" for unparseable) in `key` ("pred" or "answer") of a run's rows."""
    counts = Counter(p[key] if p[key] in LETTERS else "none" for p in predictions)
    out = {k: counts.get(k, 0) for k in LETTERS}
    if counts.get("none"):
        out["none"] = counts["none"]
    return out


def baselines(predictions: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The run's accuracy beside always-A and always-<majority letter> on the same rows, each with n and 95% CI."""
    rows = list(predictions)
    n_q = len({p["id"] for p in rows})
    answers = letter_histogram(rows, "answer")
    majority = max(LETTERS, key=lambda k: (answers[k], -LETTERS.index(k)))
    return {
        "model": accuracy_interval(sum(p["pred"] == p["answer"] for p in rows), len(rows), n_q),
        "always A": accuracy_interval(answers["A"], len(rows), n_q),
        f"always {majority} (majority)": accuracy_interval(answers[majority], len(rows), n_q),
    }


def share_of_top_letter(predictions: Sequence[dict[str, Any]]) -> tuple[str, float]:
    """The most predicted letter and the share of rows that predict it (1.0 = one letter for everything)."""
    hist = letter_histogram(predictions)
    top = max(hist, key=hist.get)
    return top, hist[top] / max(1, sum(hist.values()))


def _pct(r: dict[str, float]) -> str:
    return f"{100 * r['accuracy']:.1f}% [{100 * r['lo']:.0f}-{100 * r['hi']:.0f}]"


def summary_row(predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One table row: n, accuracy [95% CI], always-A and majority baselines [CI], the top letter's share."""
    base = baselines(predictions)
    majority_name, majority = list(base.items())[2]
    top, share = share_of_top_letter(predictions)
    return {"n": base["model"]["n"], "accuracy [95% CI]": _pct(base["model"]), "always A": _pct(base["always A"]),
            "majority letter": f"{majority_name.split()[1]}: {_pct(majority)}", "most predicted": f"{top} ({share:.0%})"}


def beats_baselines(predictions: Sequence[dict[str, Any]]) -> bool:
    """True when the accuracy's 95% lower bound exceeds chance (25%) and every letter-only baseline."""
    base = baselines(predictions)
    bar = max([0.25] + [v["accuracy"] for k, v in base.items() if k != "model"])
    return base["model"]["lo"] > bar


def reading(name: str, predictions: Sequence[dict[str, Any]]) -> str:
    """A sentence computed from the numbers: does the interval support knowledge beyond letter position?"""
    base = baselines(predictions)
    m = base["model"]
    bar = max([0.25] + [v["accuracy"] for k, v in base.items() if k != "model"])
    span = f"{name}: {100 * m['accuracy']:.1f}% on n={m['n']} questions, 95% CI {100 * m['lo']:.1f}-{100 * m['hi']:.1f}%"
    if m["lo"] > bar:
        return f"{span}, above chance and every letter-only baseline (best {100 * bar:.1f}%): more than letter position."
    if m["hi"] < 0.25:
        return f"{span}, below chance: the model is drawn to wrong options (or to one letter where answers are not)."
    return (f"{span}, which includes {100 * bar:.1f}% (the best of chance and the letter-only baselines): "
            "no evidence of music-theory knowledge here.")
