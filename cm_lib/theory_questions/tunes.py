"""Questions on a tune shown in ABC: a short diatonic tune is generated in a key and meter, and music21 reads its key
and meter back from the notation (the answer)."""

from __future__ import annotations

import random
from typing import Any

from cm_lib.theory_questions.common import (
    MAJOR_TONICS,
    METERS,
    MINOR_TONICS,
    TheoryQuestion,
    ask,
    key_name,
    note_name,
    signature_text,
)


def abc_key_field(k: Any) -> str:
    """The K: value of a music21 major or minor key: 'Eb', 'F#m'."""
    tonic = note_name(k.tonic)
    return tonic + ("m" if k.mode == "minor" else "")


def abc_note(p: Any, k: Any) -> str:
    """ABC spelling of a diatonic pitch in key k (accidentals come from the key signature)."""
    letter = p.step
    octave = p.octave
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def synthetic_tune(rng: random.Random, k: Any, meter_text: str, bars: int = 4) -> str:
    """A short diatonic ABC tune in key `k` and meter `meter_text`, ending on the tonic."""
    from music21 import meter

    ts = meter.TimeSignature(meter_text)
    eighths = int(ts.barDuration.quarterLength * 2)
    scale_pitches = [k.pitchFromDegree(d) for d in range(1, 8)]
    base = scale_pitches[0].transpose("P1")
    base.octave = 4
    ladder = []
    for octv in (4, 5):
        for p in scale_pitches:
            q = p.transpose("P1")
            q.octave = octv if p.ps % 12 >= base.ps % 12 else octv + 1
            ladder.append(q)
    ladder.sort(key=lambda q: q.ps)
    body = []
    pos = 0
    for b in range(bars):
        notes, left = [], eighths
        while left:
            dur = rng.choice([1, 1, 2]) if left > 1 else 1
            if b == bars - 1 and left == dur:
                idx = 0 if rng.random() < 0.5 else 7
                dur = left
            else:
                pos = max(0, min(len(ladder) - 1, pos + rng.choice([-2, -1, 1, 2, 0])))
                idx = pos
            notes.append(abc_note(ladder[idx], k) + ("" if dur == 1 else str(dur)))
            left -= dur
        body.append("".join(notes))
    return (f"X:1\nT:Exercise\nM:{meter_text}\nL:1/8\nK:{abc_key_field(k)}\n"
            + " | ".join(body[:2]) + " |\n" + " | ".join(body[2:]) + " |]\n")


def parse_abc_key_meter(abc: str) -> tuple[Any, str]:
    """The key signature and meter music21 reads from an ABC tune (the answer is what the notation says)."""
    from music21 import converter

    flat = converter.parse(abc, format="abc").flatten()
    ks = flat.getElementsByClass("KeySignature")[0]
    ts = flat.getElementsByClass("TimeSignature")[0]
    return ks, ts.ratioString


def tune_question(rng: random.Random, kind: str) -> TheoryQuestion:
    """The key or meter (`kind` 'tune_key' or 'tune_meter') of a short generated tune shown in ABC."""
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    ts_text = rng.choice(["2/4", "3/4", "4/4", "6/8", "9/8"])
    abc = synthetic_tune(rng, k, ts_text)
    parsed_key, parsed_meter = parse_abc_key_meter(abc)
    if kind == "tune_key":
        answer = key_name(parsed_key)
        pool = [key_name(parsed_key.relative), key_name(parsed_key.parallel),
                key_name(key.Key(parsed_key.pitchFromDegree(5).name, parsed_key.mode)),
                key_name(key.Key(parsed_key.pitchFromDegree(4).name, parsed_key.mode))]
        pool = [p for p in pool if "##" not in p and "bb" not in p]
        question = "In which key is this tune written?"
        expl = f"The K: field and key signature give {answer} ({signature_text(parsed_key.sharps)})."
    else:
        answer = parsed_meter
        pool = [m for m in METERS if m != answer]
        question = "What is the time signature of this tune?"
        expl = f"The M: field says {answer}; each bar holds that many beats."
    return ask(
        rng, kind=kind, question=question, answer=answer,
        pool=pool, abc=abc, explanation=expl,
        meta={"key": key_name(k), "meter": ts_text},
    )
