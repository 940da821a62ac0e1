"""Fuzz: 10,000 mutated corpus tunes through split/check/transpose/describe/pitches: only AbcError escapes."""

from __future__ import annotations

import random
import time

from cm_lib.abc import check, describe, iter_music21_tunes, pitches, split_tunes, transpose
from cm_lib.errors import AbcError

ALPHABET = "ABCDEFGabcdefgzxZ^_=,'/0123456789|:[]{}()<>-.~!+\"%\\ \nHTuvKLMVX&$`y#;"
N_MUTANTS = 10_000


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


def test_fuzz_mutated_corpus_tunes() -> None:
    rng = random.Random(20261124)
    tunes = [t.text for _, t in iter_music21_tunes()]
    seeds = rng.sample(tunes, 2000)
    start = time.perf_counter()
    n_bad = n_raised = 0
    for k in range(N_MUTANTS):
        text = mutate(seeds[k % len(seeds)][:1500], rng)
        split_tunes(text)
        result = check(text, "bars" if k % 2 else "syntax")
        assert "internal-error" not in result.codes, (text, result.problems)
        n_bad += not result.ok
        try:
            if k % 4 == 0:
                transpose(text, rng.choice([-7, -2, 1, 3, 12]))
            elif k % 4 == 1:
                describe(text)
            else:
                pitches(text)
        except AbcError:
            n_raised += 1
    elapsed = time.perf_counter() - start
    print(f"\nfuzz: {N_MUTANTS} mutants, {n_bad} not ok, {n_raised} AbcError, {elapsed:.1f} s")
    assert n_bad > N_MUTANTS // 10  # the mutations do break tunes, and the checker notices
