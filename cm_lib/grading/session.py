"""The teacher's side of grading: the pristine course copy, the two processes per submission, the hash checks.

`Grader` makes the read-only copy of the course once (`integrity.make_snapshot`) and remembers the
hashes of the checker code. For each submission `Grader.run` starts the runner (the notebook, in its
own sandbox), uses the lesson's checker (the verdicts, in another sandbox, started once per lesson: it
never runs a submission's code, only reads values), hands the runner's answers to the checker and
relays the checker's calls to the student's functions, each under a time limit; then it stops the
runner and `verify`s that neither the checkout's checker code nor the copy changed (else IntegrityError: no
grades are reported).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cm_lib.grading import codec, integrity
from cm_lib.grading.lesson import GradeError, IntegrityError, exercise_id
from cm_lib.grading.sandbox import CHECKER_UID, COURSE, Launch, Limits, Sandbox, descendants
from cm_lib.paths import cache_dir, repo_root

START_SECONDS = 180  # on top of the notebook's time limit: the runner's start and reading the answers (60 s)
STDERR_TAIL = 4000  # characters of a grading process's stderr kept for the error message


@dataclass
class Outcome:
    """What grading one submission found: verdicts by exercise id, errors and notes, the notebook's own verdicts."""

    results: dict[str, tuple[bool, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    own_verdicts: dict[str, bool] = field(default_factory=dict)


class Channel:
    """The grader's end of one grading process: its pipes, a reader thread, a time limit per message."""

    def __init__(self, launch: Launch) -> None:
        self.proc = subprocess.Popen(launch.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=launch.env, cwd=launch.cwd, start_new_session=True)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr = ""
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(lambda: self.proc.stdout.readline(codec.MAX_LINE + 1), b""):  # type: ignore[union-attr]
            if not line.endswith(b"\n"):
                break  # an over-long line ends the conversation
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self.stderr = (self.stderr + chunk.decode("utf-8", "replace"))[-STDERR_TAIL:]

    def send(self, message: dict[str, Any]) -> bool:
        """Write one line; False when the process no longer reads."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(codec.dumps_line(message))
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None at the end of its output, on garbage, or after `timeout` seconds."""
        try:
            line = self.lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if line is None:
            self.lines.put(None)
            return None
        try:
            return codec.loads_line(line)
        except codec.CodecError:
            return None

    def last_error(self) -> str:
        """The last line of the process's stderr (why it failed to start or died), or ''."""
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def close(self, wait: float = 10.0) -> None:
        """Close its input, give it `wait` seconds to end, then kill it and every process below it."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
        for pid in [*descendants(self.proc.pid), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()


def _text_list(value: Any, limit: int = 50) -> list[str]:
    return [str(v)[:400] for v in value[:limit]] if isinstance(value, list) else []


STOPPED = [  # (pattern in a cell error, what the sandbox or a limit stopped, as the feedback says it)
    (r"Read-only file system|Permission denied",
     "writing outside the notebook's own folder (only its HOME is writable)"),
    (r"Network is unreachable|Temporary failure in name resolution|Name or service not known|Connection refused|"
     r"No address associated", "network access (grading runs offline)"),
    (r"No space left on device|File too large", "writing past the disk quota ({disk_mb} MB)"),
    (r"Resource temporarily unavailable|can't start new thread|BlockingIOError",
     "new processes past the limit ({processes} processes and threads)"),
    (r"MemoryError|Cannot allocate memory|std::bad_alloc", "memory past the limit ({memory_mb} MB per process)"),
    (r"No such file or directory: '/(?!grading/home)", "reading files outside the course and the notebook's folder "
     "(they are hidden while grading)"),
]


def stopped_notes(errors: list[str], limits: Limits, sandboxed: bool) -> list[str]:
    """One note per kind of thing the sandbox (or a limit) stopped, read from the cell errors."""
    notes = []
    for pattern, what in STOPPED:
        if not sandboxed and ("outside" in what or "network" in what):
            continue
        if any(re.search(pattern, e) for e in errors):
            notes.append("stopped by the grader's sandbox: " + what.format(**limits.as_dict()))
    return notes


class Grader:
    """Grades submissions one by one from a pristine copy of the course, checking its hashes around each."""

    def __init__(self, sandboxed: bool = True, limits: Limits | None = None) -> None:
        root = repo_root()
        if root is None:
            raise GradeError("grading needs the course checkout (cm_lib is installed elsewhere)")
        self.root = root
        self._tmp = tempfile.TemporaryDirectory(prefix="cm-grade-")
        self.tmp = Path(self._tmp.name)
        self.live = integrity.fingerprint(root, integrity.checker_files(root))
        self.copy = integrity.make_snapshot(root, self.tmp / "course", seen_as=COURSE if sandboxed else None)
        self.copied = integrity.fingerprint(self.copy)
        self.sandbox = Sandbox(self.copy, cache_dir(), enabled=sandboxed, limits=limits)
        self._checkers: dict[str, Channel] = {}
        reason = self.sandbox.probe()
        if reason:
            self.close()
            raise GradeError(f"{reason}; grading runs students' code, so it refuses to run without a sandbox: "
                             "grade in a container (docs/TEACHING.md) or pass --no-sandbox")
        self.verify("before grading")

    def close(self) -> None:
        """Stop the checker processes; remove the copy and the temporary folders."""
        for checker in getattr(self, "_checkers", {}).values():
            checker.close(wait=0)
        if hasattr(self, "copy"):
            integrity.remove_snapshot(self.copy)
        self._tmp.cleanup()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self, when: str) -> None:
        """IntegrityError (no grades) when the checkout's checker code or the pristine copy changed since the start."""
        moved = integrity.changed(self.live, integrity.fingerprint(self.root, integrity.checker_files(self.root)))
        moved += [f"(grader's copy) {p}" for p in integrity.changed(self.copied, integrity.fingerprint(self.copy))]
        if moved:
            raise IntegrityError(f"the checker code changed {when}: {', '.join(moved[:5])}; no grades are reported. "
                                 "Restore the course checkout (git status, git checkout -- cm_lib notebooks) and "
                                 "grade again" + ("" if self.sandbox.enabled else ", with the sandbox"))

    def _checker(self, lesson: str, funcs: list[str], check_timeout: int) -> Channel:
        """The lesson's checker process: started on first use (it warms up while the notebook runs), then reused."""
        key = f"{lesson}:{check_timeout}"
        checker = self._checkers.get(key)
        if checker is None or checker.proc.poll() is not None:
            checker = self._launch("cm_lib.grading.checker", "checker")
            checker.send({**self.sandbox.setup(CHECKER_UID), "lesson": lesson, "funcs": funcs,
                          "check_timeout": check_timeout})
            self._checkers[key] = checker
        return checker

    def _launch(self, module: str, name: str) -> Channel:
        if self.sandbox.enabled:
            return Channel(self.sandbox.launch(module))
        home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        course = self.root if name == "runner" else self.copy  # without a sandbox the notebook runs as today
        return Channel(self.sandbox.launch(module, home=home, course=course))

    def run(self, notebook: str, lesson: str, funcs: list[str], exprs: dict[str, list[str] | None],
            timeout: int, check_timeout: int, max_restarts: int = 3) -> Outcome:
        """Grade one notebook (its JSON text) of `lesson`: run it, check its answers, verify the hashes."""
        self.verify("before this submission")
        out = Outcome()
        checker = self._checker(lesson, funcs, check_timeout)
        runner = self._launch("cm_lib.grading.runner", "runner")
        try:
            runner.send({**self.sandbox.setup(), "notebook": notebook, "timeout": timeout,
                         "check_timeout": check_timeout, "max_restarts": max_restarts, "exprs": exprs})
            ran = runner.receive(timeout + START_SECONDS)
            answers: dict[str, Any] = {}
            if ran is None or ran.get("type") != "ran":
                why = runner.last_error() or "no report within the time limit"
                out.errors.append(f"the notebook's run ended without a report ({why})")
            else:
                out.errors += _text_list(ran.get("errors"))
                out.notes += _text_list(ran.get("notes"))
                own = ran.get("own_verdicts")
                out.own_verdicts = {str(k): v is True for k, v in own.items()} if isinstance(own, dict) else {}
                answers = ran["answers"] if isinstance(ran.get("answers"), dict) else {}
            checker.send({"type": "answers", "answers": answers})
            if not self._relay(runner, checker, out, len(funcs) * (check_timeout + 30) + 600, check_timeout):
                checker.close(wait=0)
        finally:
            runner.close(wait=0)  # nothing of the run is kept: its sandbox goes at once
        for func in funcs:
            ex = exercise_id(lesson, func)
            if ex not in out.results:
                out.results[ex] = (False, "not checked: the grader could not re-run it (see problems)")
        out.notes += stopped_notes(out.errors, self.sandbox.limits, self.sandbox.enabled)
        self.verify("while grading this submission")
        return out

    def _relay(self, runner: Channel, checker: Channel, out: Outcome, budget: float, check_timeout: int) -> bool:
        """Relay the checker's calls to the runner and the replies back until its results (False: none came)."""
        import time

        end = time.monotonic() + budget
        while True:
            message = checker.receive(end - time.monotonic())
            if message is None:
                out.errors.append("the grader's check process stopped early" +
                                  (f" ({checker.last_error()})" if checker.last_error() else ""))
                return False
            if message.get("type") == "results":
                results = message.get("results")
                for ex, verdict in (results.items() if isinstance(results, dict) else []):
                    if isinstance(verdict, list) and len(verdict) == 2:
                        out.results[str(ex)] = (verdict[0] is True, str(verdict[1])[:2000])
                return True
            if message.get("type") != "call":
                continue
            reply: dict[str, Any] = {"error": ["RuntimeError", "the notebook's kernel did not answer"]}
            if runner.send(message):
                wait_until = time.monotonic() + check_timeout + 30
                while (got := runner.receive(wait_until - time.monotonic())) is not None:
                    if got.get("type") == "reply" and got.get("id") == message.get("id"):
                        reply = {k: got[k] for k in ("value", "error") if k in got}
                        break
            checker.send({"type": "reply", "id": message.get("id"), **reply})
