"""Point the Hugging Face libraries at the simulator: environment variables, and the constants they froze at import.

huggingface_hub, datasets and transformers read HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE once, when imported. A
subprocess or a notebook kernel started with `hub_env(...)` in its environment needs nothing else; inside a pytest
process that imported them earlier, `apply_env` also sets the module constants they read, and undoes it all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_env(url: str, hf_home: Path, offline: bool = False) -> dict[str, str | None]:
    """The environment (None = unset) that sends every HF client to `url` with its cache in `hf_home`."""
    env: dict[str, str | None] = {
        "HF_ENDPOINT": url, "HF_HOME": str(hf_home), "HF_HUB_CACHE": None, "HF_DATASETS_CACHE": None,
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": None,
        "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "30",
    }
    for var in OFFLINE_VARS:
        env[var] = "1" if offline else None
    return env


def _constants(env: dict[str, str | None]) -> list[tuple[str, str, object]]:
    """(module, attribute, value) of every frozen constant that `env` changes."""
    endpoint = env["HF_ENDPOINT"] or "https://huggingface.co"
    home = Path(env["HF_HOME"] or Path.home() / ".cache" / "huggingface")
    offline = env.get("HF_HUB_OFFLINE") == "1"
    ds_cache = home / "datasets"
    hh = "huggingface_hub.constants"
    dc = "datasets.config"
    return [
        (hh, "ENDPOINT", endpoint),
        (hh, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"),
        (hh, "HF_HOME", str(home)),
        (hh, "HF_HUB_CACHE", str(home / "hub")),
        (hh, "HUGGINGFACE_HUB_CACHE", str(home / "hub")),
        (hh, "HF_ASSETS_CACHE", str(home / "assets")),
        (hh, "HF_XET_CACHE", str(home / "xet")),
        (hh, "HF_TOKEN_PATH", str(home / "token")),
        (hh, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens")),
        (hh, "HF_HUB_OFFLINE", offline),
        (hh, "HF_HUB_DISABLE_TELEMETRY", True),
        (hh, "HF_HUB_DISABLE_XET", True),
        (hh, "HF_HUB_ETAG_TIMEOUT", 5),
        (hh, "HF_HUB_DOWNLOAD_TIMEOUT", 30),
        ("huggingface_hub.utils._cache_manager", "HF_HUB_CACHE", str(home / "hub")),
        ("huggingface_hub.file_download", "HF_HUB_CACHE", str(home / "hub")),
        (dc, "HF_ENDPOINT", endpoint),
        (dc, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"),
        (dc, "HF_HUB_OFFLINE", offline),
        (dc, "HF_DATASETS_OFFLINE", offline),
        (dc, "HF_CACHE_HOME", str(home)),
        (dc, "HF_DATASETS_CACHE", ds_cache),
        (dc, "HF_MODULES_CACHE", home / "modules"),
        (dc, "DEFAULT_DOWNLOADED_DATASETS_PATH", str(ds_cache / "downloads")),
        (dc, "DOWNLOADED_DATASETS_PATH", ds_cache / "downloads"),
        (dc, "DEFAULT_EXTRACTED_DATASETS_PATH", str(ds_cache / "downloads" / "extracted")),
        (dc, "EXTRACTED_DATASETS_PATH", ds_cache / "downloads" / "extracted"),
    ]


def apply_env(env: dict[str, str | None]) -> Callable[[], None]:
    """Set `env` in os.environ and in the HF modules already imported; returns the function that undoes both."""
    saved_env = {k: os.environ.get(k) for k in env}
    saved_attrs: list[tuple[object, str, object]] = []
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    for module_name, attr, value in _constants(env):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, attr):
            saved_attrs.append((module, attr, getattr(module, attr)))
            setattr(module, attr, value)
    _forget_clients()

    def restore() -> None:
        for module, attr, value in reversed(saved_attrs):
            setattr(module, attr, value)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget_clients()

    return restore


def _forget_clients() -> None:
    """Drop cached filesystem instances and resolved revisions, so a change of endpoint or mode is seen."""
    fs_module = sys.modules.get("huggingface_hub.hf_file_system")
    if fs_module is not None:
        cls = getattr(fs_module, "HfFileSystem", None)
        if cls is not None and hasattr(cls, "clear_instance_cache"):
            cls.clear_instance_cache()
