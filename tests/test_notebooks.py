"""Every lesson and solution notebook runs top to bottom in smoke mode (CM_SMOKE=1), in course order."""

from __future__ import annotations

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
