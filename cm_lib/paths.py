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
    """The data_samples/ folder of the checkout (small files written for the lessons)."""
    root = repo_root()
    if root is None:
        raise FileNotFoundError("data_samples/ ships with the course checkout; clone the repository")
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
    """Folder of one stage (corpus, cpt, sft, generate, bench, ...), created if missing."""
    path = runs_dir().joinpath(stage, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Cache for converted models and built tokenizers ($CM_CACHE_DIR, else runs/cache)."""
    env = os.environ.get("CM_CACHE_DIR")
    path = Path(env).expanduser() if env else runs_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_summary(stage: str, summary: dict) -> Path:
    """Record a stage's headline figures in runs/summary/<stage>.json for the course summary."""
    path = stage_dir("summary") / f"{stage}.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_summaries() -> dict[str, dict]:
    """All stage summaries written so far, keyed by stage name."""
    folder = runs_dir() / "summary"
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
