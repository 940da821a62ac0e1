"""Inside the sandbox: run one submission's notebook in a fresh kernel, then serve calls to its functions.

`python -m cm_lib.grading.runner` speaks one JSON line each way on stdin/stdout (codec.dumps_line):
the grader sends the setup (the notebook, its lesson's answer expressions, the limits); the runner
executes the cells in smoke mode under the time limit (a cell that raises is recorded; one that kills
the kernel is skipped and the notebook re-run, at most `max_restarts` times; processes a cell leaves
behind are stopped), reads the answers (`in_kernel.collect`) and answers `{"type": "ran", ...}`. Then,
while the kernel lives, each `{"type": "call", "id", "handle", "args"}` from the checker is run in the
kernel (`in_kernel.call`) under the check time limit and answered `{"type": "reply", "id", ...}`.
Nothing this process says is trusted: it shares its sandbox with the student's code.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from cm_lib.grading import codec, sandbox

TIMEOUT_ERROR = {"ename": "Timeout", "evalue": "the grader's time limit was reached", "traceback": []}
COLLECT_SECONDS = 60  # for reading the answers (names and literals) out of the kernel
MAX_REPLY = 16 * 1024 * 1024  # bytes the kernel may write as one answer file (the talk tmpfs holds 64 MB)


def _protocol_out() -> BinaryIO:
    """The protocol's output (the original stdout); fd 1 then points to /dev/null so stray prints cannot corrupt it."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return out


def _read_json(path: Path) -> Any:
    """A JSON file the kernel wrote (None when missing, too large or not JSON)."""
    try:
        if path.stat().st_size > MAX_REPLY:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def cell_errors(nb: Any, skip: set[int]) -> list[str]:
    """'cell N: Name: message' for every code cell that shows an error output."""
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" and i not in skip else []:
            if out.get("output_type") == "error":
                errors.append(f"cell {i + 1}: {out.get('ename')}: {str(out.get('evalue'))[:200]}")
    return errors


def own_verdicts(runs: Path) -> dict[str, bool]:
    """The last verdict the notebook's own check calls recorded for each exercise (read tolerantly)."""
    from cm_lib.exercises._common import VERDICTS_FILE

    path = runs / VERDICTS_FILE
    verdicts: dict[str, bool] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-10_000:] if path.is_file() else []
    except OSError:
        lines = []
    for line in lines:
        try:
            row = json.loads(line)
            verdicts[str(row["exercise"])] = bool(row["passed"])
        except (ValueError, KeyError, TypeError):
            continue
    return verdicts


class Runner:
    """One submission's run: its kernel, the errors met, and the calls it serves."""

    def __init__(self, setup: dict[str, Any], out: BinaryIO) -> None:
        self.setup = setup
        self.out = out
        self.home = Path(os.environ["HOME"])
        self.talk = Path(os.environ["CM_GRADE_TALK"])
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.alive = False
        self.stuck = False
        self.kernel_pid = -1

    def send(self, message: dict[str, Any]) -> None:
        """Write one protocol line."""
        self.out.write(codec.dumps_line(message))

    def main(self) -> None:
        """Run the notebook (re-running it past a cell that kills the kernel), report, then serve calls."""
        import nbformat
        from nbclient import NotebookClient

        skip: set[int] = set()
        deadline = time.monotonic() + float(self.setup["timeout"])
        limit = int(self.setup.get("max_restarts", 3))
        for attempt in range(limit + 1):
            nb = nbformat.reads(self.setup["notebook"], as_version=4)
            runs = self.home / f"runs{attempt}"
            client = NotebookClient(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                                    error_on_timeout=TIMEOUT_ERROR, resources={"metadata": {"path": str(self.home)}})
            with client.setup_kernel(env=dict(os.environ, CM_RUNS_DIR=str(runs))):
                self.alive = True
                self.kernel_pid = int(getattr(client.km.provisioner, "pid", None) or -1)
                dead = self.run_cells(client, nb, skip, deadline)
                if dead is not None and attempt < limit:
                    self.errors.append(f"cell {dead + 1} crashed the kernel: it was skipped and the notebook re-run")
                    skip.add(dead)
                    continue
                if dead is not None:
                    self.errors.append(f"cell {dead + 1} crashed the kernel again")
                self.errors[:0] = cell_errors(nb, skip)
                answers = self.collect(client, nb)
                self.send({"type": "ran", "errors": self.errors, "notes": self.notes,
                           "own_verdicts": own_verdicts(runs), "answers": answers})
                self.serve(client, nb)
                break
        sandbox.stop_strays(set())

    def run_cells(self, client: Any, nb: Any, skip: set[int], deadline: float) -> int | None:
        """Execute the cells not in `skip` under the deadline; the index of a cell that killed the kernel, or None."""
        from nbclient.exceptions import DeadKernelError

        for index, cell in enumerate(nb.cells):
            if index in skip or cell.cell_type != "code":
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                self.notes.append(f"time limit reached: cells from {index + 1} on were not run")
                break
            client.timeout = int(remaining)
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                self.alive = False
                return index
            finally:
                self.tidy(f"cell {index + 1}")
        return None

    def tidy(self, what: str) -> None:
        """Stop the processes `what` left running beside the kernel, and say so."""
        n = sandbox.stop_strays({self.kernel_pid})
        if n:
            self.notes.append(f"{what} left {n} process(es) running: the grader stopped them")

    def grader_cell(self, client: Any, nb: Any, source: str, timeout: int) -> list[dict[str, Any]]:
        """Run one grader cell (not stored in the history); its outputs ([] when the kernel died)."""
        import nbformat
        from nbclient.exceptions import DeadKernelError

        cell = nbformat.v4.new_code_cell(source)
        nb.cells.append(cell)
        client.timeout = timeout
        try:
            client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
        except DeadKernelError:
            self.alive = False
            return []
        finally:
            nb.cells.pop()
        return list(cell.get("outputs", []))

    def collect(self, client: Any, nb: Any) -> dict[str, Any]:
        """The encoded answers the lesson's expressions hold in the kernel (or why each is missing)."""
        exprs: dict[str, list[str] | None] = self.setup["exprs"]
        path = self.talk / "answers.json"
        path.unlink(missing_ok=True)
        if self.alive:
            self.grader_cell(client, nb, "import cm_lib.grading.in_kernel as _cm_grading_\n"
                             f"_cm_grading_.collect(globals(), {exprs!r}, {str(path)!r})\ndel _cm_grading_",
                             COLLECT_SECONDS)
            self.tidy("reading the answers")
        found = _read_json(path)
        if isinstance(found, dict) and isinstance(found.get("answers"), dict):
            return found["answers"]
        why = "the kernel died before the grader could read your answers" if not self.alive else \
            "the grader could not read your answers from the kernel"
        return {func: {"missing": f"not run: {why}"} for func in exprs}

    def serve(self, client: Any, nb: Any) -> None:
        """Answer the checker's calls to the student's functions until the grader closes the input."""
        for line in iter(lambda: sys.stdin.buffer.readline(codec.MAX_LINE + 1), b""):
            message = codec.loads_line(line)
            if message.get("type") == "call":
                self.send({"type": "reply", "id": message.get("id"), **self.call(client, nb, message)})

    def call(self, client: Any, nb: Any, message: dict[str, Any]) -> dict[str, Any]:
        """Run one call in the kernel: {"value": ...} or {"error": [name, message]}."""
        if not self.alive:
            return {"error": ["RuntimeError", "the notebook's kernel is gone, so your function cannot be called"]}
        if self.stuck:
            return {"error": ["TimeoutError", "the kernel is still busy with an earlier call that ran over time"]}
        args, reply = self.talk / "args.json", self.talk / "reply.json"
        args.write_text(json.dumps(message.get("args", [])), encoding="utf-8")
        reply.unlink(missing_ok=True)
        limit = int(self.setup.get("check_timeout", 120))
        outputs = self.grader_cell(client, nb, "import cm_lib.grading.in_kernel as _cm_grading_\n"
                                   f"_cm_grading_.call({str(message.get('handle'))!r}, {str(args)!r}, {str(reply)!r})",
                                   limit)
        self.tidy("a call of your function")
        if any(o.get("output_type") == "error" and o.get("ename") == "Timeout" for o in outputs):
            self.stuck = not self.responsive(client, nb)
            return {"error": ["TimeoutError", f"your function ran over the grader's limit of {limit} s"]}
        found = _read_json(reply)
        if isinstance(found, dict) and ("value" in found or "error" in found):
            return {"value": found["value"]} if "value" in found else {"error": found["error"]}
        if not self.alive:
            return {"error": ["RuntimeError", "the kernel died while your function ran"]}
        return {"error": ["RuntimeError", "your function did not return a value the grader could read"]}

    def responsive(self, client: Any, nb: Any) -> bool:
        """Whether the kernel runs a trivial cell again after an interrupted call."""
        outputs = self.grader_cell(client, nb, "pass", 15)
        return self.alive and not any(o.get("output_type") == "error" for o in outputs)


def main() -> int:
    """Entry point of `python -m cm_lib.grading.runner` (inside the sandbox)."""
    out = _protocol_out()
    setup = codec.loads_line(sys.stdin.buffer.readline(codec.MAX_LINE + 1))
    sandbox.enter(setup)
    Runner(setup, out).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
