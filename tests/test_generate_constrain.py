"""cm_lib.generate.constrain: grammar-constrained tunes from an untrained model are valid, and the grammar agrees with the checker."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cm_lib.abc import check, split_tunes
from cm_lib.errors import CourseError
from cm_lib.generate.constrain import (
    bar_halves,
    matcher,
    prompt_header,
    tune_grammar,
    unpack_bitmask,
    valid_keys,
)
from cm_lib.generate.results import header_prompt, sample_row
from cm_lib.generate.sampling import sample_batch, sample_in_batches
from cm_lib.models import load_model

HEADERS = ["X:1\nM:6/8\nL:1/8\nK:D\n", "X:1\nM:3/4\nL:1/8\nK:G\n", "X:1\nM:4/4\nL:1/8\nK:Am\n",
           "X:1\nM:2/4\nL:1/16\nK:F\n", "X:1\nM:9/8\nL:1/8\nK:Edor\n"]


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny")  # untrained: random weights


def _accepts(tok, prompt: str, text: str, mode: str = "bars", chat: bool = False) -> bool:
    m = matcher(tok, tune_grammar(prompt, mode, chat), len(tok))
    ids = tok(text, add_special_tokens=False).input_ids
    return m.try_consume_tokens(ids) == len(ids) and m.is_accepting()


def test_bar_lengths_and_prompt_header() -> None:
    assert bar_halves("6/8", "1/8") == 12 and bar_halves("C", "1/8") == 16 and bar_halves("2/4", None) == 16
    assert bar_halves("none", "1/8") is None and bar_halves("7/8", "1/4") == 7 and bar_halves("1/8", "1/8") is None
    h = prompt_header("Some text\n\nX:3\nT:t\nM:6/8\nL:1/8\nK:D\n")
    assert h is not None and h.complete and h.fields["M"] == "6/8" and h.ends_with_newline
    assert prompt_header("X:1\nM:3/4") == prompt_header("X:1\nM:3/4").__class__({"X": "1", "M": "3/4"}, False, False)
    assert prompt_header("Write a reel.") is None and prompt_header("X:1\nK:D\nABc|") is None
    keys = valid_keys()
    assert "Ador" in keys and "F#m" in keys and "Cbdor" not in keys  # the checker's key parser decides
    with pytest.raises(CourseError):
        tune_grammar("X:1\nM:none\nK:C\n", "bars")


@pytest.mark.parametrize("mode", ["syntax", "bars"])
def test_untrained_tiny_model_is_valid_by_construction(tiny, mode: str) -> None:
    model, tok = tiny
    prompts = [HEADERS[i % len(HEADERS)] for i in range(50)]
    samples = sample_in_batches(model, tok, prompts, seeds=list(range(50)), batch_size=25, max_new_tokens=48,
                                constrain=mode)
    rows = [sample_row(s) for s in samples]
    assert sum(r["ok_syntax"] for r in rows) == 50
    assert all(r["ended"] and s.stop == "eos" for r, s in zip(rows, samples))  # closed with |] and EOS in budget
    if mode == "bars":
        assert sum(r["ok_bars"] for r in rows) == 50
    assert all(r["raw"].endswith("\n") and r["abc"].rstrip().endswith(("|]", ":|", "||")) for r in rows)
    unconstrained = [sample_row(s) for s in sample_batch(model, tok, prompts[:10], max_new_tokens=32)]
    assert sum(r["ok_syntax"] for r in unconstrained) == 0  # what the constraint is for: random weights write noise


def test_untrained_tiny_model_writes_its_own_header_in_chat_mode(tiny) -> None:
    from cm_lib.chat import generation_prompt

    model, tok = tiny
    prompts = [generation_prompt(tok, "Compose a jig in D major.")] * 12
    samples = sample_batch(model, tok, prompts, seeds=range(100, 112), max_new_tokens=96, constrain="bars", chat=True)
    rows = [sample_row(s) for s in samples]
    assert all(r["ok_bars"] and r["ended"] for r in rows)
    for r in rows:  # each tune's bars follow the meter/unit its own header chose
        tune = split_tunes(r["abc"])[0]
        assert bar_halves(tune.get("M"), tune.get("L")) is not None and tune.get("K") in valid_keys()


def test_closing_plan_finishes_tunes_on_a_small_budget(tiny) -> None:
    model, tok = tiny
    samples = sample_batch(model, tok, HEADERS * 2, seeds=range(10), max_new_tokens=28, constrain="bars")
    assert all(s.stop == "eos" and s.tokens <= 28 for s in samples)
    assert all(sample_row(s)["ok_bars"] for s in samples)


def test_grammar_accepts_and_rejects_like_the_checker(tiny) -> None:
    _, tok = tiny
    head = "X:1\nM:6/8\nL:1/8\nK:D\n"
    good = ["|:A2B c2d|e3 f2e|\"G\"d>c B2A2|(3ABc d4:|\n",
            "A|d2B A2F|[DFA]3 A2-A|d6|]\n",  # a pickup, then full bars
            "A|d2B A2F|d3 d2:|\n",  # pickup paired with a short section-end bar
            "d2B A2F|\n|1 d6:|\n",
            "d2B A2|d2B A2F|\nA||\n"]
    bad = ["d2B A2F A|]\n",  # bar too long
           "d6|d2B A2|d6|]\n",  # short bar in the middle
           "d2B A2F|d6-|]\n",  # dangling tie
           "d2B A2|d2B A2F|\nA:|\n"]  # short bar paired with the pickup, but the line "A:|" reads as a field
    for text in good:
        assert check(head + text, "bars").ok and _accepts(tok, head, text), text
    for text in bad:
        assert not _accepts(tok, head, text), text
    for text in ("z:|\n", "d2B A2F|\nA::B|]\n"):  # a line "z:|" / "A::" reads as a field line: never written
        assert not _accepts(tok, head, text, mode="syntax"), text
    assert not _accepts(tok, "x", " X:1\nM:6/8\nL:1/8\nK:Cbdor\nd6|]\n", chat=True)
    assert _accepts(tok, "x", " X:1\nT:Jig\nM:6/8\nL:1/8\nK:D\nd6|]\n", chat=True)
    # The syntax grammar admits bars of any length, still only what the checker passes.
    assert _accepts(tok, head, "d2B A2|d6 c|]\n", mode="syntax") and check(head + "d2B A2|d6 c|]\n").ok


def _subset_tunes(texts: list[str]) -> list[tuple[str, str]]:
    """(header prompt, body) of tunes in the grammar's notation subset that pass check at bars level."""
    out = []
    allowed = re.compile(r"[A-Ga-gz,'/0-9|:\[\]\" \n()<>~{}^_=-]*")
    for text in texts:
        for tune in split_tunes(text)[:1]:
            body = tune.body.strip("\n") + "\n"
            lines = [ln for ln in body.split("\n") if ln.strip()]
            head = header_prompt(tune.text)
            if (head and allowed.fullmatch(body) and all(ln.rstrip().endswith("|") or ln.rstrip().endswith(("|]", ":|"))
                                                         for ln in lines)
                    and "- " not in body and "-|" not in body and check(tune.text, "bars").ok):
                try:
                    tune_grammar(head, "bars")
                except CourseError:
                    continue
                out.append((head, body))
    return out


def test_grammar_replays_corpus_tunes(tiny) -> None:
    """Corpus tunes in the grammar's subset replay through the matcher (measured: 34 of 46 on the small corpus)."""
    from cm_lib.corpus import ensure_corpus, load_corpus

    _, tok = tiny
    pretrain, _ = load_corpus(ensure_corpus("smoke"))
    texts = [r["text"] for split in pretrain for r in pretrain[split] if r["category"] == "scores"]
    tunes = _subset_tunes(texts)
    assert len(tunes) >= 10
    accepted = sum(_accepts(tok, head, body) for head, body in tunes)
    assert accepted / len(tunes) >= 0.6, (accepted, len(tunes))


def test_unpack_bitmask() -> None:
    words = np.array([[0b101, -1]], dtype=np.int32)
    bits = unpack_bitmask(words, 40)[0]
    assert bits[:3].tolist() == [True, False, True] and not bits[3:32].any() and bits[32:40].all()


def test_bars_mode_falls_back_to_syntax_for_free_meter(tiny) -> None:
    model, tok = tiny
    free, counted = sample_batch(model, tok, ["X:1\nM:none\nL:1/8\nK:D\n", HEADERS[0]], max_new_tokens=30,
                                 constrain="bars")
    assert free.meta["constrain"] == "syntax" and counted.meta["constrain"] == "bars"
    assert sample_row(free)["ok_bars"] and sample_row(counted)["ok_bars"]  # free meter: no bar to count
