"""Where artefacts live: one folder per stage under runs/ (CM_RUNS_DIR overrides, e.g. a Drive folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

RUNS_ENV = "CM_RUNS_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path | None:
    """The course checkout containing cm_lib, or None when cm_lib is installed elsewhere."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def data_samples_dir() -> Path:
    """The data_samples/ folder of the checkout (small files written for the lessons); notebook 01."""
    from cm_lib.errors import AssetNotFoundError

    root = repo_root()
    if root is None:
        raise AssetNotFoundError("data_samples/ ships with the course checkout; clone the repository")
    return root / "data_samples"


def runs_dir() -> Path:
    """Root folder for all artefacts: $CM_RUNS_DIR, else <repo>/runs, else ./runs."""
    env = os.environ.get(RUNS_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        root = repo_root()
        path = (root if root is not None else Path.cwd()) / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stage_dir(stage: str, *parts: str) -> Path:
    """Folder of one stage (corpus, cpt, sft, generate, bench, ...), created if missing; notebooks 04, 06."""
    path = runs_dir().joinpath(stage, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Cache for converted models and built tokenizers ($CM_CACHE_DIR, else runs/cache)."""
    env = os.environ.get("CM_CACHE_DIR")
    path = Path(env).expanduser() if env else runs_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` all or nothing: a sibling temporary file renamed over it once written.

    An interruption or a full disk leaves the old file (or none), never a half-written one, and no
    temporary file behind. The parent folder is created if missing.
    """
    from cm_lib.errors import UsageError

    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_summary(stage: str, summary: dict) -> Path:
    """Record a stage's headline figures in runs/summary/<stage>.json for the course summary (notebooks 01-06)."""
    path = stage_dir("summary") / f"{stage}.json"
    return atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def read_summaries() -> dict[str, dict]:
    """All stage summaries written so far, keyed by stage name."""
    folder = runs_dir() / "summary"
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
