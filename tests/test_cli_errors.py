"""The CLI's one error policy: every CourseError and OSError is one line and exit 2; a closed pipe is quiet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cm_lib import cli
from cm_lib.errors import CourseError, UsageError

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def many_tunes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 copies of data_samples/mistakes.abc: `abc check` prints far more than a pipe buffer holds."""
    from cm_lib.paths import data_samples_dir

    text = (data_samples_dir() / "mistakes.abc").read_text()
    path = tmp_path_factory.mktemp("cli") / "many.abc"
    path.write_text("\n".join([text] * 300))
    return path


def test_usage_error_is_a_course_error_printed_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert issubclass(UsageError, CourseError) and UsageError("x").exit_code == 2
    assert cli.main(["bench", "--model", "tiny", "--limit", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--limit" in err


def test_closed_pipe_ends_quietly(many_tunes: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cm_lib", "abc", "check", str(many_tunes)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert first.startswith(str(many_tunes).encode())
    assert "Traceback" not in err and "Exception ignored" not in err and err == ""
    assert rc == 141


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_device_is_one_line_and_exit_2(many_tunes: Path) -> None:
    with open("/dev/full", "w") as full:
        out = subprocess.run([sys.executable, "-m", "cm_lib", "abc", "check", str(many_tunes)], env=ENV,
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr == "error: cannot write the output: No space left on device\n"


def test_a_multi_line_course_error_is_printed_as_one_line(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    import cm_lib.cli.corpus_cmd as corpus_cmd

    def sources(args):
        raise UsageError("first line\nsecond line")

    monkeypatch.setattr(corpus_cmd, "_sources", sources)
    assert cli.main(["corpus", "sources"]) == 2
    assert capsys.readouterr().err == "error: first line second line\n"
