"""The verdicts: re-run a lesson's `check_*` functions in a process that no submission code runs in.

`python -m cm_lib.grading.checker` starts (sandboxed) from the pristine, read-only copy of the course
while the first submission still runs elsewhere, imports the lesson's checks and runs each once on
None (so that their imports and data are loaded), then, for each submission in turn, reads its
answers as JSON (codec, strict: plain values only) and answers with the verdicts: one checker serves
a lesson's whole class, and only ever sees values. A student's function arrives as a handle: the check gets a
`RemoteFunction`, whose calls go out as `{"type": "call", ...}` lines, run in the student's kernel, and
come back as plain values or an error. So whatever the submission does, it can only choose the values
the check sees; the check's code and its verdict stay here. The last line is `{"type": "results", ...}`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import signal
import sys
from typing import Any, BinaryIO

from cm_lib.grading import codec, sandbox
from cm_lib.grading.lesson import exercise_id


class _Channel:
    """The checker's end of the protocol: requests out, replies in."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(codec.dumps_line(message))

    def receive(self) -> dict[str, Any]:
        line = sys.stdin.buffer.readline(codec.MAX_LINE + 1)
        if not line:
            raise EOFError("the grader closed the channel")
        return codec.loads_line(line)

    def call(self, handle: str, args: list[Any]) -> dict[str, Any]:
        """Send one call and wait for its reply (replies to calls that timed out earlier are skipped)."""
        self.next_id += 1
        self.send({"type": "call", "id": self.next_id, "handle": handle, "args": args})
        while True:
            reply = self.receive()
            if reply.get("type") == "reply" and reply.get("id") == self.next_id:
                return reply


_ERRORS: dict[str, type[Exception]] = {}


def student_error(name: str, message: str) -> Exception:
    """An exception named like the one the student's code raised (a plain Exception subclass), with its message."""
    name = name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,60}", name or "") else "Error"
    if name not in _ERRORS:
        _ERRORS[name] = type(name, (Exception,), {"__module__": "student"})
    return _ERRORS[name](message)


class RemoteFunction:
    """Stands for a function the student defined: calling it runs it in their kernel, through the runner."""

    def __init__(self, channel: _Channel, handle: str, name: str) -> None:
        self.channel = channel
        self.handle = handle
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("the grader passes positional arguments only")
        try:
            encoded = [codec.encode(a, library=True) for a in args]
        except codec.CodecError as err:
            raise RuntimeError(f"the grader cannot pass {err} to your function") from err
        reply = self.channel.call(self.handle, encoded)
        if "error" in reply:
            err = reply["error"] if isinstance(reply["error"], list) and len(reply["error"]) == 2 else ["Error", ""]
            raise student_error(str(err[0]), str(err[1])[:2000])
        try:
            return codec.decode(reply.get("value"), strict=True)
        except codec.CodecError as err:
            raise TypeError(f"your function returned {err}") from err


def _timeout(signum: int, frame: Any) -> None:
    raise TimeoutError("the check ran over the grader's time limit")


def run_checks(lesson: str, funcs: list[str], answers: dict[str, Any], channel: _Channel,
               limit: int) -> dict[str, list[Any]]:
    """exercise id -> [passed, what the check said] for every check of the lesson."""
    module = importlib.import_module(f"cm_lib.exercises.nb{lesson}")
    signal.signal(signal.SIGALRM, _timeout)
    results: dict[str, list[Any]] = {}
    for func in funcs:
        ex = exercise_id(lesson, func)
        answer = answers.get(func)
        if not isinstance(answer, dict) or not isinstance(answer.get("args"), list):
            why = answer.get("missing") if isinstance(answer, dict) else None
            results[ex] = [False, str(why or "not run: the grader got no answer for it")[:500]]
            continue
        try:
            args = [codec.decode(a, functions=lambda h, n: RemoteFunction(channel, h, n)) for a in answer["args"]]
        except codec.CodecError as err:
            results[ex] = [False, f"not run: your answer holds {err}"]
            continue
        buf = io.StringIO()
        try:
            signal.alarm(limit)
            with contextlib.redirect_stdout(buf):
                ok = getattr(module, func)(*args)
            results[ex] = [ok is True, buf.getvalue().strip()]
        except BaseException as err:  # noqa: BLE001 - a check that fails on odd input fails the exercise
            if isinstance(err, EOFError):
                raise
            results[ex] = [False, (buf.getvalue().strip() + f" {type(err).__name__}: {err}").strip()]
        finally:
            signal.alarm(0)
    return results


def warm_up(module: Any, funcs: list[str], limit: int) -> None:
    """Run each check once on None arguments (it fails) so that its imports and data load while the notebook runs."""
    import inspect

    signal.signal(signal.SIGALRM, _timeout)
    for func in funcs:
        fn = getattr(module, func)
        n = sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                for p in inspect.signature(fn).parameters.values())
        try:
            signal.alarm(limit)
            with contextlib.redirect_stdout(io.StringIO()):
                fn(*[None] * n)
        except Exception:  # noqa: BLE001 - None is no answer: any failure is expected
            pass
        finally:
            signal.alarm(0)


def main() -> int:
    """Entry point of `python -m cm_lib.grading.checker`: setup, warm-up, then answers -> results until input ends."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    channel = _Channel(out)
    setup = channel.receive()
    sandbox.enter(setup)
    lesson, funcs, limit = setup["lesson"], list(setup["funcs"]), int(setup.get("check_timeout", 120))
    module = importlib.import_module(f"cm_lib.exercises.nb{lesson}")
    warm_up(module, funcs, limit)  # while the first notebook still runs
    while True:
        try:
            message = channel.receive()
        except EOFError:
            return 0
        if message.get("type") == "answers":
            answers = message.get("answers")
            results = run_checks(lesson, funcs, answers if isinstance(answers, dict) else {}, channel, limit)
            channel.send({"type": "results", "results": results})


if __name__ == "__main__":
    sys.exit(main())
