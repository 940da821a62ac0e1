"""The llguidance side of constrained decoding (notebook 05): a matcher per grammar and the logits processor.

`GrammarLogitsProcessor` lets each batch row take only the tokens its grammar (cm_lib.generate.constrain,
cm_lib.generate.plan_grammar) allows and, near the token budget, steers the row along the shortest way to finish
its tune, keeping in reserve the tokens a plan's remaining bars need.
"""

from __future__ import annotations

import re
from typing import Any

from cm_lib.errors import CourseError

_LL_TOKENIZERS: dict[tuple[int, int], Any] = {}
_COMPILED: dict[tuple[int, int, str], Any] = {}


def _ll_tokenizer(tokenizer: Any, vocab_size: int) -> Any:
    key = (id(tokenizer), vocab_size)
    if key not in _LL_TOKENIZERS:
        import llguidance.hf

        _LL_TOKENIZERS[key] = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size)
    return _LL_TOKENIZERS[key]


def matcher(tokenizer: Any, grammar: str, vocab_size: int) -> Any:
    """A fresh llguidance LLMatcher for `grammar` (compiled once per tokenizer and grammar, then copied)."""
    import llguidance

    key = (id(tokenizer), vocab_size, grammar)
    if key not in _COMPILED:
        m = llguidance.LLMatcher(_ll_tokenizer(tokenizer, vocab_size), grammar, log_level=0)
        if m.is_error():
            raise CourseError(f"the ABC grammar does not compile: {m.get_error()}")
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        _COMPILED[key] = m
    return _COMPILED[key].deep_copy()


_CLOSING: dict[tuple[int, int], Any] = {}


def _closing_score(t: str) -> float:
    """How much a token helps to close a tune at once (higher is better); see GrammarLogitsProcessor."""
    core = t.strip(" ")
    if core.rstrip("\n").endswith("|]"):
        return 100.0
    if "|]" in core:
        return 90.0
    if core.rstrip("\n").endswith("|"):
        return 60.0
    if "|" in core:
        return -1.0  # "|2", "|:": bar lines that open something rather than close
    if core == "]":
        return 95.0  # closes a chord, or completes "|]"
    if "\n" in t:
        return 30.0
    if re.fullmatch(r"\d+", core):
        return 10.0 + min(int(core), 16) / 2
    if re.fullmatch(r"[A-Ga-gz]", core):
        return 5.0
    if core in ("'", ","):
        return -5.0
    if any(c in t for c in '[({"><~ '):
        return -10.0
    return 0.0


BAR_END_RE = re.compile(r"[^\s|:\[\]]\s*(?::\||\|\]|\|\||\||::)")  # a bar line right after music: one bar written
_TEXTS: dict[tuple[int, int], list[str]] = {}


def token_texts(tokenizer: Any, vocab_size: int) -> list[str]:
    """Each token id's text (ids past the tokenizer's length: empty), decoded once per tokenizer."""
    key = (id(tokenizer), vocab_size)
    if key not in _TEXTS:
        n = min(vocab_size, len(tokenizer))
        _TEXTS[key] = tokenizer.batch_decode([[i] for i in range(n)]) + [""] * (vocab_size - n)
    return _TEXTS[key]


def closing_scores(tokenizer: Any, vocab_size: int) -> Any:
    """Per-token preference while closing a tune: bar lines first, then newline, then long notes; brackets last."""
    import torch

    key = (id(tokenizer), vocab_size)
    if key not in _CLOSING:
        scores = torch.tensor([_closing_score(t) for t in token_texts(tokenizer, vocab_size)])
        _CLOSING[key] = scores
    return _CLOSING[key]


def unpack_bitmask(bitmask: Any, vocab_size: int) -> Any:
    """Bool tensor (rows, vocab) from llguidance's packed int32 bitmask (bit i of word w allows token 32w+i)."""
    import torch

    words = torch.from_numpy(bitmask)
    bits = (words.unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    return bits.reshape(words.shape[0], -1)[:, :vocab_size].bool()


class GrammarLogitsProcessor:
    """A transformers LogitsProcessor: each row may only take tokens its grammar allows; near the budget, it closes.

    Once `max_new_tokens - step <= reserve`, the row is steered (deterministically) along the shortest way
    to finish: EOS when the tune is complete, else the allowed token with the best closing score.
    """

    def __init__(self, tokenizer: Any, grammars: list[str], prompt_len: int, max_new_tokens: int,
                 vocab_size: int, reserve: int = 24, budgets: list[Any] | None = None) -> None:
        import numpy as np

        self.matchers = [matcher(tokenizer, g, vocab_size) for g in grammars]
        # plan rows (plan_grammar.PlanBudget): a token reserve for each planned bar still to write
        self.budgets = list(budgets) if budgets is not None else [None] * len(grammars)
        self.texts = token_texts(tokenizer, vocab_size) if any(self.budgets) else []
        self.written = [""] * len(grammars)
        self.bars_left = [None if b is None else (b.bars or 1) for b in self.budgets]
        self.in_header = [b is not None and b.header_tokens > 0 for b in self.budgets]
        self.prompt_len = prompt_len
        self.max_new_tokens = max_new_tokens
        self.vocab_size = vocab_size
        self.reserve = reserve
        self.eos = tokenizer.eos_token_id
        self.done = [False] * len(grammars)
        self.failed = [False] * len(grammars)
        self.closing = closing_scores(tokenizer, vocab_size)
        self.bitmask = np.full((len(grammars), (vocab_size + 31) // 32), -1, dtype=np.int32)
        self.mask_seconds = 0.0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import time

        from llguidance.numpy import fill_next_token_bitmask

        t0 = time.perf_counter()
        step = input_ids.shape[1] - self.prompt_len
        rows = range(len(self.matchers))
        if step > 0:
            for r in rows:
                if self.done[r]:
                    continue
                m = self.matchers[r]
                tok = int(input_ids[r, -1])
                if not m.consume_token(tok):
                    self.done[r] = self.failed[r] = True
                elif m.is_stopped():
                    self.done[r] = True
                if self.budgets[r] is not None:
                    self._wrote(r, self.texts[tok] if tok < len(self.texts) else "")
        for r in rows:
            if not self.done[r]:
                fill_next_token_bitmask(self.matchers[r], self.bitmask, r)
        allowed = unpack_bitmask(self.bitmask, scores.shape[-1])
        for r in rows:
            if self.done[r]:
                allowed[r] = False
                allowed[r, self.eos] = True
        left = self.max_new_tokens - step
        scores = scores.masked_fill(~allowed, float("-inf"))
        if left <= self.reserve + max(self._planned_reserve(r) for r in rows):
            for r in rows:
                if self.done[r] or left > self.reserve + self._planned_reserve(r):
                    continue
                if allowed[r, self.eos] and self.matchers[r].is_accepting():
                    choice = self.eos
                else:
                    choice = self._closing_choice(r, allowed[r], scores[r])
                scores[r] = float("-inf")
                scores[r, choice] = 0.0
        self.mask_seconds += time.perf_counter() - t0
        return scores

    def _wrote(self, r: int, text: str) -> None:
        """Follow row r's text: its header's end, then the bars it has written (recounted when a bar line comes)."""
        self.written[r] += text
        if self.in_header[r]:
            head, sep, body = self.written[r].partition("K:")
            if sep and "\n" in body:
                self.in_header[r] = False
                self.written[r] = body.split("\n", 1)[1]
            return
        if any(c in text for c in "|:]"):
            budget = self.budgets[r]
            self.bars_left[r] = max(0, (budget.bars or 1) - len(BAR_END_RE.findall(self.written[r])))

    def _planned_reserve(self, r: int) -> int:
        """Tokens row r keeps for what its plan still asks: the header, then the cheapest bar per planned bar left."""
        budget = self.budgets[r]
        if budget is None or self.done[r]:
            return 0
        if self.in_header[r]:
            return budget.minimum
        return self.bars_left[r] * budget.bar_tokens

    def _closing_choice(self, r: int, allowed: Any, logits: Any, width: int = 12) -> int:
        """The allowed token whose closing score plus half the best score it allows next is highest (logits break ties).

        Half: a long note ("8") then beats a short one that only opens the way to it ("b" then "8").
        """
        import numpy as np
        import torch
        from llguidance.numpy import fill_next_token_bitmask

        ids = allowed.nonzero().flatten()
        first = self.closing[ids] * 1e4 + logits[ids].float().clamp(min=-1e3, max=1e3)
        order = ids[first.argsort(descending=True)][:width].tolist()
        mask = np.full((1, self.bitmask.shape[1]), -1, dtype=np.int32)
        best, best_value = order[0], float("-inf")
        for tok in order:
            m = self.matchers[r].deep_copy()
            if not m.consume_token(tok):
                continue
            if m.is_accepting():
                after = 1000.0
            else:
                fill_next_token_bitmask(m, mask, 0)
                nxt = unpack_bitmask(mask, allowed.shape[0])[0]
                after = float(self.closing[: allowed.shape[0]][nxt].max()) if bool(nxt.any()) else -1e6
            value = (float(self.closing[tok]) + 0.5 * after) * 1e4 + float(logits[tok].clamp(min=-1e3, max=1e3))
            if value > best_value:
                best, best_value = tok, value
        return int(torch.tensor(best))
