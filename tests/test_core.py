"""Foundation: artefact paths, offline hub refusal, the CLI entry and the course runner."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cm_lib import cli, paths
from cm_lib.config import smoke_mode
from cm_lib.course import NotebookRun, course_notebooks, format_summary
from cm_lib.errors import CourseError, HubUnavailableError
from cm_lib.hub import hub_offline_flag, require_hub

REPO = Path(__file__).resolve().parent.parent


def test_runs_dir_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CM_RUNS_DIR", str(tmp_path / "drive"))
    assert paths.runs_dir() == tmp_path / "drive"
    assert paths.stage_dir("corpus", "small") == tmp_path / "drive" / "corpus" / "small"
    assert (tmp_path / "drive" / "corpus" / "small").is_dir()
    paths.write_summary("demo", {"b": 2, "a": 1})
    assert paths.read_summaries() == {"demo": {"a": 1, "b": 2}}


def test_repo_layout_is_found() -> None:
    assert paths.repo_root() == REPO
    assert paths.data_samples_dir() == REPO / "data_samples"


def test_smoke_mode_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CM_SMOKE", "1")
    assert smoke_mode()
    monkeypatch.setenv("CM_SMOKE", "0")
    assert not smoke_mode()


def test_offline_hub_refusal_is_fast_and_says_what_to_do() -> None:
    assert hub_offline_flag()  # conftest sets HF_HUB_OFFLINE=1
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError) as info:
        require_hub("m-a-p/MusicPile", "the music21 corpus (--source music21)")
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "m-a-p/MusicPile" in message and "HF_HUB_OFFLINE" in message and "music21" in message
    assert isinstance(info.value, CourseError)


def test_cli_lists_stages() -> None:
    out = subprocess.run([sys.executable, "-m", "cm_lib", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for stage in ("abc", "corpus", "models", "train", "bench", "course"):
        assert stage in out.stdout, stage


def test_cli_without_stage_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_course_notebooks_are_in_order() -> None:
    names = [p.name for p in course_notebooks()]
    assert names == sorted(names)
    assert names[0].startswith("01_")


def test_summary_lists_each_notebook() -> None:
    runs = [NotebookRun("01_x", True, 1.5, Path("a")), NotebookRun("02_y", False, 2.0, Path("b"), "boom")]
    text = format_summary(runs, smoke=True)
    assert "| 01_x | ok | 1.5 |" in text and "| 02_y | FAILED | 2.0 |" in text
