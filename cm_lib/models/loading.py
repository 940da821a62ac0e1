"""Loading a prepared model and tokenizer on cm_lib.device's device and precision (optionally 4-bit NF4)."""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Any

from cm_lib.errors import CourseError
from cm_lib.models.adapter import adapter_root, is_adapter_folder
from cm_lib.models.folder import ModelFolderError
from cm_lib.models.pad import fix_pad_token
from cm_lib.models.presets import MODEL_PRESETS
from cm_lib.models.resolve import prepare

if TYPE_CHECKING:  # heavy imports stay inside functions so the CLI starts fast
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from cm_lib.device import DeviceSpec


def load_tokenizer(name_or_path: str | os.PathLike) -> PreTrainedTokenizerBase:
    """The tokenizer of a preset or folder, with a pad token distinct from EOS (notebook 04)."""
    from transformers import AutoTokenizer

    path = prepare(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"cannot load the tokenizer in {path}: {err}") from None
    return fix_pad_token(tokenizer)


def can_quantize_4bit(device: DeviceSpec) -> bool:
    """True when 4-bit QLoRA is possible: CUDA and bitsandbytes importable."""
    return device.is_cuda and importlib.util.find_spec("bitsandbytes") is not None


def load_model(
    name_or_path: str | os.PathLike,
    device: DeviceSpec | None = None,
    quantize_4bit: bool | None = None,
    for_training: bool = False,
    cpu_bf16: bool | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer on `device` (default pick_device()); 4-bit NF4 if asked (default: preset's choice where CUDA allows) (notebooks 03, 06).

    An adapter folder (a QLoRA run's kept adapter) loads its base with the adapter on top (_load_with_adapter).

    For inference on a CPU (`for_training=False`), `cpu_bf16=None` casts a model of >= 50M parameters to bf16 where
    the CPU computes bf16 in hardware (cm_lib.device.cpu_bf16_for); False keeps the loaded dtype (merging an adapter).
    """
    import torch
    from transformers import AutoModelForCausalLM

    from cm_lib.device import pick_device

    spec = device or pick_device()
    if is_adapter_folder(name_or_path):
        return _load_with_adapter(name_or_path, spec, quantize_4bit, for_training, cpu_bf16)
    path = prepare(name_or_path)
    tokenizer = load_tokenizer(path)
    preset = MODEL_PRESETS.get(str(name_or_path))
    if quantize_4bit is None:
        quantize_4bit = bool(preset and preset.quantize_4bit_default) and can_quantize_4bit(spec)
    elif quantize_4bit and not can_quantize_4bit(spec):
        raise CourseError(
            f"4-bit loading needs an NVIDIA GPU and bitsandbytes (pip install -r requirements-gpu.lock); "
            f"this device is {spec.name}. Use quantize_4bit=False (LoRA in {spec.dtype}) instead."
        )
    kwargs: dict[str, Any] = {"dtype": spec.dtype, "use_safetensors": True}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=spec.dtype,
        )
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"cannot load the model in {path}: {err}") from None
    if not quantize_4bit:
        model.to(spec.device)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if for_training:
        model.config.use_cache = False
        if quantize_4bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        if not quantize_4bit and spec.device == "cpu" and model.dtype == torch.float32:
            from cm_lib.device import cpu_bf16_for

            half = cpu_bf16_for(count_parameters(model), spec) if cpu_bf16 is None else cpu_bf16
            if half:
                model.to(torch.bfloat16)
        model.eval()
    return model, tokenizer


def _load_with_adapter(path: str | os.PathLike, spec: DeviceSpec, quantize_4bit: bool | None, for_training: bool,
                       cpu_bf16: bool | None) -> tuple[Any, PreTrainedTokenizerBase]:
    """A kept LoRA adapter on its base: trainable for training; for inference merged in memory on an fp32 base.

    On a 16-bit or 4-bit base the adapter stays beside it (merging would round the update; no second copy).
    """
    import torch
    from peft import PeftModel

    base, tokenizer = load_model(adapter_root(path), device=spec, quantize_4bit=quantize_4bit,
                                 for_training=for_training, cpu_bf16=False)
    model = PeftModel.from_pretrained(base, str(path), is_trainable=for_training)
    if for_training:
        return model, tokenizer
    if base.dtype == torch.float32 and not getattr(base, "is_loaded_in_4bit", False):
        model = model.merge_and_unload()
        if spec.device == "cpu":
            from cm_lib.device import cpu_bf16_for

            if cpu_bf16_for(count_parameters(model), spec) if cpu_bf16 is None else cpu_bf16:
                model.to(torch.bfloat16)
    model.eval()
    return model, tokenizer


def count_parameters(model: Any, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting tied weights once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total
