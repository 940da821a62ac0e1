"""Music-theory questions with answers computed by music21 (no LLM): intervals, chords, keys, modes, meters.

Every question carries its answer, three distinct plausible wrong answers (for multiple choice) and
an explanation. Notes are written in English style (``F#4``, ``Bb``); keys as ``Eb major``. The kinds live by
subject: `intervals` (intervals, chords, transposition), `keys` (key signatures, related keys, scale degrees,
modes, meters), `tunes` (a short tune in ABC: its key or meter); `common` holds the vocabulary and the type.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from cm_lib.theory_questions.common import KINDS, SUBJECTS, TheoryQuestion, key_name, note_name
from cm_lib.theory_questions.intervals import (
    chord_question,
    chord_spelling_question,
    interval_question,
    transpose_question,
)
from cm_lib.theory_questions.keys import (
    key_signature_question,
    meter_question,
    mode_question,
    related_key_question,
    scale_degree_question,
)
from cm_lib.theory_questions.tunes import synthetic_tune, tune_question

# kind -> the function that draws one question of it
MAKERS: dict[str, Callable[[random.Random], TheoryQuestion]] = {
    "interval": interval_question,
    "triad": lambda rng: chord_question(rng, "triad"),
    "seventh": lambda rng: chord_question(rng, "seventh"),
    "chord_spelling": chord_spelling_question,
    "key_signature": key_signature_question,
    "relative_key": lambda rng: related_key_question(rng, "relative_key"),
    "parallel_key": lambda rng: related_key_question(rng, "parallel_key"),
    "scale_degree": scale_degree_question,
    "mode": mode_question,
    "meter": meter_question,
    "tune_key": lambda rng: tune_question(rng, "tune_key"),
    "tune_meter": lambda rng: tune_question(rng, "tune_meter"),
    "transpose_note": transpose_question,
}


def make_question(kind: str, rng: random.Random) -> TheoryQuestion:
    """One question of `kind` drawn with `rng`."""
    if kind not in MAKERS:
        raise ValueError(f"unknown theory question kind {kind!r}; choose from {KINDS}")
    return MAKERS[kind](rng)


def generate_questions(n: int, seed: int = 0, kinds: list[str] | None = None) -> list[TheoryQuestion]:
    """`n` questions cycling through `kinds` (default all KINDS), deterministic for a seed; notebook 02."""
    kinds = list(kinds) if kinds else list(KINDS)
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown theory question kind {k!r}; choose from {KINDS}")
    rng = random.Random(seed)
    return [make_question(kinds[i % len(kinds)], rng) for i in range(n)]


__all__ = ["KINDS", "MAKERS", "SUBJECTS", "TheoryQuestion", "generate_questions", "key_name", "make_question",
           "note_name", "synthetic_tune"]
