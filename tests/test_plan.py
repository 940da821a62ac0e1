"""cm_lib.plan: the plan a request asks for, its two ABC spellings, the rules reader, and the compliance judge."""

from __future__ import annotations

import json

import pytest

from cm_lib.errors import UsageError
from cm_lib.metrics.request import plan_accuracy, request_hits, tune_sections
from cm_lib.plan import (
    make_plan,
    parse_plan_text,
    plan_layout,
    plan_skeleton,
    plan_text,
    record_plan,
    rules_plan,
)
from cm_lib.plan.core import form_sections, motif_bars, same_key
from cm_lib.plan.rules import load_requests, rephrased_requests, request_text


def test_form_letters_become_sections_as_the_corpus_writes_them() -> None:
    assert form_sections("AABB") == [True, True] and form_sections("AB") == [False, False]
    assert form_sections("ABA") == [False] * 3 and form_sections("AAB") == [True, False]
    assert form_sections("AAAA") == [True, True] and form_sections("AAA") == [True, False]
    lay = plan_layout(make_plan(key="G major", meter="6/8", form="AABB"))
    assert lay.bars == 16 and lay.starts == {0, 8} and lay.ends == {7: ":|", 15: ":|"} and not lay.free_ends
    lay = plan_layout(make_plan(form="ABCDE"))  # five sections of 8 would pass 32 bars: 4 bars each
    assert lay.bars == 20 and lay.ends == {3: "||", 7: "||", 11: "||", 15: "||", 19: "|]"}


def test_chords_lay_one_per_bar_and_cycle_over_a_longer_form() -> None:
    lay = plan_layout(make_plan(chords="A D A E7"))
    assert lay.bars == 4 and lay.chords == ("A", "D", "A", "E7") and lay.free_ends
    lay = plan_layout(make_plan(form="AB", chords="F C F Bb"))  # 4 chords, 2 sections: 8 bars each, cycled
    assert lay.bars == 16 and lay.chords[:5] == ("F", "C", "F", "Bb", "F")
    lay = plan_layout(make_plan(form="AB", chords=" ".join("CFGC" * 4)))  # 16 chords over 2 sections: 8 bars each
    assert lay.bars == 16 and lay.chords == tuple("CFGC" * 4)
    lay = plan_layout(make_plan(motif="A | d2B A2F |", chords="D G"))  # the progression starts after the motif
    assert lay.bars == 4 and lay.chords == (None, None, "D", "G") and lay.motif_bars == ("A", "d2B A2F")
    assert motif_bars("|: G2 B2 :| d4 |") == ["G2 B2", "d4"]


def test_plan_text_round_trips_and_the_skeleton_draws_every_planned_bar() -> None:
    plans = [make_plan(key="A major", meter="3/4", chords="A D A E7"),
             make_plan(key="G", meter="C|", form="AABB"),
             make_plan(key="D major", meter="6/8", unit="1/8", motif="A | d2B A2F |"),
             make_plan(key="Ador", meter="4/4")]
    for plan in plans:
        assert parse_plan_text(plan_text(plan)) == plan, plan_text(plan)
    assert plan_text(plans[0]) == 'M:3/4\nK:A\n"A" | "D" | "A" | "E7" |\n'
    assert plan_text(plans[1]) == "M:C|\nP:AABB\nK:G\n"
    skeleton = plan_skeleton(plans[1])
    assert skeleton.count("…") == 16 and skeleton.count("|:") == 2 and skeleton.count(":|") == 2
    assert plan_skeleton(plans[0]).endswith('"E7" … |]\n')
    assert parse_plan_text("Sure! Here it is:\nX:1\nT:Jig\nM:6/8\nK:D\n") == make_plan(key="D", meter="6/8")
    assert parse_plan_text("nonsense") == make_plan() and make_plan().empty
    assert same_key("G major", "Gmaj") and same_key("Em", "E minor") and not same_key("E", "Em")


def test_rules_reader_is_exact_on_the_course_templates() -> None:
    from cm_lib.corpus import ensure_corpus
    from cm_lib.corpus.tasks import GENERATION_TASKS
    from cm_lib.train import load_split

    corpus = ensure_corpus("smoke")
    records = [r for split in ("train", "validation", "test") for r in load_split(corpus, "sft", split)
               if r["task"] in GENERATION_TASKS]
    assert {r["task"] for r in records} == set(GENERATION_TASKS)
    for r in records:
        truth = record_plan(r)
        assert rules_plan(request_text(r)) == truth, request_text(r)
        assert parse_plan_text(plan_text(truth)) == truth
        meta = json.loads(r["meta"])
        assert {"key", "meter"} <= set(truth.fields()) and bool(truth.form) == ("form" in meta)
        assert truth.chords == tuple(meta.get("chords") or ())


def test_rules_reader_on_free_text_and_the_rephrased_requests() -> None:
    plan = rules_plan("Compose a melody in A major and 3/4 over this chord progression, one chord per bar: A | D | A | E7")
    assert plan == make_plan(key="A major", meter="3/4", chords=["A", "D", "A", "E7"])
    assert rules_plan("A slow air in B flat major, 3/4, form AABB please") == make_plan(
        key="Bb major", meter="3/4", form="AABB")
    rows = rephrased_requests()
    assert len(rows) == 40 and {r["task"] for r in rows} == {"key_meter_conditioned", "form_conditioned",
                                                            "chord_conditioned", "motif_continuation"}
    assert all(r["expected"] is not None and not r["expected"].empty for r in rows)
    read = [rules_plan(r["request"]) for r in rows]
    acc = plan_accuracy(read, [r["expected"] for r in rows])
    assert acc["n"] == 40 and acc["key"]["n"] == 40 and acc["chords"]["n"] == 10 and acc["motif"]["n"] == 10
    assert 0 < acc["exact"]["k"] < 40  # a baseline: exact on templates, not on every rephrasing


def test_plan_accuracy_counts_wrong_and_invented_fields() -> None:
    truth = [make_plan(key="G", meter="6/8"), make_plan(key="D", meter="3/4", form="AABB")]
    read = [make_plan(key="G major", meter="6/8", form="AB"), make_plan(key="D", meter="6/8", form="AABB")]
    acc = plan_accuracy(read, truth)
    assert (acc["key"]["k"], acc["key"]["n"]) == (2, 2) and (acc["meter"]["k"], acc["meter"]["n"]) == (1, 2)
    assert (acc["form"]["k"], acc["form"]["n"]) == (1, 1) and acc["exact"]["k"] == 0 and acc["invented"]["k"] == 1


def test_request_hits_judge_the_tune_not_the_plan() -> None:
    tune = ('X:1\nM:6/8\nL:1/8\nK:G\n|:"G"GAB d2B|"D"A3 A3|"G"GAB d2B|"D"A6:|\n'
            '|:"C"c2e g2e|"G"d3 B3|"C"c2e g2e|"G"d6:|\n')
    assert tune_sections(tune) == [(4, True), (4, True)]
    want = make_plan(key="G major", meter="6/8", form="AABB", chords="G D G D C G C G")
    assert request_hits(want, tune) == {"key": True, "meter": True, "form": True, "chords": True}
    wrong = make_plan(key="E minor", meter="3/4", form="ABC", chords="G C D", motif="G2 B2 |")
    assert request_hits(wrong, tune) == {"key": False, "meter": False, "form": False, "chords": False,
                                         "motif": False}
    assert request_hits(want, None) == {"key": False, "meter": False, "form": False, "chords": False}
    assert tune_sections("X:1\nM:2/4\nL:1/8\nK:D\nAB cd|ef ga||ba gf|ed cB|]\n") == [(2, False), (2, False)]


def test_request_files_are_checked_line_by_line(tmp_path) -> None:
    good = tmp_path / "ok.jsonl"
    good.write_text('{"request": "A jig in D major, 6/8", "expected": {"key": "D major", "meter": "6/8"}}\n\n'
                    '{"request": "Write a reel."}\n')
    rows = load_requests(good)
    assert [r["expected"] for r in rows] == [make_plan(key="D", meter="6/8"), None]
    for text, message in (("nope\n", "not JSON"), ('{"text": "x"}\n', '"request" text'),
                          ('{"request": "x", "expected": {"tempo": 1}}\n', "unknown expected plan field")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text)
        with pytest.raises(UsageError, match=message):
            load_requests(bad)
    with pytest.raises(UsageError, match="no requests file"):
        load_requests(tmp_path / "missing.jsonl")


def test_the_reader_trains_on_each_request_answered_with_its_plan(tmp_path) -> None:
    from cm_lib.corpus import ensure_corpus
    from cm_lib.corpus.tasks import GENERATION_TASKS
    from cm_lib.plan.rules import plan_answer
    from cm_lib.train import build_trainer, load_split, trained_text
    from cm_lib.train.trainer import text_view

    assert text_view("plan") is plan_answer
    corpus = ensure_corpus("smoke")
    trainer, settings = build_trainer("sft", "composer", corpus, tmp_path / "run", hardware="cpu-smoke", max_steps=1,
                                      tasks=tuple(GENERATION_TASKS), view="plan")
    answers = {plan_answer(r) for r in load_split(corpus, "sft", "train") if r["task"] in GENERATION_TASKS}
    assert settings["view"] == "plan" and settings["rows"] > 0 and None not in answers
    for i in range(3):
        trained = trained_text(trainer, i)
        assert any(trained.strip().startswith(a.strip()) for a in answers if a), trained


def test_plan_prompt_and_sources_say_only_what_the_plan_fixes() -> None:
    from cm_lib.plan.core import plan_prompt, plan_sources

    assert plan_prompt(make_plan(key="G major", meter="6/8", form="AABB")) == "X:1\nM:6/8\nK:G\n"
    assert plan_prompt(make_plan(key="D", meter="2/4", unit="1/16", motif="d2 | A4 |")) == (
        "X:1\nM:2/4\nL:1/16\nK:D\nd2 | A4 | ")
    assert plan_prompt(make_plan(key="D")) is None and plan_prompt(make_plan(meter="3/4")) is None
    sources = plan_sources(make_plan(key="D", meter="6/8", chords="D G"))
    assert sources == {"key": "plan", "meter": "plan", "unit length": "model", "sections and repeats": "model",
                       "chord symbols": "plan", "opening": "model", "notes": "model"}
    assert set(plan_sources(None).values()) == {"model"}
    assert make_plan(motif="d2B A2F").motif == "d2B A2F |"  # the writer's first bar starts after a bar line
