"""bf16 on a CPU that computes it in hardware: only for large models, the same answers as fp32, merges in fp32;
and a CPU LoRA run's own loss, which equals TRL's fused one.

conftest sets CM_CPU_BF16=0 so that the other tests see fp32 on every CPU; these tests set it to 1 (bf16 even where
the CPU would emulate it: slower there, the same numbers).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from cm_lib.device import CPU_BF16_ENV, DeviceChoiceError, DeviceSpec, cpu_bf16_for, cpu_bf16_native

CPU = DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="cpu")
A100 = DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="A100", memory_gb=39.4)


@pytest.fixture
def bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CPU_BF16_ENV, "1")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small corpus in the course schema from music21's tunes: pretrain texts and tune-writing SFT rows."""
    from datasets import Dataset, DatasetDict

    from cm_lib.models import iter_corpus_texts

    tunes = [t for t in itertools.islice(iter_corpus_texts(), 200) if 80 < len(t) < 600][:24]
    rows = [{"id": f"t{i}", "text": t, "src": "music21", "category": "abc"} for i, t in enumerate(tunes)]
    root = tmp_path_factory.mktemp("bf16") / "corpus"
    DatasetDict(train=Dataset.from_list(rows[:20]), validation=Dataset.from_list(rows[20:22]),
                test=Dataset.from_list(rows[22:])).save_to_disk(str(root / "pretrain"))
    sft = [{"instruction": "Write a tune in the style of a folk dance.", "input": "", "output": t, "src": "music21",
            "id": f"s{i}", "task": "generate", "meta": json.dumps({})} for i, t in enumerate(tunes)]
    DatasetDict(train=Dataset.from_list(sft[:20]), validation=Dataset.from_list(sft[20:22]),
                test=Dataset.from_list(sft[22:])).save_to_disk(str(root / "sft"))
    return root


@pytest.mark.parametrize("stage", ["cpt", "sft"])
def test_a_cpu_lora_run_takes_the_models_own_loss_which_equals_trls(data: Path, tmp_path: Path, stage: str) -> None:
    from trl import SFTTrainer

    from cm_lib.train import build_trainer

    torch.manual_seed(0)
    trainer, settings = build_trainer(stage, "tiny", data, tmp_path / "out", hardware="cpu-smoke", lora=True)
    assert settings["loss"] == "model" and type(trainer).__name__ == "PlainLossSFTTrainer"
    batch = next(iter(trainer.get_train_dataloader()))
    if stage == "sft":
        assert 0 < (batch["labels"] == -100).float().mean().item() < 1  # the prompt carries no loss
    trainer.model.eval()  # no LoRA dropout: both losses see the same network
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, dict(batch)).item()
        trls = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch)).item()
    assert 1.0 < ours < 10.0 and ours == pytest.approx(trls, abs=1e-4)
    full, full_settings = build_trainer(stage, "tiny", data, tmp_path / "full", hardware="cpu-smoke", lora=False)
    assert type(full) is SFTTrainer and "loss" not in full_settings  # full training (the composer) keeps TRL's


def test_the_choice_follows_the_switch_and_the_models_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    assert cpu_bf16_native()
    assert cpu_bf16_for(134_515_008, CPU)  # SmolLM2-135M
    assert not cpu_bf16_for(837_120, CPU) and not cpu_bf16_for(3_737_856, CPU)  # the composer and tiny stay fp32
    assert not cpu_bf16_for(134_515_008, A100)  # a GPU's precision is pick_device's, not this rule's
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert not cpu_bf16_native() and not cpu_bf16_for(134_515_008, CPU)
    monkeypatch.setenv(CPU_BF16_ENV, "yes")
    with pytest.raises(DeviceChoiceError, match="CM_CPU_BF16 must be 0 or 1"):
        cpu_bf16_native()


def test_training_flags_and_the_printed_plan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cm_lib.course import course_plan_summary
    from cm_lib.train import hardware_preset, training_config_kwargs

    kw = training_config_kwargs(hardware_preset("cpu"), lora=True, out=tmp_path, spec=CPU, cpu_bf16=True)
    assert (kw["bf16"], kw["fp16"], kw["use_cpu"]) == (True, False, True)
    assert training_config_kwargs(hardware_preset("cpu"), lora=True, out=tmp_path, spec=CPU)["bf16"] is False
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    lines = course_plan_summary(False, CPU).splitlines()
    assert "computes bf16 in hardware" in lines[0]
    by_run = {line.split()[0]: line for line in lines[1:]}
    assert by_run["cpt"].endswith("LoRA, bf16 autocast, frozen base in bfloat16, fp32 LoRA adapters")
    assert by_run["sft"].endswith("LoRA, bf16 autocast, frozen base in bfloat16, fp32 LoRA adapters")
    assert by_run["composer"].endswith("full, fp32") and by_run["composer_sft"].endswith("full, fp32")
    assert all(line.endswith("fp32") for line in course_plan_summary(True, CPU).splitlines()[1:])  # smoke: small models
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert "the CPU plan in fp32" in course_plan_summary(False, CPU).splitlines()[0]
    assert "bf16" not in course_plan_summary(False, CPU)


def test_inference_loads_large_models_in_bf16_and_small_ones_in_fp32(bf16: None) -> None:
    from cm_lib.models import load_model

    smol, _ = load_model("smollm2-135m", device=CPU)
    assert smol.dtype == torch.bfloat16 and not smol.training
    assert load_model("smollm2-135m", device=CPU, cpu_bf16=False)[0].dtype == torch.float32  # what merge asks for
    assert load_model("composer", device=CPU)[0].dtype == torch.float32
    assert load_model("smollm2-135m", device=CPU, for_training=True)[0].dtype == torch.float32  # build_trainer decides


def test_bf16_scores_like_fp32_on_real_tunes_and_benchmark_questions(bf16: None) -> None:
    from cm_lib.bench.data import load_sample
    from cm_lib.bench.run import run_questions
    from cm_lib.evaluate import text_nll_each
    from cm_lib.models import iter_corpus_texts, load_model

    torch.manual_seed(0)
    tunes = [t for t in itertools.islice(iter_corpus_texts(), 400) if 200 < len(t) < 800][:8]
    questions = load_sample("test")
    scores = {}
    for half in (False, True):
        model, tok = load_model("smollm2-135m", device=CPU, cpu_bf16=half)
        assert model.dtype == (torch.bfloat16 if half else torch.float32)
        bits = [r.bits_per_character for r in text_nll_each(model, tok, tunes, 128, 8)]
        preds = [p["pred"] for p in run_questions(model, tok, questions, impl="fast")["predictions"]]
        scores[half] = (bits, preds)
    (bits32, preds32), (bits16, preds16) = scores[False], scores[True]
    assert len(bits32) == 8 and all(1.0 < b < 6.0 for b in bits32)
    assert max(abs(a - b) for a, b in zip(bits32, bits16)) < 0.02  # per tune, bits/char
    assert abs(sum(bits16) - sum(bits32)) / 8 < 0.005
    assert len(preds32) == len(questions) == 21
    assert sum(a == b for a, b in zip(preds32, preds16)) >= 20


def test_the_prefix_memo_forgets_when_the_weights_change_dtype() -> None:
    from cm_lib.bench.data import load_sample
    from cm_lib.bench.prompts import build_prompt
    from cm_lib.bench.scoring import ppl_scores
    from cm_lib.models import load_model

    model, tok = load_model("tiny", device=CPU)
    prompt = build_prompt(load_sample("test")[0])
    calls: list[int] = []
    model.register_forward_hook(lambda *a: calls.append(1))
    first = ppl_scores(model, tok, prompt, "fast")
    assert ppl_scores(model, tok, prompt, "fast").scores == first.scores and len(calls) == 1
    model.to(torch.bfloat16)  # new weight tensors, version counters untouched: the memo must not serve fp32 losses
    half = ppl_scores(model, tok, prompt, "fast")
    assert len(calls) == 2 and half.scores != first.scores
    assert half.scores == pytest.approx(first.scores, abs=0.1)


def test_lora_on_a_bf16_base_trains_fp32_adapters_and_merges_into_the_fp32_base(bf16: None, data: Path,
                                                                                  tmp_path: Path) -> None:
    from safetensors import safe_open

    from cm_lib.models import prepare
    from cm_lib.train import build_trainer, train_cpt

    trainer, settings = build_trainer("cpt", "smollm2-135m", data, tmp_path / "probe", hardware="cpu-smoke", lora=True)
    assert (settings["weights_dtype"], settings["cpu_bf16"], trainer.args.bf16, trainer.args.use_cpu) == (
        "bfloat16", True, True, True)
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    frozen = [p for p in trainer.model.parameters() if not p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    assert all(p.dtype == torch.bfloat16 for p in frozen)
    del trainer

    r = train_cpt("smollm2-135m", data, out=tmp_path / "run", hardware="cpu-smoke", max_steps=2, lora=True)
    assert json.loads((tmp_path / "run" / "settings.json").read_text())["weights_dtype"] == "bfloat16"
    name = "model.layers.0.self_attn.q_proj.weight"
    with safe_open(str(Path(r.merged_dir) / "model.safetensors"), "pt") as merged, \
            safe_open(str(prepare("smollm2-135m") / "model.safetensors"), "pt") as base:
        after, before = merged.get_tensor(name), base.get_tensor(name)
    assert after.dtype == torch.float32  # merged into the fp32 base, where the small update survives
    delta = (after - before).abs()
    assert 0 < delta.max().item() < 0.05
