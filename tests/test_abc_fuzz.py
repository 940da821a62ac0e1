"""Fuzz: 20,000 mutated corpus tunes through split/clean/check/describe/pitches/durations/transpose; a few
thousand through every public reader of cm_lib.abc and notebook 05's metrics (cm_lib.metrics.fuzz).

Mutations (cm_lib.abc.fuzz): 1-4 character edits in ABC's own alphabet, numbers with up to thousands of
digits, deep nesting of ( [ { and quotes, line-ending changes, random bytes decoded as a file would be,
stray fields, odd K:/M:/L: values. Only the library's typed errors may escape, no input may take 2 s, and
clean_tune is idempotent on every input. benchmarks/abc_fuzz.py runs >= 20,000 inputs through every reader.
"""

from __future__ import annotations

import random
import time

from cm_lib.abc import (
    check,
    clean_tune,
    decode_abc_bytes,
    describe,
    durations,
    iter_music21_tunes,
    pitches,
    split_tunes,
    transpose,
)
from cm_lib.abc.fuzz import FuzzPropertyError, hostile, mutate, run_fuzz
from cm_lib.abc.fuzz import random_shift as _shift
from cm_lib.errors import AbcError

N_MUTANTS = 20_000
MAX_SECONDS = 2.0


def test_fuzz_mutated_corpus_tunes() -> None:
    rng = random.Random(20261124)
    tunes = [t.text for _, t in iter_music21_tunes()]
    seeds = rng.sample(tunes, 2000)
    start = time.perf_counter()
    n_bad = n_raised = 0
    slow: list[tuple[float, str]] = []
    for k in range(N_MUTANTS):
        t0 = time.process_time()  # CPU time: other jobs on the machine must not make an input 'slow'
        seed = seeds[k % len(seeds)][:500]
        raw = mutate(seed, rng) if k % 3 else hostile(seed, rng)
        try:
            text = decode_abc_bytes(raw) if isinstance(raw, bytes) else raw
        except AbcError:
            n_raised += 1
            continue
        split_tunes(text)
        cleaned = clean_tune(text)
        assert clean_tune(cleaned) == cleaned, text
        result = check(text, "bars" if k % 2 else "syntax")
        assert "internal-error" not in result.codes, (text, result.problems)
        n_bad += not result.ok
        try:
            if k % 4 == 0:
                transpose(text, _shift(rng))
            elif k % 4 == 1:
                describe(text)
            elif k % 4 == 2:
                pitches(text)
            else:
                durations(text)
        except AbcError:
            n_raised += 1
        took = time.process_time() - t0
        if took > MAX_SECONDS:
            slow.append((took, text[:200]))
    elapsed = time.perf_counter() - start
    print(f"\nfuzz: {N_MUTANTS} mutants, {n_bad} not ok, {n_raised} AbcError, {elapsed:.1f} s")
    assert n_bad > N_MUTANTS // 10  # the mutations do break tunes, and the checker notices
    assert not slow, slow


N_EVERY = 2_500  # inputs through every reader (benchmarks/abc_fuzz.py: 20,000)


def test_fuzz_every_reader_of_cm_lib_abc_and_the_metrics() -> None:
    from cm_lib.metrics.fuzz import fuzz

    report = fuzz(N_EVERY, seed=20261207)
    print(f"\nfuzz, every reader: {report.inputs} inputs, {report.calls} calls, {dict(report.library_errors)}, "
          f"slowest {report.slowest_seconds:.3f} s CPU, {report.seconds:.1f} s")
    assert report.inputs == N_EVERY and report.calls >= 10 * N_EVERY
    assert not report.foreign, [(f.target, f.error, f.input[:300]) for f in report.foreign[:5]]
    assert report.library_errors["transpose"] > N_EVERY // 20  # invalid keys, absurd shifts: refused, typed
    assert report.slowest_seconds < MAX_SECONDS, report.slowest_input[:300]


def test_the_fuzz_tells_foreign_exceptions_from_the_librarys_own() -> None:
    def raises(text: str, rng: random.Random) -> None:
        if "K:=G" in text:
            raise ValueError("empty K: field")  # what transpose raised before issue 27
        if "K:_D" in text:
            raise FuzzPropertyError("wrote a key the checker rejects")
        raise AbcError("no tune")

    inputs = ["X:1\nK:=G\nA|", "X:1\nK:_D\nA|", "X:1\nK:G\nA|", b"X:1\nK:=G\nA|", "X:1\nT:t\nK:G\nA|\n".encode("utf-16-le")]
    report = run_fuzz(inputs, {"t": raises}, random.Random(0))
    assert [(f.target, f.error) for f in report.foreign] == [
        ("t", "ValueError: empty K: field"), ("t", "FuzzPropertyError: wrote a key the checker rejects"),
        ("t", "ValueError: empty K: field")]
    assert report.library_errors == {"t": 1, "decode_abc_bytes": 1}  # UTF-16 without a BOM: refused, typed
    assert report.inputs == 5 and report.foreign[2].input == repr(b"X:1\nK:=G\nA|")
