"""Plans read by a model (notebook 04): SmolLM2, fine-tuned on request -> plan answers (view "plan"), reads requests.

The reader answers each request in the chat format with a plan in `cm_lib.plan.plan_text`'s format, sampled
without constraints; `parse_plan_text` keeps what the answer states and fills in nothing, so a field the
reader misses or gets wrong stays wrong (cm_lib.metrics.request.plan_accuracy counts it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cm_lib.errors import CourseError
from cm_lib.evaluate.likelihood import model_and_tokenizer
from cm_lib.evaluate.sampling import answer_records, sample_tunes
from cm_lib.generate.plan_grammar import plan_budget, plan_problem
from cm_lib.plan.core import Plan, parse_plan_text, plan_prompt
from cm_lib.plan.rules import request_text, rules_plan

READERS = ("none", "rules", "reader")  # how a request becomes a plan: no plan, the rules reader, a fine-tuned model
# New tokens for a reader's plan: the longest plan of the held-out requests (51 chords) is ~190 SmolLM2 tokens.
READER_PLAN_TOKENS = 200
READER_SAMPLING: dict[str, Any] = dict(temperature=0.2, top_k=40, top_p=0.95)  # reading is copying: near greedy


def reader_answers(reader: str | Path | Any, texts: Sequence[str], max_new_tokens: int = READER_PLAN_TOKENS,
                   seed: int = 0, batch_size: int = 16, progress: str | None = None) -> list[str]:
    """The reader model's answers (plan texts, as sampled) to request texts, in the chat format, batch by batch
    (request i seeded seed + i; `progress` names a progress bar over the batches). A batch may write up to 1.5 times
    its longest request's tokens plus 16 (a plan restates its request), at most `max_new_tokens`."""
    from tqdm.auto import tqdm

    model = model_and_tokenizer(reader)
    records = [{"instruction": t, "input": ""} for t in texts]
    lengths = [len(model[1](t, add_special_tokens=False)["input_ids"]) for t in texts]
    out: list[str] = []
    starts = range(0, len(records), max(1, batch_size))
    for i in tqdm(starts, desc=progress, unit="batch", disable=progress is None):
        # a plan restates its request: 1.5x the request's tokens + 16 (chord symbols gain quotes; the words go)
        budget = min(max_new_tokens, 3 * max(lengths[i:i + batch_size]) // 2 + 16)
        out += answer_records(model, records[i:i + batch_size], max_new_tokens=budget, seed=seed + i,
                              batch_size=batch_size, **READER_SAMPLING)
    return out


def read_plans(texts: Sequence[str], by: str = "rules", reader: str | Path | Any | None = None,
               seed: int = 0, batch_size: int = 16, progress: str | None = None) -> list[Plan | None]:
    """Each request's plan as `by` reads it: None ('none'), the rules reader, or the fine-tuned `reader` model (notebook 04).

    `progress` names a progress bar over the reader model's batches.
    """
    if by not in READERS:
        raise CourseError(f"unknown plan reader {by!r}; choose from {', '.join(READERS)}")
    if by == "none":
        return [None] * len(texts)
    if by == "rules":
        return [rules_plan(t) for t in texts]
    if reader is None:
        raise CourseError("plan='reader' needs a reader model (e.g. course:reader, notebook 04's plan SFT of SmolLM2)")
    answers = reader_answers(reader, texts, seed=seed, batch_size=batch_size, progress=progress)
    return [parse_plan_text(a) for a in answers]


def record_texts(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The request text of each record (instruction, then input), as a reader sees it."""
    return [request_text(r) for r in records]


def write_from_plans(writer: str | Path | Any, plans: Sequence[Plan | None], max_new_tokens: int = 512, seed: int = 0,
                     batch_size: int = 40) -> list[str]:
    """The pair without a grammar (notebook 04): the writer (notebook 03's composer) continues each plan's header and motif
    (`plan_prompt`); a plan without M: or K: gets no tune ("" is returned, judged as no tune)."""
    prompts = [plan_prompt(p) if p is not None else None for p in plans]
    todo = [p for p in prompts if p is not None]
    tunes = iter(sample_tunes(writer, n=len(todo), start=todo, max_new_tokens=max_new_tokens, seed=seed,
                              batch_size=batch_size) if todo else [])
    return [next(tunes).raw if p is not None else "" for p in prompts]


def answer_with_plans(writer: str | Path | Any, records: Sequence[Mapping[str, Any]], plans: Sequence[Plan | None],
                      max_new_tokens: int = 512, seed: int = 0, batch_size: int = 40, constrain: str = "bars") -> list[str]:
    """The writer's chat answers to records, each bound to its plan (notebooks 04, 05); a plan the grammar cannot bind
    (a field the ABC parser rejects, e.g. a reader's M:G, or more bars than `max_new_tokens` can write) or None gets
    no answer ("": judged as no tune, never repaired)."""
    net, tok = model_and_tokenizer(writer)
    ok = [p is not None and plan_problem(p) is None and plan_budget(tok, p, chat=True).minimum <= max_new_tokens
          for p in plans]
    todo = [r for r, k in zip(records, ok) if k]
    out = iter(answer_records((net, tok), todo, max_new_tokens=max_new_tokens, seed=seed,
                              batch_size=batch_size, constrain=constrain, plans=[p for p, k in zip(plans, ok) if k])
               if todo else [])
    return [next(out) if k else "" for k in ok]
