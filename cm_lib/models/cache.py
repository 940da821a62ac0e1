"""Where prepared models live (cache_dir()/models) and how a folder is built there safely (temp folder, then rename)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from cm_lib.paths import cache_dir

PRESET_FILE = "cm_preset.json"  # written into every folder that prepare() builds: the recipe it was built with


def models_cache() -> Path:
    """cache_dir()/models, where prepared offline models live."""
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _matches(marker: Path, key: dict) -> bool:
    return marker.is_file() and json.loads(marker.read_text()) == key


def atomic_build(final: Path, build: Callable[[Path], object], key: dict) -> Path:
    """Build into a temporary sibling folder, then rename it into place (safe when processes race)."""
    marker = final / PRESET_FILE
    if _matches(marker, key):
        return final
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        (tmp / PRESET_FILE).write_text(json.dumps(key, indent=2, sort_keys=True) + "\n")
        if final.exists():  # stale (other recipe) or a racing process finished first
            if _matches(marker, key):
                return final
            old = final.parent / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another process renamed its copy in between: use that one
            if not _matches(marker, key):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
