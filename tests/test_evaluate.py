"""cm_lib.evaluate: bits per character and perplexity (exact on a uniform model); request compliance (cm_lib.metrics.request)
on real tunes."""

from __future__ import annotations

import itertools
import json
import math
import re

import pytest
import torch

from cm_lib.corpus.analysis import tune_attributes
from cm_lib.corpus.tasks import requested
from cm_lib.evaluate import bits_per_character, perplexity, text_nll
from cm_lib.generate import extract_abc
from cm_lib.metrics.request import compliance_row, request_compliance
from cm_lib.plan import record_plan


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


def test_request_compliance_on_real_tunes(tunes: list[str]) -> None:
    """The kept request compliance (cm_lib.metrics.request) on corpus-style records whose answers are real tunes."""
    from cm_lib.abc import check

    good = [t for t in tunes if check(t).ok and tune_attributes(t)][:6]
    assert len(good) >= 4
    records = []
    for t in good:
        attrs = tune_attributes(t)
        records.append({"task": "generate", "output": t,
                        "meta": json.dumps({"key": attrs["key"], "meter": attrs["meter"], "form": attrs["form"]})})
    plans = [record_plan(r) for r in records]
    perfect = request_compliance(plans, [r["output"] for r in records], [r["task"] for r in records])
    assert perfect["n"] == len(good) and perfect["per_task"]["generate"]["n"] == len(good)
    assert [perfect[m]["rate"] for m in ("syntax", "key", "meter", "form", "compliant")] == [1.0] * 5
    # wrong key: the K: line of every tune replaced by a key none of them is in
    wrong_key = [re.sub(r"^K:.*$", "K:C#m", r["output"], flags=re.M) for r in records]
    res = request_compliance(plans, wrong_key)
    assert res["key"]["rate"] == 0.0 and res["meter"]["rate"] == 1.0 and res["compliant"]["rate"] == 0.0
    prose = request_compliance(plans, [extract_abc("I like music.")] * len(records))
    assert prose["syntax"]["rate"] == 0.0 and prose["compliant"]["rate"] == 0.0 and prose["key"]["n"] == len(good)
    # one denominator rule: a request that asks for a key counts in the key rate whatever was answered (here prose)
    analysis = {"task": "analysis", "output": "The key is G major.", "meta": json.dumps({"key": "G major"})}
    both = request_compliance([*plans, record_plan(analysis)], [*[r["output"] for r in records], None])
    assert (both["key"]["k"], both["key"]["n"], both["meter"]["n"], both["syntax"]["n"]) == (
        len(good), len(good) + 1, len(good), len(good) + 1)
    assert requested({"meta": "not json"}) == {} and requested({"meta": json.dumps({"meter": "6/8"})}) == {"meter": "6/8"}
    with pytest.raises(ValueError):
        request_compliance(plans, [])


def test_chords_in_order() -> None:
    from cm_lib.abc.chords import chord_symbols
    from cm_lib.evaluate import chords_in_order

    abc = 'X:1\nM:3/4\nL:1/8\nK:A\n"A"E AG | "D"F2 EF AG | "A"F2E>D CE | "F#m"Fd cB AG |]\n'
    assert chord_symbols(abc) == ["A", "D", "A", "F#m"]
    assert chords_in_order(["A", "D", "A", "A", "F#m"], chord_symbols(abc))  # repeats merged
    assert not chords_in_order(["D", "A", "D"], chord_symbols(abc))
    assert not chords_in_order(["F#m", "A"], chord_symbols(abc))  # wrong order
    assert not chords_in_order([], chord_symbols(abc))


def test_compliance_on_chord_and_motif_requests() -> None:
    tune = 'X:1\nM:3/4\nL:1/8\nK:A\n"A"E2 AG F2 | "D"F2 EF AG | "A"A6 |]\n'
    recs = [{"task": "chord_conditioned", "output": tune,
             "meta": json.dumps({"chords": ["A", "D", "A"], "key": "A major", "meter": "3/4"})},
            {"task": "motif_continuation", "output": tune,
             "meta": json.dumps({"motif": '"A"E2 AG F2 |', "meter": "3/4"})}]
    plans, tasks = [record_plan(r) for r in recs], [r["task"] for r in recs]
    res = request_compliance(plans, [tune, tune], tasks)
    assert res["chords"]["k"] == 1 and res["chords"]["n"] == 1 and res["motif"]["k"] == 1
    plain = re.sub(r'"[^"]*"', "", tune)
    res = request_compliance(plans, [plain, 'X:1\nM:3/4\nL:1/8\nK:A\nc6 |]\n'], tasks)
    assert res["chords"]["rate"] == 0.0 and res["motif"]["rate"] == 0.0 and res["meter"]["rate"] == 1.0
    rows = {task: compliance_row(r) for task, r in res["per_task"].items()}
    assert set(rows) == {"chord_conditioned", "motif_continuation"}
    assert rows["chord_conditioned"]["chords"].startswith("0/1 = 0%")


def test_english_prose_is_real_held_out_text() -> None:
    from cm_lib.corpus import ensure_corpus
    from cm_lib.evaluate import english_prose
    from cm_lib.stats import mean_interval, paired_change
    from cm_lib.train import load_split

    passages = english_prose()
    assert len(passages) >= 100 and all(800 <= len(p) <= 3000 for p in passages[:-1])
    assert passages[0].startswith("MY DEAR BROTHER") and "Gutenberg" not in " ".join(passages)
    seen = " ".join(load_split(ensure_corpus("smoke"), "pretrain", "train")["text"])
    assert not any(p[:80] in seen for p in passages)
    m = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert m["mean"] == 2.5 and m["n"] == 4 and m["ci95"][0] < 2.5 < m["ci95"][1]
    assert paired_change([1.0, 2.0], [1.5, 2.5])["mean"] == 0.5


def test_batched_nll_equals_one_by_one(tok, tunes: list[str]) -> None:  # noqa: ANN001
    from transformers import LlamaConfig, LlamaForCausalLM

    from cm_lib.evaluate import text_nll_each

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512)
    model = LlamaForCausalLM(cfg).eval()
    one = text_nll(model, tok, tunes[:5], max_tokens=64)
    each = text_nll_each(model, tok, tunes[:5], max_tokens=64, batch_size=3)
    assert len(each) == 5 and sum(e.tokens for e in each) == one.tokens
    assert math.isclose(sum(e.nats for e in each), one.nats, rel_tol=1e-4)


def test_batched_sampling_is_seeded_and_judged(tok) -> None:  # noqa: ANN001
    from transformers import LlamaConfig, LlamaForCausalLM

    from cm_lib.corpus import ensure_corpus
    from cm_lib.evaluate import generation_report, header_prompts, sample_tunes

    prompts = header_prompts(ensure_corpus("smoke"), 6)
    assert len(prompts) == 6 and all(p.startswith("X:1\nM:") and "\nK:" in p for p in prompts)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id)
    model = LlamaForCausalLM(cfg).eval()
    a = sample_tunes((model, tok), n=6, max_new_tokens=12, start=prompts, batch_size=4, seed=3)
    b = sample_tunes((model, tok), n=6, max_new_tokens=12, start=prompts, batch_size=4, seed=3)
    assert [s.raw for s in a] == [s.raw for s in b] and tok.padding_side == "right"
    assert all(s.raw.startswith(p) and s.tokens <= 12 for s, p in zip(a, prompts))
    rep = generation_report(a)
    assert rep["syntax"]["n"] == 6 and 0 <= rep["bars"]["k"] <= rep["syntax"]["k"] + 6


def test_header_fields_read_the_header_only() -> None:
    from cm_lib.corpus.composer import header_fields

    assert header_fields("X:1\nT:Jig\nM:6/8\nL:1/8\nK:F\nM:3/4\nabc|\n") == {"M": "6/8", "L": "1/8", "K": "F"}
    assert header_fields("X:1\nM:\nK:G\nL:1/8\n") == {"K": "G"}  # an empty value is missing; nothing after K:
    assert header_fields("Sure! Here is a tune.") == {}


def test_read_then_write_continues_the_readers_header_and_never_fills_one_in(tok, monkeypatch) -> None:  # noqa: ANN001
    from transformers import LlamaConfig, LlamaForCausalLM

    import cm_lib.evaluate.sampling as ev
    from cm_lib.corpus.composer import composer_header

    heads = ["X:1\nT:Request\nM:6/8\nL:1/8\nK:F\n", "X:1\nM:3/4\nL:1/8\n", "M:2/4 K:D"]
    seen = {}

    def reader(model, records, max_new_tokens, seed, batch_size):  # noqa: ANN001, ANN202
        seen.update(model=model, n=len(records), max_new_tokens=max_new_tokens)
        return heads

    monkeypatch.setattr(ev, "answer_records", reader)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id)
    writer = (LlamaForCausalLM(cfg).eval(), tok)
    records = [{"instruction": "Compose a tune.", "input": ""}] * 3
    out = ev.read_then_write("the reader", writer, records, max_new_tokens=10, seed=1)
    assert seen == {"model": "the reader", "n": 3, "max_new_tokens": ev.READER_HEADER_TOKENS}
    assert out.headers == heads and out.prompts == [composer_header("6/8", "1/8", "F"), None, None]
    assert out.answers[0].startswith("X:1\nM:6/8\nL:1/8\nK:F\n") and len(out.answers[0]) > len(out.prompts[0])
    assert out.answers[1:] == heads[1:]  # no M:, L: and K: lines: no tune, and the answer stays as the reader wrote it
    again = ev.read_then_write("the reader", writer, records, max_new_tokens=10, seed=1)
    assert again.answers == out.answers  # seeded


def _header_records(tunes: list[str]) -> list[dict]:
    """Real tunes with distinct K: lines, each asked for in words."""
    from cm_lib.abc import split_tunes

    seen, out = set(), []
    for text in tunes:
        tune = split_tunes(text)[0]
        m, k = (tune.get("M") or "").strip(), (tune.get("K") or "").strip()
        if m and k and k not in seen and text.lstrip().startswith("X:"):
            seen.add(k)
            out.append({"instruction": f"Write a tune in {k} in {m} time.", "output": text})
    return out


def test_prompt_reliance_is_zero_for_a_model_that_cannot_read_and_positive_for_one_that_does(tok, tunes) -> None:  # noqa: ANN001
    from transformers import LlamaConfig, LlamaForCausalLM

    from cm_lib.chat import generation_prompt
    from cm_lib.evaluate import prompt_reliance
    from cm_lib.evaluate.probes import _header_value_bits

    records = _header_records(tunes)[:4]
    assert len(records) == 4
    uniform = prompt_reliance((Uniform(len(tok)), tok), records)
    assert uniform["own_prompt_bits"]["mean"] == pytest.approx(math.log2(len(tok)), rel=1e-4)
    assert uniform["gain"]["mean"] == 0 and uniform["n"] == 4 and uniform["shift"] == 2
    # only the tokens of the M: and K: values are scored: 'M:6/8' and 'K:Em' with a one-symbol-per-token vocabulary
    bits, count = _header_value_bits(Uniform(len(tok)), tok, "x", "X:1\nT:t\nM:6/8\nL:1/8\nK:Em\nabc|")
    values = "".join(tok.decode([i]) for i in tok(" X:1\nT:t\nM:6/8\nL:1/8\nK:Em\n", add_special_tokens=False)["input_ids"])
    assert 2 <= count <= len("6/8Em") and values.replace(" ", "") == "X:1\nT:t\nM:6/8\nL:1/8\nK:Em\n"
    assert bits == pytest.approx(count * math.log2(len(tok)), rel=1e-5)

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024)
    model = LlamaForCausalLM(cfg)
    heads = []
    for r in records:  # each prompt followed by its answer's header: the model must read the prompt to tell them apart
        lines = r["output"].split("\n")
        head = "\n".join(lines[: next(i for i, s in enumerate(lines) if s.startswith("K:")) + 1]) + "\n"
        heads.append(tok(generation_prompt(tok, r["instruction"]) + " " + head)["input_ids"])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(80):
        for ids in heads:
            t = torch.tensor([ids])
            model(input_ids=t, labels=t).loss.backward()
        opt.step()
        opt.zero_grad()
    reads = prompt_reliance((model, tok), records)
    # measured 0.08 bits per value token under the own prompt, 0.36 under another's (seeded): it reads its prompt
    assert reads["gain"]["mean"] > 0.2
    assert reads["own_prompt_bits"]["mean"] < 0.5 * reads["other_prompt_bits"]["mean"]
    assert model.training  # restored


class Copier(Uniform):
    """An explicit induction head: after tokens (a, b, c), predict what followed the latest earlier (a, b, c)."""

    def forward(self, input_ids: torch.Tensor, use_cache: bool = False):  # noqa: ANN201
        ids = input_ids[0].tolist()
        logits = torch.zeros(1, len(ids), self.vocab)
        for t in range(2, len(ids)):
            for s in range(t - 1, 1, -1):
                if ids[s - 2:s + 1] == ids[t - 2:t + 1] and s + 1 < len(ids):
                    logits[0, t, ids[s + 1]] = 20.0
                    break

        class Out:
            pass

        out = Out()
        out.logits = logits + self.w
        return out


def test_copy_test_tells_a_copier_from_a_model_that_cannot_copy(tok) -> None:  # noqa: ANN001
    from cm_lib.evaluate import copy_test

    flat = copy_test((Uniform(len(tok)), tok), n=5)
    assert flat["first_copy_nats"]["mean"] == pytest.approx(math.log(len(tok)), rel=1e-4)
    assert flat["saved"]["mean"] == 0 and flat["n"] == 5
    copier = copy_test((Copier(len(tok)), tok), n=5)
    # the second copy is predicted from the first except where a trigram also occurs earlier in the string
    assert copier["second_copy_nats"]["mean"] < 1.0 < copier["saved"]["ci95"][0]
    assert copier == copy_test((Copier(len(tok)), tok), n=5)  # seeded


def test_readings_of_reliance_and_copy_results_follow_their_intervals() -> None:
    from cm_lib.evaluate import copy_reading, reliance_reading
    from cm_lib.stats import format_mean, interval_sign

    # the demo's SFT composer and SmolLM2 (notebook 04, idle full run)
    ignores = {"gain": {"mean": 0.0236, "ci95": [-0.0074, 0.0547], "n": 80}, "n": 80}
    reads = {"gain": {"mean": 2.6606, "ci95": [2.1561, 3.1652], "n": 80}, "n": 80}
    assert format_mean(reads["gain"]) == "2.66 [2.16, 3.17]"
    assert [interval_sign(r["gain"]) for r in (ignores, reads)] == ["includes 0", "positive"]
    assert interval_sign({"mean": -0.2, "ci95": [-0.3, -0.1]}) == "negative"
    assert reliance_reading("composer after SFT", ignores) == (
        "The **composer after SFT** shows no sign of reading its request: the right one saves 0.02 bits per "
        "header-value token, 95% interval [-0.01, 0.05], which includes 0 (n = 80).")
    assert reliance_reading("drilled", reads).startswith("The **drilled** reads its request: the right one saves 2.66 [2.16, 3.17]")
    assert "misled" in reliance_reading("x", {"gain": {"mean": -0.2, "ci95": [-0.3, -0.1]}, "n": 9})

    def copy(first: float, second: float, ci: list[float]) -> dict:
        return {"first_copy_nats": {"mean": first}, "second_copy_nats": {"mean": second},
                "saved": {"mean": first - second, "ci95": ci}, "n": 20}

    assert copy_reading("composer", copy(5.52, 5.53, [-0.09, 0.06])) == (
        "The **composer** does not copy: 5.53 nats per token for the second copy against 5.52, "
        "a saving of -0.01 [-0.09, 0.06] (n = 20 strings).")
    assert copy_reading("SmolLM2", copy(5.20, 0.57, [4.49, 4.77])).startswith("The **SmolLM2** copies: the second copy costs 0.57")
    assert "copies a little" in copy_reading("m", copy(5.0, 4.0, [0.8, 1.2]))


def test_runs_reading_puts_a_run_beside_other_seeds_of_its_recipe() -> None:
    from cm_lib.evaluate import runs_reading
    from cm_lib.stats import rate

    # notebook 03's composer, trained with seeds 0-2 (AVX-512) and seed 0 (AVX2): benchmarks/README.md, "Seeds"
    measured = {"seed 0": {"syntax": 86, "ended": 93}, "seed 1": {"syntax": 73, "ended": 84},
                "seed 2": {"syntax": 93, "ended": 88}, "seed 0, AVX2": {"syntax": 83, "ended": 79}}
    table, text = runs_reading(measured, 100, {"syntax": rate(86, 100), "ended": rate(95, 100)}, "mine")
    assert table["seed 1"] == {"syntax": "73/100", "ended": "84/100"}
    assert table["mine"] == {"syntax": "86/100", "ended": "95/100"}
    assert list(table) == [*measured, "mine"]
    lines = text.split("\n")
    # Wilson 86/100 is [77.9%, 91.5%]: 14 points wide
    assert lines[0] == ("- **syntax**: the 4 runs span 73-93% (n = 100 each); one run's 95% interval is 14 points wide; "
                        "yours, 86/100 = 86%, is inside the span.")
    assert lines[1].endswith("yours, 95/100 = 95%, is outside the span.")  # above the highest seed's 93
    # spans 20 and 14 points; intervals 14 (86/100) and 9 (95/100: [88.8%, 97.8%]) points wide
    assert lines[2] == "- The runs spread wider than one run's interval for: syntax, ended."
    # per-measure n (notebook 04: 77 tune answers, 19 form requests); a rate of a different n is compared in percent
    table, text = runs_reading({"a": {"valid": 21, "form": 5}, "b": {"valid": 34, "form": 7}}, {"valid": 77, "form": 19},
                               {"valid": rate(1, 4), "form": rate(0, 0)})
    assert table["a"] == {"valid": "21/77", "form": "5/19"}
    assert text.split("\n") == [
        "- **valid**: the 2 runs span 27-44% (n = 77 each); one run's 95% interval is 65 points wide; yours, 1/4 = 25%, "
        "is outside the span.",
        "- **form**: the 2 runs span 26-37% (n = 19 each); yours has n = 0.",
        "- For every measure the runs spread less than one run's interval."]  # 17 points, interval 65
    # a rate equal to the highest measured one is inside, though rate() rounds 1/18 to 0.0556 (notebook 04's chords)
    _, text = runs_reading({"a": {"chords": 0}, "b": {"chords": 1}}, 18, {"chords": rate(1, 18)})
    assert "yours, 1/18 = 6%, is inside the span." in text
