"""Reading a built corpus's splits back: its pretrain/sft parts, held-out texts and held-out SFT records (notebooks 03-05)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cm_lib.errors import AssetNotFoundError


def split_dir(data: Path, split: str) -> Path:
    """DIR/pretrain or DIR/sft of a corpus folder (or the folder itself when it is that split)."""
    data = Path(data)
    if (data / split).exists():
        return data / split
    if (data / "dataset_dict.json").exists():
        return data
    raise AssetNotFoundError(f"no {split!r} dataset under {data}; build one with `python -m cm_lib corpus build`")


def load_split(data: Path, split: str, part: str = "train") -> Any:
    """One part (train/validation/test) of a corpus split (pretrain or sft) saved with save_to_disk."""
    from datasets import load_from_disk

    dd = load_from_disk(str(split_dir(data, split)))
    if part not in dd:
        raise AssetNotFoundError(f"{data}/{split} has no {part!r} part (has {list(dd)})")
    return dd[part]


def held_out_texts(corpus: Any, category: str, n: int | None, split: str = "test", max_chars: int = 2000) -> list[str]:
    """Up to n (None: all) texts of one pretrain category ('scores' = ABC, 'general' = prose) from a held-out split."""
    ds = load_split(corpus, "pretrain", split)
    rows = [r["text"][:max_chars] for r in ds if r["category"] == category]
    if not rows and split == "test":  # tiny corpora: fall back to the validation split
        rows = [r["text"][:max_chars] for r in load_split(corpus, "pretrain", "validation") if r["category"] == category]
    return rows if n is None else rows[:n]


def pick_eval_records(corpus: Any, tasks: Sequence[str], per_task: int = 1, split: str = "test") -> list[dict]:
    """Held-out SFT records: the first `per_task` of each task type (in the given order)."""
    ds = load_split(corpus, "sft", split)
    out: list[dict] = []
    for task in tasks:
        out += [dict(r) for r in ds if r["task"] == task][:per_task]
    return out
