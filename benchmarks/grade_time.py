"""Grading time per submission: the sandboxed grader against the unsandboxed one it replaced, in the same run.

Usage: python benchmarks/grade_time.py [--reps 2] [--baseline-ref main] [--json benchmarks/results/grade_time.json]

The baseline is cm_lib/grade.py as it is on `--baseline-ref` (read with `git show`; it ran each notebook
in the teacher's own kernel and re-ran the checks there). The new grader runs each submission in its
bubblewrap sandbox and the checks in a second sandboxed process (and, for comparison, with
`--no-sandbox`). Each repetition grades the same class, notebook 01 as shipped (blank) and its
solutions, with every arm in turn (order rotated per repetition); the new grader's wall time includes
its setup (the course copy, the sandbox probe). Target: new / baseline <= 1.5 per submission.
The load average is recorded: on a shared machine, say "under load".
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLASS = ["notebooks/01_abc_as_a_second_language.ipynb", "notebooks/solutions/01_solutions.ipynb"]


def baseline_module(ref: str, folder: Path) -> Any:
    """cm_lib/grade.py at git ref `ref`, written into `folder` and imported as a module of its own."""
    source = subprocess.run(["git", "show", f"{ref}:cm_lib/grade.py"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    path = folder / "cm_grade_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("cm_grade_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cm_grade_baseline"] = module
    spec.loader.exec_module(module)
    return module


def run_baseline(module: Any, paths: list[Path]) -> dict[str, Any]:
    """Grade the class with the baseline grader, one submission at a time (as its `grade` did)."""
    start = time.monotonic()
    subs = [module.grade_submission(p, timeout=600) for p in paths]
    return {"wall_s": time.monotonic() - start, "per_submission_s": [s.seconds for s in subs],
            "scores": [s.total for s in subs]}


def run_new(paths: list[Path], sandbox: bool) -> dict[str, Any]:
    """Grade the class with the new grader (one Grader for the class, as `grade` and the CLI do)."""
    from cm_lib.grade import grade_submission
    from cm_lib.grading.session import Grader

    start = time.monotonic()
    with Grader(sandboxed=sandbox) as grader:
        setup = time.monotonic() - start
        subs = [grade_submission(p, timeout=600, grader=grader) for p in paths]
    return {"wall_s": time.monotonic() - start, "setup_s": setup, "per_submission_s": [s.seconds for s in subs],
            "scores": [s.total for s in subs]}


def main() -> None:
    """Run the benchmark, print a table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--baseline-ref", default="main", help="git ref whose cm_lib/grade.py is the baseline")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks/results/grade_time.json")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from cm_lib.grade import unavailable_reason

    reason = unavailable_reason()
    if reason:
        sys.exit(f"error: {reason}; the benchmark measures the sandbox")
    with tempfile.TemporaryDirectory(prefix="cm-grade-bench-") as tmp:
        os.environ["CM_RUNS_DIR"] = str(Path(tmp) / "runs")
        measure(args, baseline_module(args.baseline_ref, Path(tmp)))


def measure(args: argparse.Namespace, baseline: Any) -> None:
    """Grade the class with every arm, `args.reps` times; print and write the figures."""
    from cm_lib.paths import atomic_write_text

    paths = [REPO / p for p in CLASS]
    arms = {"baseline": lambda: run_baseline(baseline, paths), "sandbox": lambda: run_new(paths, True),
            "no_sandbox": lambda: run_new(paths, False)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
    load = [os.getloadavg()[0]]
    for rep in range(args.reps):
        order = list(arms)[rep % len(arms):] + list(arms)[:rep % len(arms)]
        for name in order:
            result = arms[name]()
            runs[name].append(result)
            load.append(os.getloadavg()[0])
            each = ", ".join(f"{s:.1f}" for s in result["per_submission_s"])
            print(f"rep {rep + 1} {name:10s} wall {result['wall_s']:6.1f} s  per submission {each} s  "
                  f"scores {result['scores']}", flush=True)
    ratio = {name: statistics.median(r["wall_s"] / b["wall_s"] for r, b in zip(runs[name], runs["baseline"]))
             for name in ("sandbox", "no_sandbox")}
    per_sub = {name: statistics.median(s for r in rs for s in r["per_submission_s"]) for name, rs in runs.items()}
    report = {"what": "seconds to grade notebook 01 as shipped and its solutions (one class of 2), per arm",
              "class": CLASS, "reps": args.reps, "baseline": f"git show {args.baseline_ref}:cm_lib/grade.py",
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
              "load_average_1min": [round(x, 2) for x in load], "under_load": max(load) > (os.cpu_count() or 1) / 2,
              "median_per_submission_s": {k: round(v, 2) for k, v in per_sub.items()},
              "median_wall_ratio_vs_baseline": {k: round(v, 3) for k, v in ratio.items()},
              "target_ratio": 1.5, "runs": runs}
    atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    print("median per submission: " + ", ".join(f"{k} {v:.1f} s" for k, v in per_sub.items()))
    print(f"wall ratio vs baseline: sandbox {ratio['sandbox']:.2f}x, no-sandbox {ratio['no_sandbox']:.2f}x "
          f"(target <= 1.5); load average {min(load):.1f}-{max(load):.1f} -> {args.json}")


if __name__ == "__main__":
    main()
