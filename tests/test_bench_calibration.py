"""Content-free calibration (Zhao et al. 2021) and the letter-bias baselines: exact maths, then SmolLM2."""

from __future__ import annotations

import math

import pytest

from cm_lib.bench.bias import (
    baselines,
    beats_baselines,
    letter_histogram,
    reading,
    share_of_top_letter,
    summary_row,
)
from cm_lib.bench.data import load_sample
from cm_lib.bench.prompts import CONTENT_FREE_INPUTS, build_prompt, content_free_prompts, fewshot_context
from cm_lib.bench.run import MODES
from cm_lib.bench.schema import HINT
from cm_lib.bench.scoring import calibrate
from cm_lib.stats import accuracy_interval, wilson_interval

SAMPLE_TEST = load_sample("test")
DEV = load_sample("dev")


def test_calibrate_divides_out_the_prior_exactly() -> None:
    # p = (.5, .3, .1, .1), prior = (.7, .1, .1, .1): p/prior = (5/7, 3, 1, 1), sum 40/7
    got = calibrate([0.5, 0.3, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1])
    assert got.pred == "B"  # uncalibrated argmax is A
    assert got.scores == pytest.approx([1 / 8, 21 / 40, 7 / 40, 7 / 40], abs=1e-12)
    assert math.fsum(got.scores) == pytest.approx(1.0)


def test_calibrate_renormalises_and_a_uniform_prior_changes_nothing() -> None:
    raw = [0.02, 0.05, 0.01, 0.02]  # letter probabilities need not sum to 1 over the vocabulary
    got = calibrate(raw, [0.25] * 4)
    assert got.pred == "B"
    assert got.scores == pytest.approx([0.2, 0.5, 0.1, 0.2], abs=1e-12)
    # a prior proportional to the probabilities flattens them to uniform
    assert calibrate(raw, [0.2, 0.5, 0.1, 0.2]).scores == pytest.approx([0.25] * 4, abs=1e-12)


def test_calibrate_rejects_bad_priors() -> None:
    with pytest.raises(ValueError):
        calibrate([0.25] * 4, [0.5, 0.5, 0.0, 0.0])
    with pytest.raises(ValueError):
        calibrate([0.5, 0.5], [0.5, 0.5])


def test_content_free_prompts_keep_the_protocol_and_drop_the_content() -> None:
    zero = content_free_prompts()
    assert len(zero) == len(CONTENT_FREE_INPUTS) == 3
    assert zero[0] == HINT + "\nN/A\nA. N/A\nB. N/A\nC. N/A\nD. N/A\nAnswer:"
    five = content_free_prompts(DEV[:5])
    head = HINT + "\n" + fewshot_context(DEV[:5])  # the same solved dev examples as a real 5-shot prompt
    assert build_prompt(SAMPLE_TEST[0], DEV[:5]).startswith(head)
    assert all(p.startswith(head) and p.endswith("Answer:") for p in five)
    assert five[1] == head + "\nA. \nB. \nC. \nD. \nAnswer:"
    assert "calibrated" in MODES


def test_histogram_and_baselines_on_a_hand_made_run() -> None:
    rows = [{"id": str(i), "shuffle": 0, "pred": "A", "answer": a} for i, a in enumerate("AABCCCD")]
    rows.append({"id": "7", "shuffle": 0, "pred": None, "answer": "C"})
    assert letter_histogram(rows) == {"A": 7, "B": 0, "C": 0, "D": 0, "none": 1}
    assert letter_histogram(rows, "answer") == {"A": 2, "B": 1, "C": 4, "D": 1}
    base = baselines(rows)
    assert base["model"]["accuracy"] == base["always A"]["accuracy"] == 2 / 8
    assert base["always C (majority)"]["accuracy"] == 4 / 8
    assert (base["always A"]["lo"], base["always A"]["hi"]) == pytest.approx(wilson_interval(2, 8))
    assert share_of_top_letter(rows) == ("A", 7 / 8)
    assert accuracy_interval(3, 10)["n"] == 10 and accuracy_interval(6, 10, 5)["n"] == 5



def test_calibration_changes_smollm2s_letter_histogram(smollm) -> None:
    from cm_lib.bench.run import run_questions

    model, tok = smollm
    ppl = run_questions(model, tok, SAMPLE_TEST, mode="ppl")
    cal = run_questions(model, tok, SAMPLE_TEST, mode="calibrated")
    prior = cal["content_free_prior"]
    assert sum(prior.values()) == pytest.approx(1.0, abs=1e-5)
    top, share = share_of_top_letter(ppl["predictions"])
    assert prior[top] == max(prior.values())  # the letter the model picks everywhere is the one it prefers blind
    assert share >= 0.8  # ppl: one letter for (almost) every question
    assert letter_histogram(cal["predictions"]) != letter_histogram(ppl["predictions"])
    assert share_of_top_letter(cal["predictions"])[1] < share


def test_reading_and_row_are_computed_from_the_interval() -> None:
    always_a = [{"id": str(i), "shuffle": 0, "pred": "A", "answer": a} for i, a in enumerate("AABBBCDBCD" * 3)]
    assert not beats_baselines(always_a)
    assert "no evidence" in reading("m", always_a)
    row = summary_row(always_a)
    assert row["n"] == 30 and row["most predicted"] == "A (100%)" and row["majority letter"].startswith("B:")
    perfect = [{**p, "pred": p["answer"]} for p in always_a]
    assert beats_baselines(perfect) and "more than letter position" in reading("m", perfect)
