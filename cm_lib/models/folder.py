"""What makes a folder a usable model: a parseable config.json, safetensors weights (never pickles), a tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

from cm_lib.errors import AssetNotFoundError, CourseError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt")


class ModelFolderError(CourseError):
    """A model folder whose files cannot be used: malformed config.json or safetensors, or pickle-only weights."""


def read_config(path: Path) -> dict:
    """The parsed config.json of a model folder; ModelFolderError when it is not a JSON object with a model_type."""
    file = path / "config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"{file} is not valid JSON ({err})") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise ModelFolderError(f"{file} is not a model configuration (a JSON object with a \"model_type\")")
    return config


def safetensors_parameters(path: Path) -> int:
    """Parameters stored in a folder's *.safetensors files (read from their headers, tied names once)."""
    from safetensors import SafetensorError, safe_open

    params = 0
    seen: set[str] = set()
    for file in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(file, framework="pt") as f:
                for name in f.keys():
                    if name in seen:
                        continue
                    seen.add(name)
                    n = 1
                    for d in f.get_slice(name).get_shape():
                        n *= d
                    params += n
        except (SafetensorError, OSError) as err:
            raise ModelFolderError(f"{file} is not a valid safetensors file ({err})") from None
    return params


def validate_model_dir(path: Path) -> None:
    """Raise unless `path` holds config.json, safetensors weights and a tokenizer (pickle weights are refused)."""
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    has_safetensors = any(path.glob("*.safetensors"))
    pickles = sorted(p.name for pattern in PICKLE_WEIGHTS for p in path.glob(pattern))
    if not has_safetensors and pickles:
        raise ModelFolderError(
            f"{path} holds only pickle weights ({', '.join(pickles)}): cm_lib refuses pickles, because loading "
            "one can run arbitrary code. Use a copy of the model saved as *.safetensors (save_pretrained writes them)."
        )
    if not has_safetensors:
        missing.append("weights (*.safetensors)")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer (tokenizer.json)")
    if missing:
        raise AssetNotFoundError(f"{path} is not a Hugging Face model folder: missing {', '.join(missing)}")
    read_config(path)
    safetensors_parameters(path)  # every header parses
