"""The plan follows the hardware and the hub (cm_lib.course.plan, cm_lib.course.cost, `course plan`), without a GPU.

The MusicPile corpus presets' sample sizes are read from cm_lib.corpus.spec (`CorpusPreset.hub`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cm_lib.cli import main

REPO = Path(__file__).resolve().parents[1]


def _hub_counts(preset: str) -> tuple[int, int]:
    """(MusicPile records, MusicPile-sft records) of a musicpile-* corpus preset."""
    from cm_lib.corpus import corpus_preset

    hub = dict(corpus_preset(preset).hub)
    return hub["m-a-p/MusicPile"], hub["m-a-p/MusicPile-sft"]


@pytest.fixture()
def musicpile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """runs/ in tmp_path, no CM_PLAN/CM_BASE_MODEL from the caller's environment."""
    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv("CM_PLAN", raising=False)
    monkeypatch.delenv("CM_BASE_MODEL", raising=False)


def _plan(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["course", "plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _runs(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["runs"]}


def test_t4_online_trains_tinyllama_in_fp16_on_musicpile(musicpile: None, capsys: pytest.CaptureFixture) -> None:
    plan = _plan(capsys, "--device", "t4", "--online")
    assert (plan["device"], plan["online"], plan["base"]) == ("t4", True, "tinyllama-1.1b")
    assert "no bf16" in plan["why"] and "tinyllama-1.1b with LoRA" in plan["why"] and "musicpile-t4" in plan["why"]
    runs = _runs(plan)
    for name in ("cpt", "sft", "reader"):
        r = runs[name]
        assert (r["model"], r["hub_id"], r["method"], r["precision"]) == (
            "tinyllama-1.1b", "TinyLlama/TinyLlama_v1.1", "lora", "fp16-autocast"), name
        assert r["peak_gib"] < 14.7 and r["estimated"] and r["minutes"] > 0, name
    assert runs["cpt"]["data"] == [{"source": "m-a-p/MusicPile", "records": _hub_counts("musicpile-t4")[0]}]
    assert runs["sft"]["data"][0] == {"source": "m-a-p/MusicPile-sft", "records": _hub_counts("musicpile-t4")[1]}
    assert "course generation tasks" in runs["sft"]["data"][1]["source"]
    assert runs["cpt"]["stage"] == "cpt" and runs["sft"]["stage"] == runs["reader"]["stage"] == "sft"
    # the composer track as on every plan: from scratch, full-parameter, on the offline corpus
    assert (runs["composer"]["model"], runs["composer"]["method"], runs["composer"]["steps"]) == ("composer", "full", 600)
    assert "course corpus 'small'" in runs["composer"]["data"][0]["source"]
    # a free Colab session: notebooks 03-06 under an hour by the estimate (<= 90 min hard limit)
    assert set(plan["notebooks"]) == {"03", "04", "05", "06"} and plan["total_estimated"]
    assert plan["total_minutes"] <= 60
    # checkpoints about every 5 minutes of estimated time (resume after a disconnect)
    for name in ("cpt", "sft", "reader"):
        r = runs[name]
        assert r["save_steps"] * r["minutes"] / r["steps"] <= 5.05, name


def test_offline_and_cpu_are_todays_plan(musicpile: None, capsys: pytest.CaptureFixture) -> None:
    import torch

    from cm_lib.course.plan import _PLANS
    from cm_lib.course.stages import _runs as course_runs
    from cm_lib.device import DeviceSpec

    t4 = _runs(_plan(capsys, "--device", "t4", "--offline"))
    assert {n: (r["model"], r["steps"], r["hardware"]) for n, r in t4.items()} == {
        "composer": ("composer", 600, "gpu-scratch"), "cpt": ("smollm2-135m", 200, "colab-t4"),
        "composer_sft": ("composer", 300, "gpu-scratch"), "sft": ("smollm2-135m", 300, "colab-t4"),
        "reader": ("smollm2-135m", 60, "colab-t4")}
    assert all("course corpus 'small'" in r["data"][0]["source"] for r in t4.values())
    spec = DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="Tesla T4", memory_gb=14.6)
    detected = course_runs(False, Path("corpus"), spec)  # a detected T4, offline (HF_HUB_OFFLINE=1): the same plan
    assert (detected["cpt"]["model"], detected["cpt"]["max_steps"], detected["sft"]["model"]) == (
        "smollm2-135m", 200, str(Path(detected["cpt"]["out"]) / "merged"))
    for args in (["--device", "cpu"], ["--device", "cpu", "--online"]):
        plan = _plan(capsys, *args)
        cpu = _runs(plan)
        cpu_plan = _PLANS[False]
        assert [cpu[n]["steps"] for n in ("composer", "cpt", "composer_sft", "sft", "reader")] == [
            cpu_plan.composer_steps, cpu_plan.cpt_steps, cpu_plan.composer_sft_steps, cpu_plan.sft_steps,
            cpu_plan.reader_steps]
        assert {r["precision"] for r in cpu.values()} == {"fp32"} and cpu["cpt"]["model"] == "smollm2-135m"
        assert not cpu["cpt"]["minutes_estimated"] and cpu["cpt"]["peak_gib"] is None  # measured on this CPU
        assert plan["total_minutes"] == pytest.approx(20.6, abs=0.2) and not plan["total_estimated"]


def test_llama2_7b_is_qlora_and_keeps_its_adapter(musicpile: None, capsys: pytest.CaptureFixture) -> None:
    from cm_lib.course import course_choice
    from cm_lib.course.plan import plan_runs

    t4 = _plan(capsys, "--base", "llama2-7b", "--device", "t4", "--online")
    runs = _runs(t4)
    assert {runs[n]["method"] for n in ("cpt", "sft", "reader")} == {"qlora"}
    assert runs["cpt"]["precision"] == "fp16-autocast" and runs["cpt"]["hub_id"] == "meta-llama/Llama-2-7b-hf"
    assert runs["cpt"]["peak_gib"] < 14.7 and any("gated" in n for n in t4["notes"])
    choice = course_choice(False, device_class="t4", online=True, base="llama2-7b")
    kw = plan_runs(choice.plan, Path("c"), Path("m"))
    assert choice.plan.merge is False and kw["cpt"]["merge_model"] is False
    assert kw["sft"]["model"].endswith("/cpt/llama2-7b/adapter") and kw["reader"]["model"] == kw["sft"]["model"]
    a100 = _plan(capsys, "--device", "a100-80", "--online")  # >= 24 GB: LLaMA-2-7B under QLoRA by default, bf16
    big = _runs(a100)["cpt"]
    assert (a100["base"], big["method"], big["precision"], big["hardware"]) == (
        "llama2-7b", "qlora", "bf16-autocast", "h100")
    assert _runs(_plan(capsys, "--device", "a100-40", "--online"))["sft"]["precision"] == "bf16-autocast"
    small = _runs(_plan(capsys, "--device", "a100-80", "--online", "--base", "tinyllama-1.1b"))["cpt"]
    assert (small["model"], small["method"]) == ("tinyllama-1.1b", "lora")


@pytest.mark.parametrize("args, message", [
    (["--device", "t5"], "unknown --device 't5': choose from cpu, t4, l4, a100-40, a100-80, h100"),
    (["--online", "--offline"], "--online and --offline exclude each other"),
    (["--base", "composer"], "unknown --base 'composer'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--device"], "expected one argument"),
])
def test_bad_flags_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "cm_lib", "course", "plan", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_cm_plan_and_cm_base_model_override(musicpile: None, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    from cm_lib.course import course_choice
    from cm_lib.errors import UsageError

    monkeypatch.setenv("CM_PLAN", "t4")
    choice = course_choice(False, online=True)  # a notebook on this CPU, told to plan for a T4
    assert (choice.device, choice.plan.base, choice.plan.hardware) == ("t4", "tinyllama-1.1b", "colab-t4")
    assert any(n.startswith("CM_PLAN=t4 on ") and "fp32" in n for n in choice.notes)
    monkeypatch.setenv("CM_BASE_MODEL", "llama2-7b")
    assert course_choice(False, online=True).plan.base == "llama2-7b"
    plan = _plan(capsys, "--online")  # the CLI reads them too; flags win over the environment
    assert (plan["device"], plan["base"]) == ("t4", "llama2-7b")
    assert _plan(capsys, "--online", "--device", "h100", "--base", "tinyllama-1.1b")["base"] == "tinyllama-1.1b"
    monkeypatch.setenv("CM_PLAN", "v100")
    with pytest.raises(UsageError, match=r"unknown \$CM_PLAN 'v100'"):
        course_choice(False)
    monkeypatch.setenv("CM_PLAN", "cpu")
    monkeypatch.setenv("CM_BASE_MODEL", "llama2-7b")
    cpu = course_choice(False)  # the CPU plan keeps its models, and says so
    assert cpu.plan.base == "smollm2-135m" and any("applies to GPU plans" in n for n in cpu.notes)


def test_smoke_t4_plan_runs_on_this_cpu_in_fp32(musicpile: None, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    import cm_lib.hub
    from cm_lib.course import course_choice
    from cm_lib.course.stages import _runs as course_runs
    from cm_lib.device import pick_device
    from cm_lib.train import hardware_preset, training_config_kwargs

    monkeypatch.setenv("CM_PLAN", "t4")
    monkeypatch.setattr(cm_lib.hub, "hub_available", lambda timeout=3.0: True)  # as under the hub simulator
    choice = course_choice(True)
    assert choice.online and "the Hugging Face Hub answers" in choice.why
    plan = choice.plan
    assert (plan.base, plan.hardware, plan.lora_corpus, plan.cpt_steps, plan.sft_steps) == (
        "tinyllama-1.1b", "cpu-smoke", "musicpile-smoke", 3, 3)
    runs = course_runs(True, tmp_path / "corpus" / "smoke")
    assert runs["cpt"]["model"] == "tinyllama-1.1b" and runs["cpt"]["data"] == tmp_path / "corpus" / "musicpile-smoke"
    assert runs["sft"]["model"] == str(tmp_path / "cpt" / "tinyllama-1.1b" / "merged")
    assert runs["composer"]["data"] == tmp_path / "corpus" / "smoke"  # the composer keeps the offline corpus
    assert runs["hub_corpus"] == {"path": tmp_path / "corpus" / "musicpile-smoke", "preset": "musicpile-smoke"}
    here = pick_device()
    assert not here.is_cuda
    for hw in ("cpu-smoke", "colab-t4"):  # what build_trainer passes to SFTConfig here: fp32, no CUDA-only settings
        kw = training_config_kwargs(hardware_preset(hw), lora=True, out=tmp_path, spec=here, bnb_available=True)
        assert (kw["bf16"], kw["fp16"], kw["use_cpu"], kw["optim"], kw["activation_checkpointing"]) == (
            False, False, True, "adamw_torch", False)
    # offline, the same CM_PLAN=t4 smoke plan is today's smoke plan
    monkeypatch.setattr(cm_lib.hub, "hub_available", lambda timeout=3.0: False)
    assert course_choice(True).plan == course_choice(True, device_class="cpu").plan


def test_hub_state_offline_uses_the_hf_cache_and_the_sample(musicpile: None, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    import huggingface_hub.constants

    from cm_lib.corpus.build import MARKER
    from cm_lib.course.plan import hub_state

    cache = tmp_path / "hf"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert hub_state("tinyllama-1.1b", "musicpile-t4") == (
        False, "offline (HF_HUB_OFFLINE=1; tinyllama-1.1b not cached with its MusicPile sample), "
               "so the offline corpus and SmolLM2")
    repo = cache / "models--TinyLlama--TinyLlama_v1.1"
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert hub_state("tinyllama-1.1b", "musicpile-t4")[0] is False  # the model alone: the sample is missing
    (tmp_path / "corpus" / "musicpile-t4").mkdir(parents=True)
    (tmp_path / "corpus" / "musicpile-t4" / MARKER).write_text("{}")
    online, why = hub_state("tinyllama-1.1b", "musicpile-t4")
    assert online and "TinyLlama/TinyLlama_v1.1 is in the HF cache" in why


def test_teaching_runtime_table_matches_course_plan(musicpile: None) -> None:
    from cm_lib.course.cost import runtime_table

    table = runtime_table()
    assert table in (REPO / "docs" / "TEACHING.md").read_text(encoding="utf-8")
    assert "(measured)" in table.splitlines()[2] and "(estimate)" in table.splitlines()[2]


def test_a_kept_adapter_is_continued_by_sft_and_loads_on_its_base(musicpile: None, tmp_path: Path) -> None:
    """QLoRA's path on the CPU (4-bit needs CUDA): CPT keeps its adapter, SFT continues it, evaluation loads base + adapter."""
    import torch

    from cm_lib.course import course_model_dir, ensure_stages
    from cm_lib.models import load_model
    from cm_lib.models.adapter import adapter_root, is_adapter_folder
    from cm_lib.train import train_cpt, train_sft

    ensure_stages(["composer"], smoke=True)
    corpus, base = tmp_path / "corpus" / "smoke", str(tmp_path / "cpt" / "composer" / "model")
    cpt = train_cpt(base, corpus, out=tmp_path / "cpt" / "composer-lora", hardware="cpu-smoke", max_steps=2,
                    lora=True, merge_model=False)
    assert cpt.merged_dir is None and is_adapter_folder(cpt.model_dir) and adapter_root(cpt.model_dir) == base
    sft = train_sft(str(cpt.model_dir), corpus, out=tmp_path / "sft" / "composer-lora", hardware="cpu-smoke",
                    max_steps=2, lora=True, merge_model=False)
    assert sft.settings["continues_adapter"] == str(cpt.model_dir) and adapter_root(sft.model_dir) == base
    assert sft.settings["trainable_parameters"] == cpt.settings["trainable_parameters"]  # the same adapter, further
    assert course_model_dir("sft", smoke=True) == sft.model_dir
    model, _ = load_model(str(sft.model_dir))  # an fp32 base: the adapter merged in memory
    plain, _ = load_model(base)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert not torch.allclose(model(ids).logits, plain(ids).logits)
    assert not hasattr(model, "peft_config")


@pytest.mark.slow
def test_gpu_course_benchmark_runs_on_the_cpu_as_a_dry_run(tmp_path: Path) -> None:
    """benchmarks/gpu_course.py cannot be timed here (no GPU): its --dry-run proves every configuration's code runs."""
    out = tmp_path / "gpu_course.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_course.py"), "--dry-run", "--no-course",
                           "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert result["dry_run"] and len(rows) == 8 and not any("error" in r for r in rows)
    assert {(r["model"], r["dtype"], r["use_reentrant"]) for r in rows} == {
        (m, d, u) for m in ("tinyllama-1.1b", "llama2-7b") for d in ("float16", "bfloat16") for u in (True, False)}
    assert all(r["s_per_step"] > 0 and r["loss"] > 0 for r in rows)
