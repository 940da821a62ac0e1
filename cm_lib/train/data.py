"""The corpus splits a training run reads (DIR/pretrain, DIR/sft) and the stamp that ties a run to their files."""

from __future__ import annotations

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


def sft_dataset(ds: Any, tokenizer: Any) -> Any:
    """Instruction records -> prompt/completion pairs in ChatMusician's chat format."""
    from cm_lib.chat import to_prompt_completion

    def conv(rec: dict) -> dict:
        return to_prompt_completion(rec, tokenizer)

    return ds.map(conv, remove_columns=ds.column_names)


def data_stamp(data: Path, stage: str) -> list:
    """Names, sizes and mtimes of a split's files, so a rebuilt corpus invalidates earlier runs."""
    folder = split_dir(data, "pretrain" if stage == "cpt" else "sft")
    return sorted((str(p.relative_to(folder)), p.stat().st_size, int(p.stat().st_mtime))
                  for p in folder.rglob("*") if p.is_file() and not p.name.startswith("cache-"))
