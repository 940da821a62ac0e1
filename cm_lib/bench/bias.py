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

from cm_lib.bench.results import wilson_interval
from cm_lib.bench.schema import LETTERS


def letter_histogram(predictions: Sequence[dict[str, Any]], key: str = "pred") -> dict[str, int]:
    """Counts of each letter A-D (and "none" for unparseable) in `key` ("pred" or "answer") of a run's rows."""
    counts = Counter(p[key] if p[key] in LETTERS else "none" for p in predictions)
    out = {k: counts.get(k, 0) for k in LETTERS}
    if counts.get("none"):
        out["none"] = counts["none"]
    return out


def rate(hits: float, rows: int, n_questions: int | None = None) -> dict[str, float]:
    """{"accuracy", "n", "lo", "hi"}: hits/rows with a Wilson 95% interval over n_questions (default: rows)."""
    n = rows if n_questions is None else n_questions
    acc = hits / rows if rows else float("nan")
    lo, hi = wilson_interval(acc * n, n) if rows else (float("nan"), float("nan"))
    return {"accuracy": acc, "n": n, "lo": lo, "hi": hi}


def baselines(predictions: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The run's accuracy beside always-A and always-<majority letter> on the same rows, each with n and 95% CI."""
    rows = list(predictions)
    n_q = len({p["id"] for p in rows})
    answers = letter_histogram(rows, "answer")
    majority = max(LETTERS, key=lambda k: (answers[k], -LETTERS.index(k)))
    return {
        "model": rate(sum(p["pred"] == p["answer"] for p in rows), len(rows), n_q),
        "always A": rate(answers["A"], len(rows), n_q),
        f"always {majority} (majority)": rate(answers[majority], len(rows), n_q),
    }


def share_of_top_letter(predictions: Sequence[dict[str, Any]]) -> tuple[str, float]:
    """The most predicted letter and the share of rows that predict it (1.0 = one letter for everything)."""
    hist = letter_histogram(predictions)
    top = max(hist, key=hist.get)
    return top, hist[top] / max(1, sum(hist.values()))
