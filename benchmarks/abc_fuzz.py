"""Fuzz cm_lib.abc and notebook 05's per-tune metrics with mutated corpus tunes; count foreign exceptions.

Usage: python benchmarks/abc_fuzz.py [--n 20000] [--seed 0] [--out benchmarks/results/abc_fuzz.json]
Mutates a seeded sample of music21's corpus tunes (cm_lib.abc.fuzz: character edits, huge numbers, deep
nesting, line endings, bytes, stray fields, odd K:/M:/L: values) and sends each input through every public
reader of cm_lib.abc and through cm_lib.metrics.tune_metrics / tune_features (cm_lib.metrics.fuzz). Only
the library's own errors (CourseError) may escape. Writes the inputs, the foreign exceptions (goal: 0), the
library errors per function, the slowest input and its CPU time, the machine, the date and the commit to
--out, and prints them. Exit status 1 when a foreign exception was found.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "abc_fuzz.json"
SHOWN = 500  # characters of an input kept in the results


def _commit() -> str:
    """The checked-out commit, with "-dirty" when tracked files differ from it ("unknown" outside git)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _machine() -> dict:
    """What ran it: CPU, cores, Python, and the load average before the run (other jobs share the CPU)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "load_average_1_5_15_min_at_start": [round(x, 2) for x in load] if load else None}


def main() -> int:
    """Run the fuzz, write --out, print the figures; 1 if a foreign exception was found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="mutated inputs (default 20,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    args = parser.parse_args()
    if args.n < 1:
        print("error: --n must be positive", file=sys.stderr)
        return 2

    from cm_lib.metrics.fuzz import fuzz
    from cm_lib.paths import atomic_write_text

    machine = _machine()
    commit = _commit()  # of the code that runs, read before it runs
    started = datetime.datetime.now(datetime.timezone.utc)
    report = fuzz(args.n, args.seed)
    result = {
        "command": f"python benchmarks/abc_fuzz.py --n {args.n} --seed {args.seed}",
        "inputs": report.inputs,
        "calls": report.calls,
        "foreign_exceptions": len(report.foreign),
        "foreign_by_function": {f"{t}: {e}": n for (t, e), n in sorted(report.foreign_kinds.items())},
        "foreign_examples": [{"function": f.target, "error": f.error, "input": f.input[:SHOWN]}
                             for f in report.foreign[:20]],
        "library_errors_by_function": dict(sorted(report.library_errors.items())),
        "slowest_input_cpu_seconds": round(report.slowest_seconds, 4),
        "slowest_input_chars": len(report.slowest_input),
        "slowest_input": report.slowest_input[:SHOWN],
        "wall_seconds": round(report.seconds, 1),
        "machine": machine,
        "load_average_1_5_15_min_at_end": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"{report.inputs:,} inputs, {report.calls:,} calls: {len(report.foreign)} foreign exceptions; "
          f"library errors {sum(report.library_errors.values()):,}; slowest input {report.slowest_seconds:.3f} s CPU "
          f"({len(report.slowest_input):,} characters); {report.seconds:.0f} s wall (load at start "
          f"{machine['load_average_1_5_15_min_at_start']}) -> {args.out}")
    for (target, error), n in sorted(report.foreign_kinds.items()):
        print(f"  foreign: {target}: {error} x{n}")
    return 1 if report.foreign else 0


if __name__ == "__main__":
    sys.exit(main())
