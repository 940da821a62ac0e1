"""cm_lib.course's plan of runs: one place for the run folders that notebooks 03/04 write and 05/06 read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cm_lib.errors import AssetNotFoundError


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path))
    return tmp_path


COMPOSER_STEPS, COMPOSER_SFT_STEPS = 400, 120  # the composer's full-mode budget (cm_lib.course.plan._PLANS)


def test_plan_is_the_one_notebooks_03_and_04_train(runs: Path) -> None:
    from cm_lib.corpus.tasks import GENERATION_TASKS
    from cm_lib.course.stages import _runs

    corpus = runs / "corpus" / "smoke"
    smoke = _runs(True, corpus)
    assert smoke["composer"] == dict(model="composer", data=corpus, out=runs / "cpt" / "composer", hardware="cpu-smoke",
                                    max_steps=12, lora=False, categories=("scores",), eval_rows=8, view="composer",
                                    save_steps=3)
    assert smoke["cpt"] == dict(model=str(runs / "cpt" / "composer" / "model"), data=corpus,
                                out=runs / "cpt" / "composer-lora", hardware="cpu-smoke", max_steps=3, lora=True)
    assert smoke["sft"] == dict(model=str(runs / "cpt" / "composer-lora" / "merged"), data=corpus,
                                out=runs / "sft" / "composer-lora", hardware="cpu-smoke", max_steps=3, lora=True)
    assert smoke["composer_sft"] == dict(model=str(runs / "cpt" / "composer" / "model"), data=corpus,
                                        out=runs / "sft" / "composer", hardware="cpu-smoke", max_steps=3, lora=False,
                                        tasks=tuple(GENERATION_TASKS), view="composer")
    assert smoke["base"] == {"model": str(runs / "cpt" / "composer" / "model")} and smoke["corpus"] == {"path": corpus}
    full = _runs(False, corpus)
    assert full["composer"] == dict(model="composer", data=corpus, out=runs / "cpt" / "composer", hardware="cpu-scratch",
                                   max_steps=COMPOSER_STEPS, lora=False, categories=("scores",), eval_rows=64,
                                   view="composer", save_steps=COMPOSER_STEPS // 4)
    assert full["cpt"] == dict(model="smollm2-135m", data=corpus, out=runs / "cpt" / "smollm2-135m", hardware="cpu",
                               max_steps=16, lora=True)
    assert full["sft"]["out"] == runs / "sft" / "smollm2-135m" and full["sft"]["max_steps"] == 8
    assert (full["composer_sft"]["max_steps"], full["composer_sft"]["hardware"]) == (COMPOSER_SFT_STEPS, "cpu-scratch")
    assert full["composer_sft"]["tasks"] == tuple(GENERATION_TASKS) and full["composer_sft"]["lora"] is False
    assert full["base"] == {"model": "smollm2-135m"}
    # SmolLM2's plan SFT (notebook 04, section 6): from the CPT model, the four generation tasks, each answered with its plan
    assert full["reader"] == dict(model=str(runs / "cpt" / "smollm2-135m" / "merged"), data=corpus,
                                  out=runs / "sft" / "smollm2-135m-reader", hardware="cpu-reader", max_steps=24,
                                  lora=True, tasks=tuple(GENERATION_TASKS), view="plan")
    assert smoke["reader"]["model"] == smoke["sft"]["model"] and smoke["reader"]["max_steps"] == 2


def test_course_model_dir_names_the_notebook_and_bench_follows_it(runs: Path) -> None:
    from cm_lib.course import course_model_dir, course_models

    with pytest.raises(AssetNotFoundError, match="run notebook 03_lora_continual_pretraining.*--only 03 --smoke"):
        course_model_dir("cpt", smoke=True)
    with pytest.raises(AssetNotFoundError, match="04_supervised_finetuning"):
        course_model_dir("sft", smoke=False)
    with pytest.raises(AssetNotFoundError, match="no READER model of the course.*04_supervised_finetuning"):
        course_model_dir("reader", smoke=False)
    assert course_models(True) == {"base (composer)": "composer"}
    for sub in ("model", "merged"):
        (runs / "cpt" / "composer-lora" / sub).mkdir(parents=True)
        (runs / "cpt" / "composer-lora" / sub / "config.json").write_text("{}")
    assert course_model_dir("cpt", smoke=True) == runs / "cpt" / "composer-lora" / "merged"  # merged wins over model
    (runs / "sft" / "smollm2-135m" / "model").mkdir(parents=True)
    (runs / "sft" / "smollm2-135m" / "model" / "config.json").write_text("{}")
    assert course_models(False) == {"base (smollm2-135m)": "smollm2-135m",
                                    "SFT (smollm2-135m)": str(runs / "sft" / "smollm2-135m" / "model")}
    assert course_models(True) == {"base (composer)": "composer",
                                   "CPT (composer-lora)": str(runs / "cpt" / "composer-lora" / "merged")}
    assert not (runs / "sft" / "composer-lora").exists()  # looking does not create run folders


# ---------------------------------------------------------------- the plan on the detected hardware (issue 13)

def _specs() -> dict:
    import torch

    from cm_lib.device import DeviceSpec

    return {
        "cpu": DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="CPU (x86_64, 2 cores)"),
        "t4": DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="Tesla T4", memory_gb=14.6),
        "v100": DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="Tesla V100-SXM2-32GB", memory_gb=31.7),
        "a100": DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="NVIDIA A100-SXM4-40GB", memory_gb=39.4),
        "a100-80": DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="NVIDIA A100 80GB PCIe", memory_gb=79.2),
        "h100": DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="NVIDIA H100 80GB HBM3", memory_gb=79.1),
        "4090": DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="NVIDIA GeForce RTX 4090", memory_gb=23.6),
        "mps": DeviceSpec("mps", torch.float32, bf16=False, fp16=False, name="Apple MPS"),
    }


def test_hardware_picks_the_presets_and_the_cpu_plan_is_unchanged(runs: Path) -> None:
    from cm_lib.course.plan import CURVE_POINTS, plan_hardware
    from cm_lib.course.stages import _runs
    from cm_lib.train.presets import hardware_preset

    specs = _specs()
    picked = {k: plan_hardware(s)[0] for k, s in specs.items()}
    assert picked == {"cpu": "cpu", "t4": "colab-t4", "v100": "colab-t4", "a100": "a100", "a100-80": "h100",
                      "h100": "h100", "4090": "colab-t4", "mps": "cpu"}
    assert "no bf16" in plan_hardware(specs["t4"])[1] and "fp32 master weights" in plan_hardware(specs["t4"])[1]
    corpus = runs / "corpus" / "small"
    for mode in (True, False):  # on a CPU (and in smoke mode everywhere) the plan is the one written in _PLANS
        assert _runs(mode, corpus, specs["cpu"]) == _runs(mode, corpus)
        assert _runs(True, corpus, specs["t4"]) == _runs(True, corpus)
    t4 = _runs(False, corpus, specs["t4"])
    cpu = _runs(False, corpus)
    assert (t4["composer"]["hardware"], t4["cpt"]["hardware"], t4["sft"]["hardware"]) == ("gpu-scratch", "colab-t4", "colab-t4")
    for name in ("composer", "cpt", "sft", "composer_sft", "reader"):  # same folders, models and data filters; more steps
        assert t4[name]["max_steps"] > cpu[name]["max_steps"], name
        assert {k: v for k, v in t4[name].items() if k not in ("hardware", "max_steps", "save_steps")} == \
               {k: v for k, v in cpu[name].items() if k not in ("hardware", "max_steps", "save_steps")}, name
    h = _runs(False, corpus, specs["h100"])
    assert (h["cpt"]["hardware"], h["composer_sft"]["hardware"]) == ("h100", "gpu-scratch")
    for plan in (cpu, t4, h):  # notebook 03's validity curve reads every saved checkpoint of the composer's run
        composer = plan["composer"]
        assert composer["max_steps"] // composer["save_steps"] == CURVE_POINTS
        assert hardware_preset(composer["hardware"]).keep_checkpoints is None, composer["hardware"]
    assert _runs(False, corpus, specs["a100"])["sft"]["hardware"] == "a100"


def test_plan_summary_names_preset_steps_and_precision_per_run(runs: Path) -> None:
    from cm_lib.course import course_plan_summary

    specs = _specs()
    t4 = course_plan_summary(False, specs["t4"]).splitlines()
    assert len(t4) == 6 and t4[0].startswith("full plan: Tesla T4 (14.6 GB) has no bf16")
    assert t4[1].split()[:7] == ["composer", "model", "composer", "preset", "gpu-scratch", "600", "steps"]
    assert "fp16 autocast + loss scaling, fp32 master weights" in t4[1]
    assert t4[2].split()[:5] == ["cpt", "model", "smollm2-135m", "preset", "colab-t4"]
    assert "LoRA, fp16 autocast" in t4[2] and "fp32 LoRA adapters" in t4[2]
    cpu = course_plan_summary(False, specs["cpu"]).splitlines()
    assert "no CUDA GPU" in cpu[0] and all(line.endswith("fp32") for line in cpu[1:])
    assert [line.split()[5] for line in cpu[1:]] == [str(COMPOSER_STEPS), "16", str(COMPOSER_SFT_STEPS), "8", "24"]
    assert t4[5].split()[:5] == ["reader", "model", "smollm2-135m", "preset", "colab-t4"]
    assert "bf16 autocast, fp32 master weights" in course_plan_summary(False, specs["h100"]).splitlines()[1]
    assert course_plan_summary(True, specs["t4"]).splitlines()[0].startswith("smoke plan: smoke mode")
    assert not (runs / "corpus").exists() and not (runs / "cpt").exists()  # a summary builds nothing


def test_ensure_stages_lists_what_is_missing_with_an_estimate(runs: Path, capsys: pytest.CaptureFixture) -> None:
    from cm_lib.course import ensure_stages
    from cm_lib.errors import UsageError

    specs = _specs()
    assert ensure_stages(["cpt"], smoke=True, device=specs["cpu"], build=False) == ["corpus", "composer", "cpt"]
    out = capsys.readouterr().out
    assert "composer: composer, 12 steps on preset cpu-smoke x 0.28 s/step" in out and "not built" in out
    assert ensure_stages(["sft"], smoke=False, device=specs["cpu"], build=False) == ["corpus", "cpt", "sft"]
    out = capsys.readouterr().out
    assert "cpt: smollm2-135m, 16 steps on preset cpu x 13.6 s/step = ~3.6 min" in out
    assert ensure_stages(["reader"], smoke=False, device=specs["cpu"], build=False) == ["corpus", "cpt", "reader"]
    assert "reader: smollm2-135m, 24 steps on preset cpu-reader x 3.2 s/step = ~77 s" in capsys.readouterr().out
    assert ensure_stages(["cpt"], smoke=False, device=specs["t4"], build=False) == ["corpus", "cpt"]
    out = capsys.readouterr().out  # a GPU: no step of the course timed there yet, so an estimate that says so
    assert "cpt: smollm2-135m, 200 steps on preset colab-t4 x ~" in out and "(estimate: 16,384 tokens/step" in out
    with pytest.raises(UsageError, match="unknown course stage"):
        ensure_stages(["pretrain"], smoke=True, build=False)
    assert not (runs / "cpt").exists()


def test_ensure_stages_builds_only_what_is_missing(runs: Path, capsys: pytest.CaptureFixture) -> None:
    from cm_lib.course import ensure_stages
    from cm_lib.course.stages import _runs
    from cm_lib.train import load_result

    cpu = _specs()["cpu"]
    assert ensure_stages(["composer"], smoke=True, device=cpu) == ["corpus", "composer"]
    first = load_result(runs / "cpt" / "composer")
    assert first is not None and first.steps == 12
    assert ensure_stages(["composer"], smoke=True, device=cpu) == []
    assert "nothing to build" in capsys.readouterr().out
    assert ensure_stages(["composer_sft"], smoke=True, device=cpu) == ["composer_sft"]  # the composer is reused
    assert load_result(runs / "cpt" / "composer").seconds == first.seconds
    assert load_result(_runs(True, None)["composer_sft"]["out"]).steps == 3
    from cm_lib.train import finished_run

    kw = _runs(True, runs / "corpus" / "smoke")["composer"]
    assert finished_run("cpt", **kw) is not None and finished_run("cpt", **{**kw, "max_steps": 13}) is None  # stale
    (runs / "cpt" / "composer" / "train_result.json").unlink()  # the composer is gone: what starts from it is rebuilt too
    assert ensure_stages(["composer_sft"], smoke=True, device=cpu, build=False) == ["composer", "composer_sft"]


def test_run_estimate_is_steps_times_the_measured_step_time(runs: Path) -> None:
    from cm_lib.course import run_estimate
    from cm_lib.errors import UsageError

    specs = _specs()
    assert run_estimate("sft", smoke=False, device=specs["cpu"]).startswith(
        "sft: smollm2-135m, 8 steps on preset cpu x 17.8 s/step = ~2.4 min")
    from cm_lib.train.presets import STEP_SECONDS

    per_step = STEP_SECONDS[("cpu-scratch", "composer", "sft")][0]
    assert run_estimate("composer_sft", smoke=False, device=specs["cpu"]).startswith(
        f"composer_sft: composer, {COMPOSER_SFT_STEPS} steps on preset cpu-scratch x {per_step:g} s/step = ")
    t4 = run_estimate("sft", smoke=False, device=specs["t4"])
    assert t4.startswith("sft: smollm2-135m, 300 steps on preset colab-t4 x ~") and "(estimate: " in t4
    with pytest.raises(UsageError, match="unknown course run"):
        run_estimate("corpus", smoke=True, device=specs["cpu"])
