"""`python -m cm_lib grade SUBMISSION.ipynb...`: grade students' notebooks (docs/TEACHING.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `grade` subcommand."""
    from cm_lib.grade import DEFAULT_TIMEOUT

    p = sub.add_parser("grade", help="run submitted notebooks in smoke mode, re-run their exercise checks, "
                                     "write a CSV and one feedback file per submission")
    p.add_argument("submissions", nargs="+", type=Path, help="the students' .ipynb files")
    p.add_argument("--csv", type=Path, default=None, help="CSV to write (default runs/grade/grades.csv)")
    p.add_argument("--feedback", type=Path, default=None, help="folder for the feedback .md files "
                                                                "(default: feedback/ next to the CSV)")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds for one submission's cells")
    p.add_argument("--lesson", default=None, help="the lesson number (01, 02, ...) when it cannot be told")
    p.set_defaults(func=_grade)


def _grade(args: argparse.Namespace) -> int:
    from cm_lib.grade import grade
    from cm_lib.paths import stage_dir

    csv_path = args.csv or stage_dir("grade") / "grades.csv"
    subs = grade(args.submissions, csv_path, args.feedback, timeout=args.timeout, lesson=args.lesson)
    for sub in subs:
        extra = f"  ({len(sub.errors)} problem(s))" if sub.errors else ""
        print(f"{sub.path}: {sub.total}/{len(sub.results)} in {sub.seconds:.0f} s{extra}")
    print(f"-> {csv_path}")
    return 0
