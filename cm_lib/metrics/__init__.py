"""ABC-aware music metrics for generated tunes (notebook 05): validity, bars, key, pitch, structure,
chords, novelty, set distributions. Each module's docstring states its formulas; `tune_metrics` gives
all per-tune metrics at once, `summarize` a set's rates (95% Wilson intervals) and means;
`musicality_table` compares sets of tunes with real ones (what a model adds over a grammar-only sampler)."""

from cm_lib.metrics.distributions import compare_sets, jensen_shannon, tune_features
from cm_lib.metrics.events import TuneData, read_tune
from cm_lib.metrics.header import RequestError, parse_request, request_from_record
from cm_lib.metrics.musicality import musicality_cells, musicality_reading, musicality_table
from cm_lib.metrics.novelty import COPY_THRESHOLD, NoveltyIndex
from cm_lib.metrics.reference import corpus_tunes, reference_tunes, training_index
from cm_lib.metrics.structure import NEAR_THRESHOLD
from cm_lib.metrics.summary import summarize
from cm_lib.metrics.tune import METRIC_NAMES, tune_metrics

__all__ = [
    "COPY_THRESHOLD",
    "METRIC_NAMES",
    "NEAR_THRESHOLD",
    "NoveltyIndex",
    "RequestError",
    "TuneData",
    "compare_sets",
    "corpus_tunes",
    "jensen_shannon",
    "musicality_cells",
    "musicality_reading",
    "musicality_table",
    "parse_request",
    "read_tune",
    "reference_tunes",
    "request_from_record",
    "summarize",
    "training_index",
    "tune_features",
    "tune_metrics",
]
