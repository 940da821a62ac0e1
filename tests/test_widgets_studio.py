"""cm_lib.widgets, notebook 05: the composer's studio and the blind listening test, without a browser (with the library
beneath them: cm_lib.plan.studio, cm_lib.generate.studio, cm_lib.metrics.listening)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from cm_lib import widgets as w
from cm_lib.abc import check
from cm_lib.abc.keys import abc_key
from cm_lib.errors import CourseError, UsageError
from cm_lib.generate.studio import chat_format
from cm_lib.metrics import RequestError
from cm_lib.metrics import listening as lt
from cm_lib.plan import studio as ps

D_JIG = 'X:1\nT:Studio test\nM:6/8\nL:1/8\nK:D\n|:"D"DFA dAF|"G"GBd gdB|"A7"Ace gec|"D"d3 d3:|\n'


@pytest.fixture(scope="module")
def tiny():
    """The untrained tiny preset on CPU, one torch thread while the tests use it."""
    import torch

    from cm_lib.device import pick_device
    from cm_lib.models import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_model("tiny", device=pick_device("cpu"))
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- requests and prompts


def test_studio_request_reads_form_and_chords() -> None:
    assert ps.studio_request("D major", "6/8") == {"key": "D major", "meter": "6/8"}
    assert ps.studio_request("A dorian", "4/4", "AABB", "Am | G | Am, Em") == {
        "key": "A dorian", "meter": "4/4", "form": "AABB", "chords": ["Am", "G", "Am", "Em"]}
    assert ps.studio_request("G major", "3/4", " A B ", ['"G"', "D7"])["chords"] == ["G", "D7"]
    assert ps.studio_request("G major", "3/4", "AB")["form"] == "AB"


@pytest.mark.parametrize(("args", "says"), [(("H major", "4/4"), "key"), (("D major", "4/4", "aabb"), "capital"),
                                            (("D major", "4/4", "4"), "capital"),
                                            (("D major", "4/4", None, "D Q7"), "'Q7'")])
def test_studio_request_rejects_bad_input(args: tuple, says: str) -> None:
    with pytest.raises(RequestError, match=says):
        ps.studio_request(*args)


def test_abc_key_writes_the_k_field() -> None:
    assert [abc_key(k) for k in ("D major", "E minor", "A dorian", "G mixolydian", "Bb major", "F# minor")] == [
        "D", "Em", "Ador", "Gmix", "Bb", "F#m"]


def test_raw_prompt_is_a_header() -> None:
    req = ps.studio_request("E minor", "9/8", "AABB", "Em D")
    assert ps.studio_prompt(req, chat=False) == "X:1\nM:9/8\nL:1/8\nK:Em\n"


def test_chat_prompt_uses_the_corpus_templates() -> None:
    key_meter = ps.studio_prompt(ps.studio_request("D major", "6/8"), chat=True)
    assert key_meter == 'Human: Write a tune titled "Studio Tune" in D major and 6/8 time. </s> Assistant:'
    form = ps.studio_instruction(ps.studio_request("G major", "3/4", "AABB"))
    assert form == "Compose a tune in G major and 3/4 time with the musical form AABB."
    both = ps.studio_instruction(ps.studio_request("D major", "6/8", "AB", "D G A7 D"))
    assert both == ("Compose a melody in D major and 6/8 over this chord progression, one chord per bar: "
                    "D | G | A7 | D. Use the musical form AB.")


def _run_folder(root: Path, stage: str) -> Path:
    """A finished run folder as cm_lib.train writes it: train_result.json (its stage) beside merged/ (a model)."""
    (root / "merged").mkdir(parents=True)
    (root / "train_result.json").write_text(json.dumps({"stage": stage, "out": str(root), "steps": 3}))
    return root / "merged"


def test_chat_format_is_read_from_the_training_record_not_the_name(tmp_path: Path) -> None:
    sft, cpt = _run_folder(tmp_path / "a", "sft"), _run_folder(tmp_path / "sft-named" / "b", "cpt")
    assert chat_format(sft) and chat_format(str(sft)) and chat_format(sft.parent)  # the merged model, the run folder
    assert not chat_format(cpt) and not chat_format(tmp_path / "sft-named")  # a CPT run, whatever its path says
    (tmp_path / "sft").mkdir()
    assert not chat_format(tmp_path / "sft") and not chat_format("sft") and not chat_format("tiny")  # no record
    assert chat_format((SimpleNamespace(name_or_path=str(sft)), "tokenizer"))  # a loaded pair: its model's folder
    assert not chat_format((SimpleNamespace(name_or_path="my-sft-model"), "tokenizer"))
    assert not chat_format(("model", "tokenizer"))
    (tmp_path / "a" / "train_result.json").write_text("{not json")
    assert not chat_format(sft)  # an unreadable record says nothing


# ---------------------------------------------------------------- checking and generating


def test_studio_check_measures_compliance_with_the_request() -> None:
    view = w.studio_check(D_JIG, ps.studio_request("D major", "6/8", "AABB", "D G A7 D"))
    assert view.verdicts == {"syntax": True, "bars": True, "parser": True}
    assert view.metrics["key_ok"] is True and view.metrics["meter_ok"] is True
    assert view.metrics["chord_following"] == 1.0 and view.metrics["n_bars"] == 4
    rows = dict(view.rows)
    assert rows["key as requested"] == "✅ yes" and rows["requested chords present, in order"] == "1.00"
    assert rows["form as requested"] == ("✅ yes" if view.metrics["form"] == "AABB" else "❌ no")
    assert "cm-ok" in view.view.verdict_html and "<svg" in view.view.score_html
    assert 'class="cm-studio-table"' in view.table_html and "request: key D major" in view.html
    other = w.studio_check(D_JIG, ps.studio_request("G major", "3/4"))
    assert other.metrics["key_ok"] is False and dict(other.rows)["meter as requested"] == "❌ no"
    assert dict(other.rows)["form as requested"] == "—"  # not asked


def test_studio_check_of_a_broken_tune() -> None:
    view = w.studio_check(D_JIG.replace("gdB|", "gdB c|"), ps.studio_request("D major", "6/8"))
    assert view.verdicts["syntax"] is True and view.verdicts["bars"] is False
    assert "cm-bad" in view.view.verdict_html and "bar-too-long" in view.view.verdict_html


@pytest.mark.parametrize("chat", [False, True])
def test_constrained_generation_honours_the_whole_request(tiny, chat: bool) -> None:
    model, tok = tiny
    req = ps.studio_request("D major", "6/8", "AABB", "D G A7 D", "A | d2B A2F |")
    assert req["motif"] == "A | d2B A2F |" and ps.studio_plan(req).unit == ps.STUDIO_UNIT
    view = w.studio_generate(model, tok, req, temperature=0.8, constrain="bars", seed=3, max_new_tokens=300, chat=chat)
    assert check(view.abc, level="bars").ok, view.abc
    assert view.verdicts["bars"] is True and view.chat is chat and 0 < view.tokens <= 300
    assert view.prompt == ps.studio_prompt({k: v for k, v in req.items() if k != "motif"}, chat, tok)
    assert view.hits == {"key": True, "meter": True, "form": True, "chords": True, "motif": True}, view.abc
    assert view.sources["sections and repeats"] == "plan" and view.sources["notes"] == "model"
    assert "from the plan (bound by the grammar): key, meter, unit length, sections" in view.info_html
    if not chat:
        assert view.abc.startswith("X:1\nM:6/8\nL:1/8\nK:D\nA | d2B A2F |") and view.metrics["meter_ok"] is True
    again = w.studio_generate(model, tok, req, temperature=0.8, constrain="bars", seed=3, max_new_tokens=300, chat=chat)
    assert again.abc == view.abc  # seeded
    free = w.studio_generate(model, tok, req, temperature=0.8, constrain="none", seed=3, max_new_tokens=20, chat=chat)
    assert set(free.sources.values()) == {"model"}  # nothing binds without a grammar


def test_unconstrained_generation_reports_what_came_out(tiny) -> None:
    model, tok = tiny
    view = w.studio_generate(model, tok, ps.studio_request("G major", "3/4"), temperature=1.0, constrain="none",
                             seed=0, max_new_tokens=24)
    assert view.abc.startswith("X:1\nM:3/4\nL:1/8\nK:G\n") and view.tokens == 24 and view.stop == "limit"
    assert set(view.verdicts) == {"syntax", "bars", "parser"}
    assert view.verdicts["bars"] is check(view.abc, level="bars").ok


def test_composer_studio_generates_and_rechecks_edits(tiny) -> None:
    studio = w.composer_studio({"base": "tiny", "my SFT": tiny}, smoke=True, chat={"my SFT"})
    parts = _by_class(studio, "cm-studio-")
    assert parts["model"].options == ("base", "my SFT") and parts["constrain"].value == "bars"
    parts["generate"].click()
    abc = parts["abc"].value
    assert check(abc, level="bars").ok and abc.startswith("X:1\nM:6/8\nL:1/8\nK:D\n")
    assert "cm-ok" in parts["verdict"].value and "<svg" in parts["score"].value
    assert parts["audio"].value.startswith('<audio class="cm-audio"') and "raw header" in parts["info"].value
    assert "key as requested</td><td>✅ yes" in parts["metrics"].value
    parts["abc"].value = D_JIG.replace("gdB|", "gdB c|")
    assert "bar-too-long" in parts["verdict"].value and parts["audio"].value == ""
    assert "meter as requested</td><td>✅ yes" in parts["metrics"].value  # still checked against the request
    parts["model"].value, parts["meter"].value = "my SFT", "3/4"
    parts["generate"].click()
    assert "chat format" in parts["info"].value and check(parts["abc"].value, level="bars").ok
    parts["chords"].value = "D Q7"
    parts["generate"].click()
    assert "cm-studio-error" in parts["status"].value and "Q7" in parts["status"].value
    assert not parts["generate"].disabled
    parts["chords"].value, parts["motif"].value = "", "d2B A2F | A"
    parts["generate"].click()
    assert parts["abc"].value.split("K:D\n", 1)[-1].startswith("d2B A2F | A |"), parts["abc"].value
    assert "motif ✅" in parts["info"].value and "opening" in parts["info"].value


def _by_class(root, prefix: str) -> dict:
    found, todo = {}, [root]
    while todo:
        widget = todo.pop()
        todo += list(getattr(widget, "children", ()))
        for cls in widget._dom_classes:
            if cls.startswith(prefix):
                found[cls[len(prefix):]] = widget
    return found


# ---------------------------------------------------------------- listening test


def test_listening_order_is_seeded_and_counterbalanced() -> None:
    order = lt.listening_order(7, seed=1)
    assert len(order) == 7 and set(order) <= {(0, 1), (1, 0)} and order.count((1, 0)) == 3
    assert order == lt.listening_order(7, seed=1)
    assert any(lt.listening_order(7, seed=s) != order for s in range(2, 6))
    assert lt.listening_order(0) == [] and lt.listening_order(1) == [(0, 1)]
    with pytest.raises(UsageError):
        lt.listening_order(-1)


def _write(path: Path, rows: list[str]) -> None:
    path.write_text("session,trial,first,second,chosen,time\n" + "".join(r + "\n" for r in rows))


def test_preference_summary_of_a_hand_made_csv(tmp_path: Path) -> None:
    path = tmp_path / "judged.csv"
    _write(path, ["s1,1,real,generated,generated,2026-12-01T10:00:00+00:00",
                  "s1,2,generated,real,generated,2026-12-01T10:00:10+00:00",
                  "s1,3,real,generated,real,2026-12-01T10:00:20+00:00",
                  "s2,1,generated,real,real,2026-12-01T11:00:00+00:00",
                  "s2,2,real,generated,generated,2026-12-01T11:00:09+00:00",
                  "s2,3,real,CPT,CPT,2026-12-01T11:00:30+00:00",  # another comparison: not counted
                  "s2,4,real,generated,",  # cut off: skipped
                  ])
    s = lt.preference_summary(path)
    # generated chosen in rows 1, 2, 5: k = 3 of n = 5; Wilson 95%: centre (0.6 + z²/10)/(1 + z²/5) = 0.5566,
    # half-width z*sqrt(0.6*0.4/5 + z²/100)/(1 + z²/5) = 0.3259 (z = 1.96)
    assert (s["k"], s["n"], s["rate"], s["ci95"]) == (3, 5, 0.6, [0.2307, 0.8824])
    assert s["text"] == "3/5 = 60% [23%, 88%]" and s["skipped"] == 1 and s["label"] == "generated"
    assert (s["tune1"]["k"], s["tune1"]["n"]) == (2, 5)  # rows 2 and 3 chose the tune played first
    real = lt.preference_summary(path, "real")
    assert (real["k"], real["n"]) == (2, 6)  # rows 3 and 4 of the six that played a real tune
    missing = lt.preference_summary(tmp_path / "none.csv")
    assert (missing["n"], missing["rate"], missing["text"]) == (0, None, "n = 0")


def test_record_judgement_appends_and_never_writes_into_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "judged.csv"
    when = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    row = lt.record_judgement(path, 1, "real", "generated", "generated", session="s", when=when)
    assert row == {"session": "s", "trial": "1", "first": "real", "second": "generated", "chosen": "generated",
                   "time": "2026-12-01T12:00:00+00:00"}
    lt.record_judgement(path, 2, "generated", "real, with a comma", "real, with a comma", when=when)
    rows = list(csv.DictReader(path.open(newline="")))
    assert [r["chosen"] for r in rows] == ["generated", "real, with a comma"] and rows[1]["session"] == ""
    with path.open("a") as fh:
        fh.write("s,3,real,gen")  # a row cut off by a crash
    lt.record_judgement(path, 4, "real", "generated", "real", when=when)
    assert path.read_text().splitlines()[-1] == "s,4,real,generated,real,2026-12-01T12:00:00+00:00".replace("s,", ",", 1)
    assert lt.preference_summary(path)["skipped"] == 1
    foreign = tmp_path / "notes.csv"
    foreign.write_text("name,score\nx,1\n")
    with pytest.raises(UsageError, match="not a listening-test CSV"):
        lt.record_judgement(foreign, 1, "real", "generated", "real")
    assert foreign.read_text() == "name,score\nx,1\n"
    with pytest.raises(UsageError, match="neither"):
        lt.record_judgement(path, 5, "real", "generated", "CPT")


def test_default_csv_lives_under_runs_listening() -> None:
    from cm_lib.paths import runs_dir

    assert lt.default_listening_csv(("real", "SFT model")) == runs_dir() / "listening" / "real_vs_SFT-model.csv"


def test_listening_widget_records_every_trial(tmp_path: Path) -> None:
    real = "X:1\nM:3/4\nL:1/4\nK:D\nD F A|d3|]\n"
    gen = "X:1\nM:3/4\nL:1/4\nK:D\nA F D|A,3|]\n"
    pairs = [(real, gen)] * 3
    path = tmp_path / "test.csv"
    box = w.listening_test(pairs, out_csv=path, seed=5)
    parts = _by_class(box, "cm-listen-")
    order = lt.listening_order(3, 5)
    assert "Trial 1 of 3" in parts["trial"].value and "n = 0" in parts["summary"].value
    assert parts["tune1"].value.startswith("Tune 1 <audio") and parts["reveal"].value == ""
    parts["prefer1"].click()
    assert "Trial 2 of 3" in parts["trial"].value and "<svg" in parts["reveal"].value
    parts["prefer2"].click()
    parts["prefer2"].click()
    assert "All 3 trials done" in parts["trial"].value and parts["prefer1"].disabled
    parts["prefer1"].click()  # after the last trial: nothing more is recorded
    rows = list(csv.DictReader(path.open(newline="")))
    labels = ("real", "generated")
    assert [(r["first"], r["second"]) for r in rows] == [(labels[a], labels[b]) for a, b in order]
    assert [r["chosen"] for r in rows] == [rows[0]["first"], rows[1]["second"], rows[2]["second"]]
    assert len({r["session"] for r in rows}) == 1 and [r["trial"] for r in rows] == ["1", "2", "3"]
    k = sum(r["chosen"] == "generated" for r in rows)
    assert f"{k}/3 = " in parts["summary"].value and "chose Tune 1: 1/3" in parts["summary"].value
    with pytest.raises(CourseError):
        w.listening_test([])


def test_an_edit_handled_in_another_thread_still_renders() -> None:
    """JupyterLab 4 + ipykernel 7 may run a widget's callback in a subshell thread: the score must still engrave."""
    import threading

    from cm_lib import render

    render.svg(D_JIG)  # verovio imported and used in this thread first, as in a kernel
    views = []
    worker = threading.Thread(target=lambda: views.append(w.studio_check(D_JIG, {"key": "D major"})))
    worker.start()
    worker.join()
    assert views[0].view.notes == 20 and "<svg" in views[0].view.score_html
