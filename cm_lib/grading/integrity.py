"""The pristine copy of the course that grading runs from, and the hashes that say whether anything changed.

`make_snapshot` copies what a lesson and its checks need (cm_lib's sources, pyproject.toml,
data_samples/, the lesson notebooks; never solutions/, runs/ or submissions) into a fresh folder and
compiles it. `fingerprint` hashes the checker code of the live checkout (cm_lib/**/*.py and the lesson
notebooks the grader reads its exercise calls from) or every file of the snapshot; `changed` names the
files whose hash moved. The grader compares both with their values at the start before and after each
submission and reports no grades if either changed.
"""

from __future__ import annotations

import compileall
import hashlib
import shutil
from pathlib import Path

LESSON_GLOB = "[0-9][0-9]_*.ipynb"


def checker_files(root: Path) -> list[Path]:
    """The files whose content decides a verdict: cm_lib/**/*.py and notebooks/NN_*.ipynb of `root`."""
    files = [p for p in (root / "cm_lib").rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files + list((root / "notebooks").glob(LESSON_GLOB)))


def fingerprint(root: Path, files: list[Path] | None = None) -> dict[str, str]:
    """relative path -> sha256 of `files` (default: every regular file under `root`)."""
    if files is None:
        files = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    out = {}
    for p in files:
        h = hashlib.sha256()
        h.update(b"L" + str(p.readlink()).encode() if p.is_symlink() else b"F" + p.read_bytes())
        out[str(p.relative_to(root))] = h.hexdigest()
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths added, removed or modified between two fingerprints."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def make_snapshot(root: Path, dest: Path, seen_as: str | None = None) -> Path:
    """Copy the course's code and lessons from checkout `root` into a new `dest`, compile it, make it read-only.

    `seen_as` is the path the sandbox shows the copy at (recorded in the compiled files' tracebacks).
    """
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(root / "cm_lib", dest / "cm_lib", ignore=ignore)
    shutil.copy2(root / "pyproject.toml", dest / "pyproject.toml")
    if (root / "data_samples").is_dir():
        shutil.copytree(root / "data_samples", dest / "data_samples", ignore=ignore)
    (dest / "notebooks").mkdir()
    for nb in (root / "notebooks").glob(LESSON_GLOB):
        shutil.copy2(nb, dest / "notebooks" / nb.name)
    compileall.compile_dir(str(dest / "cm_lib"), quiet=2, workers=1,
                           ddir=f"{seen_as}/cm_lib" if seen_as else None)
    for p in sorted(dest.rglob("*"), reverse=True):  # files first, then their folders
        p.chmod(0o555 if p.is_dir() else 0o444)
    dest.chmod(0o555)
    return dest


def remove_snapshot(dest: Path) -> None:
    """Delete a snapshot made by `make_snapshot` (it is read-only)."""
    if not dest.exists():
        return
    for p in [dest, *dest.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(dest)
