"""cm_lib.generate.constrain: grammar-constrained tunes from an untrained model are valid, and the grammar agrees with the checker."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cm_lib.abc import check, split_tunes
from cm_lib.corpus.composer import header_prompt
from cm_lib.errors import CourseError
from cm_lib.generate.constrain import bar_halves, prompt_header, tune_grammar, valid_keys
from cm_lib.generate.processor import matcher, unpack_bitmask
from cm_lib.generate.results import sample_row
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
    free_row = sample_row(free)
    # free meter: the checker finds no bar to fault, but a bars verdict needs a countable meter (metrics.validity)
    assert free_row["ok_syntax"] and not free_row["ok_bars"] and sample_row(counted)["ok_bars"]


# -- a header imposed by the request (chat answers, raw prompts that stop before K:) -------------------

D_JIG_BODY = "A|dfa agf|e2d c2B|]\n"  # a 1-unit pickup, one full 6/8 bar, the pickup's pairing bar


def _tune_record(key: str, meter: str) -> dict:
    import json

    from cm_lib.corpus.tasks import TEMPLATES

    return {"task": "key_meter_conditioned", "instruction": TEMPLATES["key_meter_conditioned"][0].format(
        title="Test", key=key, meter=meter), "input": "", "output": f"X:1\nM:{meter}\nL:1/8\nK:C\nC6|]\n",
        "meta": json.dumps({"key": key, "meter": meter})}


def test_request_header_spells_the_request_in_abc() -> None:
    from cm_lib.abc.keys import abc_key
    from cm_lib.generate.constrain import request_header
    from cm_lib.plan import core, studio

    assert studio.abc_key is abc_key and core.abc_key is abc_key  # one K: spelling: the studio, its plan, the grammar
    assert request_header({"key": "F major", "meter": "6/8", "form": "AABB"}) == {"M": "6/8", "K": "F"}
    assert [request_header({"key": k})["K"] for k in ("E minor", "A dorian", "F# minor", "Bb major")] == [
        "Em", "Ador", "F#m", "Bb"]
    assert request_header({}) == {}
    with pytest.raises(CourseError, match="requested key 'H major'"):
        request_header({"key": "H major", "meter": "3/4"})


def test_imposed_header_in_the_grammar(tiny) -> None:
    _, tok = tiny

    def accepts(prompt: str, text: str, header: dict, chat: bool = False) -> bool:
        m = matcher(tok, tune_grammar(prompt, "bars", chat, header=header), len(tok))
        ids = tok(text, add_special_tokens=False).input_ids
        return m.try_consume_tokens(ids) == len(ids) and m.is_accepting()

    want = {"M": "6/8", "K": "F"}
    assert accepts("", "X:1\nM:6/8\nL:1/8\nK:F\n" + D_JIG_BODY, want, chat=True)
    assert not accepts("", "X:1\nM:6/8\nL:1/8\nK:D\n" + D_JIG_BODY, want, chat=True)  # the key is imposed
    assert not accepts("", "X:1\nM:3/4\nL:1/8\nK:F\nA6|]\n", want, chat=True)  # so is the meter
    assert accepts("", "X:1\nM:6/8\nL:1/16\nK:F\nA8A4|]\n", want, chat=True)  # the unit stays free ...
    assert not accepts("", "X:1\nM:6/8\nL:1/16\nK:F\nA4A2|]\n", want, chat=True)  # ... and sets the bar's length
    assert accepts("X:1\nT:Jig\nM:6/8\n", "L:1/8\nK:F\n" + D_JIG_BODY, want)  # a raw prompt that stops before K:
    assert accepts("X:1\nM:6/8\nL:1/8\nK:F\n", D_JIG_BODY, want)  # a complete header that agrees
    with pytest.raises(CourseError, match="says M:3/4 but the request imposes M:6/8"):
        tune_grammar("X:1\nM:3/4\n", "bars", header=want)
    with pytest.raises(CourseError, match=r"complete \(K: written\), so M:6/8 cannot be imposed"):
        tune_grammar("X:1\nL:1/8\nK:F\n", "bars", header=want)


@pytest.mark.parametrize("bad, message", [
    ({"K": "H"}, r"cannot impose K:H: the ABC parser rejects it \(invalid key 'H'\)"),
    ({"K": "Cbdor"}, r"cannot impose K:Cbdor: the ABC parser rejects it \(key 'Cbdor' needs more than 7"),
    ({"K": 'F"\n'}, r"cannot impose K:"),
    ({"M": "6/0"}, r"cannot impose M:6/0"),
    ({"Q": "1/4=120"}, r"cannot impose header field Q: \(only M, L, K\)"),
])
def test_imposed_header_the_parser_rejects_is_a_course_error(bad: dict, message: str) -> None:
    with pytest.raises(CourseError, match=message):
        tune_grammar("", "bars", chat=True, header=bad)


@pytest.mark.parametrize("header, key", [({"M": "6/8", "K": "F"}, "F major"), ({"M": "3/4", "K": "Em"}, "E minor")])
def test_untrained_tiny_model_obeys_an_imposed_header_in_chat_mode(tiny, header: dict, key: str) -> None:
    from cm_lib.chat import generation_prompt
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.request import request_compliance
    from cm_lib.plan import record_plan

    model, tok = tiny
    record = _tune_record(key, header["M"])
    prompts = [generation_prompt(tok, record["instruction"])] * 16
    samples = sample_batch(model, tok, prompts, seeds=range(200, 216), max_new_tokens=128, constrain="bars",
                           chat=True, headers=[header] * 16)
    tunes = [extract_abc(s.text) for s in samples]
    assert all(t is not None and check(t, level="bars").ok for t in tunes), tunes
    for t in tunes:
        fields = split_tunes(t)[0]
        assert (fields.get("M"), fields.get("K")) == (header["M"], header["K"])
        assert t.index("M:") < t.index("L:") < t.index("K:")  # the header's order; L: chosen by the model
    asked = [record_plan(record)] * 16
    scores = request_compliance(asked, tunes)
    assert scores["bars"]["rate"] == scores["key"]["rate"] == scores["meter"]["rate"] == 1.0
    free = sample_batch(model, tok, prompts, seeds=range(200, 216), max_new_tokens=128, constrain="bars", chat=True)
    free_scores = request_compliance(asked, [extract_abc(s.text) for s in free])
    assert free_scores["bars"]["rate"] == 1.0 and free_scores["key"]["rate"] < 1.0  # without it, any key of ~100


def test_answer_records_obeys_the_request(tiny) -> None:
    from cm_lib.evaluate import answer_records
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.request import request_compliance
    from cm_lib.plan import record_plan

    records = [_tune_record("G major", "6/8"), _tune_record("A dorian", "4/4"), _tune_record("D minor", "3/4")] * 2
    answers = answer_records(tiny, records, max_new_tokens=96, batch_size=6, constrain="bars", obey_header=True)
    scores = request_compliance([record_plan(r) for r in records], [extract_abc(a) for a in answers])
    assert scores["bars"]["rate"] == scores["key"]["rate"] == scores["meter"]["rate"] == 1.0
    assert [split_tunes(a)[0].get("K") for a in answers[:3]] == ["G", "Ador", "Dm"]
    with pytest.raises(CourseError, match="constrain='syntax' or 'bars'"):
        answer_records(tiny, records, obey_header=True)
    with pytest.raises(CourseError, match="imposing a header or a plan needs constrained decoding"):
        sample_batch(*tiny, ["X:1\n"], headers=[{"K": "D"}])
    with pytest.raises(CourseError, match="1 prompts but 2 headers"):
        sample_batch(*tiny, ["X:1\n"], constrain="syntax", headers=[{"K": "D"}, None])


def test_cli_obey_request_needs_a_task_and_a_grammar(capsys) -> None:
    from cm_lib.cli import main

    assert main(["generate", "--model", "tiny", "--task", "key_meter_conditioned", "--obey-request"]) == 2
    assert "--obey-request needs a request (--task, --request or --requests) and --constrain" in capsys.readouterr().err
    assert main(["generate", "--model", "tiny", "--prompt", "X:1\n", "--constrain", "bars", "--obey-request"]) == 2
