"""cm_lib.generate.sampling/stopping: batched == sequential (greedy), per-row seeds, per-row stopping, on real models."""

from __future__ import annotations

import pytest
import torch

from cm_lib.errors import CourseError
from cm_lib.generate.sampling import sample_batch
from cm_lib.generate.stopping import TuneEndCriteria, tune_end
from cm_lib.models import load_model

PROMPTS = ["X:1\nM:6/8\nL:1/8\nK:D\n", "X:1\nT:A longer title here\nM:3/4\nL:1/8\nK:G\n", "X:1\nM:4/4\nK:C\n"]


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny")


def test_batched_greedy_equals_sequential_greedy_tiny(tiny) -> None:
    model, tok = tiny
    batched = sample_batch(model, tok, PROMPTS, max_new_tokens=24, temperature=0, stop_at_tune_end=False)
    single = [sample_batch(model, tok, [p], max_new_tokens=24, temperature=0, stop_at_tune_end=False)[0]
              for p in PROMPTS]
    assert [s.text for s in batched] == [s.text for s in single]
    assert all(s.tokens == 24 and s.stop == "limit" for s in batched)


def test_batched_greedy_equals_sequential_greedy_smollm2() -> None:
    model, tok = load_model("smollm2-135m")
    batched = sample_batch(model, tok, PROMPTS, max_new_tokens=10, temperature=0, stop_at_tune_end=False)
    single = [sample_batch(model, tok, [p], max_new_tokens=10, temperature=0, stop_at_tune_end=False)[0]
              for p in PROMPTS]
    assert [s.text for s in batched] == [s.text for s in single]


def test_seeds_make_samples_reproducible_whatever_the_batch(tiny) -> None:
    model, tok = tiny
    a = sample_batch(model, tok, PROMPTS, seeds=[7, 8, 9], max_new_tokens=20, temperature=1.0)
    b = sample_batch(model, tok, PROMPTS, seeds=[7, 8, 9], max_new_tokens=20, temperature=1.0)
    assert [s.text for s in a] == [s.text for s in b]
    alone = sample_batch(model, tok, [PROMPTS[1]], seeds=[8], max_new_tokens=20, temperature=1.0)[0]
    swapped = sample_batch(model, tok, [PROMPTS[1], PROMPTS[0]], seeds=[8, 7], max_new_tokens=20, temperature=1.0)
    assert alone.text == a[1].text == swapped[0].text and swapped[1].text == a[0].text
    other = sample_batch(model, tok, [PROMPTS[1]], seeds=[9], max_new_tokens=20, temperature=1.0)[0]
    assert other.text != alone.text


def test_tune_end_rules() -> None:
    assert tune_end("ABc|def|]\n\nSome prose", True) == (len("ABc|def|]\n\n"), "tune-end")
    assert tune_end("ABc|def|\nX:2\nT:next", True) == (len("ABc|def|\n"), "next-tune")
    assert tune_end(" X:1\nK:D\nABc|\nX:2\n", False) == (len(" X:1\nK:D\nABc|\n"), "next-tune")
    assert tune_end(" X:1\nK:D\nABc|", False) is None and tune_end("ABc|def|\n", True) is None
    assert tune_end("ABc|</s> more", True, "</s>") == (3 + 1, "eos")


def test_stopping_criteria_work_per_row(tiny) -> None:
    _, tok = tiny
    texts = ["ABc|def|]\n\nmore", "ABc|def|\nabc", "ab|\nX:2\n"]
    rows = [tok(t, add_special_tokens=False).input_ids for t in texts]
    width = max(map(len, rows))
    ids = torch.tensor([[tok.pad_token_id] * (width - len(r)) + r for r in rows])
    crit = TuneEndCriteria(tok, prompt_len=0, header_in_prompt=[True, True, True])
    assert crit(ids, None).tolist() == [True, False, True]


def test_sample_batch_reports_stops_and_rejects_bad_input(tiny) -> None:
    model, tok = tiny
    samples = sample_batch(model, tok, PROMPTS, max_new_tokens=16, temperature=1.0)
    assert all(s.stop in ("limit", "eos", "tune-end", "next-tune") and s.tokens <= 16 for s in samples)
    assert all(s.ended == (s.stop != "limit") for s in samples) and all(s.seconds > 0 for s in samples)
    with pytest.raises(CourseError):
        sample_batch(model, tok, PROMPTS, seeds=[1], max_new_tokens=4)
    with pytest.raises(CourseError):
        sample_batch(model, tok, PROMPTS, max_new_tokens=4, constrain="strict")
