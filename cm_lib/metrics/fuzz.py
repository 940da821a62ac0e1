"""The ABC fuzz (cm_lib.abc.fuzz) over cm_lib.abc and the ABC that notebook 05's metrics read, from corpus seeds.

`fuzz(n, seed)` mutates a seeded sample of music21's corpus tunes and sends each input through every
public reader of cm_lib.abc (`ABC_TARGETS`) and through the per-tune metrics: `tune_metrics` (with a
request and a novelty index over 200 seed tunes; no external parser, valid_parser=None) and
`tune_features(read_tune(...))`. Used by tests/test_abc_fuzz.py (a few thousand inputs) and
benchmarks/abc_fuzz.py (>= 20,000).
"""

from __future__ import annotations

import random

from cm_lib.abc.fuzz import ABC_TARGETS, FuzzReport, Target, fuzz_inputs, run_fuzz
from cm_lib.abc.music21_corpus import iter_music21_tunes
from cm_lib.metrics.distributions import tune_features
from cm_lib.metrics.events import read_tune
from cm_lib.metrics.novelty import NoveltyIndex
from cm_lib.metrics.tune import tune_metrics

N_SEEDS = 2000  # corpus tunes sampled as seeds
N_INDEXED = 200  # of them, in the novelty index the metrics compare with
# Requests as notebook 05's records make them (cm_lib.corpus.tasks.requested), and none
REQUESTS = (None, {"key": "D major", "meter": "6/8"}, {"key": "Ador", "meter": "4/4", "unit": "1/8", "form": "AABB"},
            {"key": "Bb", "meter": "C|", "chords": ["Bb", "F7", "Gm", "Eb"]}, {"meter": "3/4", "form": "ABAC"})


def metric_targets(index: NoveltyIndex) -> dict[str, Target]:
    """Notebook 05's per-tune metrics as fuzz targets: tune_metrics (a request, the novelty index) and the set features."""
    return {
        "metrics.tune_metrics": lambda text, rng: tune_metrics(text, rng.choice(REQUESTS), index, parser=None),
        "metrics.read_tune/tune_features": lambda text, rng: tune_features(read_tune(text)),
    }


def fuzz(n: int, seed: int = 0) -> FuzzReport:
    """`n` mutated corpus tunes (seeded) through cm_lib.abc's readers and notebook 05's metrics."""
    rng = random.Random(seed)
    tunes = [t.text for _, t in iter_music21_tunes()]
    seeds = rng.sample(tunes, min(N_SEEDS, len(tunes)))
    index = NoveltyIndex.build(seeds[:N_INDEXED])
    return run_fuzz(fuzz_inputs(seeds, n, rng), {**ABC_TARGETS, **metric_targets(index)}, rng)
