"""Running the course: every notebook executed headless into runs/notebooks, and the summary of the run."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cm_lib.config import SMOKE_ENV
from cm_lib.errors import AssetNotFoundError
from cm_lib.headlines import headlines_table
from cm_lib.measured import provenance
from cm_lib.paths import atomic_write_text, read_summaries, repo_root, runs_dir, stage_dir


@dataclass
class NotebookRun:
    """Outcome of executing one notebook."""

    name: str
    ok: bool
    seconds: float
    output: Path
    error: str = ""


def course_notebooks(folder: Path | None = None) -> list[Path]:
    """The lesson notebooks (NN_*.ipynb) in course order."""
    if folder is None:
        root = repo_root()
        if root is None:
            raise AssetNotFoundError("notebooks/ ships with the course checkout; clone the repository")
        folder = root / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, out_path: Path | None = None, smoke: bool = False, timeout: int = -1) -> NotebookRun:
    """Execute a notebook top to bottom in a fresh kernel (cwd = its folder); save the executed copy."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get(SMOKE_ENV)
    os.environ[SMOKE_ENV] = "1" if smoke else "0"
    if "HF_ENDPOINT" not in os.environ:  # a headless run stays offline unless asked (HF_HUB_OFFLINE=0) or pointed
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # at a hub of its own (HF_ENDPOINT: e.g. tests' simulated hub)
    start = time.perf_counter()
    error = ""
    try:
        client = NotebookClient(
            nb, timeout=None if timeout < 0 else timeout, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    except CellExecutionError as err:
        error = str(err)
    finally:
        if previous is None:
            os.environ.pop(SMOKE_ENV, None)
        else:
            os.environ[SMOKE_ENV] = previous
    seconds = time.perf_counter() - start
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_path)
    return NotebookRun(path.stem, not error, seconds, out_path or path, error)


def run_course(smoke: bool = False, only: list[str] | None = None) -> list[NotebookRun]:
    """Execute the notebooks in order (stopping at the first failure); write runs/summary.md and runs/notebooks/course_run.json."""
    out_dir = stage_dir("notebooks")
    started = time.time()
    runs: list[NotebookRun] = []
    for nb in course_notebooks():
        if only and not any(nb.stem.startswith(o) for o in only):
            continue
        print(f"▶ {nb.name} ({'smoke' if smoke else 'full'}) ...", flush=True)
        run = execute_notebook(nb, out_dir / nb.name, smoke=smoke)
        runs.append(run)
        print(f"  {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s -> {run.output}", flush=True)
        if not run.ok:
            print(run.error[-3000:])
            break
    _write_course_run(runs, smoke, started)
    text = format_summary(runs, smoke)
    atomic_write_text(runs_dir() / "summary.md", text)
    print(text)
    return runs


COURSE_RUN_FILE = "course_run.json"  # in runs/notebooks/: what benchmarks/course_times.py reads


def _write_course_run(runs: list[NotebookRun], smoke: bool, started: float) -> None:
    """Record the run's notebook times with the machine, date and commit (benchmarks/course_times.py reads them)."""
    from cm_lib.course.stages import course_choice
    from cm_lib.device import device_class, pick_device

    spec = pick_device()
    record = {"smoke": smoke, "device": device_class(spec), "plan": course_choice(smoke).device,
              "started": started, "finished": time.time(),
              "notebooks": [{"name": r.name, "ok": r.ok, "seconds": round(r.seconds, 1)} for r in runs],
              **provenance(spec.name if spec.is_cuda else None)}
    atomic_write_text(stage_dir("notebooks") / COURSE_RUN_FILE, json.dumps(record, indent=2) + "\n")


def format_summary(runs: list[NotebookRun], smoke: bool, summaries: dict[str, dict] | None = None) -> str:
    """Markdown a person reads (runs/summary.md): the notebooks run and their times, then one table of each stage's headline numbers."""
    summaries = read_summaries() if summaries is None else summaries
    lines = [f"# Course run ({'smoke' if smoke else 'full'} mode)", "", "| notebook | status | seconds |",
             "|---|---|---|"]
    lines += [f"| {r.name} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.1f} |" for r in runs]
    lines += ["", f"Total: {sum(r.seconds for r in runs):.1f} s", ""]
    if summaries:
        lines += ["## Headline numbers", "", "Rates: successes/n = % [95% interval].", "",
                  headlines_table(summaries), "",
                  "Every figure each notebook recorded, for programs: summary/<stage>.json beside this file.", ""]
    return "\n".join(lines)
