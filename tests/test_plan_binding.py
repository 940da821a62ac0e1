"""A plan made binding: untrained models (random weights) obey every planned field by construction, bars-valid."""

from __future__ import annotations

import json

import pytest

from cm_lib.abc import check, split_tunes
from cm_lib.chat import generation_prompt
from cm_lib.errors import CourseError
from cm_lib.generate.plan_grammar import plan_budget, plan_grammar
from cm_lib.generate.results import sample_row
from cm_lib.generate.sampling import GRAMMAR_ONLY, sample_batch
from cm_lib.metrics.request import request_compliance, tune_sections
from cm_lib.models import load_model
from cm_lib.plan import make_plan

CHORDS_8 = make_plan(key="A major", meter="3/4", chords="A D A E7 A D E7 A")
AABB = make_plan(key="G major", meter="6/8", form="AABB")
MOTIF_2 = make_plan(key="D major", meter="6/8", unit="1/8", motif="A | d2B A2F |")
KEY_METER = make_plan(key="E minor", meter="2/4")


@pytest.fixture(scope="module")
def composer():
    return load_model("composer")  # the course's composer, untrained: random weights


def _answers(model, tok, plan, n=16, max_new_tokens=400, seed=0, chat=True):
    prompt = generation_prompt(tok, "Write a tune.") if chat else "X:1\n"
    samples = sample_batch(model, tok, [prompt] * n, seeds=range(seed, seed + n), max_new_tokens=max_new_tokens,
                           constrain="bars", chat=chat, plans=[plan] * n)
    rows = [sample_row(s, asked=plan) for s in samples]
    assert all(s.stop == "eos" and not s.meta["grammar_failed"] for s in samples)
    return rows


def _all_obeyed(rows, plan, fields):
    result = request_compliance([plan] * len(rows), [r["abc"] for r in rows])
    assert result["bars"]["k"] == len(rows), [r["abc"] for r in rows if not r["ok_bars"]]
    for name in fields:
        assert result[name]["k"] == result[name]["n"] == len(rows), name
    assert result["compliant"]["k"] == len(rows)
    return result


def test_a_chord_progression_of_8_bars(composer) -> None:
    model, tok = composer
    rows = _answers(model, tok, CHORDS_8)
    _all_obeyed(rows, CHORDS_8, ("key", "meter", "chords"))
    for r in rows:  # one chord symbol per bar, in order, and nothing else in quotes
        body = split_tunes(r["abc"])[0].body
        assert body.split('"')[1::2] == list(CHORDS_8.chords)


def test_aabb_is_two_repeated_eight_bar_sections(composer) -> None:
    model, tok = composer
    rows = _answers(model, tok, AABB)
    _all_obeyed(rows, AABB, ("key", "meter", "form"))
    assert all(tune_sections(r["abc"]) == [(8, True), (8, True)] for r in rows)


def test_a_two_bar_motif_opens_the_tune(composer) -> None:
    model, tok = composer
    rows = _answers(model, tok, MOTIF_2)
    _all_obeyed(rows, MOTIF_2, ("key", "meter", "motif"))
    assert all(split_tunes(r["abc"])[0].body.startswith("A | d2B A2F |") for r in rows)
    assert all(split_tunes(r["abc"])[0].get("L") == "1/8" for r in rows)  # the motif's unit is planned


def test_key_and_meter_from_a_raw_prompt_too(composer) -> None:
    model, tok = composer
    for chat in (True, False):
        rows = _answers(model, tok, KEY_METER, n=8, chat=chat, seed=30)
        _all_obeyed(rows, KEY_METER, ("key", "meter"))
        assert all((split_tunes(r["abc"])[0].get("K"), split_tunes(r["abc"])[0].get("M")) == ("Em", "2/4") for r in rows)


def test_grammar_only_sampler_is_equally_valid_and_compliant(composer) -> None:
    _, tok = composer
    plans = [CHORDS_8, AABB, MOTIF_2, KEY_METER] * 3
    prompt = generation_prompt(tok, "Write a tune.")
    samples = sample_batch(GRAMMAR_ONLY, tok, [prompt] * len(plans), seeds=range(len(plans)), max_new_tokens=400,
                           constrain="bars", chat=True, plans=plans)
    result = request_compliance(plans, [sample_row(s)["abc"] for s in samples])
    assert result["bars"]["k"] == result["compliant"]["k"] == len(plans)
    again = sample_batch(GRAMMAR_ONLY, tok, [prompt] * 2, seeds=[0, 1], max_new_tokens=400, constrain="bars",
                         chat=True, plans=plans[:2])
    assert [s.text for s in again] == [s.text for s in samples[:2]]  # seeded
    with pytest.raises(CourseError, match="needs a grammar"):
        sample_batch(GRAMMAR_ONLY, tok, [prompt], plans=None)


def test_a_long_plan_finishes_on_a_tight_budget_and_an_impossible_one_is_refused(composer) -> None:
    model, tok = composer
    long_plan = make_plan(key="F major", meter="4/4", form="ABA", chords="F C F Bb")  # 24 bars
    budget = plan_budget(tok, long_plan, chat=True)
    assert budget.bars == 24 and budget.minimum < 400
    rows = _answers(model, tok, long_plan, n=6, max_new_tokens=budget.minimum + 60, seed=4)
    _all_obeyed(rows, long_plan, ("key", "meter", "form", "chords"))
    with pytest.raises(CourseError, match="the plan needs at least"):
        _answers(model, tok, long_plan, n=1, max_new_tokens=budget.minimum - 10)


def test_bpe_tokens_and_a_free_meter(composer) -> None:
    model, tok = load_model("tiny")  # byte-level BPE: literals span token boundaries
    for plan in (CHORDS_8, AABB, MOTIF_2):
        rows = _answers(model, tok, plan, n=4, seed=50)
        _all_obeyed(rows, plan, plan.fields().keys() - {"unit"})
    free = make_plan(key="A dorian", meter="none", chords="Am G Am G")  # bars cannot be counted: syntax grammar
    model, tok = composer
    samples = sample_batch(model, tok, [generation_prompt(tok, "x")] * 4, seeds=range(4), max_new_tokens=400,
                           constrain="bars", chat=True, plans=[free] * 4)
    assert all(s.meta["constrain"] == "syntax" for s in samples)
    result = request_compliance([free] * 4, [sample_row(s)["abc"] for s in samples])
    assert result["syntax"]["k"] == result["chords"]["k"] == result["key"]["k"] == 4 and result["bars"]["k"] == 0


def test_the_grammar_rejects_what_the_plan_forbids(composer) -> None:
    _, tok = composer
    from cm_lib.generate.processor import matcher

    def accepts(plan, text):
        m = matcher(tok, plan_grammar("", plan, chat=True), len(tok))
        ids = tok(text, add_special_tokens=False).input_ids
        return m.try_consume_tokens(ids) == len(ids) and m.is_accepting()

    plan = make_plan(key="D major", meter="2/4", chords="D A")
    assert accepts(plan, 'X:1\nM:2/4\nL:1/8\nK:D\n"D"d2 fd|"A"c4|]\n')
    assert not accepts(plan, 'X:1\nM:2/4\nL:1/8\nK:D\n"A"d2 fd|"D"c4|]\n')  # chords out of order
    assert not accepts(plan, 'X:1\nM:2/4\nL:1/8\nK:D\n"D"d2 fd|"A"c4|"D"d4|]\n')  # a bar too many
    assert not accepts(plan, 'X:1\nM:2/4\nL:1/8\nK:D\n"D"d2 "G"fd|"A"c4|]\n')  # a chord symbol not planned
    form = make_plan(key="D major", meter="2/4", form="AB")
    eight = "d2 fd|" * 7 + "c4"
    assert accepts(form, f"X:1\nM:2/4\nL:1/8\nK:D\n{eight}||\n{eight}|]\n")
    assert not accepts(form, f"X:1\nM:2/4\nL:1/8\nK:D\n{eight}|]\n")  # one section missing
    motif = make_plan(key="D", meter="2/4", unit="1/8", motif="dA FA |")
    assert accepts(motif, "X:1\nM:2/4\nL:1/8\nK:D\ndA FA | d4|]\n")
    assert not accepts(motif, "X:1\nM:2/4\nL:1/8\nK:D\nd4 | d4|]\n")
    assert check('X:1\nM:2/4\nL:1/8\nK:D\n"D"d2 fd|"A"c4|]\n', "bars").ok


def test_cli_plan_binds_and_reports_hits(tmp_path, capsys) -> None:
    from cm_lib.cli import main

    out = tmp_path / "rows.json"
    request = "Compose a melody in A major and 3/4 over this chord progression, one chord per bar: A | D | A | E7"
    assert main(["generate", "--model", "composer", "--request", request, "--plan", "rules", "--constrain", "bars",
                 "--n", "2", "--max-new-tokens", "300", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert all(r["plan"]["read_by"] == "rules" and r["plan"]["fields"]["chords"] == "A D A E7" for r in rows)
    assert all(r["hits"] == {"key": True, "meter": True, "chords": True} and r["ok_bars"] for r in rows)
    assert "requested fields obeyed: chords 2/2, key 2/2, meter 2/2" in capsys.readouterr().out
    requests = tmp_path / "req.jsonl"
    requests.write_text(json.dumps({"request": "A jig please", "expected": {"key": "D major", "meter": "6/8",
                                                                             "form": "AABB"}}) + "\n")
    assert main(["generate", "--model", "composer", "--requests", str(requests), "--plan", "none",
                 "--max-new-tokens", "20", "--json", str(out)]) == 0
    row = json.loads(out.read_text())[0]
    assert row["plan"] is None and set(row["hits"]) == {"key", "meter", "form"} and not any(row["hits"].values())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    assert main(["generate", "--model", "composer", "--requests", str(bad), "--plan", "rules"]) == 2
    assert main(["generate", "--model", "composer", "--prompt", "X:1\n", "--plan", "rules"]) == 2
    assert main(["generate", "--model", "composer", "--request", "x", "--plan", "rules", "--obey-request",
                 "--constrain", "bars"]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:1" in err and "a raw --prompt has none" in err and "drop --obey-request" in err


def test_a_plan_the_grammar_cannot_bind_gets_no_answer(composer) -> None:
    from cm_lib.evaluate.plans import answer_with_plans
    from cm_lib.generate.plan_grammar import plan_problem
    from cm_lib.plan.core import Plan

    misread = Plan(meter="G", key="D")  # a reader's M:G: never repaired
    assert "cannot impose M:G" in plan_problem(misread) and plan_problem(KEY_METER) is None
    records = [{"instruction": "Write a tune in D major, meter G.", "input": ""},
               {"instruction": "Write a tune in E minor and 2/4 time.", "input": ""}]
    too_long = make_plan(key="D", meter="4/4", chords=" ".join(["D", "G"] * 40))  # a reader that did not stop
    answers = answer_with_plans(composer, records + records[:1], [misread, KEY_METER, too_long], max_new_tokens=200)
    assert answers[0] == "" and answers[1].startswith("X:") and answers[2] == ""
    result = request_compliance([make_plan(key="D", meter="3/4"), KEY_METER], [None, answers[1]])
    assert result["rows"][0]["hits"] == {"key": False, "meter": False} and result["rows"][1]["compliant"]


def test_a_reader_motif_that_is_not_abc_is_refused_before_the_grammar() -> None:
    from cm_lib.generate.plan_grammar import plan_problem

    garbage = make_plan(key="G", meter="6/8", motif="B2 \x01in \x85an |")  # a random reader's bytes
    assert plan_problem(garbage).startswith("the motif is not ABC")
    assert plan_problem(make_plan(key="G", meter="6/8", unit="1/8", motif="GAB c2d |")) is None
