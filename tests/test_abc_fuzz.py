"""Fuzz: 20,000 mutated corpus tunes through split/clean/check/describe/pitches/durations/transpose.

Mutations: 1-4 character edits in ABC's own alphabet, numbers with up to thousands of digits, deep
nesting of ( [ { and quotes, line-ending changes, random bytes decoded as a file would be, stray
fields. Only the library's typed AbcError may escape, no input may take 2 s, and clean_tune is
idempotent on every input.
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
from cm_lib.errors import AbcError

ALPHABET = "ABCDEFGabcdefgzxZ^_=,'/0123456789|:[]{}()<>-.~!+\"%\\ \nHTuvKLMVX&$`y#;"
N_MUTANTS = 20_000
MAX_SECONDS = 2.0
FIELDS = ["[K:", "[M:", "[L:", "[V:", "\nV:", "\nK:", "\nM:", "\nL:", "\nX:", "\nT:", "\nW:", "\nw:", "[I:", " %"]


def mutate(text: str, rng: random.Random) -> str:
    """Insert, delete, swap or replace 1-4 characters, using ABC's own alphabet."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        i = rng.randrange(len(chars) + 1)
        if op == 0 or not chars:
            chars.insert(i, rng.choice(ALPHABET))
        elif op == 1:
            del chars[min(i, len(chars) - 1)]
        elif op == 2 and len(chars) > 1:
            j = min(i, len(chars) - 2)
            chars[j], chars[j + 1] = chars[j + 1], chars[j]
        else:
            chars[min(i, len(chars) - 1)] = rng.choice(ALPHABET)
    return "".join(chars)


def _insert(text: str, piece: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + piece + text[i:]


def hostile(text: str, rng: random.Random) -> str | bytes:
    """One of the harsher mutations; bytes for a byte-level one (decoded as a file would be)."""
    op = rng.randrange(6)
    if op == 0:  # a number with many digits, where lengths, tuplets, meters and units take one
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([10, 40, 400, 5000])))
        return _insert(text, rng.choice(["A", "z", "(", "(3:", "Z", "]", "[M:", "[L:1/", "A/", ""]) + digits, rng)
    if op == 1:  # deep nesting
        return _insert(text, rng.choice("([{\"!") * rng.choice([50, 500, 2000]), rng)
    if op == 2:  # line endings
        return text.replace("\n", rng.choice(["\r\n", "\r", "\n\n", "\n \n", "\\\n"]))
    if op == 3:  # stray fields
        return _insert(text, rng.choice(FIELDS) + mutate("G2 x", rng) + rng.choice(["]", "\n", ""]), rng)
    data = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 8)):
        data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
    if op == 5 and rng.random() < 0.2:
        data = bytearray(text.encode(rng.choice(["utf-16-le", "utf-16", "latin-1", "cp437"]), errors="replace"))
    return bytes(data)


def _shift(rng: random.Random) -> int:
    return rng.choice([rng.randint(-12, 12), rng.randint(-200, 200), rng.choice([-10**30, 10**30, 0, 127, -127])])


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
