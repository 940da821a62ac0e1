"""Command-line entry: `python -m cm_lib <stage> ...`; each stage registers its own subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cm_lib.errors import CourseError

# Stage name -> module with `register(subparsers)`. Modules are imported lazily and only if present.
STAGES = {
    "abc": "cm_lib.cli.abc_cmd",
    "corpus": "cm_lib.cli.corpus_cmd",
    "models": "cm_lib.cli.models_cmd",
    "train": "cm_lib.cli.train_cmd",
    "generate": "cm_lib.cli.generate_cmd",
    "bench": "cm_lib.cli.bench_cmd",
    "metrics": "cm_lib.cli.metrics_cmd",
    "course": "cm_lib.cli.course_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree with one subcommand per available stage."""
    parser = argparse.ArgumentParser(
        prog="python -m cm_lib",
        description="chatmusician-course: every stage of the pipeline, for scripts, graders and accelerate.",
    )
    sub = parser.add_subparsers(dest="stage", metavar="STAGE")
    for module in STAGES.values():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name == module:
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 a check failed, 2 usage/input errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
