"""A submission's lesson, its exercises (`check_*` of cm_lib.exercises.nbNN) and the expressions holding its answers."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

from cm_lib.errors import AssetNotFoundError, CourseError
from cm_lib.paths import repo_root

CELL_SEPARATOR = "\n#--- cell ---\n"


class GradeError(CourseError):
    """A submission the grader cannot place, or grading that cannot run or be trusted."""


class IntegrityError(GradeError):
    """The checker code changed while grading: no grades are reported."""


def lesson_notebook(lesson: str, root: Path | None = None) -> Path:
    """The shipped lesson notebook notebooks/<lesson>_*.ipynb (the reference for its exercise calls)."""
    root = root or repo_root()
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


def code_source(nb: Any) -> str:
    """A notebook's code cells joined by CELL_SEPARATOR."""
    return CELL_SEPARATOR.join(c.source for c in nb.cells if c.cell_type == "code")


def reference_calls(lesson: str, source: str | None = None) -> dict[str, list[str]]:
    """check name -> argument expressions of its first call `nbNN.check_x(...)` (in the lesson notebook by default).

    `source` is code cells joined by CELL_SEPARATOR; a cell that does not parse is passed over.
    """
    import nbformat

    if source is None:
        source = code_source(nbformat.read(lesson_notebook(lesson), as_version=4))
    calls: dict[str, list[str]] = {}
    for cell in source.split(CELL_SEPARATOR):
        lines = [ln for ln in cell.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
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


def _is_literal(expr: str) -> bool:
    """Whether an argument is typed in (a literal the student edits) rather than a variable."""
    try:
        ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def answer_expressions(lesson: str, submission_source: str) -> dict[str, list[str] | None]:
    """check name -> the expressions the grader passes it: the lesson's variables, the submission's typed-in literals.

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
