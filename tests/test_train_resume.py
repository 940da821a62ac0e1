"""Training longer: a run resumed towards more steps equals a straight run; what cannot be continued is one clear line."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cm_lib.errors import UsageError

KW = dict(hardware="cpu-smoke", save_steps=4, seed=3, merge_model=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The smoke corpus in a private runs/ folder, one torch thread, and a straight 16-step tiny run to compare with."""
    import os

    from cm_lib.corpus import ensure_corpus
    from cm_lib.train import train_cpt

    root = tmp_path_factory.mktemp("resume")
    old = os.environ.get("CM_RUNS_DIR")
    os.environ["CM_RUNS_DIR"] = str(root / "runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = ensure_corpus("smoke")
    straight = train_cpt("tiny", data, out=root / "straight16", max_steps=16, **KW)
    yield {"root": root, "data": data, "straight": straight}
    torch.set_num_threads(threads)
    if old is None:
        os.environ.pop("CM_RUNS_DIR", None)
    else:
        os.environ["CM_RUNS_DIR"] = old


def _losses(out: Path) -> dict[int, float]:
    from cm_lib.train import loss_curve

    return dict(loss_curve(out))


class _Crash:
    """A callback that simulates a crash (KeyboardInterrupt) once `at` steps are done."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __getattr__(self, name: str):  # every other TrainerCallback hook: do nothing
        return lambda *a, **k: None

    def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001, ANN003, ANN201
        if state.global_step >= self.at:
            raise KeyboardInterrupt


def _cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    from cm_lib.cli import main

    capsys.readouterr()  # what earlier calls printed
    code = main(argv)
    return code, capsys.readouterr().err


def test_resume_8_to_16_equals_a_straight_16_step_run(env: dict, capsys: pytest.CaptureFixture) -> None:
    from cm_lib.train import finished_run, train_cpt

    out = env["root"] / "x"
    first = train_cpt("tiny", env["data"], out=out, max_steps=8, **KW)
    assert first.steps == 8 and (out / "checkpoint-8").is_dir()  # the trainer saves the last step of every run
    longer = train_cpt("tiny", env["data"], out=out, max_steps=16, resume=True, **KW)
    assert longer.steps == 16 and not longer.skipped and longer.settings["resumed_from_step"] == 8
    straight, resumed = _losses(env["root"] / "straight16"), _losses(out)
    assert sorted(resumed) == list(range(1, 17))
    for step in range(1, 17):
        assert math.isclose(straight[step], resumed[step], rel_tol=1e-5), (step, straight[step], resumed[step])
    assert math.isclose(longer.final_loss, env["straight"].final_loss, rel_tol=1e-5)
    assert json.loads((out / "cm_run.json").read_text())["max_steps"] == 16
    # the same length is reused; a finished run is the one finished_run (ensure_stages, notebooks) finds
    again = train_cpt("tiny", env["data"], out=out, max_steps=16, **KW)
    assert again.skipped and again.final_loss == longer.final_loss
    assert finished_run("cpt", "tiny", env["data"], out=out, hardware="cpu-smoke", max_steps=16, seed=3) is not None
    assert finished_run("cpt", "tiny", env["data"], out=out, hardware="cpu-smoke", max_steps=8, seed=3) is None
    # 16 -> 8: fewer steps than trained is one line and exit 2, and nothing changes on disk
    before = sorted(p.name for p in out.iterdir())
    base = ["train", "cpt", "--model", "tiny", "--data", str(env["data"]), "--out", str(out), "--hardware",
            "cpu-smoke", "--save-steps", "4", "--resume"]
    code, err = _cli([*base, "--max-steps", "8", "--seed", "3"], capsys)
    assert (code, err.count("\n")) == (2, 1), err
    assert "already holds 16 trained steps" in err and "--overwrite" in err and "Traceback" not in err
    # another seed or other data: another run, refused as before
    code, err = _cli([*base, "--max-steps", "24", "--seed", "4"], capsys)
    assert (code, err.count("\n")) == (2, 1) and "other settings" in err, err
    other = env["root"] / "other_corpus"
    shutil.copytree(env["data"], other)
    with pytest.raises(UsageError, match="other settings"):
        train_cpt("tiny", other, out=out, max_steps=24, resume=True, **KW)
    assert sorted(p.name for p in out.iterdir()) == before
    assert json.loads((out / "train_result.json").read_text())["steps"] == 16


def test_a_partial_newest_checkpoint_is_skipped_an_interrupted_extension_resumes_and_older_markers_count(env: dict) -> None:
    from cm_lib.train import latest_complete_checkpoint, train_cpt
    from cm_lib.train.run import _fingerprint, _run_identity

    out = env["root"] / "partial"
    train_cpt("tiny", env["data"], out=out, max_steps=8, **KW)
    # as if written before lengths were kept apart: the marker and the result hold a fingerprint with max_steps in it
    legacy = _fingerprint({**_run_identity("cpt", "tiny", env["data"], "cpu-smoke", 3, None, None, None, None, None),
                           "max_steps": 8})
    (out / "cm_run.json").write_text(json.dumps({"written_by": "cm_lib.train", "fingerprint": legacy}))
    result = json.loads((out / "train_result.json").read_text())
    result["settings"]["fingerprint"] = legacy
    del result["settings"]["planned_steps"]
    (out / "train_result.json").write_text(json.dumps(result))
    assert train_cpt("tiny", env["data"], out=out, max_steps=8, **KW).skipped  # still reused at its own length
    (out / "checkpoint-8" / "trainer_state.json").unlink()  # as if interrupted while saving checkpoint-8
    assert latest_complete_checkpoint(out) == out / "checkpoint-4"
    with pytest.raises(KeyboardInterrupt):  # training longer, interrupted at step 6
        train_cpt("tiny", env["data"], out=out, max_steps=12, resume=True, callbacks=[_Crash(6)], **KW)
    # nothing left that looks finished: no result, no 8-step model; the complete checkpoint is kept
    assert not (out / "train_result.json").exists() and not (out / "model").exists()
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]
    longer = train_cpt("tiny", env["data"], out=out, max_steps=12, resume=True, **KW)
    assert longer.steps == 12 and longer.settings["resumed_from_step"] == 4
    straight, resumed = _losses(env["root"] / "straight16"), _losses(out)
    for step in range(5, 13):  # trained again from checkpoint-4: the straight run's losses (a constant schedule)
        assert math.isclose(straight[step], resumed[step], rel_tol=1e-5), (step, straight[step], resumed[step])


def test_a_schedule_that_depends_on_the_length_is_not_continued(tmp_path: Path) -> None:
    from cm_lib.train.run import _same_schedule
    from cm_lib.train.state import check_run_folder

    # <= 50 steps: a constant learning rate (8 -> 16 continues exactly); the composer's cosine over 400 steps
    # is not the first 400 steps of a 600-step cosine, nor is a 40-step constant run those of a 60-step cosine
    assert _same_schedule("cpu-smoke", 16)(8, 8) and _same_schedule("cpu", 32)(16, 16)
    assert not _same_schedule("cpu-scratch", 600)(400, 400) and not _same_schedule("cpu", 60)(40, 40)
    out = tmp_path / "run"
    (out / "checkpoint-400").mkdir(parents=True)
    (out / "checkpoint-400" / "trainer_state.json").write_text(json.dumps({"global_step": 400, "max_steps": 400}))
    (out / "cm_run.json").write_text(json.dumps({"fingerprint": "f", "max_steps": 400}))
    (out / "train_result.json").write_text(json.dumps({"steps": 400}))
    cosine = _same_schedule("cpu-scratch", 600)
    with pytest.raises(UsageError, match=r"holds 400 steps of a 400-step run whose learning-rate schedule.*--overwrite"):
        check_run_folder(out, "f", resume=True, overwrite=False, max_steps=600, same_schedule=cosine)
    assert check_run_folder(out, "f", resume=False, overwrite=False, max_steps=600, same_schedule=cosine) is None
    assert check_run_folder(out, "f", resume=True, overwrite=False, max_steps=400, same_schedule=cosine) \
        == out / "checkpoint-400"  # the same length always continues
    with pytest.raises(UsageError, match="already holds 400 trained steps"):
        check_run_folder(out, "f", resume=True, overwrite=False, max_steps=300, same_schedule=cosine)
    assert check_run_folder(out, "f", resume=False, overwrite=False, max_steps=300) is None  # plain call: start over


def test_ensure_stages_reuses_a_run_and_extends_it_for_a_longer_plan(env: dict,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from cm_lib import course
    from cm_lib.course import plan, stages
    from cm_lib.device import pick_device
    from cm_lib.train import load_result

    cpu = pick_device("cpu")
    assert course.ensure_stages(["composer"], smoke=True, device=cpu) == ["composer"]  # the corpus is built already
    folder = Path(stages._runs(True, None, cpu)["composer"]["out"])
    steps = load_result(folder).steps
    assert course.ensure_stages(["composer"], smoke=True, device=cpu) == []  # same length: reused
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("transformers").addHandler(handler)
    monkeypatch.setitem(plan._PLANS, True, replace(plan._PLANS[True], composer_steps=steps + 4))
    try:
        assert course.ensure_stages(["composer"], smoke=True, device=cpu) == ["composer"]
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    longer = load_result(folder)
    assert longer.steps == steps + 4 and longer.settings["resumed_from_step"] == steps  # extended, not started over
    assert not warnings, warnings  # no library warnings: the intervals are the checkpoint's, tied weights are not missing
    assert course.ensure_stages(["composer"], smoke=True, device=cpu) == []
