"""`python -m cm_lib abc ...`: exit codes, JSON lines, no tracebacks on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cm_lib.abc import pitches
from cm_lib.cli import main
from cm_lib.paths import data_samples_dir

GOOD = "X:1\nT:Good\nM:4/4\nL:1/8\nK:G\nGABc d2B2|c8|]\n"
BAD = "X:1\nT:Bad\nM:4/4\nL:1/8\nK:G\n[GB d2|(3|]\n\nX:2\nT:Long\nM:4/4\nL:1/8\nK:G\nG8 A|]\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in {"good.abc": GOOD, "bad.abc": BAD, "prose.abc": "Dear diary, no music today.\n"}.items():
        out[name] = tmp_path / name
        out[name].write_text(text)
    out["binary.abc"] = tmp_path / "binary.abc"
    out["binary.abc"].write_bytes(b"X:1\nT:Caf\xe9\nK:C\nCDEF|]\n")
    return out


def _json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_check_exit_codes_and_json(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["abc", "check", str(files["good.abc"]), "--json"]) == 0
    (obj,) = _json_lines(capsys)
    assert obj == {"path": str(files["good.abc"]), "index": 0, "title": "Good", "ok": True, "problems": []}

    assert main(["abc", "check", str(files["bad.abc"]), "--json", "--level", "bars"]) == 1
    first, second = _json_lines(capsys)
    assert set(first) == {"path", "index", "title", "ok", "problems"}
    assert (first["index"], first["title"], first["ok"]) == (0, "Bad", False)
    assert [p["code"] for p in first["problems"]] == ["unclosed-chord", "dangling-tuplet"]
    assert {"code", "message", "line", "bar"} <= set(first["problems"][0])
    assert first["problems"][0]["line"] == 6 and first["problems"][0]["bar"] == 1
    assert [p["code"] for p in second["problems"]] == ["bar-too-long"] and second["index"] == 1

    assert main(["abc", "check", str(files["bad.abc"]), "--json"]) == 1  # syntax level: bar 2 of X:2 passes
    assert [o["ok"] for o in _json_lines(capsys)] == [False, True]

    assert main(["abc", "check", str(files["prose.abc"]), "--json"]) == 1
    (obj,) = _json_lines(capsys)
    assert obj["ok"] is False and obj["problems"][0]["code"] == "no-tune"


def test_check_text_report_and_io_errors(files: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["abc", "check", str(files["good.abc"]), str(files["binary.abc"])]) == 0
    out = capsys.readouterr().out
    assert "Good: ok" in out and "Café: ok" in out
    assert main(["abc", "check", str(files["bad.abc"])]) == 1
    out = capsys.readouterr().out
    assert "Bad: FAIL" in out and "line 6, bar 1: error unclosed-chord" in out
    assert main(["abc", "check", str(tmp_path / "missing.abc")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["abc", "check", str(tmp_path)]) == 2  # a directory
    assert main(["abc", "check", str(files["good.abc"]), str(tmp_path / "missing.abc")]) == 2
    with pytest.raises(SystemExit) as err:
        main(["abc", "check", "--level", "strict", str(files["good.abc"])])
    assert err.value.code == 2


def test_describe_and_transpose(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["abc", "describe", str(files["good.abc"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["key"], info["n_bars"], info["n_notes"], info["lowest_name"]) == ("G", 2, 7, "G4")
    assert main(["abc", "transpose", str(files["good.abc"]), "--semitones", "2"]) == 0
    out = capsys.readouterr().out
    assert "K:A\nABcd e2c2|d8|]" in out and pitches(out) == [p + 2 for p in pitches(GOOD)]
    assert main(["abc", "transpose", str(files["bad.abc"]), "--semitones", "-1", "--index", "1"]) == 0
    assert "T:Long" in capsys.readouterr().out
    assert main(["abc", "describe", str(files["good.abc"]), "--index", "5"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["abc", "describe", str(files["prose.abc"])]) == 2


def test_subprocess_on_samples_has_no_traceback(tmp_path: Path) -> None:
    mistakes = data_samples_dir() / "mistakes.abc"
    proc = subprocess.run([sys.executable, "-m", "cm_lib", "abc", "check", "--json", str(mistakes),
                           str(tmp_path / "nope.abc")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2  # the missing file wins over failing tunes
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert objs and all(o["path"] == str(mistakes) for o in objs) and not all(o["ok"] for o in objs)
    assert "Traceback" not in proc.stderr and "nope.abc" in proc.stderr


def test_transpose_of_an_invalid_key_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad_key.abc"
    path.write_text("X:1\nT:t\nM:4/4\nL:1/8\nK:=G\nABcd efga|]\n")
    for n in ("1", "2"):
        assert main(["abc", "transpose", str(path), "--semitones", n]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and "K:=G" in captured.err, captured
