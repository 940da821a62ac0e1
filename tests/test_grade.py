"""`python -m cm_lib grade`: re-run checks on the student's answers; crashing, hanging and cheating notebooks.

The sandbox itself (checker rewrites, writes, reads, network, processes) is tested in test_grade_sandbox.py.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import nbformat
import pytest

from cm_lib import grade as g

REPO = Path(__file__).resolve().parent.parent

GOOD_JIG = 'my_jig = """X:1\nT:My jig\nM:6/8\nL:1/8\nK:D\nA|dfa afd|e3 e2 A|dfa afd|e3 d2|]\n"""\n'
SETUP = ("from cm_lib import abc\nfrom cm_lib.exercises import nb01\nfrom cm_lib.paths import data_samples_dir\n"
         'basics = (data_samples_dir() / "basics.abc").read_text()\n')


@functools.cache
def _sandbox() -> bool:
    """Grade in the sandbox where bubblewrap runs here; the behaviour below is the same without it."""
    return g.unavailable_reason() is None


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def _transposed() -> str:
    return g.exercise_id("01", next(f for f in g.exercise_functions("01") if f.startswith("check_transposed")))


def test_exercises_come_from_the_library_in_source_order() -> None:
    funcs = g.exercise_functions("01")
    assert funcs[:2] == ["check_six_eight_pickup", "check_fixed_chord"]
    assert "check_d_major_sharps" in funcs
    with pytest.raises(g.GradeError, match="no exercises"):
        g.exercise_functions("99")


def test_every_check_of_every_lesson_is_called_in_its_lesson_notebook() -> None:
    for nb_path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        lesson = nb_path.name[:2]
        calls = g.reference_calls(lesson)
        missing = [f for f in g.exercise_functions(lesson) if f not in calls]
        assert not missing, f"{nb_path.name} never calls {missing}: the grader cannot tell their answers"


def test_answer_expressions_use_lesson_variables_and_the_students_literals() -> None:
    cells = g.CELL_SEPARATOR.join([
        "nb01.check_fixed_chord(my_own_name)",  # an edited call: the grader still checks `fixed`
        'nb01.check_d_major_sharps(["F#", "C#"])',
        "this cell ( does not parse",
    ])
    exprs = g.answer_expressions("01", cells)
    assert exprs["check_fixed_chord"] == ["fixed"]
    assert exprs["check_six_eight_pickup"] == ["my_jig"]
    assert exprs["check_d_major_sharps"] == ["['F#', 'C#']"]
    assert g.answer_expressions("01", "print('no calls')")["check_d_major_sharps"] is None


def test_find_lesson_from_imports_then_file_name(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from cm_lib.exercises import nb06\nnb06.check_wilson(f)")]
    assert g.find_lesson(tmp_path / "alice.ipynb", nb) == "06"
    nb.cells = []
    assert g.find_lesson(tmp_path / "bob_01_abc.ipynb", nb) == "01"
    with pytest.raises(g.GradeError, match="which lesson"):
        g.find_lesson(tmp_path / "carol.ipynb", nb)


def test_csv_and_feedback_format(tmp_path: Path) -> None:
    sub = g.Submission(Path("a/01_x.ipynb"), "01", [g.ExerciseResult("nb01.a", True, "✅ ok"),
                                                  g.ExerciseResult("nb01.b", False, "❌ hint | pipe")],
                       ["cell 3: ZeroDivisionError: division by zero"], {"nb01.b": True}, 1.0)
    path = g.write_csv([sub], tmp_path / "g.csv")
    rows = list(csv.reader(path.open()))
    assert rows == [["submission", "nb01.a", "nb01.b", "total", "errors"],
                    ["a/01_x.ipynb", "pass", "fail", "1", "cell 3: ZeroDivisionError: division by zero"]]
    text = g.feedback_markdown(sub)
    assert "**1 / 2**" in text and "hint \\| pipe" in text and "re-run on your answer" in text


@pytest.mark.notebook
def test_crash_edited_checker_deleted_cell_and_hang(tmp_path: Path) -> None:
    cheat = _notebook(
        tmp_path / "01_cheat.ipynb", SETUP, GOOD_JIG + "nb01.check_six_eight_pickup(my_jig)",
        "import os\nos._exit(1)  # kills the kernel",
        # the checker patched, then called: still the unclosed chord
        "fixed = nb01.BROKEN_CHORD_TUNE\nnb01.check_fixed_chord = lambda answer: True\nnb01.check_fixed_chord(fixed)",
        "print('✅ D major has two sharps')  # the call replaced by its printed verdict",
        "my_d = abc.transpose(basics, 7)  # the checker call deleted: the answer is still graded",
        "1 / 0",
    )
    hang = _notebook(tmp_path / "01_hang.ipynb", SETUP, GOOD_JIG, "import time\ntime.sleep(3600)",
                     "fixed = nb01.BROKEN_CHORD_TUNE.replace('[CEG4', '[CEG]4')")
    (sub,) = g.grade([cheat], tmp_path / "out" / "grades.csv", timeout=300, sandbox=_sandbox())
    c = {r.exercise: r for r in sub.results}
    assert c["nb01.six_eight_pickup"].passed
    assert not c["nb01.fixed_chord"].passed and "still broken" in c["nb01.fixed_chord"].message
    assert not c["nb01.d_major_sharps"].passed and "not run" in c["nb01.d_major_sharps"].message
    assert c[_transposed()].passed
    errors = " ".join(sub.errors)
    assert "cell 3 crashed the kernel" in errors and "ZeroDivisionError" in errors
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert [(r["nb01.fixed_chord"], r["total"]) for r in rows] == [("fail", "2")]
    feedback = sorted((tmp_path / "out" / "feedback").glob("*.md"))
    assert [p.name for p in feedback] == ["001_01_cheat.md"]

    hung = g.grade_submission(hang, timeout=30, sandbox=_sandbox())
    h = {r.exercise: r for r in hung.results}
    assert h["nb01.six_eight_pickup"].passed
    assert not h["nb01.fixed_chord"].passed and "not run" in h["nb01.fixed_chord"].message
    assert "time limit" in " ".join(hung.errors) and hung.seconds < 90


def test_a_submission_that_cannot_be_placed_scores_zero_and_the_class_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "01_broken.ipynb"
    bad.write_text("{ not a notebook")
    stray = _notebook(tmp_path / "essay.ipynb", "print('no lesson here')")
    subs = g.grade([bad, stray], tmp_path / "g.csv", sandbox=_sandbox())
    assert [s.total for s in subs] == [0, 0]
    assert "not a readable notebook" in subs[0].errors[0] and "which lesson" in subs[1].errors[0]
    assert len(list(csv.reader((tmp_path / "g.csv").open()))) == 3


def test_cli_rejects_a_missing_submission(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cm_lib.cli import main

    assert main(["grade", str(tmp_path / "nope.ipynb"), "--csv", str(tmp_path / "g.csv")]) == 2
    assert "no such submission" in capsys.readouterr().err
