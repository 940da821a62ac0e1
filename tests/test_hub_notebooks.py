"""Notebooks 03-06 run top to bottom in smoke mode on the simulated hub with CM_PLAN=t4: the online GPU plan's track.

The kernels get the simulator through the environment alone (HF_ENDPOINT, HF_HOME, no HF_HUB_OFFLINE), as a
student's Colab kernel gets the real hub: the plan detects the hub, trains the fixture TinyLlama (a tiny random
LLaMA under TinyLlama/TinyLlama_v1.1) on the musicpile-smoke sample, and puts the released ChatMusician beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cm_lib.course import execute_notebook

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = [next((REPO / "notebooks").glob(f"{n}_*.ipynb")) for n in ("03", "04", "05", "06")]
MODEL = "tinyllama-1.1b"


def _printed(nb_path: Path, cell_start: str) -> str:
    """The text a code cell starting with `cell_start` printed in an executed notebook."""
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith(cell_start))
    return "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")


@pytest.mark.notebook
@pytest.mark.slow
def test_notebooks_03_to_06_on_the_simulated_hub_with_cm_plan_t4(hub_server, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("CM_RUNS_DIR", str(runs))
    monkeypatch.setenv("CM_PLAN", "t4")
    monkeypatch.delenv("CM_BASE_MODEL", raising=False)
    n_before = len(hub_server.server.state.log)
    for nb in NOTEBOOKS:
        run = execute_notebook(nb, tmp_path / "executed" / nb.name, smoke=True, timeout=600)
        assert run.ok, f"{nb.name}: {run.error[-4000:]}"

    # each notebook showed the picked plan: the T4's, online, the LLaMA-2-family track
    for nb in NOTEBOOKS:
        shown = _printed(tmp_path / "executed" / nb.name, "from cm_lib.course import show_plan")
        assert shown.startswith("smoke plan for t4 (Tesla T4), online:") and f"trains {MODEL} with LoRA" in shown, nb
    summaries = {p.stem: json.loads(p.read_text()) for p in (runs / "summary").glob("*.json")}
    assert summaries["03_cpt"]["base_model"] == MODEL and summaries["03_cpt"]["cpt_steps"] == 3
    assert summaries["04_sft"]["sft_from"] == str(runs / "cpt" / MODEL / "merged")
    assert {f"{MODEL} CPT", f"{MODEL} SFT", "ChatMusician SFT"} <= set(summaries["05_generate"]["metric_table"])
    bench = summaries["06_bench"]
    assert bench["data"] == "hub" and set(bench["ppl_accuracy"]) == {
        f"base ({MODEL})", f"CPT ({MODEL})", f"SFT ({MODEL})", "ChatMusician"}
    assert (runs / "cpt" / MODEL / "merged" / "model.safetensors").is_file()  # SFT started from it
    assert (runs / "sft" / MODEL / "adapter" / "adapter_model.safetensors").is_file()  # kept: loads on its base
    assert (runs / "corpus" / "musicpile-smoke" / "stats.json").is_file()
    # what the kernels asked the simulator for: the samples, the bench, TinyLlama and ChatMusician (safetensors only)
    asked = [path for _, path, _ in hub_server.server.state.log[n_before:]]
    for repo in ("m-a-p/MusicPile/", "m-a-p/MusicPile-sft/", "m-a-p/MusicTheoryBench", "TinyLlama/TinyLlama_v1.1",
                 "m-a-p/ChatMusician/"):
        assert any(repo in path for path in asked), repo
    assert not any(path.endswith(".bin") for path in asked)
