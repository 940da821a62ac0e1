"""Precision on each device without a GPU: fake T4/A100/H100/CPU DeviceSpecs through the pure functions that
decide how build_trainer loads and trains (fp32 master weights under fp16 autocast; QLoRA computes in fp16 on a T4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cm_lib.device import DeviceSpec

CPU = DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="cpu")
T4 = DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="Tesla T4", memory_gb=14.6)
A100 = DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="NVIDIA A100-SXM4-40GB", memory_gb=39.4)
H100 = DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="NVIDIA H100 80GB HBM3", memory_gb=79.1)


def test_trained_weights_load_fp32_and_qlora_computes_in_the_devices_half_precision() -> None:
    from cm_lib.train import hardware_preset, training_load_kwargs

    t4, a100 = hardware_preset("colab-t4"), hardware_preset("a100")
    # full-parameter (a from-scratch composer) on a T4: fp32 master weights, never fp16 weights under the optimiser
    assert training_load_kwargs(hardware_preset("gpu-scratch"), T4, "tiny", lora=False) == {
        "quantize_4bit": False, "dtype": torch.float32, "compute_dtype": None}
    assert training_load_kwargs(t4, T4, "tiny", lora=None)["dtype"] == torch.float32  # undecided: the safe choice
    # LoRA on a 135M model: the frozen base in fp16 (PEFT keeps the adapters fp32), no 4-bit below 1B
    assert training_load_kwargs(t4, T4, "smollm2-135m", lora=True, bnb_available=True) == {
        "quantize_4bit": False, "dtype": torch.float16, "compute_dtype": None}
    # >= 1B on a T4: QLoRA computing in fp16; on an A100/H100 in bf16; never without bitsandbytes or off CUDA
    assert training_load_kwargs(t4, T4, "llama2-7b", lora=True, bnb_available=True) == {
        "quantize_4bit": True, "dtype": torch.float16, "compute_dtype": torch.float16}
    assert training_load_kwargs(a100, A100, "llama2-7b", lora=True, bnb_available=True)["compute_dtype"] == torch.bfloat16
    assert training_load_kwargs(hardware_preset("h100"), H100, "tinyllama-1.1b", lora=None,
                                bnb_available=True)["quantize_4bit"] is False  # its preset says no 4-bit
    assert training_load_kwargs(t4, T4, "llama2-7b", lora=True, bnb_available=False)["quantize_4bit"] is False
    assert training_load_kwargs(t4, CPU, "llama2-7b", lora=True, bnb_available=True) == {
        "quantize_4bit": False, "dtype": torch.float32, "compute_dtype": None}
    assert training_load_kwargs(t4, T4, "llama2-7b", lora=False, bnb_available=True)["quantize_4bit"] is False


def test_t4_training_arguments_are_fp16_autocast_and_a100_bf16(tmp_path: Path) -> None:
    from cm_lib.train import hardware_preset, training_config_kwargs

    full = training_config_kwargs(hardware_preset("gpu-scratch"), lora=False, out=tmp_path, max_steps=300, spec=T4)
    assert (full["fp16"], full["bf16"], full["use_cpu"], full["learning_rate"]) == (True, False, False, 5e-3)
    assert (full["per_device_train_batch_size"], full["max_length"], full["warmup_steps"]) == (64, 384, 15)
    qlora = training_config_kwargs(hardware_preset("colab-t4"), lora=True, out=tmp_path, spec=T4)
    assert (qlora["fp16"], qlora["bf16"], qlora["activation_checkpointing"]) == (True, False, True)
    a = training_config_kwargs(hardware_preset("a100"), lora=True, out=tmp_path, spec=A100)
    assert (a["fp16"], a["bf16"], a["packing_strategy"]) == (False, True, "bfd")


def test_fp16_gradients_are_what_the_scaler_refuses_and_upcast_fixes_it() -> None:
    from cm_lib.train.recipe import upcast_trainable

    def unscale(model: torch.nn.Module) -> None:
        scaler = torch.amp.GradScaler("cpu")
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
        loss = model(torch.ones(2, 8, dtype=next(model.parameters()).dtype)).float().sum()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)

    torch.manual_seed(0)
    half = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 1)).half()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        unscale(half)  # what issue 13 predicted for fp16-loaded full-parameter training on a T4
    half.zero_grad(set_to_none=True)
    half[0].weight.requires_grad_(False)  # a frozen weight stays as it is
    assert upcast_trainable(half) == 3
    assert half[0].weight.dtype == torch.float16 and half[1].weight.dtype == torch.float32
    assert upcast_trainable(half) == 0
    master = torch.nn.Linear(8, 1)  # fp32 master weights: the scaler accepts their gradients
    unscale(master)
    assert master.weight.grad is not None and master.weight.grad.dtype == torch.float32


def test_build_trainer_on_a_t4_loads_the_composer_in_fp32(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import cm_lib.models
    import cm_lib.train.trainer as trainer_mod

    seen: dict = {}

    class Loaded(Exception):
        pass

    def fake_load(model: str, device: DeviceSpec, quantize_4bit: bool | None, for_training: bool) -> None:
        seen.update(model=model, device=device, quantize_4bit=quantize_4bit, for_training=for_training)
        raise Loaded

    monkeypatch.setattr(trainer_mod, "device_spec", lambda: T4)
    monkeypatch.setattr(cm_lib.models, "load_model", fake_load)
    with pytest.raises(Loaded):
        trainer_mod.build_trainer("cpt", "tiny", tmp_path, tmp_path / "out", hardware="gpu-scratch", lora=False)
    assert seen["device"].dtype == torch.float32 and seen["device"].fp16 and seen["device"].device == "cuda"
    assert (seen["quantize_4bit"], seen["for_training"]) == (False, True)
    with pytest.raises(Loaded):
        trainer_mod.build_trainer("sft", "smollm2-135m", tmp_path, tmp_path / "out", hardware="colab-t4", lora=True)
    assert seen["device"].dtype == torch.float16 and seen["quantize_4bit"] is False


@pytest.mark.parametrize("bnb", [True, False])
def test_recipe_choices_for_a_t4_an_a100_and_a_cpu(tmp_path: Path, bnb: bool) -> None:
    """The SFTConfig kwargs the recipe gives each device: autocast, checkpointing mode and optimiser."""
    from dataclasses import replace

    from cm_lib.train import hardware_preset, training_config_kwargs

    t4_preset = hardware_preset("colab-t4")
    t4 = training_config_kwargs(t4_preset, lora=True, out=tmp_path, spec=T4, bnb_available=bnb)
    assert (t4["fp16"], t4["bf16"], t4["use_cpu"]) == (True, False, False)  # no bf16 on a T4: fp16 autocast
    assert t4["activation_checkpointing"] is True
    assert t4["activation_checkpointing_kwargs"] == {"use_reentrant": True}  # PEFT's single-GPU QLoRA setting
    assert t4["optim"] == ("paged_adamw_8bit" if bnb else "adamw_torch")  # paged 8-bit AdamW only with bitsandbytes
    assert (t4["per_device_train_batch_size"], t4["gradient_accumulation_steps"], t4["max_length"]) == (4, 4, 1024)
    measured = training_config_kwargs(replace(t4_preset, use_reentrant=False), lora=True, out=tmp_path, spec=T4)
    assert measured["activation_checkpointing_kwargs"] == {"use_reentrant": False}  # what a GPU benchmark compares
    a100 = training_config_kwargs(hardware_preset("a100"), lora=True, out=tmp_path, spec=A100, bnb_available=bnb)
    assert (a100["fp16"], a100["bf16"], a100["optim"]) == (False, True, "paged_adamw_8bit" if bnb else "adamw_torch")
    cpu = training_config_kwargs(t4_preset, lora=True, out=tmp_path, spec=CPU, bnb_available=bnb)
    assert (cpu["fp16"], cpu["bf16"], cpu["use_cpu"], cpu["optim"]) == (False, False, True, "adamw_torch")
    assert cpu["activation_checkpointing"] is False and "activation_checkpointing_kwargs" not in cpu
    composer = training_config_kwargs(hardware_preset("gpu-scratch"), lora=False, out=tmp_path, spec=T4,
                                      bnb_available=bnb)
    assert composer["optim"] == "adamw_torch" and composer["activation_checkpointing"] is False


def test_sftconfig_accepts_the_t4_kwargs_and_models_load_with_sdpa(tmp_path: Path) -> None:
    from trl import SFTConfig

    from cm_lib.models import load_model
    from cm_lib.train import hardware_preset, training_config_kwargs

    kw = training_config_kwargs(hardware_preset("colab-t4"), lora=True, out=tmp_path, spec=CPU, max_steps=2)
    args = SFTConfig(**kw)  # the installed TRL/transformers take every name (CPU: checkpointing off)
    assert args.optim == "adamw_torch" and not args.activation_checkpointing
    t4 = training_config_kwargs(hardware_preset("colab-t4"), lora=True, out=tmp_path, spec=T4, bnb_available=True)
    t4.update(fp16=False, use_cpu=True)  # fp16 needs a GPU to build; the other T4 names must be accepted as they are
    args = SFTConfig(**t4)
    assert args.activation_checkpointing and args.activation_checkpointing_kwargs == {"use_reentrant": True}
    assert str(args.optim.value if hasattr(args.optim, "value") else args.optim) == "paged_adamw_8bit"
    model, _ = load_model("composer", device=CPU, for_training=True)
    assert model.config._attn_implementation == "sdpa"  # transformers' default: SDPA, no FlashAttention needed
