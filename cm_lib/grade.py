"""Grading for teachers (docs/TEACHING.md): run each submitted notebook, re-run its exercise checks, score.

Each submission runs in smoke mode in a fresh kernel inside a sandbox (bubblewrap: its own temporary
HOME, the course and the venv read-only, no network, no other files, limits on time, memory, disk and
processes), from a pristine copy of the course. The verdicts come from another sandboxed process that
runs the lesson's `check_*` functions (cm_lib.exercises.nbNN) on the answers the lesson's exercise
cells pass to them, handed across as JSON; a student's function is called in their own kernel. The
checker code's hashes are verified before and after every submission: if anything changed, no grades
are reported. cm_lib.grading holds the machinery; this module scores, writes feedback and the CSV.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

from cm_lib.errors import AssetNotFoundError
from cm_lib.grading.lesson import (
    CELL_SEPARATOR,
    GradeError,
    IntegrityError,
    answer_expressions,
    code_source,
    exercise_functions,
    exercise_id,
    find_lesson,
    lesson_notebook,
    reference_calls,
)
from cm_lib.grading.sandbox import Limits, unavailable_reason
from cm_lib.paths import stage_dir

__all__ = ["CELL_SEPARATOR", "GradeError", "IntegrityError", "Limits", "answer_expressions", "exercise_functions",
           "exercise_id", "find_lesson", "lesson_notebook", "reference_calls", "unavailable_reason"]

DEFAULT_TIMEOUT = 600  # seconds for one submission's cells (smoke mode takes well under a minute per lesson)
CHECK_TIMEOUT = 120  # seconds for one re-run check (it calls the student's functions)
MAX_RESTARTS = 3  # a cell that kills the kernel is skipped and the notebook re-run, at most this often


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


def _read(path: Path) -> tuple[str, object]:
    """A submission's text and its parsed notebook; GradeError when it is not a readable notebook."""
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
        return text, nbformat.reads(text, as_version=4)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise GradeError(f"{path}: not a readable notebook ({type(err).__name__}: {err})") from err


def grade_submission(path: Path, timeout: int = DEFAULT_TIMEOUT, lesson: str | None = None,
                     sandbox: bool = True, grader: object | None = None, limits: Limits | None = None) -> Submission:
    """Grade one submission (sandboxed unless `sandbox=False`); never raises for its content.

    GradeError when the submission cannot be placed, no sandbox runs here (and `sandbox` is True), or
    the checker code changed while it was graded. `grader` reuses a `cm_lib.grading.session.Grader`.
    """
    from cm_lib.grading.session import Grader

    path = Path(path)
    text, nb = _read(path)
    lesson = lesson or find_lesson(path, nb)
    funcs = exercise_functions(lesson)
    exprs = answer_expressions(lesson, code_source(nb))
    start = time.monotonic()
    own = grader if isinstance(grader, Grader) else Grader(sandboxed=sandbox, limits=limits)
    try:
        out = own.run(text, lesson, funcs, exprs, timeout=timeout, check_timeout=CHECK_TIMEOUT,
                      max_restarts=MAX_RESTARTS)
    finally:
        if own is not grader:
            own.close()
    sub = Submission(path, lesson, errors=out.errors + out.notes, own_verdicts=out.own_verdicts)
    for func in funcs:
        ex = exercise_id(lesson, func)
        passed, message = out.results[ex]
        sub.results.append(ExerciseResult(ex, passed, message))
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
          timeout: int = DEFAULT_TIMEOUT, lesson: str | None = None, sandbox: bool = True,
          limits: Limits | None = None) -> list[Submission]:
    """Grade every submission; write the CSV (default runs/grade/grades.csv) and one feedback .md each.

    A submission the grader cannot place scores 0 with the reason; nothing is written when grading cannot
    run or be trusted (GradeError: no sandbox here; IntegrityError: the checker code changed).
    """
    from cm_lib.grading.session import Grader

    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise AssetNotFoundError("no such submission: " + ", ".join(missing))
    subs = []
    with Grader(sandboxed=sandbox, limits=limits) as grader:
        for p in paths:
            try:
                subs.append(grade_submission(Path(p), timeout=timeout, lesson=lesson, grader=grader))
            except IntegrityError:
                raise
            except GradeError as err:  # this one submission cannot be placed: the class goes on
                subs.append(Submission(Path(p), lesson or "?", errors=[str(err)]))
        grader.verify("while grading")
    csv_path = Path(csv_path) if csv_path else stage_dir("grade") / "grades.csv"
    feedback_dir = Path(feedback_dir) if feedback_dir else csv_path.parent / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for i, sub in enumerate(subs):
        (feedback_dir / f"{i + 1:03d}_{sub.path.stem}.md").write_text(feedback_markdown(sub), encoding="utf-8")
    write_csv(subs, csv_path)
    return subs
