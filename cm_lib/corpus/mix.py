"""The category mix of a built corpus: token counts with a chosen tokenizer, ours beside MusicPile's."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cm_lib.corpus.spec import CATEGORIES, PAPER_SHARES


def count_tokens(pretrain: Any, tokenizer: Any, split: str = "train", max_records: int | None = None) -> dict[str, int]:
    """Tokens per category of one split of a pretrain DatasetDict (first `max_records` records); notebook 02."""
    ds = pretrain[split]
    if max_records is not None:
        ds = ds.select(range(min(max_records, len(ds))))
    counts: Counter = Counter()
    for row in ds:
        counts[row["category"]] += len(tokenizer(row["text"], add_special_tokens=False)["input_ids"])
    return {c: counts.get(c, 0) for c in CATEGORIES}


def mix_table(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Rows (category, count, our share, MusicPile share) for a table or a bar plot."""
    total = sum(counts.values()) or 1
    return [{"category": c, "count": counts.get(c, 0), "ours": counts.get(c, 0) / total, "musicpile": PAPER_SHARES[c]}
            for c in CATEGORIES]
