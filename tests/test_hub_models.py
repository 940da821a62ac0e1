"""Hub model presets against the simulated hub (tests/hubsim): safetensors only, PR revisions, gating, cache only offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cm_lib.errors import HubUnavailableError, LicenceError
from cm_lib.models import model_preset, prepare
from cm_lib.models.folder import ModelFolderError

REPO = Path(__file__).resolve().parent.parent


def test_snapshot_of_a_preset_is_safetensors_only(hub_server) -> None:
    path = prepare("tinyllama-1.1b")
    assert path.is_relative_to(hub_server.hf_home) and (path / "model.safetensors").is_file()
    sha = hub_server.server.commit_sha("models", "TinyLlama/TinyLlama_v1.1")
    assert path.name == sha  # the snapshot of the commit the hub named
    sharded = prepare("chatmusician")  # sharded safetensors with their index
    assert len(list(sharded.glob("model-*.safetensors"))) > 1 and (sharded / "model.safetensors.index.json").is_file()


def test_from_pretrained_of_the_fixture_llama(hub_server) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained("TinyLlama/TinyLlama_v1.1")
    model = AutoModelForCausalLM.from_pretrained("TinyLlama/TinyLlama_v1.1", use_safetensors=True)
    abc = "X:1\nM:6/8\nL:1/8\nK:D\n|:dAF DFA|d2e fed:|\n"
    ids = tok(abc, return_tensors="pt")["input_ids"]
    assert ids[0, 0].item() == tok.bos_token_id == 1 and tok.eos_token == "</s>" and tok.unk_token == "<unk>"
    assert tok.decode(ids[0], skip_special_tokens=True) == abc  # byte fallback: nothing lost
    with torch.no_grad():
        assert model(ids).logits.shape == (1, ids.shape[1], len(tok))


def test_chatmusician_base_uses_its_safetensors_revision_never_the_pickle(hub_server) -> None:
    from dataclasses import replace

    from cm_lib.models.download import prepare_from_hub

    preset = model_preset("chatmusician-base")
    assert preset.revision == "refs/pr/3"
    with pytest.raises(ModelFolderError, match="no \\*.safetensors"):
        prepare_from_hub(replace(preset, revision=None))  # main: only pytorch_model.bin
    path = prepare("chatmusician-base")
    assert (path / "model.safetensors").is_file()
    assert path.name == hub_server.server.commit_sha("models", "m-a-p/ChatMusician-Base", "refs/pr/3")
    assert not hub_server.server.requested(".bin")  # the pickle was never downloaded


def test_gated_llama2_needs_a_token(hub_server, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LicenceError, match="hf auth login"):
        prepare("llama2-7b")
    monkeypatch.setenv("HF_TOKEN", "hf_simulated_read_token")
    assert (prepare("llama2-7b") / "model.safetensors").is_file()


def test_offline_loads_a_cached_model_and_refuses_an_uncached_one_in_one_line(hub_server) -> None:
    from cm_lib.device import pick_device
    from cm_lib.models import load_model

    cached = prepare("tinyllama-1.1b")
    n_requests = len(hub_server.server.state.log)
    with hub_server.offline():
        assert prepare("tinyllama-1.1b") == cached
        model, tok = load_model("tinyllama-1.1b", device=pick_device("cpu"))
        assert type(model).__name__ == "LlamaForCausalLM" and tok.eos_token == "</s>"
    assert len(hub_server.server.state.log) == n_requests  # cache only: no request
    with hub_server.fresh_cache(), hub_server.offline(), pytest.raises(HubUnavailableError) as err:
        prepare("chatmusician")
    message = str(err.value)
    assert "\n" not in message and "HF_HUB_OFFLINE=1" in message and "not in the local cache" in message


def test_a_subprocess_finds_the_simulator_through_its_environment(hub_server) -> None:
    """The environment alone (as a notebook kernel gets it) points a new process at the simulator and its cache."""
    before = len(hub_server.server.requested("/api/models/m-a-p/ChatMusician-Base/revision/refs%2Fpr%2F3"))
    code = "from cm_lib.models import model_info; print(model_info('chatmusician-base')['parameters'])"
    env = hub_server.child_env(os.environ)
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) > 100_000
    assert len(hub_server.server.requested("/api/models/m-a-p/ChatMusician-Base/revision/refs%2Fpr%2F3")) > before
    env = hub_server.child_env(os.environ, offline=True)
    env.update(PYTHONPATH=str(REPO), HF_HOME=str(hub_server.hf_home / "empty"))
    proc = subprocess.run([sys.executable, "-m", "cm_lib", "models", "prepare", "chatmusician"], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "HF_HUB_OFFLINE" in proc.stderr
