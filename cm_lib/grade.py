"""Grading for teachers (docs/TEACHING.md): run each submitted notebook, re-run its exercise checks, score.

A submission is copied to a temporary folder and executed in smoke mode in a fresh kernel, offline,
under a time limit and with its own runs/ folder. Then the grader re-runs every "Your turn" checker
of the lesson (`check_*` in `cm_lib.exercises.nbNN`) itself, in the same kernel, on the variables the
lesson's exercise cells pass to it, with freshly reloaded checker modules: a student who edits or
deletes the checker call (or patches the checker) scores what their answers score.
"""

from __future__ import annotations

import ast
import csv
import inspect
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cm_lib.errors import AssetNotFoundError, CourseError

DEFAULT_TIMEOUT = 600  # seconds for one submission's cells (smoke mode takes well under a minute per lesson)
CHECK_TIMEOUT = 120  # seconds for one re-run check (it calls the student's functions)
MAX_RESTARTS = 3  # a cell that kills the kernel is skipped and the notebook re-run, at most this often
RESULT_FILE = "cm_grade_result.json"
CELL_SEPARATOR = "\n#--- cell ---\n"


class GradeError(CourseError):
    """A submission the grader cannot place (not a notebook, or no lesson number)."""


@dataclass
class ExerciseResult:
    """One exercise's verdict: `passed`, and what the checker said (or why it did not run)."""

    exercise: str
    passed: bool
    message: str


@dataclass
class Submission:
    """One graded notebook: its lesson, every exercise's result and the errors met while running it."""

    path: Path
    lesson: str
    results: list[ExerciseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    own_verdicts: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Number of exercises passed."""
        return sum(r.passed for r in self.results)


def lesson_notebook(lesson: str) -> Path:
    """The shipped lesson notebook notebooks/<lesson>_*.ipynb (the reference for its exercise calls)."""
    from cm_lib.paths import repo_root

    root = repo_root()
    found = sorted((root / "notebooks").glob(f"{lesson}_*.ipynb")) if root else []
    if not found:
        raise AssetNotFoundError(f"no lesson notebook notebooks/{lesson}_*.ipynb in the course checkout")
    return found[0]


def exercise_functions(lesson: str) -> list[str]:
    """Names of the `check_*` functions of cm_lib.exercises.nb<lesson>, in source order."""
    import importlib

    try:
        mod = importlib.import_module(f"cm_lib.exercises.nb{lesson}")
    except ModuleNotFoundError as err:
        raise GradeError(f"lesson {lesson} has no exercises (no cm_lib.exercises.nb{lesson})") from err
    funcs = [f for name, f in inspect.getmembers(mod, inspect.isfunction)
             if name.startswith("check_") and f.__module__ == mod.__name__]
    return [f.__name__ for f in sorted(funcs, key=lambda f: f.__code__.co_firstlineno)]


def reference_calls(lesson: str, source: str | None = None) -> dict[str, list[str]]:
    """check name -> argument expressions of its first call `nbNN.check_x(...)` (in the lesson notebook by default).

    `source` is code cells joined by CELL_SEPARATOR; a cell that does not parse is passed over.
    """
    import nbformat

    if source is None:
        nb = nbformat.read(lesson_notebook(lesson), as_version=4)
        source = CELL_SEPARATOR.join(c.source for c in nb.cells if c.cell_type == "code")
    calls: dict[str, list[str]] = {}
    for cell in source.split(CELL_SEPARATOR):
        lines = [ln for ln in cell.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == f"nb{lesson}"
                    and node.func.attr.startswith("check_") and node.func.attr not in calls):
                calls[node.func.attr] = [ast.unparse(a) for a in node.args]
    return calls


def exercise_id(lesson: str, func: str) -> str:
    """The exercise's name in verdicts and CSV columns: nb01.six_eight_pickup for nb01.check_six_eight_pickup."""
    return f"nb{lesson}.{func.removeprefix('check_')}"


def find_lesson(path: Path, nb: Any) -> str:
    """The lesson a submission answers: the nbNN it imports from cm_lib.exercises, else its file name's NN_."""
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = re.findall(r"\bnb(\d\d)\.check_", sources) or re.findall(r"exercises import nb(\d\d)", sources)
    if found:
        return max(set(found), key=found.count)
    match = re.search(r"(?:^|[^0-9])(\d\d)_", path.name)
    if match:
        return match.group(1)
    raise GradeError(f"{path}: cannot tell which lesson this answers (name it NN_... or keep its exercise cells)")


_GRADER_CELL = '''
def _cm_grade_run():
    import contextlib, importlib, io, json, os, signal, sys
    os.environ["CM_RUNS_DIR"] = {runs!r}
    for name in ("cm_lib.exercises._common", "cm_lib.exercises.nb{lesson}"):
        if name in sys.modules:
            importlib.reload(sys.modules[name])
    mod = importlib.import_module("cm_lib.exercises.nb{lesson}")
    g = globals()
    out = {{}}

    def alarm(signum, frame):
        raise TimeoutError("the check ran over {limit} s")

    signal.signal(signal.SIGALRM, alarm)
    for ex, func, exprs in {items!r}:
        if exprs is None:
            out[ex] = [False, "not run: no call of " + func + " found (was the exercise cell deleted?)"]
            continue
        try:
            args = [eval(e, g) for e in exprs]
        except NameError as err:
            out[ex] = [False, "not run: " + str(err) + " (was the exercise cell deleted or not run?)"]
            continue
        except Exception as err:
            out[ex] = [False, "not run: " + type(err).__name__ + ": " + str(err)]
            continue
        buf = io.StringIO()
        try:
            signal.alarm({limit})
            with contextlib.redirect_stdout(buf):
                ok = getattr(mod, func)(*args)
            out[ex] = [ok is True, buf.getvalue().strip()]
        except BaseException as err:
            out[ex] = [False, (buf.getvalue().strip() + " " + type(err).__name__ + ": " + str(err)).strip()]
        finally:
            signal.alarm(0)
    with open({result!r}, "w", encoding="utf-8") as fh:
        json.dump(out, fh)


_cm_grade_run()
del _cm_grade_run
'''


def _is_literal(expr: str) -> bool:
    """Whether an argument is typed in (a literal the student edits) rather than a variable."""
    try:
        ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def answer_expressions(lesson: str, submission_source: str) -> dict[str, list[str] | None]:
    """check name -> the expressions the grader passes it: the lesson's variables; typed-in literals from the submission.

    Where the lesson's call passes a variable (`nb01.check_fixed_chord(fixed)`) the grader evaluates
    that variable; where it passes a literal for the student to edit (`check_d_major_sharps(["F#"])`)
    the grader takes that argument from the submission's own first call (None when it has none).
    """
    ref = reference_calls(lesson)
    own = reference_calls(lesson, submission_source)
    out: dict[str, list[str] | None] = {}
    for func in exercise_functions(lesson):
        exprs = ref.get(func)
        if exprs is not None and any(_is_literal(e) for e in exprs):
            mine = own.get(func)
            exprs = None if mine is None or len(mine) != len(exprs) else [
                m if _is_literal(e) else e for e, m in zip(exprs, mine, strict=True)]
        out[func] = exprs
    return out


def grader_cell(lesson: str, runs: Path, result: Path, submission_source: str,
                check_limit: int = CHECK_TIMEOUT) -> str:
    """Source of the cell the grader appends: re-run every check of the lesson, write the results as JSON."""
    exprs = answer_expressions(lesson, submission_source)
    items = [(exercise_id(lesson, f), f, e) for f, e in exprs.items()]
    return _GRADER_CELL.format(runs=str(runs), lesson=lesson, items=items, result=str(result), limit=int(check_limit))


def _cell_errors(nb: Any, skip: set[int]) -> list[str]:
    """'cell N: Name: message' for every code cell that shows an error output."""
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" and i not in skip else []:
            if out.get("output_type") == "error":
                errors.append(f"cell {i + 1}: {out.get('ename')}: {str(out.get('evalue'))[:200]}")
    return errors


def _own_verdicts(runs: Path) -> dict[str, bool]:
    """The last verdict the notebook's own check calls recorded for each exercise."""
    from cm_lib.exercises._common import VERDICTS_FILE

    # Read tolerantly (not read_verdicts): a submission may have written anything into this file.
    path = runs / VERDICTS_FILE
    verdicts: dict[str, bool] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                verdicts[str(row["exercise"])] = bool(row["passed"])
            except (ValueError, KeyError, TypeError):
                continue
    return verdicts


def _kernel_env(runs: Path) -> dict[str, str]:
    """The kernel's environment: smoke mode, offline, the temporary runs/ folder, one thread."""
    env = dict(os.environ)
    env.update({"CM_SMOKE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                "CM_RUNS_DIR": str(runs), "TOKENIZERS_PARALLELISM": "false"})
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("CM_COURSE_REPO", None)
    return env


def _run_once(nb: Any, work: Path, env: dict[str, str], skip: set[int], deadline: float,
              extra: str) -> tuple[int | None, list[str]]:
    """Execute the cells not in `skip`, then `extra`; (index of a cell that killed the kernel, notes)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    notes: list[str] = []
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                            error_on_timeout={"ename": "Timeout", "evalue": "the grader's time limit was reached",
                                              "traceback": []},
                            resources={"metadata": {"path": str(work)}})
    index = -1
    n_cells = len(nb.cells)
    check = nbformat.v4.new_code_cell(extra)
    nb.cells.append(check)
    try:
        with client.setup_kernel(env=env):
            for index, cell in enumerate(nb.cells[:n_cells]):
                if index in skip or cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 1:
                    notes.append(f"time limit reached: cells from {index + 1} on were not run")
                    break
                client.timeout = int(remaining)
                client.execute_cell(cell, index)
            client.timeout = CHECK_TIMEOUT * 10 + 60
            index = n_cells
            client.execute_cell(check, index)
            for out in check.get("outputs", []):
                if out.get("output_type") == "error":
                    notes.append(f"grader: {out.get('ename')}: {out.get('evalue')}")
    except DeadKernelError:
        return index, notes
    finally:
        nb.cells.pop()
    return None, notes


def grade_submission(path: Path, timeout: int = DEFAULT_TIMEOUT, lesson: str | None = None) -> Submission:
    """Execute one submission in a temporary copy and re-run its lesson's checks; never raises for its content."""
    import nbformat

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as err:
        raise GradeError(f"{path}: not a readable notebook ({type(err).__name__}: {err})") from err
    lesson = lesson or find_lesson(path, nb)
    sub = Submission(path, lesson)
    start = time.monotonic()
    deadline = start + timeout
    with tempfile.TemporaryDirectory(prefix="cm-grade-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        shutil.copy2(path, work / path.name)
        skip: set[int] = set()
        for attempt in range(MAX_RESTARTS + 1):
            runs = Path(tmp) / f"runs{attempt}"
            result = Path(tmp) / RESULT_FILE
            result.unlink(missing_ok=True)
            fresh = nbformat.read(work / path.name, as_version=4)
            source = CELL_SEPARATOR.join(c.source for c in fresh.cells if c.cell_type == "code")
            extra = grader_cell(lesson, Path(tmp) / "grader-runs", result, source)
            dead, notes = _run_once(fresh, work, _kernel_env(runs), skip, deadline, extra)
            if dead is None or dead >= len(fresh.cells) or attempt == MAX_RESTARTS:
                break
            sub.errors.append(f"cell {dead + 1} crashed the kernel: it was skipped and the notebook re-run")
            skip.add(dead)
        if dead is not None:
            sub.errors.append("the kernel died while the grader re-ran the checks" if dead >= len(fresh.cells)
                              else f"cell {dead + 1} crashed the kernel again")
        sub.errors[:0] = _cell_errors(fresh, skip)
        sub.errors += notes
        sub.own_verdicts = _own_verdicts(runs)
        scored = json.loads(result.read_text(encoding="utf-8")) if result.is_file() else {}
    for func in exercise_functions(lesson):
        ex = exercise_id(lesson, func)
        passed, message = scored.get(ex, [False, "not checked: the grader could not re-run it (see errors)"])
        sub.results.append(ExerciseResult(ex, bool(passed), str(message)))
    sub.seconds = time.monotonic() - start
    return sub


def feedback_markdown(sub: Submission) -> str:
    """A short Markdown note for the student: score, each exercise's verdict and hint, errors met."""
    lines = [f"# Feedback: {sub.path.name} (lesson {sub.lesson})", "",
             f"Score: **{sub.total} / {len(sub.results)}** exercises passed.", "",
             "| exercise | verdict | what the check said |", "|---|---|---|"]
    for r in sub.results:
        said = r.message.replace("\n", " ").replace("|", "\\|")[:300]
        lines.append(f"| {r.exercise} | {'pass' if r.passed else 'fail'} | {said} |")
    disagree = [r.exercise for r in sub.results if sub.own_verdicts.get(r.exercise) is True and not r.passed]
    if disagree:
        lines += ["", "Your notebook's own check printed a pass for " + ", ".join(disagree)
                  + ", but re-run on your answer by the grader it fails: keep the exercise cell's check call as given."]
    if sub.errors:
        lines += ["", "## Problems while running your notebook", ""] + [f"- {e}" for e in sub.errors]
    lines += ["", f"(graded in smoke mode in {sub.seconds:.0f} s)", ""]
    return "\n".join(lines)


def write_csv(subs: list[Submission], path: Path) -> Path:
    """One row per submission: submission, one pass/fail column per exercise, total, errors."""
    columns: list[str] = []
    for sub in subs:
        columns += [r.exercise for r in sub.results if r.exercise not in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", *columns, "total", "errors"])
        for sub in subs:
            verdicts = {r.exercise: "pass" if r.passed else "fail" for r in sub.results}
            writer.writerow([str(sub.path), *(verdicts.get(c, "") for c in columns), sub.total,
                             "; ".join(sub.errors)])
    return path


def grade(paths: list[Path], csv_path: Path | None = None, feedback_dir: Path | None = None,
          timeout: int = DEFAULT_TIMEOUT, lesson: str | None = None) -> list[Submission]:
    """Grade every submission; write the CSV (default runs/grade/grades.csv) and one feedback .md each."""
    from cm_lib.paths import stage_dir

    csv_path = Path(csv_path) if csv_path else stage_dir("grade") / "grades.csv"
    feedback_dir = Path(feedback_dir) if feedback_dir else csv_path.parent / "feedback"
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise AssetNotFoundError("no such submission: " + ", ".join(missing))
    subs = []
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(paths):
        sub = grade_submission(Path(p), timeout=timeout, lesson=lesson)
        subs.append(sub)
        (feedback_dir / f"{i + 1:03d}_{Path(p).stem}.md").write_text(feedback_markdown(sub), encoding="utf-8")
    write_csv(subs, csv_path)
    return subs
