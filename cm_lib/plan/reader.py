"""Plans read by a model (notebook 04): SmolLM2, fine-tuned on request -> plan answers (view "plan"), reads requests.

The reader answers each request in the chat format with a plan in `cm_lib.plan.plan_text`'s format, sampled
without constraints; `parse_plan_text` keeps what the answer states and fills in nothing, so a field the
reader misses or gets wrong stays wrong (cm_lib.compliance.plan_accuracy counts it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cm_lib.plan.core import Plan, parse_plan_text
from cm_lib.plan.rules import request_text, rules_plan

READERS = ("none", "rules", "reader")  # how a request becomes a plan: no plan, the rules reader, a fine-tuned model
# New tokens for a reader's plan: the longest plan of the held-out requests (51 chords) is ~190 SmolLM2 tokens.
READER_PLAN_TOKENS = 200
READER_SAMPLING: dict[str, Any] = dict(temperature=0.2, top_k=40, top_p=0.95)  # reading is copying: near greedy


def reader_answers(reader: str | Path | Any, texts: Sequence[str], max_new_tokens: int = READER_PLAN_TOKENS,
                   seed: int = 0, batch_size: int = 16) -> list[str]:
    """The reader model's answers (plan texts, as sampled) to request texts, in the chat format."""
    from cm_lib.evaluate import answer_records

    records = [{"instruction": t, "input": ""} for t in texts]
    return answer_records(reader, records, max_new_tokens=max_new_tokens, seed=seed, batch_size=batch_size,
                          **READER_SAMPLING)


def read_plans(texts: Sequence[str], by: str = "rules", reader: str | Path | Any | None = None,
               seed: int = 0, batch_size: int = 16) -> list[Plan | None]:
    """Each request's plan as `by` reads it: None ('none'), the rules reader, or the fine-tuned `reader` model (notebook 04)."""
    from cm_lib.errors import CourseError

    if by not in READERS:
        raise CourseError(f"unknown plan reader {by!r}; choose from {', '.join(READERS)}")
    if by == "none":
        return [None] * len(texts)
    if by == "rules":
        return [rules_plan(t) for t in texts]
    if reader is None:
        raise CourseError("plan='reader' needs a reader model (e.g. course:reader, notebook 04's plan SFT of SmolLM2)")
    return [parse_plan_text(a) for a in reader_answers(reader, texts, seed=seed, batch_size=batch_size)]


def record_texts(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The request text of each record (instruction, then input), as a reader sees it."""
    return [request_text(r) for r in records]
