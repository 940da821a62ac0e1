"""`python -m cm_lib course run`: the whole course headless."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `course` subcommand."""
    p = sub.add_parser("course", help="run every notebook headless into runs/notebooks and summarise")
    csub = p.add_subparsers(dest="action", required=True)
    run = csub.add_parser("run", help="execute the notebooks in order")
    run.add_argument("--smoke", action="store_true", help="smoke mode (CM_SMOKE=1): seconds per notebook")
    run.add_argument("--only", nargs="*", help="run only notebooks whose name starts with these prefixes")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from cm_lib.course import run_course

    runs = run_course(smoke=args.smoke, only=args.only)
    return 0 if runs and all(r.ok for r in runs) else 1
