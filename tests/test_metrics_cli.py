"""`python -m cm_lib metrics`: one JSON object per tune and a summary, --json written atomically, bad input exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cm_lib.cli import main
from cm_lib.metrics import METRIC_NAMES

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data_samples"


def _lines(out: str) -> tuple[list[dict], dict]:
    objs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert "summary" in objs[-1]
    return objs[:-1], objs[-1]["summary"]


def test_metrics_cli_per_tune_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "m.json"
    files = [str(SAMPLES / "mistakes.abc"), str(SAMPLES / "chords.abc")]
    request = '{"key": "D major", "meter": "3/4", "chords": ["D", "G", "A", "D"]}'
    assert main(["metrics", *files, "--request", request, "--json", str(out), "--parser", "none"]) == 0
    rows, summary = _lines(capsys.readouterr().out)
    assert [(Path(r["path"]).name, r["index"]) for r in rows] == [("mistakes.abc", i) for i in range(5)] + [
        ("chords.abc", 0)]
    for r in rows:
        assert set(METRIC_NAMES) <= set(r)
    chords = rows[-1]
    assert chords["key_ok"] and chords["meter_ok"] and chords["chord_following"] == 1.0 and chords["valid_bars"]
    assert summary["n_tunes"] == 6 and summary["request"]["key"] == "D major"
    assert summary["rates"]["valid_syntax"]["n"] == 6 and summary["rates"]["valid_syntax"]["k"] < 6  # the mistakes
    saved = json.loads(out.read_text())
    assert saved["tunes"] == rows and saved["summary"] == summary
    assert [p.name for p in out.parent.iterdir()] == ["m.json"]  # no temporary file left behind


def test_metrics_cli_reference_and_train_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "req.json"
    req.write_text('{"key": "C", "unit": "1/4"}')
    assert main(["metrics", str(SAMPLES / "chords.abc"), "--request", str(req),
                 "--reference", str(SAMPLES / "barless.abc"), "--train", str(SAMPLES / "chords.abc")]) == 0
    rows, summary = _lines(capsys.readouterr().out)
    assert rows[0]["key_ok"] is False and rows[0]["unit_ok"] is True
    assert rows[0]["copy_rate"] is True and rows[0]["novelty_4gram"] == 0.0 and rows[0]["valid_parser"] is True
    assert summary["train"]["n_tunes"] == 1 and summary["reference"]["n_tunes"] == 2
    assert summary["distributions"]["pitch_class"]["overlap_area"] is None  # one generated tune: no intra-set pairs


@pytest.mark.parametrize("args, message", [
    (["--request", "{key: D}"], "request is not valid JSON"),
    (["--request", '{"meter": 6}'], "request 'meter' must be a string"),
    (["--train", "missing.abc"], "missing.abc: no such file"),
])
def test_metrics_cli_bad_input_one_line_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["metrics", str(SAMPLES / "chords.abc"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_metrics_cli_files_without_tunes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prose = tmp_path / "prose.abc"
    prose.write_text("no tune in here\n")
    assert main(["metrics", str(prose)]) == 2
    assert "no tune in the file" in capsys.readouterr().err
    assert main(["metrics", str(tmp_path / "nope.abc")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_metrics_cli_as_a_process() -> None:
    res = subprocess.run([sys.executable, "-m", "cm_lib", "metrics", str(SAMPLES / "basics.abc"), "--parser", "none"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    rows, summary = _lines(res.stdout)
    assert len(rows) == 1 and summary["n_tunes"] == 1 and "Traceback" not in res.stderr
