"""Run a model over benchmark questions in one scoring mode; collect predictions, accuracy, timing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cm_lib.bench.prompts import build_prompt, content_free_prompts, shuffle_question
from cm_lib.bench.results import CHANCE, PAPER_RESULTS, by_topic, summarize
from cm_lib.bench.schema import Question
from cm_lib.errors import UsageError
from cm_lib.paths import atomic_write_text

# The scoring modes and few-shot counts of the protocol (the CLI's choices are these). Scoring itself
# (torch) is imported inside run_questions, so reading these stays light.
MODES = ("ppl", "letter", "calibrated", "text", "text_norm", "generate")
SHOTS = (0, 5)  # 5: the protocol's five dev questions


def check_run_args(shuffles: int = 1, limit: int | None = None, impl: str = "fast", n_generated: int = 400) -> None:
    """UsageError for arguments that cannot mean what they say (before any data or model is loaded)."""
    if shuffles < 1:
        raise UsageError(f"--shuffles must be at least 1 (got {shuffles}); shuffle 0 is the original option order")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {limit}); leave it out to score every question")
    if n_generated < 1:
        raise UsageError(f"--n-generated must be at least 1 (got {n_generated})")
    from cm_lib.bench.scoring import IMPLS

    if impl not in IMPLS:
        raise UsageError(f"--impl must be one of {', '.join(IMPLS)} (got {impl!r})")


def select_questions(data: str, split: str, limit: int | None = None, n_generated: int = 400,
                     seed: int = 0) -> list[Question]:
    """The questions a run scores: one split of a --data source, the first `limit`; UsageError if none."""
    from cm_lib.bench.data import load_questions

    questions = load_questions(data, split, n_generated=n_generated, seed=seed)
    if limit is not None:
        questions = questions[:limit]
    if not questions:
        raise UsageError(f"--data {data} has no question in the {split!r} split: nothing to score")
    return questions


def run_questions(
    model: Any,
    tokenizer: Any,
    questions: list[Question],
    dev: list[Question] | None = None,
    mode: str = "ppl",
    shots: int = 0,
    shuffles: int = 1,
    impl: str = "fast",
    chat: bool = False,
    seed: int = 0,
    progress: bool = False,
    prompts_out: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score every question x shuffle in `mode`; returns the result dict written by `--json`; notebook 06."""
    from cm_lib.bench.scoring import (
        calibrated_scores,
        content_free_prior,
        generate_answer,
        letter_scores,
        ppl_scores,
        text_scores,
    )

    if mode not in MODES:
        raise UsageError(f"mode must be one of {MODES}")
    if shots not in SHOTS:
        raise UsageError(f"shots must be one of {SHOTS} (the protocol uses the 5 dev questions)")
    check_run_args(shuffles=shuffles, impl=impl)
    if not questions:
        raise UsageError("no question to score")
    shots_list = list(dev or [])[:shots] if shots else []
    if shots and len(shots_list) < shots:
        raise UsageError(f"{shots}-shot needs {shots} dev questions, got {len(shots_list)}")
    eos = "</s>"
    if chat:
        from cm_lib.chat import eos_marker

        eos = eos_marker(tokenizer)
    prior = content_free_prior(model, tokenizer, content_free_prompts(shots_list, chat, eos)) if mode == "calibrated" else None
    pairs = [(q, s) for s in range(shuffles) for q in questions]
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, desc=f"{mode}/{impl}", unit="q")
    preds: list[dict[str, Any]] = []
    start = time.perf_counter()
    for q, s in pairs:
        sq = shuffle_question(q, s, seed)
        prompt = build_prompt(sq, shots_list, chat=chat, eos=eos)
        if prompts_out is not None:
            prompts_out.append({"id": q.id, "shuffle": s, "prompt": prompt})
        if mode == "ppl":
            res = ppl_scores(model, tokenizer, prompt, impl)
        elif mode == "letter":
            res = letter_scores(model, tokenizer, prompt)
        elif mode == "calibrated":
            res = calibrated_scores(model, tokenizer, prompt, prior)
        elif mode in ("text", "text_norm"):
            raw, norm = text_scores(model, tokenizer, prompt, sq.options, impl)
            res = raw if mode == "text" else norm
        else:
            res = generate_answer(model, tokenizer, prompt)
        row = {"id": q.id, "shuffle": s, "pred": res.pred, "answer": sq.answer, "subject": q.subject,
               "topic": q.topic, "scores": [round(x, 6) for x in res.scores]}
        if res.raw:
            row["generated"] = res.raw
        preds.append(row)
    seconds = time.perf_counter() - start
    out = summarize(preds)
    out.update(
        predictions=preds,
        timing={"scoring_seconds": round(seconds, 3), "seconds_per_item": round(seconds / max(len(preds), 1), 4)},
        mode=mode, shots=shots, shuffles=shuffles, impl=impl, chat=chat, seed=seed,
        chance=CHANCE, paper=PAPER_RESULTS,
    )
    if prior is not None:
        out["content_free_prior"] = dict(zip("ABCD", (round(x, 6) for x in prior)))
    if any(p["topic"] for p in preds):
        out["by_topic"] = by_topic(preds)
    return out


def run_bench(
    model: str,
    data: str = "sample",
    split: str = "test",
    mode: str = "ppl",
    shots: int = 0,
    shuffles: int = 1,
    impl: str = "fast",
    limit: int | None = None,
    chat: bool = False,
    seed: int = 0,
    n_generated: int = 400,
    progress: bool = False,
    save_prompts: str | Path | None = None,
    loaded: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """Load data (and the model unless `loaded` is given) and run the benchmark: what the CLI calls; notebook 06."""
    from cm_lib.bench.data import dev_questions

    check_run_args(shuffles=shuffles, limit=limit, impl=impl, n_generated=n_generated)
    questions = select_questions(data, split, limit, n_generated, seed)  # UsageError before loading a model
    dev = dev_questions(data, seed=seed) if shots else []
    if loaded is None:
        from cm_lib.models import load_model

        loaded = load_model(model)
    prompts: list[dict[str, Any]] | None = [] if save_prompts else None
    out = run_questions(*loaded, questions, dev, mode=mode, shots=shots, shuffles=shuffles, impl=impl,
                        chat=chat, seed=seed, progress=progress, prompts_out=prompts)
    out.update(model=str(model), data=str(data), split=split)
    if save_prompts and prompts is not None:
        atomic_write_text(save_prompts, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prompts))
    return out


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write a result dict as pretty JSON, all or nothing (`bench --json`); notebook 06."""
    return atomic_write_text(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
