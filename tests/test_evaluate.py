"""cm_lib.evaluate: bits per character and perplexity (exact on a uniform model), SFT compliance on real tunes."""

from __future__ import annotations

import itertools
import json
import math
import re

import pytest
import torch

from cm_lib.evaluate import (
    bits_per_character,
    perplexity,
    requested,
    sft_compliance,
    text_nll,
    tune_attributes,
)


@pytest.fixture(scope="module")
def tunes() -> list[str]:
    from cm_lib.models import iter_corpus_texts

    return [t for t in itertools.islice(iter_corpus_texts(), 300) if 100 < len(t) < 500][:40]


@pytest.fixture(scope="module")
def tok(tunes: list[str]):  # noqa: ANN201
    from cm_lib.models import train_abc_tokenizer

    return train_abc_tokenizer(tunes, vocab_size=300)


class Uniform(torch.nn.Module):
    """A 'model' that gives every token the same logit: NLL is exactly ln(V) per token."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids: torch.Tensor, use_cache: bool = False):  # noqa: ANN201
        class Out:
            logits = torch.zeros(*input_ids.shape, self.vocab) + self.w

        return Out()


def test_uniform_model_gives_exact_bits_and_perplexity(tok, tunes: list[str]) -> None:  # noqa: ANN001
    vocab = len(tok)
    model = Uniform(vocab)
    texts = tunes[:5]
    n_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)
    n_chars = sum(len(t) for t in texts)
    nll = text_nll(model, tok, texts)
    assert (nll.tokens, nll.characters) == (n_tokens, n_chars)
    assert math.isclose(perplexity(model, tok, texts), vocab, rel_tol=1e-5)
    assert math.isclose(bits_per_character(model, tok, texts), math.log2(vocab) * n_tokens / n_chars, rel_tol=1e-5)
    # truncation counts only the characters that were scored
    short = text_nll(model, tok, texts[:1], max_tokens=10)
    assert short.tokens == 10 and 10 <= short.characters < len(texts[0])


def test_a_model_that_knows_the_text_scores_better(tok, tunes: list[str]) -> None:  # noqa: ANN001
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512)
    model = LlamaForCausalLM(cfg)
    before = bits_per_character(model, tok, tunes[:3])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    ids = torch.tensor([tok(tunes[0], add_special_tokens=False)["input_ids"][:128]])
    for _ in range(30):  # memorise one tune
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert bits_per_character(model, tok, tunes[:1]) < 0.5 * before
    assert model.training  # text_nll restores the training flag


def test_sft_compliance_on_real_tunes(tunes: list[str]) -> None:
    from cm_lib.abc import check

    good = [t for t in tunes if check(t).ok and tune_attributes(t)][:6]
    assert len(good) >= 4
    records = []
    for t in good:
        attrs = tune_attributes(t)
        records.append({"task": "generate", "output": t,
                        "meta": json.dumps({"key": attrs["key"], "meter": attrs["meter"], "form": attrs["form"]})})
    records.append({"task": "analysis", "output": "The key is G major.", "meta": json.dumps({"key": "G major"})})
    perfect = sft_compliance(records, [r["output"] for r in records])
    assert perfect["tune_tasks"] == len(good) and perfect["n"] == len(good) + 1
    assert perfect["valid_rate"] == perfect["key_rate"] == perfect["meter_rate"] == perfect["compliance_rate"] == 1.0
    # wrong key: the K: line of every tune replaced by a key none of them is in
    wrong_key = [re.sub(r"^K:.*$", "K:C#m", r["output"], flags=re.M) for r in records]
    res = sft_compliance(records, wrong_key)
    assert res["key_rate"] == 0.0 and res["meter_rate"] == 1.0 and res["compliance_rate"] == 0.0
    prose = sft_compliance(records, ["I like music."] * len(records))
    assert prose["valid_rate"] == 0.0 and prose["compliance_rate"] == 0.0
    assert prose["per_task"]["generate"]["n"] == len(good)
    assert requested({"meta": "not json"}) == {} and requested({"meta": json.dumps({"meter": "6/8"})}) == {"meter": "6/8"}
    with pytest.raises(ValueError):
        sft_compliance(records, [])
