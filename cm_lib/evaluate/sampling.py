"""Sampling drivers (notebooks 03-05): answers to SFT records, unconditioned tunes from headers, validity per checkpoint.

Every driver samples through `cm_lib.generate.sampling.sample_in_batches` with COMPOSER_SAMPLING (row i seeded
seed + i) and judges tunes with `cm_lib.abc.check` and `cm_lib.metrics.validity.valid_bars`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cm_lib.abc import check
from cm_lib.chat import eos_marker, generation_prompt, record_prompt
from cm_lib.corpus.composer import header_prompt
from cm_lib.corpus.splits import held_out_texts
from cm_lib.corpus.tasks import requested
from cm_lib.errors import CourseError
from cm_lib.evaluate.likelihood import model_and_tokenizer
from cm_lib.generate.sampling import COMPOSER_SAMPLING
from cm_lib.stats import rate


def _sample(model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int, seed: int, batch_size: int,
            chat: bool = False, **sampling: Any) -> list[Any]:
    """cm_lib.generate's batched sampler with COMPOSER_SAMPLING (overridable); row i is seeded seed + i, BOS as in training."""
    from cm_lib.generate.sampling import sample_in_batches

    settings = {**COMPOSER_SAMPLING, **sampling}
    if settings.get("repetition_penalty") == 1.0:
        settings["repetition_penalty"] = None  # 1.0 is no penalty
    seeds = [seed + i for i in range(len(prompts))]
    return sample_in_batches(model, tokenizer, list(prompts), seeds, batch_size=batch_size,
                             max_new_tokens=max_new_tokens, chat=chat, add_special_tokens=True, **settings)


def answer_records(model: str | Path | Any, records: Sequence[Mapping[str, Any]], max_new_tokens: int = 400,
                   seed: int = 0, batch_size: int = 16, constrain: str = "none", obey_header: bool = False,
                   **sampling: Any) -> list[str]:
    """The model's answers to each record's instruction (+ input) in the chat format, sampled in batches.

    `constrain` ('none', 'syntax', 'bars') decodes under the ABC grammar (notebook 05); with `obey_header`
    the grammar also imposes each record's requested key and meter (`constrain.request_header`).
    """
    from cm_lib.generate.constrain import request_header

    if obey_header and constrain == "none":
        raise CourseError("obey_header imposes the request through the grammar: use constrain='syntax' or 'bars'")
    net, tok = model_and_tokenizer(model)
    prompts = [generation_prompt(tok, record_prompt(r)) for r in records]
    headers = [request_header(requested(r)) or None for r in records] if obey_header else None
    marker = eos_marker(tok)
    res = _sample(net, tok, prompts, max_new_tokens, seed, batch_size, chat=True, constrain=constrain,
                  headers=headers, **sampling)
    return [r.text.split(marker)[0].strip() for r in res]


READER_HEADER_TOKENS = 32  # enough for "X:1 / M: / L: / K:" in SmolLM2's tokens (the reader's answers are ~15)


@dataclass
class ReadWrite:
    """Answers of two models to the same requests: the reader's header, then the writer's tune from it (notebook 04)."""

    headers: list[str]  # the reader's answers, as sampled
    prompts: list[str | None]  # the composer's header made from each (None: the reader wrote no M:, L: or K:)
    answers: list[str]  # header + the writer's continuation; the reader's answer alone where it made no header


def read_then_write(reader: str | Path | Any, writer: str | Path | Any, records: Sequence[Mapping[str, Any]],
                    max_new_tokens: int = 512, seed: int = 0, batch_size: int = 40) -> ReadWrite:
    """The reader (SmolLM2 after its header SFT) answers each request with a header; the writer (the composer) continues it (notebook 04).

    Both sample without constraints. A header lacking M:, L: or K: gets no tune (counted as invalid, never filled in).
    """
    headers = answer_records(reader, records, max_new_tokens=READER_HEADER_TOKENS, seed=seed,
                             batch_size=min(batch_size, 16))
    prompts = [header_prompt(head) for head in headers]
    todo = [p for p in prompts if p is not None]
    tunes = iter(sample_tunes(writer, n=len(todo), start=todo, max_new_tokens=max_new_tokens, seed=seed,
                              batch_size=batch_size) if todo else [])
    answers = [next(tunes).raw if p is not None else h for p, h in zip(prompts, headers)]
    return ReadWrite(headers=headers, prompts=prompts, answers=answers)


@dataclass
class Sample:
    """One unconditioned sample: prompt + continuation, the tune found in it and the checker's verdicts."""

    raw: str
    abc: str | None
    ok_syntax: bool
    ok_bars: bool
    ended: bool  # EOS, a blank line or the next X: came before the token limit
    tokens: int

    @property
    def ok(self) -> bool:
        """Syntax-valid ABC was found."""
        return self.ok_syntax


def header_prompts(corpus: Any, n: int, split: str = "test") -> list[str]:
    """`X:1 / M: / L: / K:` header prompts taken from n held-out tunes (their meters, unit lengths and keys)."""
    prompts = []
    for text in held_out_texts(corpus, "scores", None, split):
        prompt = header_prompt(text)
        if prompt is not None:
            prompts.append(prompt)
        if len(prompts) >= n:
            break
    return prompts


def judge_sample(prompt: str, text: str, eos: bool, tokens: int) -> Sample:  # eos: EOS or the tune's end came first
    """Extract the tune from prompt + continuation and check it at syntax and bars level (bars: a countable M: is required)."""
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.validity import valid_bars

    raw = prompt + text
    abc = extract_abc(raw)
    ended = eos or "\n\n" in text.strip(" ") or bool(re.search(r"\nX:", text))
    return Sample(raw=raw, abc=abc, ok_syntax=bool(abc) and check(abc, "syntax").ok,
                  ok_bars=bool(abc) and valid_bars(abc), ended=ended, tokens=tokens)


def sample_tunes(model: str | Path | Any, n: int = 2, max_new_tokens: int = 400, seed: int = 0,
                 start: str | Sequence[str] = "X:1\nT:Sample\nM:6/8\nL:1/8\nK:D\n", batch_size: int = 16,
                 **sampling: Any) -> list[Sample]:
    """n tunes continued from a header (or one per header of a list) without the chat wrapper, checked."""
    net, tok = model_and_tokenizer(model)
    prompts = [start] * n if isinstance(start, str) else list(start)[:n]
    res = _sample(net, tok, prompts, max_new_tokens, seed, batch_size, **sampling)
    return [judge_sample(p, r.text, r.ended, r.tokens) for p, r in zip(prompts, res)]


def generation_report(samples: Sequence[Sample]) -> dict:
    """Syntax-valid, bars-valid and properly-ended rates of samples, each with n and a Wilson 95% interval."""
    n = len(samples)
    return {"syntax": rate(sum(s.ok_syntax for s in samples), n), "bars": rate(sum(s.ok_bars for s in samples), n),
            "ended": rate(sum(s.ended for s in samples), n),
            "mean_tokens": round(sum(s.tokens for s in samples) / n, 1) if n else None}


def checkpoint_steps(run_out: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of a training run's saved checkpoints (OUT/checkpoint-N), in step order."""
    found = []
    for p in Path(run_out).glob("checkpoint-*"):
        tail = p.name.rsplit("-", 1)[-1]
        if tail.isdigit() and (p / "config.json").is_file():
            found.append((int(tail), p))
    return sorted(found)


def validity_curve(run_out: str | Path, prompts: Sequence[str], max_new_tokens: int = 512, seed: int = 0,
                   batch_size: int = 32, **sampling: Any) -> list[dict]:
    """Validity against training steps: generation_report of each checkpoint's tunes for the same seeded prompts (notebook 03)."""
    rows = []
    for step, folder in checkpoint_steps(run_out):
        samples = sample_tunes(folder, n=len(prompts), max_new_tokens=max_new_tokens, seed=seed, start=list(prompts),
                               batch_size=batch_size, **sampling)
        rows.append({"step": step, **generation_report(samples)})
    return rows
