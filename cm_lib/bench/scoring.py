"""Scoring four-option questions with a causal LM: ppl (the paper's protocol), letter, text, generate.

How OpenCompass computes the ppl score (`HuggingFace._get_ppl`, used by `PPLInferencer` with no
`normalizing_str`, as in ChatMusician's MusicTheoryBench configs): the whole string is tokenized
(with the tokenizer's BOS if it adds one), the per-token cross-entropy of every predicted token is
summed over the WHOLE string (instruction, examples, question and answer letter, not only the
answer), and the sum is divided by the number of tokens in the string (non-pad tokens, which
includes the first token that is never predicted). The option whose string has the lowest value
wins. We reproduce that divisor exactly (`mean_ce = ce_sum / n_tokens`).

Content-free calibration (`calibrated`, Zhao et al. 2021, "Calibrate Before Use"): the four strings
differ only in the letter, so the ppl ranking is the ranking of p(letter | prompt). A model that
prefers one letter whatever the question shows that preference on a prompt with no content (the
same hint and shots, question and options "N/A", "" or "[MASK]"). `calibrated` divides each
letter's probability (renormalised over A-D) by that content-free prior and picks the largest.

Two implementations give the same numbers:
- naive: one forward pass per option string (four per question), as OpenCompass does;
- fast: the four strings share a token prefix (everything up to "Answer:"), so it is run once
  with a KV cache; when every option differs only in its last token (the letters " A".." D"),
  the logits at the last prefix position already score all four and no second pass is needed;
  otherwise the continuations are run as one batch on top of the repeated cache.
The fast path and the letter modes remember each prefix's forward on the model (`_prefix_losses`), so ppl,
letter and calibrated scoring of one prompt cost one forward between them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cm_lib.bench.prompts import extract_letter
from cm_lib.bench.schema import LETTERS

IMPLS = ("fast", "naive")


@dataclass
class SeqScores:
    """Per-sequence cross-entropy sums: over all predicted tokens and over the part from `start` on."""

    total_ce: list[float]
    cont_ce: list[float]
    n_tokens: list[int]
    n_cont: list[int]


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def prompt_ids(tokenizer, text: str, special: bool = True) -> list[int]:
    """Token ids of `text` (with the tokenizer's BOS when `special`, as OpenCompass does)."""
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def _ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), targets, reduction="none")


@torch.inference_mode()
def score_sequences_naive(model, seqs: Sequence[Sequence[int]], start: int) -> SeqScores:
    """One full forward per sequence: CE sums over all tokens and over tokens at index >= start."""
    dev = _device_of(model)
    total, cont, n_tok, n_cont = [], [], [], []
    for seq in seqs:
        ids = torch.tensor([list(seq)], device=dev)
        logits = model(input_ids=ids).logits[0, :-1]
        ce = _ce(logits, ids[0, 1:])
        total.append(float(ce.sum()))
        cont.append(float(ce[max(start - 1, 0):].sum()))
        n_tok.append(len(seq))
        n_cont.append(len(seq) - start)
    return SeqScores(total, cont, n_tok, n_cont)


def _common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        if len({s[i] for s in seqs}) > 1:
            return i
    return n


# A model's prefix forwards are remembered (on the model object, dropped when its weights change or its mode
# switches) so that modes scoring the same prompt share one forward: ppl and letter/calibrated read the same
# logits, and notebook 06 scores the same prompts in several cells. An entry keeps the prefix's token losses and
# the few next-token losses asked for, not the whole next-token distribution.
PREFIX_MEMO_MAX = 20_000
_MEMO_ATTR = "_cm_prefix_memo"


def _weights_version(model: torch.nn.Module) -> tuple[int, bool, int]:
    """Changes when a parameter is modified in place (an optimiser step), replaced (`model.to(torch.bfloat16)`,
    a move to another device) or the train/eval mode switches."""
    params = list(model.parameters())
    return (sum(p._version for p in params), model.training,
            hash(tuple((p.data_ptr(), p.dtype, p.device.type) for p in params)))


def _prefix_forward(model, prefix: Sequence[int]) -> tuple[object, torch.Tensor, torch.Tensor]:
    """One forward over `prefix`: (model output with its KV cache, CE of tokens 1..p-1, log-probs of token p)."""
    ids = torch.tensor([list(prefix)], device=_device_of(model))
    out = model(input_ids=ids, use_cache=True)
    logits = out.logits[0]  # (p, V)
    prefix_ce = _ce(logits[:-1], ids[0, 1:]) if len(prefix) > 1 else logits.new_zeros(0)
    return out, prefix_ce, logits[-1].float().log_softmax(-1)


@torch.inference_mode()
def _prefix_losses(model, prefix: Sequence[int], next_ids: Sequence[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(CE of prefix tokens 1..p-1, CE of each of `next_ids` as token p) from one forward, remembered per model."""
    version = _weights_version(model)
    memo = getattr(model, _MEMO_ATTR, None)
    if memo is None or memo["version"] != version:
        memo = {"version": version, "entries": OrderedDict()}
        setattr(model, _MEMO_ATTR, memo)
    key = tuple(prefix)
    entry = memo["entries"].get(key)
    if entry is None or any(t not in entry[1] for t in next_ids):
        _, prefix_ce, last = _prefix_forward(model, prefix)
        wanted = set(next_ids) | (set(entry[1]) if entry else set())
        entry = (prefix_ce, {t: -last[t] for t in wanted})
        memo["entries"][key] = entry
        if len(memo["entries"]) > PREFIX_MEMO_MAX:
            memo["entries"].popitem(last=False)
    memo["entries"].move_to_end(key)
    return entry[0], [entry[1][t] for t in next_ids]


@torch.inference_mode()
def score_sequences_fast(model, seqs: Sequence[Sequence[int]], start: int) -> SeqScores:
    """Same numbers as score_sequences_naive: the shared prefix once (KV cache), continuations batched."""
    dev = _device_of(model)
    p = min(_common_prefix_len(seqs), max(len(s) for s in seqs) - 1)
    p = max(1, min(p, min(len(s) for s in seqs) - 1))  # each sequence keeps >= 1 own token
    conts = [list(s[p:]) for s in seqs]
    longest = max(len(c) for c in conts)
    if longest == 1:  # every option is one token after the prefix (the letters): one remembered forward
        prefix_ce, own_first = _prefix_losses(model, seqs[0][:p], [c[0] for c in conts])
        per_tok: list[list[torch.Tensor]] = [[x] for x in own_first]
    else:
        out, prefix_ce, last = _prefix_forward(model, seqs[0][:p])  # last predicts token p of every sequence
        per_tok = [[-last[c[0]]] for c in conts]
        k = len(conts)
        cache = out.cache
        cache.batch_repeat_interleave(k)
        pad = conts[0][0]
        inp = torch.tensor([c[:-1] + [pad] * (longest - len(c)) for c in conts], device=dev)
        logp = model(input_ids=inp, cache=cache, use_cache=True).logits.float().log_softmax(-1)
        for i, c in enumerate(conts):
            for j in range(1, len(c)):
                per_tok[i].append(-logp[i, j - 1, c[j]])
    total, cont, n_tok, n_cont = [], [], [], []
    for i, seq in enumerate(seqs):
        own = torch.stack(per_tok[i])  # CE of tokens p .. len-1
        full = torch.cat([prefix_ce, own])  # CE of tokens 1 .. len-1
        total.append(float(full.sum()))
        cont.append(float(full[max(start - 1, 0):].sum()))
        n_tok.append(len(seq))
        n_cont.append(len(seq) - start)
    return SeqScores(total, cont, n_tok, n_cont)


def score_sequences(model, seqs: Sequence[Sequence[int]], start: int, impl: str = "fast") -> SeqScores:
    """Dispatch to the fast or naive implementation."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}")
    fn = score_sequences_fast if impl == "fast" else score_sequences_naive
    return fn(model, seqs, start)


@dataclass
class Scored:
    """A mode's verdict on one question: predicted letter (None = unparseable) and per-option scores."""

    pred: str | None
    scores: list[float]
    raw: str = ""


def ppl_scores(model, tokenizer, prompt: str, impl: str = "fast") -> Scored:
    """The paper's protocol: mean token CE of prompt + " X" over the whole string; lowest wins."""
    seqs = [prompt_ids(tokenizer, f"{prompt} {k}") for k in LETTERS]
    s = score_sequences(model, seqs, start=0, impl=impl)
    means = [t / n for t, n in zip(s.total_ce, s.n_tokens)]
    return Scored(LETTERS[min(range(4), key=means.__getitem__)], means)


def letter_token_ids(tokenizer, prompt: str) -> list[int]:
    """The token that follows `prompt` in prompt + " X" for each letter (the scored letter token)."""
    base = prompt_ids(tokenizer, prompt)
    ids = []
    for k in LETTERS:
        full = prompt_ids(tokenizer, f"{prompt} {k}")
        p = _common_prefix_len([base, full])
        ids.append(full[p])
    return ids


def letter_scores(model, tokenizer, prompt: str) -> Scored:
    """Next-token log-probabilities of " A".." D" after "Answer:" from one forward (shared with ppl); highest wins."""
    _, nll = _prefix_losses(model, prompt_ids(tokenizer, prompt), letter_token_ids(tokenizer, prompt))
    scores = [-float(x) for x in nll]
    return Scored(LETTERS[max(range(4), key=scores.__getitem__)], scores)


def letter_probs(model, tokenizer, prompt: str) -> list[float]:
    """p(" A") .. p(" D") after `prompt`, renormalised over the four letters (they sum to 1)."""
    return _normalise([math.exp(x) for x in letter_scores(model, tokenizer, prompt).scores])


def _normalise(ps: Iterable[float]) -> list[float]:
    ps = list(ps)
    total = sum(ps)
    if total <= 0:
        raise ValueError("probabilities must have a positive sum")
    return [p / total for p in ps]


def content_free_prior(model, tokenizer, prompts: Sequence[str]) -> list[float]:
    """The letter prior: letter_probs averaged over the content-free prompts (prompts.content_free_prompts)."""
    rows = [letter_probs(model, tokenizer, p) for p in prompts]
    return [sum(col) / len(rows) for col in zip(*rows)]


def calibrate(probs: Sequence[float], prior: Sequence[float]) -> Scored:
    """Divide out the prior: q_k = (p_k / prior_k) / sum_j (p_j / prior_j); the largest q wins (scores = q)."""
    if len(probs) != len(LETTERS) or len(prior) != len(LETTERS):
        raise ValueError("need one probability and one prior per letter")
    if min(prior) <= 0:
        raise ValueError("the content-free prior must be positive for every letter")
    q = _normalise(_normalise(probs)[i] / prior[i] for i in range(len(LETTERS)))
    return Scored(LETTERS[max(range(len(LETTERS)), key=q.__getitem__)], q)


def calibrated_scores(model, tokenizer, prompt: str, prior: Sequence[float]) -> Scored:
    """The `calibrated` mode: letter probabilities after "Answer:" divided by the content-free prior."""
    return calibrate(letter_probs(model, tokenizer, prompt), prior)


def text_scores(model, tokenizer, prompt: str, options: dict[str, str], impl: str = "fast") -> tuple[Scored, Scored]:
    """Log-likelihood of " <option text>" after the prompt: (raw sum, per-token mean); highest wins."""
    ctx = prompt_ids(tokenizer, prompt)
    seqs = [ctx + prompt_ids(tokenizer, " " + options[k], special=False) for k in LETTERS]
    s = score_sequences(model, seqs, start=len(ctx), impl=impl)
    raw = [-c for c in s.cont_ce]
    norm = [-c / n for c, n in zip(s.cont_ce, s.n_cont)]
    best = lambda xs: LETTERS[max(range(4), key=xs.__getitem__)]  # noqa: E731
    return Scored(best(raw), raw), Scored(best(norm), norm)


@torch.inference_mode()
def generate_answer(model, tokenizer, prompt: str, max_new_tokens: int = 6) -> Scored:
    """Greedy continuation of the prompt; the first standalone A-D letter is the answer (None if none)."""
    ids = torch.tensor([prompt_ids(tokenizer, prompt)], device=_device_of(model))
    out = model.generate(
        input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
        do_sample=False, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
    )
    text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    return Scored(extract_letter(text), [], raw=text)


@torch.inference_mode()
def token_losses(model, tokenizer, text: str) -> list[tuple[str, float]]:
    """(token text, cross-entropy in nats) for every predicted token of `text` (the first is never predicted)."""
    ids = prompt_ids(tokenizer, text)
    t = torch.tensor([ids], device=_device_of(model))
    ce = _ce(model(input_ids=t).logits[0, :-1], t[0, 1:])
    return [(tokenizer.decode([i]), float(c)) for i, c in zip(ids[1:], ce)]
