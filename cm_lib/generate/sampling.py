"""Batched, seeded sampling (notebook 05): many prompts x samples in one `generate` call, left-padded.

Each row draws from its own `torch.Generator` seeded with its seed, so a sample depends on its prompt
and seed only, not on the rest of the batch (up to the float noise padding adds to the logits). Rows
stop at the end of their tune (`stopping.tune_end`); `constrain` keeps each row a valid ABC tune.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cm_lib.errors import CourseError
from cm_lib.generate.constrain import MODES, prompt_header, tune_grammar
from cm_lib.generate.plan_grammar import plan_budget, plan_grammar
from cm_lib.generate.processor import GrammarLogitsProcessor
from cm_lib.generate.stopping import TuneEndCriteria, tune_end
from cm_lib.plan.core import Plan

GRAMMAR_ONLY = "grammar-only"  # the `model` of a sampler that draws uniformly among the tokens the grammar allows
# The course's sampling of its composer (cm_lib.evaluate's drivers, the studio): no repetition penalty; temperature
# 0.5 (chosen on the earlier BPE `tiny` composer: benchmarks/README.md, "Tokenizer and view"; notebook 05 sweeps
# temperature for the character composer).
COMPOSER_SAMPLING: dict[str, float | int] = dict(temperature=0.5, top_k=40, top_p=0.95, repetition_penalty=1.0)


def per_row(values: Sequence[Any] | None, n: int, what: str) -> list[Any]:
    """One value per prompt (None for each when `values` is None); CourseError when there are not n of them."""
    rows = [None] * n if values is None else list(values)
    if len(rows) != n:
        raise CourseError(f"{n} prompts but {len(rows)} {what}")
    return rows


@dataclass
class Sample:
    """One generated row: its prompt, seed, the continuation (cut where the tune ended) and how it stopped."""

    prompt: str
    seed: int
    text: str
    tokens: int
    stop: str  # one of stopping.STOPS
    seconds: float  # the batch's wall time divided by its rows
    chat: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """True when the sample stopped at its tune's end (EOS, bar line + blank line, next X:), not at the limit."""
        return self.stop != "limit"


class SeededSampler:
    """A LogitsProcessor that draws each row's next token with that row's generator (temperature, top-k, top-p).

    It returns scores that are -inf except at the drawn token, so `generate(do_sample=False)` takes it.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_k: int | None, top_p: float | None,
                 device: Any) -> None:
        import torch

        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.temperature <= 0:
            return scores
        logits = scores.float() / self.temperature
        if self.top_k:
            k = min(int(self.top_k), logits.shape[-1])
            kth = torch.topk(logits, k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p is not None and self.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
            cum = sorted_logits.softmax(-1).cumsum(-1)
            drop = cum - sorted_logits.softmax(-1) >= self.top_p  # keep the smallest set reaching top_p
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        probs = logits.softmax(-1)
        out = torch.full_like(scores, float("-inf"))
        for r, g in enumerate(self.generators):
            if torch.isfinite(logits[r]).any():
                tok = torch.multinomial(probs[r], 1, generator=g)
            else:  # every token masked: keep the scores' argmax (the grammar left only -inf)
                tok = scores[r].argmax().reshape(1)
            out[r, tok] = 0.0
        return out


# The KV cache generate() uses. A dynamic cache concatenates every layer's keys and values at each step; a static
# one is allocated once: the composer samples ~1.3-1.5x faster, the same samples (benchmarks/README.md, fourth round).
CACHE_IMPLEMENTATION = "static"


def _model_vocab(model: Any) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def sample_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    seeds: Sequence[int] | None = None,
    max_new_tokens: int = 256,
    temperature: float = 0.8,
    top_k: int | None = 40,
    top_p: float | None = 0.95,
    repetition_penalty: float | None = None,
    constrain: str = "none",
    chat: bool | Sequence[bool] = False,
    stop_at_tune_end: bool = True,
    reserve: int = 24,
    add_special_tokens: bool = False,
    headers: Sequence[Mapping[str, str] | None] | None = None,
    plans: Sequence[Plan | None] | None = None,
) -> list[Sample]:
    """Sample one continuation per prompt (row) in a single left-padded `generate` call; seeds default 0..n-1.

    `chat` marks prompts ending in the chat template's 'Assistant:' (the answer writes its own header).
    `constrain` is 'none', 'syntax' or 'bars' (grammar-constrained, see cm_lib.generate.constrain).
    Temperature 0 is greedy. `add_special_tokens=True` lets the tokenizer add its BOS (as training did).
    `headers` (one per row, None for none) imposes M:/L:/K: values on the header a row writes, e.g.
    {"M": "6/8", "K": "F"} (`constrain.request_header`); it needs `constrain` 'syntax' or 'bars'.
    `plans` (one per row, None for none) binds each row to a cm_lib.plan.Plan: header, sections, one chord per
    bar, the motif as the opening (`plan_grammar`); a budget below the plan's cheapest tune is a CourseError.
    `model=GRAMMAR_ONLY` ('grammar-only') draws each token uniformly among those the grammar allows: the same
    grammar and plan with no model, what notebook 05 measures a model against.
    """
    import torch
    from transformers import LogitsProcessorList, StoppingCriteriaList

    prompts = list(prompts)
    if not prompts:
        return []
    if constrain not in MODES:
        raise CourseError(f"unknown constrain mode {constrain!r}; choose from {MODES}")
    if max_new_tokens < 1:
        raise CourseError("max_new_tokens must be positive")
    seeds = list(range(len(prompts))) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != len(prompts):
        raise CourseError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    chats = [bool(chat)] * len(prompts) if isinstance(chat, bool) else [bool(c) for c in chat]
    rows_headers, rows_plans = per_row(headers, len(prompts), "headers"), per_row(plans, len(prompts), "plans")
    if constrain == "none" and (any(rows_headers) or any(p is not None for p in rows_plans)):
        raise CourseError("imposing a header or a plan needs constrained decoding: constrain='syntax' or 'bars'")
    if any(h and p is not None for h, p in zip(rows_headers, rows_plans)):
        raise CourseError("a row takes a header or a plan, not both (a plan holds its header)")
    uniform = isinstance(model, str) and model == GRAMMAR_ONLY
    if uniform and constrain == "none":
        raise CourseError("the grammar-only sampler needs a grammar: constrain='syntax' or 'bars'")
    if not uniform and isinstance(model, str):
        raise CourseError(f"sample_batch takes a loaded model or {GRAMMAR_ONLY!r}, not {model!r}")
    device = torch.device("cpu") if uniform else next(model.parameters()).device
    if uniform:  # the sampler reads no prompt: its rows hold the new tokens only
        enc, prompt_len, vocab = None, 0, len(tokenizer)
    else:
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            enc = tokenizer(prompts, return_tensors="pt", padding=True,
                            add_special_tokens=add_special_tokens).to(device)
        finally:
            tokenizer.padding_side = side
        prompt_len = enc["input_ids"].shape[1]
        vocab = _model_vocab(model)
    header_in_prompt = [not c and (h := prompt_header(p)) is not None and h.complete for p, c in zip(prompts, chats)]
    processors: list[Any] = []
    grammar = None
    if constrain != "none":
        grammars, modes, budgets = [], [], []
        for p, c, h, plan in zip(prompts, chats, rows_headers, rows_plans):
            def build(mode: str, p: str = p, c: bool = c, h: Any = h, plan: Plan | None = plan) -> str:
                return tune_grammar(p, mode, chat=c, header=h) if plan is None else plan_grammar(p, plan, mode, chat=c)
            try:
                grammars.append(build(constrain))
                modes.append(constrain)
            except CourseError:
                if constrain != "bars":
                    raise
                # a meter the bar grammar cannot count (M:none, very long bars): syntax grammar for this row
                grammars.append(build("syntax"))
                modes.append("syntax")
            budget = None if plan is None else plan_budget(tokenizer, plan, p, chat=c)
            if budget is not None and budget.minimum > max_new_tokens:
                raise CourseError(f"the plan needs at least {budget.minimum} new tokens ({budget.bars} bars of at "
                                  f"least {budget.bar_tokens} tokens); max_new_tokens is {max_new_tokens}")
            budgets.append(budget)
        grammar = GrammarLogitsProcessor(tokenizer, grammars, prompt_len, max_new_tokens, vocab,
                                         reserve=reserve, budgets=budgets)
        processors.append(grammar)
    if uniform:  # every token the grammar allows is equally likely
        temperature, top_k, top_p = 1.0, None, None
    processors.append(SeededSampler(seeds, temperature, top_k, top_p, device))
    criteria = [TuneEndCriteria(tokenizer, prompt_len, header_in_prompt)] if stop_at_tune_end else []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    t0 = time.perf_counter()
    if uniform:
        out = _uniform_generate(processors, criteria, len(prompts), vocab, max_new_tokens, tokenizer.eos_token_id, pad)
    else:
        with torch.no_grad():
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_k=None, top_p=None,
                repetition_penalty=repetition_penalty, logits_processor=LogitsProcessorList(processors),
                stopping_criteria=StoppingCriteriaList(criteria), eos_token_id=tokenizer.eos_token_id,
                pad_token_id=pad, cache_implementation=CACHE_IMPLEMENTATION,
            )
    seconds = (time.perf_counter() - t0) / len(prompts)
    samples = []
    for r, prompt in enumerate(prompts):
        new = out[r, prompt_len:].tolist()
        n_tok, stop = len(new), "limit"
        if tokenizer.eos_token_id in new:
            n_tok, stop = new.index(tokenizer.eos_token_id) + 1, "eos"
        else:
            while n_tok and new[n_tok - 1] == pad:
                n_tok -= 1
        text = tokenizer.decode(new[:n_tok], skip_special_tokens=True)
        if stop_at_tune_end:
            end = tune_end(text, header_in_prompt[r], tokenizer.eos_token)
            if end is not None:
                text = text[: end[0]]
                stop = "eos" if stop == "eos" else end[1]
        meta = {"grammar_failed": grammar.failed[r], "constrain": modes[r]} if grammar is not None else {}
        samples.append(Sample(prompt, seeds[r], text, n_tok, stop, seconds, chats[r], meta))
    return samples


def _uniform_generate(processors: list[Any], criteria: list[Any], rows: int, vocab: int, max_new_tokens: int,
                      eos: int, pad: int) -> Any:
    """generate() without a model: all-zero logits through the processors (grammar, seeded draw), row by row to EOS."""
    import torch

    ids = torch.zeros((rows, 0), dtype=torch.long)
    finished = torch.zeros(rows, dtype=torch.bool)
    for _ in range(max_new_tokens):
        scores = torch.zeros((rows, vocab))
        for proc in processors:
            scores = proc(ids, scores)
        nxt = scores.argmax(-1).masked_fill(finished, pad)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        finished |= nxt == eos
        for crit in criteria:
            finished |= crit(ids, scores)
        if bool(finished.all()):
            break
    return ids


def sample_in_batches(model: Any, tokenizer: Any, prompts: Sequence[str], seeds: Sequence[int] | None = None,
                      batch_size: int = 16, headers: Sequence[Mapping[str, str] | None] | None = None,
                      plans: Sequence[Plan | None] | None = None, **kwargs: Any) -> list[Sample]:
    """sample_batch over chunks of `batch_size` rows (memory stays bounded; results as if one call).

    Per-row arguments (`chat` as a sequence, `headers`, `plans`) are split with the rows.
    """
    prompts = list(prompts)
    seeds = list(range(len(prompts))) if seeds is None else list(seeds)
    chat = kwargs.pop("chat", False)
    chats = [chat] * len(prompts) if isinstance(chat, bool) else list(chat)
    rows_headers, rows_plans = per_row(headers, len(prompts), "headers"), per_row(plans, len(prompts), "plans")
    out: list[Sample] = []
    for i in range(0, len(prompts), max(1, batch_size)):
        out += sample_batch(model, tokenizer, prompts[i:i + batch_size], seeds[i:i + batch_size],
                            chat=chats[i:i + batch_size], headers=rows_headers[i:i + batch_size],
                            plans=rows_plans[i:i + batch_size], **kwargs)
    return out
