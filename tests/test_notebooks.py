"""Every lesson and solution notebook runs top to bottom in smoke mode (CM_SMOKE=1), in course order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cm_lib.course import execute_notebook

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("nb_path", LESSONS + SOLUTIONS, ids=lambda p: p.relative_to(REPO / "notebooks").as_posix())
def test_notebook_runs_in_smoke_mode(nb_path: Path, tmp_path: Path) -> None:
    run = execute_notebook(nb_path, tmp_path / nb_path.name, smoke=True, timeout=600)
    assert run.ok, run.error[-4000:]


def test_each_lesson_has_a_solutions_notebook() -> None:
    assert LESSONS, "no lesson notebooks"
    for lesson in LESSONS:
        number = lesson.name[:2]
        assert any(s.name.startswith(number) for s in SOLUTIONS), f"no solutions notebook for {lesson.name}"


def _code_cells(nb_path: Path) -> list[str]:
    import json

    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    out = []
    for c in cells:
        if c["cell_type"] == "code":
            lines = "".join(c["source"]).splitlines()
            out.append("\n".join(ln[: len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("!", "%")) else ln
                                 for ln in lines))  # IPython magics become a no-op
    return out


def _top_level_bindings(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def ambiguous_reads(nb_path: Path) -> list[str]:
    """Names a cell reads that two or more earlier cells bind: which value it sees depends on cell order."""
    binders: dict[str, set[int]] = {}
    problems = []
    for i, src in enumerate(_code_cells(nb_path)):
        tree = ast.parse(src)
        own = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        own |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args + n.kwonlyargs}
        own |= _top_level_bindings(tree)  # imports and definitions of this cell
        reads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - own
        problems += [f"code cell {i} reads {name!r}, bound in code cells {sorted(binders[name])}"
                     for name in sorted(reads) if len(binders.get(name, ())) > 1]
        for name in _top_level_bindings(tree):
            binders.setdefault(name, set()).add(i)
    return problems


def test_ambiguous_reads_catches_a_loop_that_overwrites_a_tune() -> None:
    import json

    cells = ['tune = "The Enchanted Valley"', 'for tune in ["X:5 T:Prose"]:\n    print(tune)', "print(tune)"]
    nb = {"cells": [{"cell_type": "code", "source": [c]} for c in cells]}
    path = Path(__import__("tempfile").mkdtemp()) / "x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert ambiguous_reads(path) == ["code cell 2 reads 'tune', bound in code cells [0, 1]"]


@pytest.mark.parametrize("nb_path", LESSONS + SOLUTIONS, ids=lambda p: p.relative_to(REPO / "notebooks").as_posix())
def test_no_cell_reads_a_name_that_two_cells_bind(nb_path: Path) -> None:
    assert ambiguous_reads(nb_path) == []
