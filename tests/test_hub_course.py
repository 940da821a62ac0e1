"""The GPU track's data path on the simulated hub, on CPU: musicpile-smoke corpus -> LoRA CPT and SFT -> MTB probe."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from cm_lib.corpus import corpus_preset, ensure_corpus, is_complete, load_corpus

MODEL = "tinyllama-1.1b"  # the simulator's 2-layer LLaMA under TinyLlama/TinyLlama_v1.1


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_musicpile_smoke_corpus_trains_and_rebuilds_offline(hub_server, runs: Path, one_thread,
                                                            capsys: pytest.CaptureFixture) -> None:
    from cm_lib.cli import main
    from cm_lib.train import train_cpt, train_sft

    preset = corpus_preset("musicpile-smoke")
    assert dict(preset.hub) == {"m-a-p/MusicPile": 64, "m-a-p/MusicPile-sft": 64}
    out = ensure_corpus("musicpile-smoke")
    assert out == runs / "corpus" / "musicpile-smoke" and is_complete(out)
    assert {p.name for p in out.iterdir()} >= {"pretrain", "sft", "README.md", "stats.json"}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["hub"]["m-a-p/MusicPile"]["kept"] == 64 and stats["hub"]["m-a-p/MusicPile"]["refused"]["irishman"] > 0
    pretrain, sft = load_corpus(out)
    pre_rows = [r for s in pretrain for r in pretrain[s]]
    sft_rows = [r for s in sft for r in sft[s]]
    hub_pre = [r for r in pre_rows if r["src"].startswith("m-a-p/MusicPile:")]
    hub_sft = [r for r in sft_rows if r["task"] == "musicpile-sft"]
    assert len(hub_pre) == 64 and len(hub_sft) == 64
    assert not any("irishman" in r["src"] for r in pre_rows + sft_rows)
    assert {r["category"] for r in hub_pre} >= {"general", "music_verbal"}
    tasks = Counter(r["task"] for r in sft_rows)
    assert tasks["key_meter_conditioned"] > 0 and tasks["form_conditioned"] > 0  # the course's checkable tasks
    assert not any(r["src"] in ("stdlib-docs", "package-docs", "stdlib-code", "generated-math") for r in pre_rows)
    card = (out / "README.md").read_text()
    assert "## Hub samples" in card and stats["hub"]["m-a-p/MusicPile"]["revision"] in card

    # a 2-step LoRA CPT and SFT on the fixture TinyLlama, through the normal cm_lib.train path
    cpt = train_cpt(MODEL, out, hardware="cpu-smoke", max_steps=2, lora=True, merge_model=False)
    sft_run = train_sft(MODEL, out, hardware="cpu-smoke", max_steps=2, lora=True, merge_model=False)
    for r in (cpt, sft_run):
        assert r.steps == 2 and r.lora and math.isfinite(r.final_loss) and (r.model_dir / "adapter_config.json").is_file()

    # offline: the same preset rebuilds elsewhere from the saved samples, without asking the hub
    n_requests = len(hub_server.server.state.log)
    with hub_server.offline():
        other = runs / "elsewhere"
        assert main(["corpus", "build", "--preset", "musicpile-smoke", "--out", str(other), "--quiet"]) == 0
        printed = capsys.readouterr().out
        assert "m-a-p/MusicPile@" in printed and "64 of 64 records kept" in printed and "irishman" in printed
        assert json.loads((other / "stats.json").read_text())["hub"] == stats["hub"]
        assert len(load_corpus(other)[1]["train"]) == len(sft["train"])
    assert len(hub_server.server.state.log) == n_requests


def test_mtb_probe_on_the_hub_bench(hub_server, runs: Path, one_thread) -> None:
    from cm_lib.bench.data import load_questions
    from cm_lib.bench.run import run_bench

    res = run_bench(MODEL, data="hub", split="test", mode="ppl", shots=5)
    assert res["n"]["overall"] == 21 and len(res["predictions"]) == 21
    assert {p["pred"] for p in res["predictions"]} <= set("ABCD")
    assert all(isinstance(p["id"], int) for p in res["predictions"])  # the hub's integer ids
    saved = json.loads(next((runs / "hub").rglob("source.json")).read_text())
    assert saved["revision"] == hub_server.server.commit_sha("datasets", "m-a-p/MusicTheoryBench")
    assert saved["questions"] == {"dev": 5, "test": 21}
    n_requests = len(hub_server.server.state.log)
    with hub_server.offline():
        assert [q.id for q in load_questions("hub", "dev")] == [0, 1, 2, 3, 4]
    assert len(hub_server.server.state.log) == n_requests


def _lora_delta(adapter: Path, module: str):
    """scale * B @ A of one LoRA module in a saved adapter (fp32), and the module's base weight name."""
    from safetensors import safe_open

    config = json.loads((adapter / "adapter_config.json").read_text())
    with safe_open(str(adapter / "adapter_model.safetensors"), "pt") as f:
        a = f.get_tensor(f"base_model.model.{module}.lora_A.weight")
        b = f.get_tensor(f"base_model.model.{module}.lora_B.weight")
    return (b @ a) * (config["lora_alpha"] / config["r"]), f"{module}.weight"


def test_t4_plan_on_the_hub_trains_the_llama_track_and_probes_it(hub_server, runs: Path, one_thread,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """CM_PLAN=t4, smoke mode, hub on 127.0.0.1: plan -> MusicPile sample (licence gate) -> LoRA CPT -> SFT -> MTB probe."""
    import torch
    from safetensors import safe_open

    import cm_lib.train.run as train_run
    from cm_lib.bench.run import run_bench
    from cm_lib.cli import main
    from cm_lib.course import course_choice, course_models, ensure_stages, lora_track_label
    from cm_lib.device import DeviceSpec
    from cm_lib.models.adapter import adapter_root
    from cm_lib.models.resolve import prepare
    from cm_lib.train.state import load_result

    monkeypatch.setenv("CM_PLAN", "t4")
    monkeypatch.delenv("CM_BASE_MODEL", raising=False)
    # the plan a student's T4 gets: the hub is detected (no --online), so the LLaMA-2-family track on MusicPile
    assert main(["course", "plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["device"], plan["online"], plan["base"], plan["lora_corpus"]) == (
        "t4", True, MODEL, "musicpile-t4")
    assert "the Hugging Face Hub answers" in plan["why"] and "no bf16" in plan["why"]
    full = {r["name"]: r for r in plan["runs"]}
    for name in ("cpt", "sft", "reader"):
        assert (full[name]["model"], full[name]["hub_id"], full[name]["method"], full[name]["precision"]) == (
            MODEL, "TinyLlama/TinyLlama_v1.1", "lora", "fp16-autocast"), name
    pile = dict(corpus_preset("musicpile-t4").hub)
    assert full["cpt"]["data"] == [{"source": "m-a-p/MusicPile", "records": pile["m-a-p/MusicPile"]}]
    assert full["sft"]["data"][0] == {"source": "m-a-p/MusicPile-sft", "records": pile["m-a-p/MusicPile-sft"]}
    # smoke mode: the same track for a few steps on the musicpile-smoke sample, merged after training
    choice = course_choice(True)
    assert choice.online and (choice.device, choice.plan.base, choice.plan.lora_corpus, choice.plan.merge) == (
        "t4", MODEL, "musicpile-smoke", True)
    assert lora_track_label(True) == MODEL

    assert ensure_stages(["cpt", "sft"], smoke=True) == ["hub_corpus", "cpt", "sft"]
    corpus = runs / "corpus" / "musicpile-smoke"
    assert is_complete(corpus)
    hub = json.loads((corpus / "stats.json").read_text())["hub"]
    card = (corpus / "README.md").read_text()
    for dataset in ("m-a-p/MusicPile", "m-a-p/MusicPile-sft"):
        refused = hub[dataset]["refused"].get("irishman", 0)
        assert refused > 0 and "irishman" not in hub[dataset]["by_src"] and hub[dataset]["kept"] == 64, dataset
        assert f"refused by the licence gate: `irishman` {refused}" in card, dataset
        sample = runs / hub[dataset]["sample"]
        assert not any(json.loads(line)["src"] == "irishman" for line in (sample / "records.jsonl").open())

    cpt, sft = load_result(runs / "cpt" / MODEL), load_result(runs / "sft" / MODEL)
    assert cpt is not None and sft is not None
    assert (cpt.settings["model"], cpt.settings["data"]) == (MODEL, str(corpus))
    assert (sft.settings["model"], sft.settings["data"]) == (str(runs / "cpt" / MODEL / "merged"), str(corpus))
    for r in (cpt, sft):
        assert r.lora and r.steps == 3 and math.isfinite(r.final_loss) and r.settings["rows"] > 0
        assert (r.model_dir / "adapter_config.json").is_file()
        assert len(json.loads((r.out / "trainer_state.json").read_text())["log_history"]) >= 3
    # CPT is merged (SFT starts from it); SFT keeps its adapter, which loads on the merged CPT model
    assert cpt.trained_model == cpt.merged_dir == cpt.out / "merged" and (cpt.merged_dir / "config.json").is_file()
    assert sft.merged_dir is None and sft.trained_model == sft.model_dir and not (sft.out / "merged").exists()
    assert adapter_root(sft.model_dir) == str(cpt.merged_dir)
    # the CPT update merged into an fp32 base, exactly: nothing rounded away
    delta, weight = _lora_delta(cpt.model_dir, "model.layers.0.self_attn.q_proj")
    base_file = next(prepare(MODEL).glob("*.safetensors"))
    with safe_open(str(base_file), "pt") as b, safe_open(str(cpt.merged_dir / "model.safetensors"), "pt") as m:
        base_w, merged_w = b.get_tensor(weight), m.get_tensor(weight)
    assert str(merged_w.dtype) == "torch.float32" and delta.abs().max() > 0
    assert (merged_w - base_w.float() - delta).abs().max() < 1e-6
    # on a T4 training runs in fp16, the merge still in fp32 (on the CPU); a base above the limit keeps its adapter
    with monkeypatch.context() as patch:
        patch.setattr(train_run, "device_spec", lambda: DeviceSpec("cpu", torch.float16, bf16=False, fp16=True,
                                                                   name="a half-precision device"))
        assert train_run.merge(cpt.out) == cpt.merged_dir
        with safe_open(str(cpt.merged_dir / "model.safetensors"), "pt") as m:
            assert torch.equal(m.get_tensor(weight), merged_w)
        patch.setattr(train_run, "MERGE_FP32_MAX_PARAMS", cpt.settings["parameters"] - 1)
        assert train_run.merge(cpt.out) is None

    # the probe: MusicTheoryBench from the hub for base, CPT, SFT and the released ChatMusician
    models = course_models(True)
    assert models == {f"base ({MODEL})": MODEL, f"CPT ({MODEL})": str(cpt.merged_dir),
                      f"SFT ({MODEL})": str(sft.model_dir)}
    models["ChatMusician"] = "chatmusician"
    for label, name in models.items():
        res = run_bench(name, data="hub", split="test", mode="ppl")
        assert res["n"]["overall"] == 21 and res["data"] == "hub", label
        assert 0.0 <= res["accuracy"]["overall"] <= 1.0 and len(res["ci95"]["overall"]) == 2, label

    # offline afterwards (cache only): the plan stays on the track (model cached, sample under runs/), nothing rebuilt
    n_requests = len(hub_server.server.state.log)
    with hub_server.offline():
        again = course_choice(True)
        assert again.online and "TinyLlama/TinyLlama_v1.1 is in the HF cache" in again.why
        assert ensure_stages(["cpt", "sft"], smoke=True) == []
    assert len(hub_server.server.state.log) == n_requests
