"""Robustness of the ABC layer on hostile-but-realistic input (issue 9): no hang, no runaway memory or time,
typed errors instead of tracebacks, honest messages, idempotent cleaning."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import pytest

from cm_lib.abc import (
    check,
    clean_tune,
    decode_abc_bytes,
    describe,
    durations,
    pitches,
    read_abc_file,
    read_tunes,
    split_tunes,
    transpose,
)
from cm_lib.cli import main
from cm_lib.errors import AbcError
from cm_lib.paths import data_samples_dir

TUNE = "X:1\nT:t\nM:4/4\nL:1/8\nK:G\nGABc d2B2|c8|]\n"


# --- reading files: regular files only, with a size cap ------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_at_once_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.abc"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "cm_lib", "abc", "check", str(fifo)], capture_output=True,
                          text=True, timeout=120)  # before the fix: blocks forever waiting for a writer
    assert proc.returncode == 2 and "not a regular file" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(AbcError, match="not a regular file"):
        read_abc_file(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused() -> None:
    with pytest.raises(AbcError, match="not a regular file"):
        read_tunes("/dev/zero")  # before the fix: read until memory runs out


def test_size_cap_is_documented_and_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.abc"
    path.write_text(TUNE * 10)
    assert len(read_tunes(path)) == 10
    monkeypatch.setenv("CM_MAX_ABC_BYTES", "100")
    with pytest.raises(AbcError, match="CM_MAX_ABC_BYTES"):
        read_abc_file(path)
    assert main(["abc", "check", str(path)]) == 2
    monkeypatch.setenv("CM_MAX_ABC_BYTES", "lots")
    with pytest.raises(AbcError, match="CM_MAX_ABC_BYTES"):
        read_abc_file(path)


def test_utf16_is_read_or_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_bom = tmp_path / "bom.abc"
    with_bom.write_bytes(TUNE.encode("utf-16"))  # BOM + little-endian
    assert [t.title for t in read_tunes(with_bom)] == ["t"]
    bare = tmp_path / "bare.abc"
    bare.write_bytes(TUNE.encode("utf-16-le"))
    with pytest.raises(AbcError, match="UTF-16-LE"):
        read_abc_file(bare)  # before the fix: "no tune"
    assert main(["abc", "check", str(bare)]) == 2
    assert "UTF-16" in capsys.readouterr().err
    assert decode_abc_bytes(b"\xef\xbb\xbf" + TUNE.encode()) == TUNE  # UTF-8 BOM dropped: X: starts the line


def test_render_of_a_directory_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["abc", "render", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


# --- absurd numbers and shifts: typed errors, located problems ----------------------------------------

BIG = "9" * 5000


@pytest.mark.parametrize(("body", "header"), [
    (f"A{BIG} B|", ""), (f"A/{BIG} B|", ""), (f"({BIG}ABC|", ""), (f"(3:{BIG}ABC|", ""), (f"Z{BIG}|", ""),
    (f"[CE]{BIG}|", ""), (f"[M:{BIG}/8] A|", ""), (f"[L:1/{BIG}] A|", ""), ("A|", f"M:{BIG}/4\n"),
    ("A|", f"L:1/{BIG}\n"),
])
def test_numbers_with_thousands_of_digits(body: str, header: str) -> None:
    text = f"X:1\n{header}K:C\n{body}\n"
    result = check(text, "bars")
    codes = result.codes
    assert "number-too-large" in codes and "internal-error" not in codes, result.problems
    problem = next(p for p in result.problems if p.code == "number-too-large")
    assert problem.line == (2 if header else 3)
    for fn in (describe, pitches, durations):
        with pytest.raises(AbcError, match="digits"):  # before the fix: ValueError (int-string limit)
            fn(text)


def test_transpose_any_integer_shift() -> None:
    base = pitches(TUNE)
    for shift in (-127, -96, -49, -48, 49, 60, 100, 127):  # before the fix: KeyError beyond about +-48
        out = transpose(TUNE, shift)
        assert pitches(out) == [p + shift for p in base]
        assert check(out).ok
    for bad in (128, -1000, 10**100):
        with pytest.raises(AbcError, match="at most 127"):
            transpose(TUNE, bad)
    with pytest.raises(AbcError):
        transpose(TUNE, 1.5)  # type: ignore[arg-type]


# --- cleaning is idempotent -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [" W:x", "[I:x]T: a", "\x0cW:x", "X:1\n [N:n]B: b\nK:C\nA|", "X:1\nT: a  b \nK:C\n"])
def test_clean_tune_is_idempotent(text: str) -> None:
    once = clean_tune(text)
    assert clean_tune(once) == once


# --- no quadratic path: reading, splitting, cleaning, checking grow linearly ------------------------------

def _best_time(fn, text: str, repeat: int = 3) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn(text)
        best = min(best, time.process_time() - start)
    return best


def test_pathological_inputs_are_fast() -> None:
    limits = [(split_tunes, "X:1\nK:C\nA|\n" + "\n" * 30_000 + "B|\n"),  # before: 20 s
              (clean_tune, "X:1\nT:" + "a" * 80_000 + "\nK:C\nA|\n"),  # before: 27 s
              (clean_tune, "X:1\nT:" + "a.b-" * 20_000 + "\nK:C\nA|\n")]
    for fn, text in limits:
        assert _best_time(fn, text, 1) < 2.0, fn.__name__


def test_time_and_memory_grow_linearly_with_input(tmp_path: Path) -> None:
    one = (data_samples_dir() / "basics.abc").read_text() + "\n" + (data_samples_dir() / "two_voices.abc").read_text()
    one = one * 2  # about 1.6 KB: large enough to time
    times = {}
    for k in (1, 4, 16):
        path = tmp_path / f"x{k}.abc"
        path.write_text((one + "\n") * k)

        def work(p: Path) -> None:
            text = read_abc_file(p)
            for tune in split_tunes(text):
                check(tune.text, "bars")
                clean_tune(tune.text)
                pitches(tune.text)

        times[k] = _best_time(work, path, 2)  # type: ignore[arg-type]
        size = path.stat().st_size
        tracemalloc.start()
        work(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 200 * size, (k, peak, size)  # before the fix: ~1,000x on one long line
    assert times[16] / times[1] < 16 * 2.5, times  # linear, with a generous margin for noise
    assert times[16] / times[4] < 4 * 2.5, times


def test_one_long_line_does_not_explode_memory() -> None:
    text = "X:1\nK:C\n" + "ABcd efga|" * 5_000 + "\n"  # a 50 KB line
    tracemalloc.start()
    result = check(text, "bars")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.ok
    assert peak < 60 * len(text), peak  # before the fix: ~1,000x (a Match object per token, all kept)
    broken = "X:1\nK:C\n" + "]" * 5_000 + "\n"
    result = check(broken)
    assert len(result.problems) <= 1001 and result.codes[-1] == "too-many-problems"


def test_durations_of_huge_but_valid_numbers_are_exact() -> None:
    assert durations("X:1\nL:1/8\nK:C\nA123456789|\n") == [Fraction(123456789, 8)]
