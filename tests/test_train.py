"""cm_lib.train: presets, tiny CPT, SFT label masking, resume, the CLI under `accelerate launch` (tiny model)."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cm_lib.device import DeviceSpec

CPU = DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="cpu")
H100 = DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="H100")
T4 = DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="T4")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A private runs/ folder (models come from the shared cache, see conftest) and a small corpus in the course schema."""
    from datasets import Dataset, DatasetDict

    from cm_lib.models import iter_corpus_texts

    root = tmp_path_factory.mktemp("train")
    old = {k: os.environ.get(k) for k in ("CM_RUNS_DIR", "HF_HUB_OFFLINE")}
    os.environ.update(CM_RUNS_DIR=str(root / "runs"), HF_HUB_OFFLINE="1")
    tunes = [t for t in itertools.islice(iter_corpus_texts(), 600) if 80 < len(t) < 600][:240]
    rows = [{"id": f"t{i}", "text": t, "src": "music21", "category": "abc"} for i, t in enumerate(tunes)]
    data = root / "corpus"
    DatasetDict(train=Dataset.from_list(rows[:200]), validation=Dataset.from_list(rows[200:220]),
                test=Dataset.from_list(rows[220:])).save_to_disk(str(data / "pretrain"))
    sft = [{"instruction": f"Write a tune titled '{t.splitlines()[1][2:].strip()}'.", "input": "", "output": t,
            "src": "music21", "id": f"s{i}", "task": "generate", "meta": json.dumps({})}
           for i, t in enumerate(tunes[:60])]
    DatasetDict(train=Dataset.from_list(sft[:50]), validation=Dataset.from_list(sft[50:55]),
                test=Dataset.from_list(sft[55:])).save_to_disk(str(data / "sft"))
    yield {"root": root, "data": data}
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_presets_never_request_bf16_or_cuda_on_cpu(tmp_path: Path) -> None:
    from cm_lib.train import HARDWARE_PRESETS, training_config_kwargs

    assert {"cpu-smoke", "cpu", "colab-t4", "a100", "h100", "chatmusician"} <= set(HARDWARE_PRESETS)
    for preset in HARDWARE_PRESETS.values():
        kw = training_config_kwargs(preset, lora=True, out=tmp_path, spec=CPU)
        assert (kw["bf16"], kw["fp16"], kw["use_cpu"]) == (False, False, True), preset.name
        assert kw["activation_checkpointing"] is False and kw["packing_strategy"] == "wrapped", preset.name
        assert kw["dataloader_pin_memory"] is False
    h = training_config_kwargs(HARDWARE_PRESETS["h100"], lora=True, out=tmp_path, spec=H100)
    assert (h["bf16"], h["fp16"], h["use_cpu"], h["packing_strategy"], h["max_length"]) == (True, False, False, "bfd", 2048)
    t = training_config_kwargs(HARDWARE_PRESETS["colab-t4"], lora=True, out=tmp_path, spec=T4)
    assert (t["bf16"], t["fp16"], t["activation_checkpointing"], t["max_length"]) == (False, True, True, 1024)


def test_chatmusician_recipe_and_lora_config() -> None:
    from cm_lib.train import hardware_preset, lora_config

    p = hardware_preset("chatmusician")
    assert (p.lora_r, p.lora_alpha, p.lora_dropout, p.learning_rate) == (64, 16, 0.1, 1e-4)
    assert (p.adam_betas, p.weight_decay, p.epochs, p.seq_len) == ((0.9, 0.95), 0.1, 2.0, 2048)
    cfg = lora_config(p)
    assert set(cfg.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    from cm_lib.errors import AssetNotFoundError

    with pytest.raises(AssetNotFoundError, match="cpu-smoke"):
        hardware_preset("tpu")


def test_tiny_cpt_loss_falls_and_run_is_reused(env: dict) -> None:
    from cm_lib.train import load_result, loss_curve, train_cpt

    out = env["root"] / "cpt_tiny"
    r = train_cpt("tiny", env["data"], out=out, hardware="cpu-smoke", max_steps=40, seed=0)
    assert not r.lora and r.steps == 40
    curve = loss_curve(out)
    assert [s for s, _ in curve] == list(range(1, 41))  # <= 50 steps: the loss is logged every step
    first = sum(lo for _, lo in curve[:5]) / 5
    last = sum(lo for _, lo in curve[-5:]) / 5
    assert 6.5 < first < 8.5  # ~ln(2048) = 7.6 for a random model
    assert last < first - 1.5, (first, last)
    for f in ("trainer_state.json", "README.md", "settings.json", "model/config.json", "train_result.json"):
        assert (out / f).exists(), f
    assert "loss" in (out / "README.md").read_text()
    assert r.merged_dir == out / "model"  # full-parameter run: nothing to merge
    again = train_cpt("tiny", env["data"], out=out, hardware="cpu-smoke", max_steps=40, seed=0)
    assert again.skipped and again.final_loss == r.final_loss
    assert load_result(out).steps == 40


class _Crash:
    """A callback that simulates a crash (KeyboardInterrupt) once `at` steps are done."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __getattr__(self, name: str):  # every other TrainerCallback hook: do nothing
        return lambda *a, **k: None

    def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001, ANN003, ANN201
        if state.global_step >= self.at:
            raise KeyboardInterrupt


def test_resumed_run_ends_at_same_loss(env: dict) -> None:
    from cm_lib.train import loss_curve, train_cpt

    kw = dict(hardware="cpu-smoke", max_steps=8, save_steps=4, seed=1, merge_model=False)
    full = train_cpt("tiny", env["data"], out=env["root"] / "full", **kw)
    out = env["root"] / "crashed"
    with pytest.raises(KeyboardInterrupt):
        train_cpt("tiny", env["data"], out=out, callbacks=[_Crash(6)], **kw)
    assert (out / "checkpoint-4").exists() and not (out / "train_result.json").exists()
    resumed = train_cpt("tiny", env["data"], out=out, resume=True, **kw)
    assert resumed.steps == 8
    a, b = dict(loss_curve(env["root"] / "full")), dict(loss_curve(out))
    assert set(b) >= {5, 6, 7, 8}
    for step in (5, 6, 7, 8):
        assert math.isclose(a[step], b[step], rel_tol=1e-4), (step, a[step], b[step])
    assert math.isclose(full.final_loss, resumed.final_loss, rel_tol=1e-4)


def test_sft_labels_are_exactly_answer_plus_eos(env: dict) -> None:
    from datasets import load_from_disk

    from cm_lib.train import build_trainer, example_labels, trained_text

    trainer, settings = build_trainer("sft", "tiny", env["data"], env["root"] / "sft_probe", hardware="cpu-smoke",
                                      max_steps=2)
    tok = trainer.processing_class
    records = load_from_disk(str(env["data"] / "sft"))["train"]
    by_answer = {r["output"]: r for r in records}
    eos = tok.eos_token
    for i in range(4):
        text = trained_text(trainer, i)
        assert text.startswith(" ") and text.endswith(eos) and text.count(eos) == 1, text
        rec = by_answer[text[1:-len(eos)]]  # exactly one record's answer, nothing more, nothing less
        marks = example_labels(trainer, i)
        n_prompt = next(j for j, (_, m) in enumerate(marks) if m)
        assert all(m for _, m in marks[n_prompt:])  # one masked prefix, then only trained tokens
        prompt = "".join(t for t, _ in marks[:n_prompt])
        assert prompt.endswith(f"Human: {rec['instruction']} {eos} Assistant:"), prompt
    assert settings["lora"] is False and settings["rows"] + settings["dropped_too_long"] == 50 and settings["rows"] >= 40


def test_cli_runs_under_accelerate_launch_with_two_processes(env: dict) -> None:
    out = env["root"] / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu", "-m", "cm_lib",
           "train", "cpt", "--model", "tiny", "--data", str(env["data"]), "--out", str(out),
           "--hardware", "cpu-smoke", "--max-steps", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and state["max_steps"] == 3
    assert "cpt: 3 steps" in proc.stdout
    assert (out / "model" / "config.json").exists()


def test_resume_skips_a_partial_checkpoint_and_a_rerun_without_resume_is_refused(env: dict) -> None:
    from cm_lib.errors import UsageError
    from cm_lib.train import latest_complete_checkpoint, loss_curve, train_cpt

    kw = dict(hardware="cpu-smoke", max_steps=6, save_steps=2, seed=2, merge_model=False)
    train_cpt("tiny", env["data"], out=env["root"] / "ref6", **kw)
    out = env["root"] / "partial"
    with pytest.raises(KeyboardInterrupt):
        train_cpt("tiny", env["data"], out=out, callbacks=[_Crash(5)], **kw)
    (out / "checkpoint-4" / "trainer_state.json").unlink()  # as if interrupted while saving checkpoint-4
    assert latest_complete_checkpoint(out) == out / "checkpoint-2"
    with pytest.raises(UsageError, match=r"unfinished run \(newest complete checkpoint: checkpoint-2\).*--resume.*--overwrite"):
        train_cpt("tiny", env["data"], out=out, **kw)
    assert (out / "checkpoint-2" / "trainer_state.json").is_file() and (out / "checkpoint-4").is_dir()  # nothing lost
    resumed = train_cpt("tiny", env["data"], out=out, resume=True, **kw)
    assert resumed.steps == 6
    a, b = dict(loss_curve(env["root"] / "ref6")), dict(loss_curve(out))
    for step in (3, 4, 5, 6):  # trained again from checkpoint-2: the same losses as the uninterrupted run
        assert math.isclose(a[step], b[step], rel_tol=1e-4), (step, a[step], b[step])
    with pytest.raises(UsageError, match="other settings"):  # resuming someone else's checkpoints
        train_cpt("tiny", env["data"], out=out, resume=True, **{**kw, "seed": 3})


def test_out_folder_of_someone_else_is_refused_and_kept(env: dict) -> None:
    from cm_lib.errors import UsageError
    from cm_lib.train import train_cpt

    out = env["root"] / "users_folder"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (out / "model").mkdir()
    (out / "model" / "mine.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a cm_lib training run.*--overwrite"):
        train_cpt("tiny", env["data"], out=out, hardware="cpu-smoke", max_steps=2)
    assert sorted(p.name for p in out.rglob("*")) == ["mine.txt", "model", "notes.txt"]
    r = train_cpt("tiny", env["data"], out=out, hardware="cpu-smoke", max_steps=2, merge_model=False, overwrite=True)
    assert r.steps == 2 and (out / "notes.txt").read_text() == "my notes"  # --overwrite replaces only our files
    assert (out / "cm_run.json").is_file() and (out / "train_result.json").is_file()


def _cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    from cm_lib.cli import main

    code = main(argv)
    return code, capsys.readouterr().err


def test_cli_bad_arguments_are_one_line_exit_2_and_create_nothing(env: dict, capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["train", "cpt", "--data", str(env["data"]), "--hardware", "cpu-smoke"]
    a_file = env["root"] / "a_file"
    a_file.write_text("not a folder")
    code, err = _cli([*base, "--model", "tiny", "--out", str(a_file), "--max-steps", "1"], capsys)
    assert (code, err.count("\n")) == (2, 1) and "is a file" in err and a_file.read_text() == "not a folder"
    out = env["root"] / "never_made"
    code, err = _cli([*base, "--model", "tiny", "--out", str(out), "--max-steps", "-5"], capsys)
    assert code == 2 and "max_steps must be a positive" in err and not out.exists()
    code, err = _cli([*base, "--model", "no-such-model", "--out", str(out)], capsys)
    assert code == 2 and "unknown model 'no-such-model'" in err and not out.exists()
    monkeypatch.setenv("CM_DEVICE", "gpu")
    code, err = _cli([*base, "--model", "tiny", "--out", str(out), "--max-steps", "1"], capsys)
    assert code == 2 and "CM_DEVICE" in err and "'gpu'" in err and "Traceback" not in err and not out.exists()


def test_category_and_task_filters_and_validation_loss(env: dict, tmp_path: Path) -> None:
    from cm_lib.corpus import ensure_corpus
    from cm_lib.train import build_trainer, loss_curve, train_cpt

    corpus = ensure_corpus("smoke")
    trainer, settings = build_trainer("sft", "tiny", corpus, tmp_path / "sft", hardware="cpu-smoke", max_steps=1,
                                      lora=False, tasks=("key_meter_conditioned",))
    assert settings["tasks"] == ["key_meter_conditioned"] and 0 < settings["rows"] < 200
    del trainer
    run = train_cpt("tiny", corpus, out=tmp_path / "cpt", hardware="cpu-smoke", max_steps=4, lora=False,
                    categories=("scores",), eval_rows=4, merge_model=False)
    assert run.settings["categories"] == ["scores"] and run.settings["rows"] == 270
    val = loss_curve(run.out, "eval_loss")
    assert len(val) == 4 and all(0 < v < 10 for _, v in val)
