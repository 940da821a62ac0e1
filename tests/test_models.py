"""cm_lib.models / cm_lib.device: presets, the tiny build, the SmolLM2 GGUF conversion, offline refusal, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cm_lib.device import describe_hardware, pick_device
from cm_lib.errors import AssetNotFoundError, CourseError, HubUnavailableError
from cm_lib.models import (
    MODEL_PRESETS,
    count_parameters,
    fix_pad_token,
    iter_corpus_texts,
    list_presets,
    load_model,
    load_tokenizer,
    model_info,
    prepare,
    smollm2_gguf_path,
    train_abc_tokenizer,
)

REPO = Path(__file__).resolve().parents[1]
TUNE = "X:1\nT:Kälberkauf\nM:6/8\nL:1/8\nK:D\n|:A|dfa agf|e2d c2A|]\n"


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    return prepare("smollm2-135m")  # shared cache: converted once (~30 s), then instant


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")  # a fresh build, in seconds
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CM_CACHE_DIR", str(cache))
        return prepare("tiny")


def test_presets_are_complete_and_sorted() -> None:
    names = [p.name for p in list_presets()]
    assert names == ["composer", "tiny", "smollm2-135m", "tinyllama-1.1b", "llama2-7b", "chatmusician-base",
                     "chatmusician"]
    assert MODEL_PRESETS["llama2-7b"].gated and MODEL_PRESETS["llama2-7b"].hub_id == "meta-llama/Llama-2-7b-hf"
    assert MODEL_PRESETS["chatmusician"].hub_id == "m-a-p/ChatMusician"
    assert MODEL_PRESETS["chatmusician-base"].hub_id == "m-a-p/ChatMusician-Base"
    assert {p.name for p in list_presets() if p.offline} == {"tiny", "composer", "smollm2-135m"}
    assert all("q_proj" in p.lora_targets and "down_proj" in p.lora_targets for p in list_presets())


def test_pick_device_on_cpu() -> None:
    spec = pick_device("cpu")
    assert (spec.device, spec.dtype, spec.bf16, spec.fp16) == ("cpu", torch.float32, False, False)
    if not torch.cuda.is_available():
        assert pick_device() == spec and pick_device("mps").device == "cpu"  # MPS absent: falls back
        assert describe_hardware()["gpu_memory_gb"] is None
    with pytest.raises(ValueError):
        pick_device("tpu")


def test_unknown_name_lists_presets(tmp_path: Path) -> None:
    with pytest.raises(AssetNotFoundError, match="smollm2-135m") as err:
        prepare("no-such-model")
    assert "tiny" in str(err.value)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AssetNotFoundError, match="weights"):
        prepare(str(tmp_path))


def test_hub_only_preset_refused_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("llama2-7b", "chatmusician"):
        start = time.perf_counter()
        with pytest.raises(HubUnavailableError, match="smollm2-135m"):
            prepare(name)
        assert time.perf_counter() - start < 3


def test_cli_offline_refusal_is_fast_without_traceback() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for name in ("llama2-7b", "chatmusician"):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "cm_lib", "models", "prepare", name, "--json"],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=60,
        )
        assert time.perf_counter() - start < 5
        assert proc.returncode == 2 and proc.stdout == ""
        assert "Traceback" not in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr


def test_tokenizer_training_is_deterministic() -> None:
    texts = [t for _, t in zip(range(300), iter_corpus_texts(), strict=False)]
    a, b = train_abc_tokenizer(texts, vocab_size=512), train_abc_tokenizer(texts, vocab_size=512)
    assert len(a) == 512 and a.get_vocab() == b.get_vocab()
    assert (a.pad_token_id, a.bos_token_id, a.eos_token_id) == (0, 1, 2)
    ids = a(texts[0]).input_ids
    assert ids[0] == 1 and a.decode(ids, skip_special_tokens=True) == texts[0]  # byte-level: lossless


def test_tiny_build(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = model_info(tiny_dir)
    assert info == {"name": "tiny", "path": str(tiny_dir), "architecture": "LlamaForCausalLM", "parameters": 3_737_856}
    tok = load_tokenizer(str(tiny_dir))
    assert len(tok) == 2048 and tok.pad_token == "<pad>" and tok.eos_token == "</s>"
    assert tok.decode(tok(TUNE).input_ids, skip_special_tokens=True) == TUNE  # umlaut too
    before = (tiny_dir / "model.safetensors").stat().st_mtime_ns
    monkeypatch.setenv("CM_CACHE_DIR", str(tiny_dir.parents[1]))
    assert prepare("tiny") == tiny_dir  # cached: not rebuilt
    assert (tiny_dir / "model.safetensors").stat().st_mtime_ns == before
    model, tok2 = load_model(str(tiny_dir))
    assert count_parameters(model) == 3_737_856 and model.config.pad_token_id == 0
    assert not list(tiny_dir.parent.glob(".tmp-*"))


def test_smollm2_converted_folder(smollm2_dir: Path) -> None:
    assert smollm2_gguf_path() is not None
    assert model_info("smollm2-135m") == {
        "name": "smollm2-135m",
        "path": str(smollm2_dir),
        "architecture": "LlamaForCausalLM",
        "parameters": 134_515_008,
    }
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (30, 576, 49152)
    tok = load_tokenizer("smollm2-135m")
    # pad must differ from EOS (<|im_end|>) or collators mask the EOS out of the labels
    assert (tok.eos_token, tok.eos_token_id, tok.pad_token, tok.pad_token_id) == ("<|im_end|>", 2, "<|endoftext|>", 0)
    assert tok.decode(tok(TUNE).input_ids) == TUNE


def test_conversion_keeps_gguf_logits(smollm2_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    gguf = smollm2_gguf_path()
    ref = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model, tok = load_model("smollm2-135m")
    ids = tok("X:1\nK:G\nGABc dedB|", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(ref(ids).logits, model(ids).logits)


def test_load_model_options(smollm2_dir: Path) -> None:
    with pytest.raises(CourseError, match="4-bit"):
        load_model("smollm2-135m", device=pick_device("cpu"), quantize_4bit=True)
    model, _ = load_model(str(smollm2_dir), for_training=True)
    assert model.config.use_cache is False and next(model.parameters()).dtype == torch.float32


def test_fix_pad_token_when_pad_is_eos(smollm2_dir: Path) -> None:
    tok = load_tokenizer("smollm2-135m")
    tok.pad_token = tok.eos_token
    assert fix_pad_token(tok).pad_token == "<|endoftext|>"


def test_cli_prepare_json(smollm2_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cm_lib", "models", "prepare", "smollm2-135m", "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "name": "smollm2-135m", "path": str(smollm2_dir), "architecture": "LlamaForCausalLM", "parameters": 134_515_008
    }
    listing = subprocess.run([sys.executable, "-m", "cm_lib", "models", "list"], capture_output=True, text=True, cwd=REPO)
    assert listing.returncode == 0 and "meta-llama/Llama-2-7b-hf" in listing.stdout
    as_json = subprocess.run([sys.executable, "-m", "cm_lib", "models", "list", "--json"], capture_output=True, text=True, cwd=REPO)
    assert [r["name"] for r in json.loads(as_json.stdout)][:3] == ["composer", "tiny", "smollm2-135m"]


def test_online_path_gated_and_download(monkeypatch: pytest.MonkeyPatch, tiny_dir: Path) -> None:
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    from cm_lib.errors import LicenceError

    monkeypatch.setattr("cm_lib.hub.require_hub", lambda what, alt, **kw: "online")  # pretend we are online
    gated = GatedRepoError.__new__(GatedRepoError)
    Exception.__init__(gated, "401 gated")

    def refuse(repo_id: str, **kwargs):
        raise gated

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(LicenceError, match="accept the licence.*hf auth login"):
        prepare("llama2-7b")
    calls = []

    def fake_download(repo_id: str, allow_patterns: list[str]) -> str:
        calls.append((repo_id, allow_patterns))
        return str(tiny_dir)  # a real HF folder standing in for the snapshot

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    assert prepare("chatmusician") == tiny_dir
    assert calls[0][0] == "m-a-p/ChatMusician" and "*.safetensors" in calls[0][1] and "*.bin" not in calls[0][1]


def test_atomic_build_when_another_process_wins(tmp_path: Path) -> None:
    from cm_lib.models.cache import atomic_build as _atomic_build

    final, key = tmp_path / "m", {"preset": "x", "version": 1}

    def racing_build(tmp: Path) -> None:
        (tmp / "who").write_text("loser")
        # another process finishes first, while we are still building
        _atomic_build(final, lambda t: (t / "who").write_text("winner"), key)

    assert _atomic_build(final, racing_build, key) == final
    assert (final / "who").read_text() == "winner"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp folder left
    # a stale folder (other recipe) is replaced
    assert _atomic_build(final, lambda t: (t / "who").write_text("v2"), {**key, "version": 2}) == final
    assert (final / "who").read_text() == "v2" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_build_tiny_model_is_seeded(tiny_dir: Path) -> None:
    from cm_lib.models import build_tiny_model

    tok = load_tokenizer(str(tiny_dir))
    a, b, c = build_tiny_model(tok, seed=0), build_tiny_model(tok, seed=0), build_tiny_model(tok, seed=1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["model.embed_tokens.weight"], sc["model.embed_tokens.weight"])
    saved, _ = load_model(str(tiny_dir))  # the cached build is the seed-0 model
    assert torch.equal(saved.state_dict()["model.layers.0.mlp.up_proj.weight"], sa["model.layers.0.mlp.up_proj.weight"])


def test_presets_hold_the_real_shapes(smollm2_dir: Path, tiny_dir: Path) -> None:
    # the facts the planner and benchmarks/gpu_train.py derive from must match the real config.json files
    for name, folder in (("smollm2-135m", smollm2_dir), ("tiny", tiny_dir)):
        config = json.loads((folder / "config.json").read_text())
        expected = MODEL_PRESETS[name].llama_config()
        rope = config.get("rope_theta", (config.get("rope_parameters") or {}).get("rope_theta"))
        assert float(rope) == expected.pop("rope_theta"), name
        assert {k: config[k] for k in expected} == expected, name
    assert MODEL_PRESETS["smollm2-135m"].kv_dim == 192 and MODEL_PRESETS["llama2-7b"].kv_dim == 4096


def test_lora_targets_come_from_the_model_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from cm_lib.models import lora_targets_for
    from cm_lib.train import hardware_preset, lora_config

    assert lora_targets_for("LlamaForCausalLM") == MODEL_PRESETS["tiny"].lora_targets
    narrowed = {k: dataclasses.replace(p, lora_targets=("q_proj", "v_proj")) for k, p in MODEL_PRESETS.items()}
    monkeypatch.setattr("cm_lib.models.presets.MODEL_PRESETS", narrowed)
    assert set(lora_config(hardware_preset("cpu")).target_modules) == {"q_proj", "v_proj"}
    with pytest.raises(CourseError, match="GPT2LMHeadModel"):
        lora_targets_for("GPT2LMHeadModel")


def _folder_like(tiny_dir: Path, dest: Path, weights: bool = True) -> Path:
    import shutil

    dest.mkdir()
    for f in tiny_dir.iterdir():
        if f.is_file() and (weights or f.suffix != ".safetensors"):
            shutil.copy(f, dest / f.name)
    return dest


def test_broken_model_folders_are_one_clear_line(tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cm_lib.cli import main
    from cm_lib.models import ModelFolderError

    bad_config = _folder_like(tiny_dir, tmp_path / "bad_config")
    (bad_config / "config.json").write_text('{"model_type": "llama",')
    bad_weights = _folder_like(tiny_dir, tmp_path / "bad_weights")
    (bad_weights / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    pickles = _folder_like(tiny_dir, tmp_path / "pickles", weights=False)
    (pickles / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # a pickle: never opened
    for folder, words in ((bad_config, "config.json is not valid JSON"),
                          (bad_weights, "model.safetensors is not a valid safetensors file"),
                          (pickles, "holds only pickle weights (pytorch_model.bin): cm_lib refuses pickles")):
        assert main(["models", "prepare", str(folder), "--json"]) == 2, folder
        captured = capsys.readouterr()
        assert captured.out == "" and words in captured.err and captured.err.count("\n") == 1, captured.err
        assert "weights_only" not in captured.err and "parameters" not in captured.err
        with pytest.raises(ModelFolderError):
            load_model(str(folder))
    with pytest.raises(ModelFolderError):
        model_info(pickles)  # not "0 parameters"


def test_bad_device_choice_is_a_course_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CM_DEVICE", "gpu")
    with pytest.raises(CourseError, match=r"\$CM_DEVICE 'gpu'.*cpu, cuda, mps"):
        pick_device()
    monkeypatch.setenv("CM_DEVICE", "cpu")
    assert pick_device().device == "cpu"
