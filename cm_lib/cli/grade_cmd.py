"""`python -m cm_lib grade SUBMISSION.ipynb...`: grade students' notebooks, each in a sandbox (docs/TEACHING.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cm_lib.errors import UsageError
from cm_lib.paths import stage_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `grade` subcommand."""
    from cm_lib.grade import DEFAULT_TIMEOUT

    p = sub.add_parser("grade", help="run submitted notebooks in smoke mode, each in a sandbox, re-run their exercise "
                                     "checks, write a CSV and one feedback file per submission")
    p.add_argument("submissions", nargs="+", type=Path, help="the students' .ipynb files")
    p.add_argument("--csv", type=Path, default=None, help="CSV to write (default runs/grade/grades.csv)")
    p.add_argument("--feedback", type=Path, default=None, help="folder for the feedback .md files "
                                                                "(default: feedback/ next to the CSV)")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds for one submission's cells")
    p.add_argument("--lesson", default=None, help="the lesson number (01, 02, ...) when it cannot be told")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run submissions without bubblewrap (no isolation: only inside a throw-away container or VM)")
    p.set_defaults(func=_grade)


def _grade(args: argparse.Namespace) -> int:
    from cm_lib.grade import grade

    if args.timeout < 1:
        raise UsageError("--timeout must be at least 1 second")
    if args.no_sandbox:
        print("warning: --no-sandbox: submissions run with your rights and can read and change your files; "
              "the grader only detects changes to its checker code", file=sys.stderr)
    csv_path = args.csv or stage_dir("grade") / "grades.csv"
    subs = grade(args.submissions, csv_path, args.feedback, timeout=args.timeout, lesson=args.lesson,
                 sandbox=not args.no_sandbox)
    for sub in subs:
        extra = f"  ({len(sub.errors)} problem(s))" if sub.errors else ""
        print(f"{sub.path}: {sub.total}/{len(sub.results)} in {sub.seconds:.0f} s{extra}")
    print(f"-> {csv_path}")
    return 0
