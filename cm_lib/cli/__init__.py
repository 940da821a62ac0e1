"""Command-line entry: `python -m cm_lib <stage> ...`; each stage registers its own subcommand."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence

from cm_lib.errors import CourseError

# Stage name -> module with `register(subparsers)`, imported when the parser is built.
STAGES = {
    "abc": "cm_lib.cli.abc_cmd",
    "corpus": "cm_lib.cli.corpus_cmd",
    "models": "cm_lib.cli.models_cmd",
    "train": "cm_lib.cli.train_cmd",
    "generate": "cm_lib.cli.generate_cmd",
    "bench": "cm_lib.cli.bench_cmd",
    "metrics": "cm_lib.cli.metrics_cmd",
    "course": "cm_lib.cli.course_cmd",
    "grade": "cm_lib.cli.grade_cmd",
}
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree with one subcommand per stage."""
    parser = argparse.ArgumentParser(
        prog="python -m cm_lib",
        description="chatmusician-course: every stage of the pipeline, for scripts, graders and accelerate.",
    )
    sub = parser.add_subparsers(dest="stage", metavar="STAGE")
    for module in STAGES.values():
        importlib.import_module(module).register(sub)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again (closed pipe, full disk)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (e.g. captured by a test)
        pass


def _flush_stdout() -> str | None:
    """Flush stdout; on failure silence it and say why (None when the flush worked)."""
    try:
        sys.stdout.flush()
        return None
    except BrokenPipeError:
        _silence_stdout()
        return "pipe"
    except OSError as err:
        _silence_stdout()
        return err.strerror or str(err)


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EROFS, errno.EDQUOT, errno.EBADF}


def _os_message(err: OSError) -> str:
    """One line for an OSError: a failed write of the output says so; a file error names its file."""
    if err.filename is None and err.errno in _OUTPUT_ERRNOS:
        return f"cannot write the output: {err.strerror or err}"
    if err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 a check found problems, 2 usage/input errors).

    The one error handler: every CourseError, and every OSError (a full disk, an unreadable file), is one
    line on stderr and exit 2; a closed pipe (`... | head -1`) ends quietly with 141; never a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code = int(args.func(args) or 0)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except CourseError as err:
        code, message = err.exit_code, str(err)
    except OSError as err:
        code, message = EXIT_USAGE, _os_message(err)
    except UnicodeDecodeError as err:
        code, message = EXIT_USAGE, str(err)
    except KeyboardInterrupt:
        code, message = EXIT_INTERRUPTED, "interrupted"
    else:
        failed = _flush_stdout()
        if failed == "pipe":
            return EXIT_BROKEN_PIPE
        if failed:
            print(f"error: cannot write the output: {failed}", file=sys.stderr)
            return EXIT_USAGE
        return code
    failed = _flush_stdout()
    if failed and failed != "pipe":
        message = f"{message} (and cannot write the output: {failed})"
    message = " ".join(message.split())  # one line, whatever the error's text holds
    print(message if code == EXIT_INTERRUPTED else f"error: {message}", file=sys.stderr)
    return code
