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
