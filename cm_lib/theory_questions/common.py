"""The vocabulary of the theory questions (kinds, subjects, interval, chord, key and meter names), the question type,
and the helpers every kind shares: English note and key names, distractors."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS: list[str] = [
    "interval",
    "triad",
    "seventh",
    "chord_spelling",
    "key_signature",
    "relative_key",
    "parallel_key",
    "scale_degree",
    "mode",
    "meter",
    "tune_key",
    "tune_meter",
    "transpose_note",
]

SUBJECTS: dict[str, str] = {
    "interval": "reasoning",
    "triad": "reasoning",
    "seventh": "reasoning",
    "chord_spelling": "reasoning",
    "key_signature": "knowledge",
    "relative_key": "knowledge",
    "parallel_key": "knowledge",
    "scale_degree": "reasoning",
    "mode": "knowledge",
    "meter": "knowledge",
    "tune_key": "reasoning",
    "tune_meter": "reasoning",
    "transpose_note": "reasoning",
}

# Interval shorthand (music21 names) used for interval and transposition questions.
INTERVALS: list[str] = ["m2", "M2", "m3", "M3", "P4", "A4", "d5", "P5", "m6", "M6", "m7", "M7", "P8"]
INTERVAL_WORDS: dict[str, str] = {
    "m2": "a minor second", "M2": "a major second", "m3": "a minor third", "M3": "a major third",
    "P4": "a perfect fourth", "A4": "an augmented fourth", "d5": "a diminished fifth",
    "P5": "a perfect fifth", "m6": "a minor sixth", "M6": "a major sixth", "m7": "a minor seventh",
    "M7": "a major seventh", "P8": "a perfect octave",
}
ROOTS: list[str] = ["C", "D", "E", "F", "G", "A", "B", "B-", "E-", "A-", "F#", "C#", "D-", "G-"]
MAJOR_TONICS: list[str] = ["C", "G", "D", "A", "E", "B", "F#", "F", "B-", "E-", "A-", "D-", "G-"]
MINOR_TONICS: list[str] = ["a", "e", "b", "f#", "c#", "g#", "d", "g", "c", "f", "b-", "e-"]
TRIAD_FIGURES: dict[str, str] = {"major": "", "minor": "m", "diminished": "dim", "augmented": "+"}
SEVENTH_FIGURES: dict[str, str] = {
    "dominant seventh": "7", "major seventh": "maj7", "minor seventh": "m7",
    "half-diminished seventh": "m7b5", "diminished seventh": "dim7",
}
MODES: list[str] = ["Ionian", "Dorian", "Phrygian", "Lydian", "Mixolydian", "Aeolian", "Locrian"]
METERS: list[str] = ["2/4", "3/4", "4/4", "2/2", "3/2", "6/8", "9/8", "12/8", "6/4"]
METER_CLASSES: list[str] = [f"{a} {b}" for a in ("simple", "compound") for b in ("duple", "triple", "quadruple")]
DEGREE_NAMES: dict[int, str] = {
    1: "tonic", 2: "supertonic", 3: "mediant", 4: "subdominant", 5: "dominant", 6: "submediant",
    7: "leading note / subtonic",
}


@dataclass
class TheoryQuestion:
    """One question with its answer, three wrong options, an optional ABC excerpt and an explanation."""

    kind: str
    subject: str
    question: str
    answer: str
    distractors: list[str]
    abc: str | None = None
    explanation: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def options(self, seed: int = 0) -> list[str]:
        """The answer and distractors in a seed-shuffled order."""
        opts = [self.answer, *self.distractors]
        random.Random(seed).shuffle(opts)
        return opts

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-friendly)."""
        return asdict(self)


def ask(rng: random.Random, *, kind: str, question: str, answer: str, pool: list[str], explanation: str = "",
        meta: dict[str, Any] | None = None, abc: str | None = None) -> TheoryQuestion:
    """A question of `kind` (its subject from SUBJECTS) with three wrong answers drawn from `pool` (pick_distractors)."""
    return TheoryQuestion(kind=kind, subject=SUBJECTS[kind], question=question, answer=answer,
                          distractors=pick_distractors(rng, answer, pool), abc=abc, explanation=explanation,
                          meta=dict(meta or {}))


def note_name(p: Any, octave: bool = False) -> str:
    """English spelling of a music21 pitch: 'B-4' -> 'Bb4', 'F#' -> 'F#'."""
    name = p.name.replace("-", "b")
    return f"{name}{p.octave}" if octave and p.octave is not None else name


def key_name(k: Any) -> str:
    """English name of a music21 key: 'E- major' -> 'Eb major', 'f# minor' -> 'F# minor'."""
    return f"{note_name(k.tonic)} {k.mode}"


def pick_distractors(rng: random.Random, answer: str, pool: list[str], n: int = 3) -> list[str]:
    """`n` distinct wrong answers from `pool` (never the answer), in a shuffled order; ValueError when too few."""
    out: list[str] = []
    for cand in pool:
        if cand != answer and cand not in out:
            out.append(cand)
    rng.shuffle(out)
    if len(out) < n:
        raise ValueError(f"not enough distractors for {answer!r}")
    return out[:n]


def simple_pitch(p: Any) -> bool:
    """Whether a music21 pitch has at most one sharp or flat (no double accidentals)."""
    return p.accidental is None or abs(p.accidental.alter) <= 1


def signature_text(sharps: int) -> str:
    """A key signature in words: 0 -> 'no sharps or flats', 2 -> '2 sharps', -1 -> '1 flat'."""
    if sharps == 0:
        return "no sharps or flats"
    n, what = abs(sharps), ("sharp" if sharps > 0 else "flat")
    return f"{n} {what}{'s' if n > 1 else ''}"
