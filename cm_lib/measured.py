"""Measured figures as data: the JSON files under cm_lib/data/measured/, each written by the script that measured it.

A file is {"about", "writer", "readers", "key", "rows": [...]}: every row carries the `machine`, `date` and `commit`
it was measured on (rows transcribed from earlier measurements say where from, in `transcribed_from`; estimates say
`"estimate": true`). Library code reads the files through `measured`/`measured_rows`; the scripts in benchmarks/
write them through `record_rows`, which replaces the rows of the same key and keeps the rest.
benchmarks/README.md, "Data files", names each file, its writer and its readers.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import platform
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from cm_lib.errors import AssetNotFoundError, CourseError

MEASURED_DIR = Path(__file__).resolve().parent / "data" / "measured"
PROVENANCE = ("machine", "date", "commit")  # the fields every row carries


def _check(doc: Any, where: str) -> dict:
    """`doc` if it is a measured-data document whose rows all carry PROVENANCE, else CourseError naming `where`."""
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or not doc.get("writer"):
        raise CourseError(f"{where}: not a measured-data file (needs 'writer' and a list of 'rows')")
    for i, row in enumerate(doc["rows"]):
        missing = [f for f in PROVENANCE if not (isinstance(row, dict) and isinstance(row.get(f), str) and row[f])]
        if missing:
            raise CourseError(f"{where}: row {i} lacks {', '.join(missing)}")
    return doc


@cache
def _read(path: Path) -> dict:
    if not path.is_file():
        raise AssetNotFoundError(f"no measured-data file {path.name} in {path.parent} (a broken install of cm_lib?)")
    return _check(json.loads(path.read_text(encoding="utf-8")), str(path))


def measured(name: str) -> dict:
    """The measured-data file `name` (e.g. "step_seconds"), checked: every row has machine, date and commit."""
    return copy.deepcopy(_read(MEASURED_DIR / f"{name}.json"))


def measured_rows(name: str) -> list[dict]:
    """The rows of the measured-data file `name`, each with its machine, date and commit."""
    return measured(name)["rows"]


def measured_names() -> list[str]:
    """The names of every measured-data file shipped with cm_lib."""
    return sorted(p.stem for p in MEASURED_DIR.glob("*.json"))


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device: str | None = None) -> dict:
    """machine, date and commit of a measurement taken now on this machine from this checkout (a row's PROVENANCE).

    `device` names an accelerator (e.g. torch.cuda.get_device_name()); the machine is otherwise the CPU. The commit
    is the checkout's short hash, "+dirty" when tracked files differ from it; `load_average` is the 1-minute load
    when the row is written (above ~1 on a 2-core machine: the figure was taken under load).
    """
    cpu = f"{os.cpu_count()}-core {_cpu_name()}"
    root = Path(__file__).resolve().parents[1]
    commit = _git(root, "rev-parse", "--short", "HEAD") or "unknown (not a git checkout)"
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    row = {"machine": f"{device} on {cpu}" if device else cpu,
           "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(), "commit": commit}
    if hasattr(os, "getloadavg"):
        row["load_average"] = round(os.getloadavg()[0], 1)
    return row


def dump(doc: dict) -> str:
    """A measured-data document as JSON text: header fields first, then one row per line (small diffs on rerun)."""
    head = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in doc.items() if k != "rows"]
    rows = ",\n".join(f"  {json.dumps(r, ensure_ascii=False)}" for r in doc.get("rows", []))
    return "{\n" + ",\n".join([*head, f' "rows": [\n{rows}\n ]']) + "\n}\n"


def record_rows(name: str, rows: list[dict], folder: Path | None = None, about: dict | None = None) -> Path:
    """Write `rows` into the measured-data file `name` (in `folder`, default cm_lib's), replacing rows of the same key.

    The file's "key" lists the fields that identify a row; `about` gives the header fields of a new file
    ("about", "writer", "readers", "key"). Every row must carry machine, date and commit. Written all or nothing.
    """
    folder = Path(folder) if folder is not None else MEASURED_DIR
    path = folder / f"{name}.json"
    if path.is_file():
        doc = _check(json.loads(path.read_text(encoding="utf-8")), str(path))
    elif about is not None:
        doc = {**about, "rows": []}
    else:
        raise AssetNotFoundError(f"no measured-data file {path}: pass `about` to start one")
    key = tuple(doc.get("key") or ())
    if not key:
        raise CourseError(f"{path}: names no 'key' fields, so new rows cannot replace old ones")
    _check({"writer": doc["writer"], "rows": rows}, f"new rows for {path}")
    for row in rows:
        if any(k not in row for k in key):
            raise CourseError(f"new row for {path} lacks a key field ({', '.join(key)}): {row}")
    new = {tuple(r[k] for k in key) for r in rows}
    doc["rows"] = [r for r in doc["rows"] if tuple(r.get(k) for k in key) not in new] + list(rows)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump(doc))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _read.cache_clear()
    return path
