"""What the runner's two injected cells call inside a submission's kernel: read the answers, call a function.

This code runs in the student's process, so nothing it writes is trusted: it only packs the values of
the lesson's answer expressions (and, later, what a student's function returns) as JSON for the
checker, which runs elsewhere. A function stays here; the checker gets a handle and calls it through
the runner (`call`).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from cm_lib.grading import codec

_FUNCTIONS: dict[str, Any] = {}


def _handle(fn: Any) -> str:
    key = f"f{len(_FUNCTIONS)}"
    _FUNCTIONS[key] = fn
    return key


def _write(path: str, message: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(message), encoding="utf-8")


def collect(namespace: dict[str, Any], exprs: dict[str, list[str] | None], path: str) -> None:
    """Evaluate each check's argument expressions in the notebook's namespace; write them encoded to `path`."""
    out: dict[str, Any] = {}
    for func, args in exprs.items():
        if args is None:
            out[func] = {"missing": f"not run: no call of {func} found (was the exercise cell deleted?)"}
            continue
        try:
            values = [eval(e, namespace) for e in args]  # noqa: S307 - names or literals, in the student's own kernel
        except NameError as err:
            out[func] = {"missing": f"not run: {err} (was the exercise cell deleted or not run?)"}
            continue
        except Exception as err:  # noqa: BLE001 - any error of the student's code
            out[func] = {"missing": f"not run: {type(err).__name__}: {err}"}
            continue
        try:
            out[func] = {"args": [codec.encode(v, functions=_handle) for v in values]}
        except (codec.CodecError, RecursionError) as err:
            out[func] = {"missing": f"not run: your answer holds {err}, which the grader cannot hand to the check "
                                    "(use str, numbers, lists, dicts or a function)"}
    _write(path, {"answers": out})


def call(handle: str, args_path: str, path: str) -> None:
    """Call the student's function `handle` on the arguments in `args_path`; write its result or error to `path`."""
    try:
        fn = _FUNCTIONS[handle]
        values = [codec.decode(a, strict=False) for a in json.loads(Path(args_path).read_text(encoding="utf-8"))]
    except (KeyError, ValueError, OSError) as err:
        _write(path, {"error": ["GraderError", f"the grader could not pass the arguments: {err}"]})
        return
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = fn(*values)
    except BaseException as err:  # noqa: BLE001 - the student's error is the checker's input
        _write(path, {"error": [type(err).__name__, str(err)[:2000]]})
        return
    try:
        _write(path, {"value": codec.encode(result)})
    except (codec.CodecError, RecursionError) as err:
        _write(path, {"error": ["TypeError", f"your function returned {err}, which the check cannot read "
                                             "(return str, numbers, lists, tuples or dicts)"]})
