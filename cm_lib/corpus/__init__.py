"""Build a MusicPile-style corpus: score sources, cleaning, dedup, augmentation, tasks, mixing; MusicPile samples (hub)."""

from cm_lib.corpus.build import build_corpus, build_records, ensure_corpus
from cm_lib.corpus.hub import HubSample, sample_hub_dataset
from cm_lib.corpus.mix import count_tokens, mix_table
from cm_lib.corpus.sources import SOURCES, SourceInfo, check_licence, source_info
from cm_lib.corpus.spec import (
    CATEGORIES,
    CORPUS_PRESETS,
    PAPER_SHARES,
    CorpusPreset,
    CorpusStats,
    corpus_preset,
    default_sources,
)
from cm_lib.corpus.store import is_complete, load_corpus, read_stats
from cm_lib.corpus.tasks import TASKS

__all__ = [
    "CATEGORIES",
    "CORPUS_PRESETS",
    "PAPER_SHARES",
    "SOURCES",
    "TASKS",
    "CorpusPreset",
    "CorpusStats",
    "HubSample",
    "SourceInfo",
    "build_corpus",
    "build_records",
    "check_licence",
    "corpus_preset",
    "count_tokens",
    "default_sources",
    "ensure_corpus",
    "is_complete",
    "load_corpus",
    "mix_table",
    "read_stats",
    "sample_hub_dataset",
    "source_info",
]
