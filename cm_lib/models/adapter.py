"""A LoRA adapter folder (adapter_config.json + adapter_model.safetensors) as a model: what base it belongs to.

A QLoRA run keeps its adapter instead of merging it (merging into 4-bit weights rounds the update away, and a
16-bit merge of a 7B model does not fit a T4 next to training): the SFT run continues the CPT adapter, and
evaluation loads the base with the adapter on top (cm_lib.models.load_model).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cm_lib.errors import AssetNotFoundError
from cm_lib.models.folder import ModelFolderError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_MAX_CHAIN = 8  # an adapter continued from an adapter ...: more links than any course run makes


def is_adapter_folder(path: str | os.PathLike) -> bool:
    """True when `path` is a folder holding a PEFT adapter (adapter_config.json) rather than a whole model."""
    folder = Path(str(path)).expanduser()
    return folder.is_dir() and (folder / ADAPTER_CONFIG).is_file() and not (folder / "config.json").is_file()


def adapter_base(path: str | os.PathLike) -> str:
    """The model an adapter was trained on: its run's settings.json `model` (a preset, folder or adapter), else PEFT's record."""
    folder = Path(str(path)).expanduser()
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise ModelFolderError(f"{folder} holds no {ADAPTER_WEIGHTS} (cm_lib refuses pickle adapters)")
    settings = folder.parent / "settings.json"
    try:
        model = json.loads(settings.read_text(encoding="utf-8")).get("model") if settings.is_file() else None
        if not model:
            model = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as err:
        raise ModelFolderError(f"cannot read which model the adapter in {folder} belongs to: {err}") from None
    if not model:
        raise AssetNotFoundError(f"the adapter in {folder} does not say which model it belongs to")
    return str(model)


def adapter_root(path: str | os.PathLike) -> str:
    """The base model (preset name or folder) under an adapter, following adapters continued from adapters."""
    current = str(path)
    for _ in range(_MAX_CHAIN):
        if not is_adapter_folder(current):
            return current
        current = adapter_base(current)
    raise ModelFolderError(f"{path}: more than {_MAX_CHAIN} adapters continued from one another")
