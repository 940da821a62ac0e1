"""cm_lib.bench with the real SmolLM2-135M: fast == naive, mode relations, the CLI's JSON and exit codes."""

from __future__ import annotations

import json
import time

import pytest

from cm_lib.bench.data import generated_questions, load_sample
from cm_lib.bench.prompts import build_prompt, option_strings, shuffle_question
from cm_lib.bench.scoring import letter_scores, ppl_scores, prompt_ids, score_sequences, text_scores
from cm_lib.cli import main

SAMPLE_TEST = load_sample("test")
DEV = load_sample("dev")



def test_ppl_matches_a_hand_computed_mean_cross_entropy(smollm) -> None:
    import torch
    import torch.nn.functional as F

    model, tok = smollm
    prompt = build_prompt(SAMPLE_TEST[0])
    text = option_strings(prompt)[1]
    ids = torch.tensor([tok(text)["input_ids"]])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, :-1]
    by_hand = F.cross_entropy(logits, ids[0, 1:], reduction="sum").item() / ids.shape[1]  # OpenCompass: / n tokens
    assert ppl_scores(model, tok, prompt, "naive").scores[1] == pytest.approx(by_hand, abs=1e-5)
    assert ppl_scores(model, tok, prompt, "fast").scores[1] == pytest.approx(by_hand, abs=1e-4)


def test_fast_equals_naive_on_sample_and_generated(smollm) -> None:
    model, tok = smollm
    gen = [q for q in generated_questions(12, seed=0) if q.split == "test"][:4]
    items = [(q, 0, []) for q in SAMPLE_TEST[:4]] + [(q, 1, []) for q in SAMPLE_TEST[13:16]]
    items += [(q, 1, []) for q in gen] + [(SAMPLE_TEST[12], 2, DEV)]
    for q, shuffle, dev in items:
        prompt = build_prompt(shuffle_question(q, shuffle), dev)
        fast, naive = ppl_scores(model, tok, prompt, "fast"), ppl_scores(model, tok, prompt, "naive")
        assert fast.pred == naive.pred, q.id
        assert fast.scores == pytest.approx(naive.scores, abs=1e-4)
        # letters are single tokens here, so ppl ranks exactly like the letter logits
        assert letter_scores(model, tok, prompt).pred == fast.pred


def test_ppl_and_letter_share_one_remembered_forward_until_the_weights_change(smollm) -> None:
    import torch

    model, tok = smollm
    prompt = build_prompt(shuffle_question(SAMPLE_TEST[5], 3))
    calls = []
    hook = model.register_forward_hook(lambda *a: calls.append(1))
    try:
        ppl = ppl_scores(model, tok, prompt, "fast")
        letter = letter_scores(model, tok, prompt)
        again = ppl_scores(model, tok, prompt, "fast")
        assert len(calls) == 1  # letter mode and the second ppl read the first forward
        assert again.scores == ppl.scores and letter.pred == ppl.pred
        naive = ppl_scores(model, tok, prompt, "naive")  # the naive reference never reads the memo
        assert len(calls) == 5 and naive.scores == pytest.approx(ppl.scores, abs=1e-4)
        norm = model.model.norm.weight
        with torch.no_grad():
            norm.mul_(2.0)  # an in-place change, as an optimiser step makes (x2 then /2 restores it exactly)
        try:
            changed = ppl_scores(model, tok, prompt, "fast")
            assert len(calls) == 6 and changed.scores != pytest.approx(ppl.scores, abs=1e-3)
        finally:
            with torch.no_grad():
                norm.div_(2.0)
        assert ppl_scores(model, tok, prompt, "fast").scores == pytest.approx(ppl.scores, abs=1e-5)
        assert len(calls) == 7
    finally:
        hook.remove()


def test_fast_equals_naive_for_multi_token_continuations(smollm) -> None:
    model, tok = smollm
    for q in (SAMPLE_TEST[2], SAMPLE_TEST[14]):
        prompt = build_prompt(q)
        (fr, fn), (nr, nn) = text_scores(model, tok, prompt, q.options, "fast"), text_scores(model, tok, prompt, q.options, "naive")
        assert (fr.pred, fn.pred) == (nr.pred, nn.pred)
        assert fr.scores == pytest.approx(nr.scores, abs=1e-4) and fn.scores == pytest.approx(nn.scores, abs=1e-4)
    # sequences of different lengths sharing a prefix: totals and continuation parts agree
    seqs = [prompt_ids(tok, "K:D\nd2 f2 | a2"), prompt_ids(tok, "K:D\nd2 f2 | g4 e2 c2"), prompt_ids(tok, "K:D\nd2 e2")]
    f, n = score_sequences(model, seqs, start=3, impl="fast"), score_sequences(model, seqs, start=3, impl="naive")
    assert f.n_tokens == n.n_tokens and f.n_cont == n.n_cont
    assert f.total_ce == pytest.approx(n.total_ce, abs=1e-4) and f.cont_ce == pytest.approx(n.cont_ce, abs=1e-4)


def test_cli_writes_json_and_prompts(smollm, tmp_path) -> None:
    out, prompts = tmp_path / "r.json", tmp_path / "p.jsonl"
    rc = main(["bench", "--model", "smollm2-135m", "--data", "sample", "--limit", "3", "--shuffles", "2",
               "--json", str(out), "--save-prompts", str(prompts)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res["accuracy"]) == set(res["n"]) == set(res["ci95"]) == {"knowledge", "reasoning", "overall"}
    assert res["n"]["overall"] == 3 and len(res["predictions"]) == 6
    assert all({"id", "shuffle", "pred", "answer"} <= set(p) for p in res["predictions"])
    assert res["timing"]["scoring_seconds"] > 0 and res["paper"]["GPT-4"]["knowledge"] == 0.582
    lines = [json.loads(x) for x in prompts.read_text().splitlines()]
    assert [(x["id"], x["shuffle"]) for x in lines] == [(p["id"], p["shuffle"]) for p in res["predictions"]]
    assert all(x["prompt"].endswith("\nAnswer:") for x in lines)
    first = next(x for x in lines if x["shuffle"] == 0)
    assert first["prompt"] == build_prompt(SAMPLE_TEST[0])


def test_cli_errors_exit_2_fast(tmp_path, capsys) -> None:
    start = time.perf_counter()
    assert main(["bench", "--model", "smollm2-135m", "--data", "hub"]) == 2
    assert "MusicTheoryBench" in capsys.readouterr().err
    assert main(["bench", "--model", "no-such-model", "--data", "sample"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert time.perf_counter() - start < 5
    assert main(["bench", "--export-lmeval", str(tmp_path / "t.yaml")]) == 0
    assert "output_type: multiple_choice" in (tmp_path / "t.yaml").read_text()


def test_cli_outputs_keep_integer_ids(smollm, tmp_path) -> None:
    data, out, prompts = tmp_path / "ints.jsonl", tmp_path / "r.json", tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps({**q.to_record(), "id": 7 + i}) + "\n" for i, q in enumerate(SAMPLE_TEST[:2])))
    assert main(["bench", "--model", "smollm2-135m", "--data", str(data), "--json", str(out),
                 "--save-prompts", str(prompts)]) == 0
    assert [p["id"] for p in json.loads(out.read_text())["predictions"]] == [7, 8]
    assert [json.loads(x)["id"] for x in prompts.read_text().splitlines()] == [7, 8]
