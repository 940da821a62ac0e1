"""A hardware preset on this machine -> trl.SFTConfig kwargs, the LoRA config and the 4-bit choice (cm_lib.device decides precision)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cm_lib.train.presets import HardwarePreset


def device_spec() -> Any:
    """cm_lib.device's pick of device and precision."""
    from cm_lib.device import pick_device

    return pick_device()


def precision_kwargs(spec: Any | None = None, cpu_bf16: bool = False) -> dict:
    """bf16/fp16/use_cpu flags for SFTConfig from cm_lib.device (on a CPU bf16 autocast only if `cpu_bf16`, never CUDA)."""
    spec = spec or device_spec()
    on_cpu = str(spec.device) == "cpu"
    return {"bf16": (bool(spec.bf16) and not on_cpu) or (on_cpu and cpu_bf16), "fp16": bool(spec.fp16) and not on_cpu,
            "use_cpu": on_cpu}


def cpu_bf16_base(spec: Any, lora: bool, n_params: int, quantize_4bit: bool = False) -> bool:
    """Whether a LoRA run on this CPU keeps its frozen base in bf16 under bf16 autocast (cm_lib.device.cpu_bf16_for: by size) (notebook 03)."""
    from cm_lib.device import cpu_bf16_for

    return bool(lora) and not quantize_4bit and str(spec.device) == "cpu" and cpu_bf16_for(n_params, spec)


def optimizer_choice(preset: HardwarePreset, spec: Any, bnb_available: bool | None = None) -> str:
    """The preset's optimiser where it can run: bitsandbytes' paged/8-bit AdamW only on CUDA with bitsandbytes, else adamw_torch."""
    if "8bit" not in preset.optim and "paged" not in preset.optim:
        return preset.optim
    if bnb_available is None:
        from cm_lib.models.loading import can_quantize_4bit  # CUDA and bitsandbytes importable

        bnb_available = can_quantize_4bit(spec)
    usable = bool(bnb_available) and spec.is_cuda
    return preset.optim if usable else "adamw_torch"


def checkpointing_kwargs(preset: HardwarePreset, spec: Any) -> dict:
    """SFTConfig's activation checkpointing settings: on for GPU presets that ask for it, with the preset's use_reentrant."""
    on = bool(preset.gradient_checkpointing) and str(spec.device) != "cpu"
    kw: dict = {"activation_checkpointing": on}
    if on:
        kw["activation_checkpointing_kwargs"] = {"use_reentrant": bool(preset.use_reentrant)}
    return kw


def training_config_kwargs(preset: HardwarePreset, lora: bool, out: Path, max_steps: int | None = None,
                           save_steps: int | None = None, seed: int = 0, spec: Any | None = None,
                           completion_only: bool = False, cpu_bf16: bool = False,
                           bnb_available: bool | None = None) -> dict:
    """Keyword arguments for trl.SFTConfig for this preset on this machine (notebook 03, exercise 3).

    `cpu_bf16`: bf16 autocast on a CPU (build_trainer sets it for LoRA on a large base where cm_lib.device.cpu_bf16_for says so).
    `bnb_available`: whether bitsandbytes is installed (None: look), for the paged 8-bit optimiser on CUDA.
    """
    spec = spec or device_spec()
    on_cpu = str(spec.device) == "cpu"
    steps = max_steps if max_steps is not None else preset.max_steps
    packing = not completion_only
    strategy = preset.packing_strategy
    if strategy == "bfd" and on_cpu:
        strategy = "wrapped"  # padding-free packing is slower on a CPU (benchmarks/README.md, "Precision and CPU speed")
    kw = dict(
        output_dir=str(out),
        per_device_train_batch_size=preset.batch_size,
        gradient_accumulation_steps=preset.grad_accum,
        max_length=preset.sft_seq_len if completion_only else preset.seq_len,
        packing=packing,
        packing_strategy=strategy,
        completion_only_loss=True if completion_only else None,
        **checkpointing_kwargs(preset, spec),
        learning_rate=preset.learning_rate if lora else (
            preset.sft_full_learning_rate if completion_only and preset.sft_full_learning_rate else preset.full_learning_rate),
        adam_beta1=preset.adam_betas[0],
        adam_beta2=preset.adam_betas[1],
        weight_decay=preset.weight_decay,
        warmup_steps=int(preset.warmup_ratio * steps) if steps else 0,
        lr_scheduler_type="cosine" if (steps or 0) > 50 or steps is None else "constant",
        optim=optimizer_choice(preset, spec, bnb_available),
        logging_steps=1 if (steps is not None and steps <= 50) else 10,
        logging_first_step=True,
        save_steps=save_steps or max(1, steps or 500),
        save_total_limit=preset.keep_checkpoints,
        seed=seed,
        data_seed=seed,
        report_to="none",
        dataloader_pin_memory=False,
        dataset_num_proc=None,
        disable_tqdm=False,
        **precision_kwargs(spec, cpu_bf16),
    )
    if steps is not None:
        kw["max_steps"] = steps
    else:
        kw["num_train_epochs"] = preset.epochs
    return kw


def lora_config(preset: HardwarePreset, targets: Sequence[str] | None = None) -> Any:
    """The PEFT LoraConfig of a hardware preset on `targets` (default: the Llama presets' q/k/v/o/gate/up/down)."""
    from peft import LoraConfig

    from cm_lib.models.presets import lora_targets_for

    modules = list(targets) if targets is not None else list(lora_targets_for("LlamaForCausalLM"))
    return LoraConfig(r=preset.lora_r, lora_alpha=preset.lora_alpha, lora_dropout=preset.lora_dropout,
                      target_modules=modules, bias="none", task_type="CAUSAL_LM")


def quantize_choice(preset: HardwarePreset, spec: Any) -> bool | None:
    """What to pass as load_model's quantize_4bit: never 4-bit off CUDA, else the preset's choice (None: the model preset's)."""
    return preset.quantize_4bit if spec.is_cuda else False


def training_load_kwargs(preset: HardwarePreset, spec: Any, model: str, lora: bool | None,
                         bnb_available: bool | None = None) -> dict:
    """How build_trainer loads what it trains: {'quantize_4bit', 'dtype' (weights), 'compute_dtype'} (notebook 03).

    Weights that the optimiser updates stay fp32 ("master weights") on every device; fp16/bf16 come only from
    autocast (the fp16/bf16 flags of precision_kwargs), so a T4's GradScaler never meets fp16 gradients
    ("Attempting to unscale FP16 gradients"). A frozen LoRA base may sit in the device's half precision
    (PEFT keeps the adapters fp32); a 4-bit QLoRA base computes in the device's dtype (fp16 on a T4, bf16
    on an A100/H100). `lora=None` (decided after loading by size) loads fp32, the safe choice.
    """
    import torch

    from cm_lib.models.presets import MODEL_PRESETS

    quant = quantize_choice(preset, spec)
    if quant is None:  # the preset leaves it to the model: QLoRA for the large (>= 1B) presets, where possible
        if bnb_available is None:
            from cm_lib.models.loading import can_quantize_4bit

            bnb_available = can_quantize_4bit(spec)
        model_preset = MODEL_PRESETS.get(str(model))
        quant = bool(model_preset and model_preset.quantize_4bit_default) and bool(bnb_available) and spec.is_cuda
    quant = bool(quant) and bool(lora is not False)  # 4-bit weights cannot be trained in full
    if quant:
        return {"quantize_4bit": True, "dtype": spec.dtype, "compute_dtype": spec.dtype}
    dtype = spec.dtype if lora else torch.float32
    return {"quantize_4bit": False, "dtype": dtype, "compute_dtype": None}


def upcast_trainable(model: Any) -> int:
    """Cast every trainable parameter that is not fp32 to fp32 (master weights for fp16 autocast); returns how many."""
    import torch

    cast = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            cast += 1
    return cast
