"""Build a MusicPile-style corpus offline: score sources, cleaning, dedup, augmentation, tasks, mixing."""

from cm_lib.corpus.build import (
    CATEGORIES,
    PAPER_SHARES,
    PRESETS,
    CorpusPreset,
    CorpusStats,
    build_corpus,
    build_records,
    ensure_corpus,
    get_preset,
    load_corpus,
    read_stats,
)
from cm_lib.corpus.mix import count_tokens, mix_table
from cm_lib.corpus.sources import SOURCES, SourceInfo, check_licence, source_info
from cm_lib.corpus.tasks import TASKS

__all__ = [
    "CATEGORIES",
    "PAPER_SHARES",
    "PRESETS",
    "SOURCES",
    "TASKS",
    "CorpusPreset",
    "CorpusStats",
    "SourceInfo",
    "build_corpus",
    "build_records",
    "check_licence",
    "count_tokens",
    "ensure_corpus",
    "get_preset",
    "load_corpus",
    "mix_table",
    "read_stats",
    "source_info",
]
