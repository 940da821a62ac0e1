"""Real tunes from the course corpus (notebook 05): the held-out reference set and the training set."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cm_lib.metrics.novelty import NoveltyIndex


def corpus_tunes(split: str = "test", preset: str = "small", seed: int = 0, corpus_dir: Path | None = None) -> list[str]:
    """ABC texts of the corpus's score documents in one split (built with `ensure_corpus` if missing)."""
    from cm_lib.corpus import ensure_corpus, load_corpus

    path = ensure_corpus(preset, seed, corpus_dir)
    pretrain, _sft = load_corpus(path)
    if split not in pretrain:
        from cm_lib.errors import AssetNotFoundError

        raise AssetNotFoundError(f"corpus {path} has no split {split!r}; it has {sorted(pretrain)}")
    return [row["text"] for row in pretrain[split] if row["category"] == "scores"]


def reference_tunes(preset: str = "small", seed: int = 0, corpus_dir: Path | None = None) -> list[str]:
    """The held-out real tunes (test split) that generated tunes are compared with."""
    return corpus_tunes("test", preset, seed, corpus_dir)


def training_index(preset: str = "small", seed: int = 0, corpus_dir: Path | None = None,
                   cache: bool = True) -> NoveltyIndex:
    """A NoveltyIndex of the corpus's training tunes, cached as runs/metrics/novelty-<corpus hash>.npz."""
    from cm_lib.corpus import ensure_corpus, load_corpus
    from cm_lib.errors import AssetNotFoundError
    from cm_lib.metrics.novelty import INDEX_VERSION, NGRAM
    from cm_lib.paths import stage_dir

    path = ensure_corpus(preset, seed, corpus_dir)
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
