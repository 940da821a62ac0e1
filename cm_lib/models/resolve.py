"""A preset name or a folder -> a local model folder: built (tiny, composer), converted (SmolLM2) or downloaded (hub)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cm_lib.models.adapter import adapter_root, is_adapter_folder
from cm_lib.models.cache import PRESET_FILE
from cm_lib.models.folder import read_config, safetensors_parameters, validate_model_dir
from cm_lib.models.presets import MODEL_PRESETS, model_preset


def check_model(name_or_path: str | os.PathLike) -> None:
    """Raise unless `name_or_path` is a preset name or a usable model folder (nothing is built or downloaded)."""
    text = str(name_or_path)
    if text in MODEL_PRESETS:
        return
    if is_adapter_folder(text):  # a kept LoRA adapter (QLoRA runs): its base must be usable
        check_model(adapter_root(text))
        return
    path = Path(text).expanduser()
    if not path.is_dir():
        model_preset(text)  # raises AssetNotFoundError with the known names
    validate_model_dir(path)


def prepare(name_or_path: str | os.PathLike) -> Path:
    """A local HF-format folder (model + tokenizer) for a preset name or an existing folder."""
    check_model(name_or_path)
    text = str(name_or_path)
    if text not in MODEL_PRESETS:  # a model folder, or an adapter folder (its tokenizer is saved beside it)
        return Path(text).expanduser().resolve()
    preset = MODEL_PRESETS[text]
    from cm_lib.models.tiny import SCRATCH_PRESETS, prepare_scratch

    if preset.name in SCRATCH_PRESETS:
        return prepare_scratch(preset.name)
    if preset.name == "smollm2-135m":
        from cm_lib.models.gguf import prepare_smollm2, smollm2_gguf_path

        gguf = smollm2_gguf_path()
        if gguf is not None:
            return prepare_smollm2(gguf)
    from cm_lib.models.download import prepare_from_hub

    return prepare_from_hub(preset)


def model_info(path: str | os.PathLike) -> dict:
    """Name, path, architecture and parameter count of a prepared folder (read from its files, no loading)."""
    folder = prepare(path)
    config = read_config(folder)
    marker = folder / PRESET_FILE
    name = json.loads(marker.read_text()).get("preset") if marker.is_file() else None
    return {
        "name": name or (str(path) if str(path) in MODEL_PRESETS else folder.name),
        "path": str(folder),
        "architecture": (config.get("architectures") or ["?"])[0],
        "parameters": safetensors_parameters(folder),
    }
