"""Accuracy per subject with Wilson 95% intervals (cm_lib.stats), agreement between modes, the paper's numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

# wilson_interval lives in cm_lib.stats; notebook 01 still imports it from here (to point at cm_lib.stats).
from cm_lib.stats import wilson_interval

CHANCE = 0.25

# MusicTheoryBench, zero-shot accuracy (fractions) reported in the ChatMusician paper (Table 3).
PAPER_RESULTS: dict[str, dict[str, float]] = {
    "GPT-4": {"knowledge": 0.582, "reasoning": 0.256},
    "ChatMusician": {"knowledge": 0.395, "reasoning": 0.263},
    "ChatMusician-Base": {"knowledge": 0.402, "reasoning": 0.271},
    "LLaMA2-7B-Base": {"knowledge": 0.333},
    "GPT-3.5": {"knowledge": 0.312},
    "chance": {"knowledge": CHANCE, "reasoning": CHANCE},
}


def summarize(predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, question counts and Wilson 95% intervals per subject and overall.

    Each prediction is {"id", "shuffle", "pred", "answer", "subject"}. Accuracy is averaged over
    shuffles; the interval uses the number of distinct questions (shuffles of one question are
    not independent samples). A None prediction (unparseable) counts as wrong.
    """
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in predictions:
        groups[p["subject"]].append(p)
        groups["overall"].append(p)
    accuracy, n, ci95, unparseable = {}, {}, {}, {}
    for name in ("knowledge", "reasoning", "overall"):
        rows = groups.get(name, [])
        n_q = len({r["id"] for r in rows})
        acc = sum(r["pred"] == r["answer"] for r in rows) / len(rows) if rows else float("nan")
        accuracy[name] = acc
        n[name] = n_q
        ci95[name] = list(wilson_interval(acc * n_q, n_q)) if rows else [float("nan"), float("nan")]
        unparseable[name] = sum(r["pred"] is None for r in rows)
    return {"accuracy": accuracy, "n": n, "ci95": ci95, "unparseable": unparseable}


def by_topic(predictions: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Accuracy, count and Wilson interval per topic (e.g. the generated set's question kinds); notebook 06."""
    groups: dict[str, list[bool]] = defaultdict(list)
    ids: dict[str, set[str]] = defaultdict(set)
    for p in predictions:
        topic = p.get("topic") or "(none)"
        groups[topic].append(p["pred"] == p["answer"])
        ids[topic].add(p["id"])
    out = {}
    for topic in sorted(groups):
        acc = sum(groups[topic]) / len(groups[topic])
        nq = len(ids[topic])
        lo, hi = wilson_interval(acc * nq, nq)
        out[topic] = {"accuracy": acc, "n": nq, "lo": lo, "hi": hi}
    return out


def agreement(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> float:
    """Fraction of (id, shuffle) pairs on which two runs predict the same letter."""
    pa = {(p["id"], p["shuffle"]): p["pred"] for p in a}
    pb = {(p["id"], p["shuffle"]): p["pred"] for p in b}
    common = pa.keys() & pb.keys()
    if not common:
        raise ValueError("the two runs share no (id, shuffle) pair")
    return sum(pa[k] == pb[k] for k in common) / len(common)


def agreement_matrix(runs: dict[str, Sequence[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Pairwise agreement between named runs (modes); notebook 06."""
    return {x: {y: agreement(runs[x], runs[y]) for y in runs} for x in runs}


def plot_accuracy(results: dict[str, dict[str, Any]], ax: Any = None, paper: bool = True,
                  title: str = "MusicTheoryBench-style accuracy") -> Any:
    """Bars per subject with Wilson 95% error bars for our runs, beside the paper's numbers and chance; notebook 06."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    subjects = ["knowledge", "reasoning"]
    bars: list[tuple[str, list[float], list[list[float]] | None]] = []
    for name, res in results.items():
        acc = [res["accuracy"][s] for s in subjects]
        err = [[max(a - res["ci95"][s][0], 0) for a, s in zip(acc, subjects)],
               [max(res["ci95"][s][1] - a, 0) for a, s in zip(acc, subjects)]]
        bars.append((name, acc, err))
    if paper:
        for name, vals in PAPER_RESULTS.items():
            if name != "chance":
                bars.append((f"{name} (paper)", [vals.get(s, float("nan")) for s in subjects], None))
    width = 0.8 / len(bars)
    for i, (name, acc, err) in enumerate(bars):
        xs = [j + i * width for j in range(len(subjects))]
        ax.bar(xs, [100 * a for a in acc], width, label=name, hatch=None if err else "//",
               yerr=None if err is None else [[100 * e for e in err[0]], [100 * e for e in err[1]]], capsize=3)
    ax.axhline(100 * CHANCE, color="k", ls="--", lw=1, label="chance (25%)")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(subjects))], subjects)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return ax
