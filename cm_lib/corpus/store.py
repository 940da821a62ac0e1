"""A corpus folder on disk: what a build writes, its completion marker (written last), moving a finished build into
place, and reading it back (its stats, its datasets). The build itself is cm_lib.corpus.build."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from cm_lib.corpus.spec import BUILDER_VERSION, MARKER
from cm_lib.errors import AssetNotFoundError, UsageError


def is_complete(path: Path) -> bool:
    """True when `path` holds a finished build: its completion marker exists (written last); notebook 02."""
    return (Path(path) / MARKER).is_file()


def _is_legacy_build(path: Path) -> bool:
    """A build written before the marker existed (builder_version <= 3): stats.json with our settings."""
    try:
        settings = json.loads((path / "stats.json").read_text())["settings"]
        return isinstance(settings.get("builder_version"), int) and (path / "pretrain").is_dir()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


OUTPUTS = ("pretrain", "sft", "stats.json", "README.md")  # what a build writes (besides MARKER)


def check_out_dir(out_dir: Path, overwrite: bool = False) -> Path:
    """Refuse an output that is a file, or a non-empty folder that is not one of our builds (unless overwrite)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder: choose a folder for the corpus")
    if out.is_dir() and any(out.iterdir()) and not overwrite and not is_complete(out) and not _is_legacy_build(out):
        raise UsageError(
            f"--out {out} is not empty and is not a corpus built by cm_lib (no {MARKER}); choose an empty or new "
            f"folder, or pass --overwrite to replace {', '.join(OUTPUTS)} there (other files are kept)"
        )
    return out


def publish_build(tmp: Path, out: Path) -> None:
    """Move a finished build from its sibling temporary folder into `out`, entry by entry, marker last.

    Only the entries a build writes are replaced (other files in `out` are kept); the marker is removed
    first and written last, so an interruption in between leaves a folder that no reader takes as complete.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)
    trash = out.parent / f".{out.name}.old-{os.getpid()}"
    trash.mkdir(exist_ok=True)
    for name in OUTPUTS:
        if (out / name).exists() or (out / name).is_symlink():
            os.replace(out / name, trash / name)
        os.replace(tmp / name, out / name)
    os.replace(tmp / MARKER, out / MARKER)
    shutil.rmtree(trash)
    shutil.rmtree(tmp, ignore_errors=True)


def read_stats(path: Path) -> dict[str, Any]:
    """stats.json of a finished corpus build (AssetNotFoundError if the folder is not one); notebook 02."""
    path = Path(path)
    if not is_complete(path):
        raise AssetNotFoundError(
            f"{path} is not a finished corpus build (no {MARKER}: missing, interrupted or built before the "
            f"marker existed); rebuild it with `python -m cm_lib corpus build --out {path}`"
        )
    return json.loads((path / "stats.json").read_text())


def corpus_is_current(out: Path, preset: str = "small", seed: int = 0) -> bool:
    """True when `out` holds a finished corpus of (preset, seed) from this builder version (what ensure_corpus reuses)."""
    try:
        s = read_stats(out)["settings"]
        return (s.get("preset") == preset and s.get("seed") == seed and s.get("builder_version") == BUILDER_VERSION
                and (out / "pretrain").is_dir() and (out / "sft").is_dir())
    except (OSError, ValueError, KeyError):
        return False


def load_corpus(path: Path) -> tuple[Any, Any]:
    """(pretrain, sft) DatasetDicts of a built corpus folder; notebook 02."""
    from datasets import load_from_disk

    path = Path(path)
    if not is_complete(path) or not (path / "pretrain").is_dir() or not (path / "sft").is_dir():
        raise AssetNotFoundError(f"{path} is not a built corpus (run `python -m cm_lib corpus build --out {path}`)")
    return load_from_disk(str(path / "pretrain")), load_from_disk(str(path / "sft"))
