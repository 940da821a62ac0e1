"""Likelihood of text under a model (notebooks 03/04): bits per character, perplexity, the forgetting check on prose.

Bits per character = summed NLL (nats) / ln 2 / characters scored: comparable across tokenizers. Perplexity =
exp(mean NLL per token): compare only models that share a tokenizer. `language_model_report` scores held-out
ABC (the corpus's test split) and held-out English prose (`english_prose`, a novel music21 ships) per text,
so two models can be compared text by text (`cm_lib.stats.paired_change`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cm_lib.corpus.splits import held_out_texts
from cm_lib.errors import AssetNotFoundError
from cm_lib.stats import mean_interval


@dataclass
class NLL:
    """Summed negative log-likelihood (nats) of some texts, with the token and character counts scored."""

    nats: float
    tokens: int
    characters: int

    @property
    def bits_per_character(self) -> float:
        """Total bits / characters: comparable across tokenizers."""
        return self.nats / math.log(2) / max(self.characters, 1)

    @property
    def perplexity(self) -> float:
        """exp(mean NLL per token): depends on the tokenizer."""
        return math.exp(self.nats / max(self.tokens, 1))


def model_and_tokenizer(model: str | Path | Any) -> tuple[Any, Any]:
    """(model, tokenizer) from a preset name or folder (loaded), or an already loaded pair (returned as is)."""
    if isinstance(model, (str, Path)):
        from cm_lib.models import load_model

        return load_model(str(model))
    return model


@contextmanager
def _scoring(model: Any) -> Iterator[None]:
    """Eval mode and no gradients while scoring; the model's train/eval flag is restored afterwards."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


def _token_nats(model: Any, ids: Sequence[int]) -> Any:
    """NLL in nats of each of ids[1:] given the tokens before it, from one forward without gradients (eval mode: _scoring)."""
    import torch

    inp = torch.tensor([list(ids)], device=next(model.parameters()).device)
    with torch.no_grad():
        logp = model(input_ids=inp, use_cache=False).logits[0, :-1].float().log_softmax(-1)
    return -logp.gather(1, inp[0, 1:, None])[:, 0]


def text_nll(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512, batch_size: int = 1) -> NLL:
    """NLL of each text's tokens given a BOS/EOS start token, summed (batch_size > 1: right-padded batches)."""
    return _nll_rows(model, tokenizer, texts, max_tokens, batch_size, per_text=False)[0]


def text_nll_each(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512,
                  batch_size: int = 8) -> list[NLL]:
    """One NLL per text (for intervals over texts), computed in right-padded batches."""
    return _nll_rows(model, tokenizer, texts, max_tokens, batch_size, per_text=True)


def _nll_rows(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int, batch_size: int,
              per_text: bool) -> list[NLL]:
    """Shared body of text_nll / text_nll_each."""
    import torch

    device = next(model.parameters()).device
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    rows: list[tuple[list[int], int]] = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
        if ids:
            chars = len(text) if len(ids) < max_tokens else len(tokenizer.decode(ids))
            rows.append(([start, *ids], chars))
    out: list[NLL] = []
    with _scoring(model):
        for i in range(0, len(rows), max(1, batch_size)):
            chunk = rows[i:i + max(1, batch_size)]
            width = max(len(ids) for ids, _ in chunk)
            inp = torch.tensor([ids + [start] * (width - len(ids)) for ids, _ in chunk], device=device)
            if len(chunk) == 1:
                logits = model(input_ids=inp, use_cache=False).logits.float()
            else:
                mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in chunk], device=device)
                logits = model(input_ids=inp, attention_mask=mask, use_cache=False).logits.float()
            nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), inp[:, 1:], reduction="none")
            for j, (ids, chars) in enumerate(chunk):
                out.append(NLL(float(nll[j, : len(ids) - 1].sum()), len(ids) - 1, chars))
    if per_text:
        return out
    return [NLL(sum(r.nats for r in out), sum(r.tokens for r in out), sum(r.characters for r in out))]


def bits_per_character(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> float:
    """Bits per character of `texts` under the model (lower is better; tokenizer-independent)."""
    return text_nll(model, tokenizer, texts, max_tokens).bits_per_character


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 512) -> float:
    """Per-token perplexity of `texts` under the model (compare only models sharing a tokenizer)."""
    return text_nll(model, tokenizer, texts, max_tokens).perplexity


PROSE_SOURCE = "music21/languageExcerpts/trainingData/en.txt"  # Jane Austen, Lady Susan (Project Gutenberg)


def english_prose(n: int | None = None, chars: int = 1000) -> list[str]:
    """Passages (~`chars` each, whole sentences) of real English prose that ships in the music21 wheel.

    The text is Jane Austen's *Lady Susan* (public domain, via Project Gutenberg), which music21 keeps as
    training data for its language guesser. The course corpus never reads it (its general text is
    package docstrings), so it is held out from every training run. The Gutenberg header and licence are cut.
    """
    import importlib.util

    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise AssetNotFoundError("music21 is not installed: no offline English prose for the forgetting check")
    path = Path(next(iter(spec.submodule_search_locations))).parent / PROSE_SOURCE
    text = path.read_text(encoding="utf-8", errors="replace")
    start = text.find("LADY SUSAN VERNON TO MR. VERNON")
    end = text.find("End of the Project Gutenberg")
    text = text[start if start >= 0 else 0: end if end > 0 else len(text)]
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if len(p) > 40 and not p.isupper()]
    sentences = [(i, piece) for i, p in enumerate(paras) for piece in re.split(r"(?<=[.!?;])\s+", p) if piece]
    out, buf, last = [], "", -1
    for i, piece in sentences:
        buf = (f"{buf} {piece}" if i == last else f"{buf}\n\n{piece}") if buf else piece
        last = i
        if len(buf) >= chars:
            out.append(buf)
            buf = ""
        if n is not None and len(out) >= n:
            break
    return out


def language_model_report(model: str | Path | Any, corpus: Any, n_abc: int | None = None, n_general: int | None = None,
                          max_tokens: int = 256, prose: Sequence[str] | None = None, batch_size: int = 8) -> dict:
    """Held-out ABC bits/char (all test tunes by default) and the forgetting check on held-out English prose.

    `prose` defaults to english_prose() (a novel shipped in music21's wheel). Per-text bits/char are kept
    (`abc_each`, `prose_each`) so two models can be compared text by text with paired_change().
    """
    net, tok = model_and_tokenizer(model)
    abc_rows = text_nll_each(net, tok, held_out_texts(corpus, "scores", n_abc), max_tokens, batch_size)
    prose = list(prose) if prose is not None else english_prose(n_general)
    prose_rows = text_nll_each(net, tok, prose, max_tokens, batch_size)
    total = lambda rows: NLL(sum(r.nats for r in rows), sum(r.tokens for r in rows), sum(r.characters for r in rows))  # noqa: E731
    abc, gen = total(abc_rows), total(prose_rows)
    prose_each = [r.bits_per_character for r in prose_rows]
    return {"abc_bits_per_char": round(abc.bits_per_character, 4), "abc_texts": len(abc_rows),
            "prose_bits_per_char": round(gen.bits_per_character, 4),
            "prose_bits_per_char_ci95": mean_interval(prose_each)["ci95"], "prose_texts": len(prose_rows),
            "prose_perplexity": round(gen.perplexity, 3),
            "abc_each": [round(r.bits_per_character, 5) for r in abc_rows],
            "prose_each": [round(b, 5) for b in prose_each]}
