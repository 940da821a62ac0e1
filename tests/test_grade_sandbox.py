"""The grader's sandbox on real lesson notebooks: a submission cannot change the grader, see other work,
reach the network or the teacher's files, and what it tries is stopped and said in its feedback.

Every attack runs against a temporary copy of the course (the grader started from it), never against
this checkout. Tests that need bubblewrap skip with the reason where it does not run (.ci/run installs it).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cm_lib import grade as g
from cm_lib.grading import codec, sandbox
from cm_lib.grading.checker import RemoteFunction, student_error

REPO = Path(__file__).resolve().parent.parent
SECRET = "cm-test-secret-token-2f9c"
GOOD_JIG = 'my_jig = """X:1\nT:My jig\nM:6/8\nL:1/8\nK:D\nA|dfa afd|e3 e2 A|dfa afd|e3 d2|]\n"""\n'
SETUP = ("from cm_lib import abc\nfrom cm_lib.exercises import nb01\nfrom cm_lib.paths import data_samples_dir\n"
         'basics = (data_samples_dir() / "basics.abc").read_text()\n')
FIXED = "fixed = nb01.BROKEN_CHORD_TUNE.replace('[CEG4', '[CEG]4')"


@functools.cache
def _no_sandbox_reason() -> str | None:
    return g.unavailable_reason()


def needs_sandbox() -> None:
    reason = _no_sandbox_reason()
    if reason:
        pytest.skip(f"the grader's sandbox does not run here: {reason}")


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def _course_copy(dest: Path) -> Path:
    """A throw-away copy of the course checkout for the grader to run from (attacks may damage it)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest.mkdir(parents=True)
    for name in ("cm_lib", "notebooks", "data_samples"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _rewrite_cell(course: Path) -> str:
    """The issue's attack: rewrite the checker's verdict (`ok = bool(ok)` -> `ok = True`) on disk."""
    return ("import cm_lib.exercises._common as c\n"
            f"for p in [c.__file__, {str(course / 'cm_lib/exercises/_common.py')!r}]:\n"
            "    src = open(p).read()\n"
            "    open(p, 'w').write(src.replace('ok = bool(ok)', 'ok = True'))\n")


def _grade_cli(course: Path, out: Path, *subs: Path, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`python -m cm_lib grade` run from `course`, with a token in the environment and its own TMPDIR."""
    (out / "tmp").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(course), "HF_TOKEN": SECRET, "TMPDIR": str(out / "tmp")}
    return subprocess.run([sys.executable, "-m", "cm_lib", "grade", *map(str, subs), "--csv", str(out / "grades.csv"),
                           *args], cwd=course, env=env, capture_output=True, text=True, timeout=1500, check=False)


def _feedback(out: Path) -> list[str]:
    return [p.read_text() for p in sorted((out / "feedback").glob("*.md"))]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.notebook
@pytest.mark.slow
def test_a_checker_rewriting_submission_changes_nothing_and_solutions_still_pass(tmp_path: Path) -> None:
    needs_sandbox()
    course = _course_copy(tmp_path / "course")
    common = course / "cm_lib/exercises/_common.py"
    before = _sha(common)
    lesson = nbformat.read(course / "notebooks/01_abc_as_a_second_language.ipynb", as_version=4)
    lesson.cells.append(nbformat.v4.new_code_cell(_rewrite_cell(course)))
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(lesson, subs / "01_cheat.ipynb")
    shutil.copy2(course / "notebooks/01_abc_as_a_second_language.ipynb", subs / "01_blank.ipynb")
    shutil.copy2(course / "notebooks/solutions/01_solutions.ipynb", subs / "01_solutions.ipynb")
    done = _grade_cli(course, tmp_path / "out", subs / "01_cheat.ipynb", subs / "01_blank.ipynb",
                      subs / "01_solutions.ipynb")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _sha(common) == before, "the grader's checker file was changed"
    rows = list(csv.DictReader((tmp_path / "out/grades.csv").open()))
    n = len(g.exercise_functions("01"))
    assert [int(r["total"]) for r in rows] == [0, 0, n], rows
    cheat, blank, solved = _feedback(tmp_path / "out")
    assert "Read-only file system" in cheat and "stopped by the grader's sandbox: writing outside" in cheat
    assert "Problems" not in blank, blank
    assert "Problems" not in solved, solved


@pytest.mark.notebook
def test_isolation_writes_reads_network_and_processes(tmp_path: Path) -> None:
    needs_sandbox()
    course = _course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    home_mark, tmp_mark = Path.home() / f"cm_grade_test_{os.getpid()}.txt", Path(f"/tmp/cm_grade_test_{os.getpid()}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    writes = _notebook(subs / "01_writes.ipynb", SETUP, GOOD_JIG,
                       f"open({str(home_mark)!r}, 'w').write('x')", f"open({str(tmp_mark)!r}, 'w').write('x')",
                       "import os\nopen(os.path.expanduser('~/mine.txt'), 'w').write('its own HOME is writable')")
    reads = _notebook(subs / "01_reads.ipynb", SETUP, GOOD_JIG,
                      f"print(open({str(writes)!r}).read())",
                      "import os\nraise RuntimeError(f\"token={os.environ.get('HF_TOKEN')} "
                      "pids={len([p for p in os.listdir('/proc') if p.isdigit()])}\")",
                      f"print(open({str(REPO / 'notebooks/solutions/01_solutions.ipynb')!r}).read())")
    net = _notebook(subs / "01_net.ipynb", SETUP, GOOD_JIG,
                    f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)",
                    "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=5)")
    procs = _notebook(subs / "01_procs.ipynb", SETUP, GOOD_JIG,
                      "import os, time\npids = []\nwhile True:\n    pid = os.fork()\n    if pid == 0:\n"
                      "        while True:\n            try:\n                os.fork()\n            except OSError:\n"
                      "                time.sleep(0.05)\n    pids.append(pid)",
                      "import subprocess\nbackground = subprocess.Popen(['sleep', '677'])",
                      "hog = bytearray(64 * 1024**3)",
                      "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * (1 << 20))",
                      FIXED)
    try:
        done = _grade_cli(course, tmp_path / "out", writes, reads, net, procs)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr[-2000:]
    fb_writes, fb_reads, fb_net, fb_procs = _feedback(tmp_path / "out")
    for text in (fb_writes, fb_reads, fb_net, fb_procs):  # each scores what its honest answers score
        assert "| nb01.six_eight_pickup | pass |" in text, text
    assert "| nb01.fixed_chord | pass |" in fb_procs, fb_procs
    assert fb_writes.count("Read-only file system") == 2 and "cell 5" not in fb_writes, fb_writes
    assert "writing outside the notebook's own folder" in fb_writes
    assert not home_mark.exists() and not tmp_mark.exists()
    assert f"{writes}'" in fb_reads and "FileNotFoundError" in fb_reads, fb_reads
    assert "token=None" in fb_reads and SECRET not in fb_reads, fb_reads
    pids = int(fb_reads.split("pids=")[1].split()[0].rstrip("|"))
    assert pids < 10, fb_reads  # its own process ids only
    assert "01_solutions.ipynb'" in fb_reads and "reading files outside" in fb_reads
    assert "Connection refused" in fb_net and "Network is unreachable" in fb_net and "network access" in fb_net
    assert "new processes past the limit" in fb_procs and "the grader stopped them" in fb_procs, fb_procs
    assert "memory past the limit" in fb_procs and "disk quota" in fb_procs, fb_procs
    leftover = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == "sleep 677"]
    assert not leftover, "a submission's background process outlived its grading"
    assert not list((tmp_path / "out/tmp").iterdir()), "the grader left temporary files"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@pytest.mark.notebook
def test_without_sandbox_a_changed_checker_means_no_grades(tmp_path: Path) -> None:
    course = _course_copy(tmp_path / "course")
    (tmp_path / "subs").mkdir()
    cheat = _notebook(tmp_path / "subs/01_cheat.ipynb", SETUP, _rewrite_cell(course))
    done = _grade_cli(course, tmp_path / "out", cheat, args=("--no-sandbox",))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the checker code changed" in done.stderr and "cm_lib/exercises/_common.py" in done.stderr
    assert "no grades are reported" in done.stderr and "Traceback" not in done.stderr
    assert "ok = True" in (course / "cm_lib/exercises/_common.py").read_text()  # the attack did land here
    assert not (tmp_path / "out/grades.csv").exists()


def test_refuses_without_a_sandbox_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from cm_lib.cli import main

    nb = _notebook(tmp_path / "01_x.ipynb", SETUP)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert "bubblewrap is not installed" in (g.unavailable_reason() or "")
    with pytest.raises(g.GradeError, match="--no-sandbox"):
        g.grade([nb], tmp_path / "g.csv")
    assert main(["grade", str(nb), "--csv", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bubblewrap is not installed" in err[0] and "--no-sandbox" in err[0]
    assert not (tmp_path / "g.csv").exists()


def test_values_cross_as_json_and_code_does_not() -> None:
    from fractions import Fraction

    value = {"a": [1, 2.5, None, True], (1, "b"): {3, 4}, "t": ("x", b"\x00"), "f": Fraction(1, 3)}
    line = codec.dumps_line({"v": codec.encode(value)})
    assert codec.decode(codec.loads_line(line)["v"]) == value
    handles: list[object] = []
    encoded = codec.encode([len], functions=lambda fn: handles.append(fn) or "f0")
    assert codec.decode(encoded, functions=lambda h, name: (h, name)) == [("f0", "len")]
    with pytest.raises(codec.CodecError):
        codec.encode(len)  # no function crosses unless the side that owns it hands out a handle
    with pytest.raises(codec.CodecError):
        codec.encode(object())
    import random

    lib = codec.encode(random.Random(3), library=True)
    with pytest.raises(codec.CodecError):
        codec.decode(lib)  # the checker's side takes plain values only
    assert codec.decode(lib, strict=False).random() == random.Random(3).random()
    with pytest.raises(codec.CodecError):
        codec.decode({"$cm": "dataclass", "type": "os:system", "v": [["command", "true"]]}, strict=False)
    with pytest.raises(codec.CodecError):
        codec.loads_line(b"[" * 100_000 + b"]" * 100_000)


def test_a_student_function_is_called_through_its_runner() -> None:
    class Echo:
        def call(self, handle: str, args: list) -> dict:
            values = [codec.decode(a, strict=False) for a in args]
            if values == [0]:
                return {"error": ["ZeroDivisionError", "division by zero"]}
            return {"value": codec.encode((handle, *values))}

    fn = RemoteFunction(Echo(), "f3", "mine")  # type: ignore[arg-type]
    assert fn(1, [2]) == ("f3", 1, [2]) and callable(fn) and "mine" in repr(fn)
    with pytest.raises(Exception, match="division by zero") as err:
        fn(0)
    assert type(err.value).__name__ == "ZeroDivisionError"
    assert type(student_error("not a name!", "x")).__name__ == "Error"


def test_the_injected_cells_read_answers_and_call_functions(tmp_path: Path) -> None:
    import json

    from cm_lib.grading import in_kernel

    namespace = {"my_jig": "X:1", "double": lambda x: 2 * x, "boom": lambda x: 1 / 0, "obj": object()}
    exprs = {"check_a": ["my_jig", "['F#']"], "check_b": ["double"], "check_c": None, "check_d": ["gone"],
             "check_e": ["obj"], "check_f": ["boom"]}
    in_kernel.collect(namespace, exprs, str(tmp_path / "answers.json"))
    answers = json.loads((tmp_path / "answers.json").read_text())["answers"]
    assert answers["check_a"] == {"args": ["X:1", ["F#"]]}
    assert "deleted" in answers["check_c"]["missing"] and "'gone' is not defined" in answers["check_d"]["missing"]
    assert "cannot hand" in answers["check_e"]["missing"]
    double, boom = answers["check_b"]["args"][0]["v"], answers["check_f"]["args"][0]["v"]
    (tmp_path / "args.json").write_text(json.dumps([codec.encode((3, 4))]))
    in_kernel.call(double, str(tmp_path / "args.json"), str(tmp_path / "reply.json"))
    assert codec.decode(json.loads((tmp_path / "reply.json").read_text())["value"]) == (3, 4, 3, 4)
    in_kernel.call(boom, str(tmp_path / "args.json"), str(tmp_path / "reply.json"))
    assert json.loads((tmp_path / "reply.json").read_text())["error"][0] == "ZeroDivisionError"


@pytest.mark.slow
def test_every_check_can_hand_its_arguments_to_a_student_function(capsys: pytest.CaptureFixture[str]) -> None:
    """Each check that takes a function passes its arguments across (encoded here, re-created as in the kernel)."""
    import importlib
    import inspect

    calls: list[str] = []

    def crossing(*args: object) -> None:
        for a in args:
            codec.decode(codec.encode(a, library=True), strict=False)
        calls.append("crossed")
        raise ValueError("stub")

    checked = []
    for nb_path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        lesson = nb_path.name[:2]
        module = importlib.import_module(f"cm_lib.exercises.nb{lesson}")
        for func in g.exercise_functions(lesson):
            fn = getattr(module, func)
            first = next(iter(inspect.signature(fn).parameters.values()))
            if not str(first.annotation).startswith("Callable"):
                continue
            n = len(calls)
            fn(crossing)
            out = capsys.readouterr().out
            assert "your function raised ValueError: stub" in out and len(calls) == n + 1, (func, out)
            checked.append(func)
    assert len(checked) >= 10, checked


def test_stopped_notes_and_the_cache_view(tmp_path: Path) -> None:
    from cm_lib.grading.session import stopped_notes

    limits = sandbox.Limits(memory_mb=100, processes=9, disk_mb=7)
    errors = ["cell 2: OSError: [Errno 28] No space left on device", "cell 3: MemoryError: "]
    notes = stopped_notes(errors, limits, True)
    assert notes == ["stopped by the grader's sandbox: writing past the disk quota (7 MB)",
                     "stopped by the grader's sandbox: memory past the limit (100 MB per process)"]
    assert stopped_notes(["cell 1: ZeroDivisionError: division by zero"], limits, True) == []
    src = tmp_path / "cache"
    (src / "models/tiny").mkdir(parents=True)
    (src / "models/tiny/config.json").write_text("{}")
    view = tmp_path / "view"
    sandbox.shadow_cache(src, view)
    assert (view / "models/tiny/config.json").read_text() == "{}"
    assert (view / "models/tiny").is_symlink() and not (view / "models").is_symlink()
    (view / "models/new").mkdir()  # new entries land in the view, not in the source
    assert not (src / "models/new").exists()
