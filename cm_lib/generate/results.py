"""Judging samples (notebook 05): the tune in a sample, its syntax/bars verdicts, and prompts drawn from the corpus."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cm_lib.abc import check
from cm_lib.errors import CourseError
from cm_lib.generate.core import extract_abc
from cm_lib.generate.sampling import Sample
from cm_lib.metrics.validity import valid_bars
from cm_lib.plan.core import Plan

ROW_KEYS = ("prompt", "request", "raw", "abc", "ok_syntax", "ok_bars", "ended", "tokens", "seconds", "plan", "hits")


def sample_tune(sample: Sample) -> str | None:
    """The ABC tune a sample holds: its answer's tune (chat), else the prompt's header continued by the sample."""
    if sample.chat:
        return extract_abc(sample.text)
    starts = [m.start() for m in re.finditer(r"(?m)^[ \t]*X:", sample.prompt)]
    head = sample.prompt[starts[-1]:] if starts else ""
    return extract_abc(head + sample.text)


def sample_row(sample: Sample, request: dict | None = None, plan: Plan | None = None, asked: Plan | None = None,
               read_by: str | None = None) -> dict:
    """The JSON object of one sample (keys ROW_KEYS): prompt, requested attributes, raw text, tune, verdicts, cost,
    the plan it was given (`plan`: read by `read_by`; None without one) and, against what the request asked
    (`asked`), one hit per requested field (cm_lib.metrics.request.request_hits; {} without a request)."""
    from cm_lib.metrics.request import request_hits
    from cm_lib.plan.core import plan_text

    abc = sample_tune(sample)
    return {
        "prompt": sample.prompt,
        "request": dict(request or {}),
        "raw": sample.text,
        "abc": abc,
        "ok_syntax": bool(abc) and check(abc, "syntax").ok,
        "ok_bars": bool(abc) and valid_bars(abc),  # a countable M: required (cm_lib.metrics.validity)
        "ended": sample.ended,
        "tokens": sample.tokens,
        "seconds": round(sample.seconds, 4),
        "plan": None if plan is None else {"read_by": read_by, "text": plan_text(plan), "fields": plan.fields()},
        "hits": {} if asked is None else request_hits(asked, abc),
    }


def task_records(corpus: Any, task: str, n: int, split: str = "test") -> list[dict]:
    """The first n held-out SFT records of one task type (cm_lib.corpus.splits.pick_eval_records)."""
    from cm_lib.corpus.splits import pick_eval_records
    from cm_lib.corpus.tasks import TASKS

    if task not in TASKS:
        raise CourseError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    records = pick_eval_records(corpus, [task], per_task=n, split=split)
    if not records:
        raise CourseError(f"the corpus at {corpus} has no {split} records of task {task!r}")
    return records


def chat_prompts(tokenizer: Any, records: Sequence[dict]) -> list[str]:
    """Each record's instruction (+ input) in the chat format, ending at 'Assistant:'."""
    from cm_lib.chat import generation_prompt, record_prompt

    return [generation_prompt(tokenizer, record_prompt(r)) for r in records]
