"""What a training run reads: SFT records as prompt/completion pairs, and the stamp that ties a run to the corpus files.

The corpus's splits themselves are read by `cm_lib.corpus.splits` (`load_split`, `split_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cm_lib.chat import to_prompt_completion
from cm_lib.corpus.splits import split_dir


def sft_dataset(ds: Any, tokenizer: Any) -> Any:
    """Instruction records -> prompt/completion pairs in ChatMusician's chat format."""
    def conv(rec: dict) -> dict:
        return to_prompt_completion(rec, tokenizer)

    return ds.map(conv, remove_columns=ds.column_names)


def data_stamp(data: Path, stage: str) -> list:
    """Names, sizes and mtimes of a split's files, so a rebuilt corpus invalidates earlier runs."""
    folder = split_dir(data, "pretrain" if stage == "cpt" else "sft")
    return sorted((str(p.relative_to(folder)), p.stat().st_size, int(p.stat().st_mtime))
                  for p in folder.rglob("*") if p.is_file() and not p.name.startswith("cache-"))
