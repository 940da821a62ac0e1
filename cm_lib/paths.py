"""Where artefacts live: one folder per stage under runs/ (CM_RUNS_DIR overrides, e.g. a Drive folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cm_lib.errors import AssetNotFoundError, UsageError

RUNS_ENV = "CM_RUNS_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path | None:
    """The course checkout containing cm_lib, or None when cm_lib is installed elsewhere."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def data_samples_dir() -> Path:
    """The data_samples/ folder of the checkout (small files written for the lessons); notebook 01."""
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


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` all or nothing: a temporary file beside it, fsynced, renamed over it.

    On any error (a full disk, an interruption) the temporary file is removed and `path` is left as
    it was (absent or its old content). The parent folder must exist.
    """
    import contextlib
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text, creating the parent folder; UsageError if `path` is a folder."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, text.encode("utf-8"))


def fresh_sibling_dir(folder: str | Path) -> Path:
    """An empty temporary folder beside `folder` (.<name>.tmp-<pid>), where a build is written before it is moved into
    place; our own leftover from an interrupted build with this pid is removed first."""
    import shutil

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


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
