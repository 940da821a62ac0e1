"""What every exercise checker shares: print the verdict, record it as JSON, call student code safely."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cm_lib.paths import runs_dir

VERDICTS_FILE = Path("exercises") / "verdicts.jsonl"


def verdicts_path() -> Path:
    """runs/exercises/verdicts.jsonl: one JSON line per checked answer (see cm_lib.exercises)."""
    return runs_dir() / VERDICTS_FILE


def verdict(exercise: str, ok: bool, good: str, hint: str) -> bool:
    """Print ✅ good or ❌ hint, append {exercise, passed, time} to verdicts_path(); return ok."""
    ok = bool(ok)
    print(f"✅ {good}" if ok else f"❌ {hint}")
    try:
        path = verdicts_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        row = {"exercise": exercise, "passed": ok, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    except OSError as err:  # a read-only runs/ must not break the lesson
        print(f"(verdict not recorded: {err})")
    return ok


def read_verdicts(path: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded verdict, oldest first ([] when none was recorded yet)."""
    path = path or verdicts_path()
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def call(fn: Callable[..., Any], *args: Any) -> tuple[Any, str | None]:
    """(fn(*args), None), or (None, a one-line description of the error the student's code raised)."""
    if not callable(fn):
        return None, f"pass a function, not {type(fn).__name__} (define it with def ...)"
    try:
        return fn(*args), None
    except Exception as err:  # noqa: BLE001 - any student error becomes a hint
        return None, f"your function raised {type(err).__name__}: {err}"
