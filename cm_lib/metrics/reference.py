"""Real tunes from the course corpus (notebook 05): the held-out reference set and the training set.

A metric reads a corpus, it never builds one: each function reads the finished corpus of (preset, seed)
(`runs/corpus/<preset>/` or `corpus_dir`) and raises AssetNotFoundError naming the command that builds it.
Notebook 05 has it from `course_runs`, the `metrics` CLI from `ensure_corpus`, notebook 02 builds it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cm_lib.corpus.store import corpus_is_current, load_corpus
from cm_lib.errors import AssetNotFoundError
from cm_lib.metrics.novelty import INDEX_VERSION, NGRAM, NoveltyIndex
from cm_lib.paths import stage_dir


def built_corpus(preset: str = "small", seed: int = 0, corpus_dir: Path | None = None) -> Path:
    """The folder of the finished corpus of (preset, seed); AssetNotFoundError (with the build command) if there is none."""
    path = Path(corpus_dir) if corpus_dir is not None else stage_dir("corpus") / preset
    if not corpus_is_current(path, preset, seed):
        out = f" --out {path}" if corpus_dir is not None else ""
        raise AssetNotFoundError(f"no finished corpus '{preset}' (seed {seed}) at {path}: build it with "
                                 f"`python -m cm_lib corpus build --preset {preset} --seed {seed}{out}` (or notebook 02)")
    return path


def corpus_tunes(split: str = "test", preset: str = "small", seed: int = 0, corpus_dir: Path | None = None) -> list[str]:
    """ABC texts of the corpus's score documents in one split (the corpus must be built: `built_corpus`)."""
    path = built_corpus(preset, seed, corpus_dir)
    pretrain, _sft = load_corpus(path)
    if split not in pretrain:
        raise AssetNotFoundError(f"corpus {path} has no split {split!r}; it has {sorted(pretrain)}")
    return [row["text"] for row in pretrain[split] if row["category"] == "scores"]


def reference_tunes(preset: str = "small", seed: int = 0, corpus_dir: Path | None = None) -> list[str]:
    """The held-out real tunes (test split) that generated tunes are compared with."""
    return corpus_tunes("test", preset, seed, corpus_dir)


def training_index(preset: str = "small", seed: int = 0, corpus_dir: Path | None = None,
                   cache: bool = True) -> NoveltyIndex:
    """A NoveltyIndex of the corpus's training tunes, cached as runs/metrics/novelty-<corpus hash>.npz."""
    path = built_corpus(preset, seed, corpus_dir)
    key = hashlib.sha1(f"{(Path(path) / 'stats.json').read_text()}|{INDEX_VERSION}|{NGRAM}".encode()).hexdigest()[:16]
    cached = stage_dir("metrics") / f"novelty-{key}.npz"
    if cache and cached.is_file():
        try:
            return NoveltyIndex.load(cached)
        except AssetNotFoundError:
            pass  # unreadable or old: rebuild below
    pretrain, _sft = load_corpus(path)
    rows = [r for r in pretrain["train"] if r["category"] == "scores"]
    index = NoveltyIndex.build([r["text"] for r in rows], ids=[r["id"] for r in rows])
    if cache:
        index.save(cached)
    return index
