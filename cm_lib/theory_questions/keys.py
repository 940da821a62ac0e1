"""Questions on keys, modes and meters: key signatures, relative and parallel keys, scale degrees, modes, time
signatures (answers by music21)."""

from __future__ import annotations

import random

from cm_lib.theory_questions.common import (
    DEGREE_NAMES,
    MAJOR_TONICS,
    METER_CLASSES,
    METERS,
    MINOR_TONICS,
    MODES,
    TheoryQuestion,
    ask,
    key_name,
    note_name,
    signature_text,
)


def key_signature_question(rng: random.Random) -> TheoryQuestion:
    """A key's signature, or the key of a signature."""
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    if rng.random() < 0.5:
        answer = signature_text(k.sharps)
        pool = [signature_text(s) for s in (k.sharps - 1, k.sharps + 1, -k.sharps, k.sharps + 2, k.sharps - 2)]
        question = f"How many sharps or flats are in the key signature of {key_name(k)}?"
    else:
        answer = key_name(k)
        others = [key.KeySignature(s).asKey(mode) for s in (k.sharps - 1, k.sharps + 1, -k.sharps, k.sharps + 2)]
        pool = [key_name(o) for o in others if abs(o.sharps) <= 7]
        question = f"Which {mode} key has {signature_text(k.sharps)} in its key signature?"
    return ask(
        rng, kind="key_signature", question=question,
        answer=answer, pool=pool,
        explanation=f"{key_name(k)} has {signature_text(k.sharps)}.",
        meta={"key": key_name(k), "sharps": k.sharps},
    )


def related_key_question(rng: random.Random, kind: str) -> TheoryQuestion:
    """The relative or parallel key (`kind` 'relative_key' or 'parallel_key') of a key."""
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    rel = k.relative if kind == "relative_key" else k.parallel
    if abs(rel.sharps) > 7:
        return related_key_question(rng, kind)
    answer = key_name(rel)
    other = k.parallel if kind == "relative_key" else k.relative
    dominant = key.Key(k.pitchFromDegree(5).name, rel.mode)
    wrong_mode = rel.mode
    near = key.Key(rel.tonic.transpose("m2").name, wrong_mode)
    pool = [key_name(other), key_name(dominant), key_name(near), key_name(key.Key(k.tonic.transpose("-m3").name, rel.mode))]
    word = "relative" if kind == "relative_key" else "parallel"
    return ask(
        rng, kind=kind, question=f"What is the {word} {rel.mode} of {key_name(k)}?",
        answer=answer, pool=pool,
        explanation=(f"The {word} {rel.mode} of {key_name(k)} is {answer}"
                     + (" (same key signature)." if kind == "relative_key" else " (same tonic).")),
        meta={"key": key_name(k)},
    )


def scale_degree_question(rng: random.Random) -> TheoryQuestion:
    """The note on one scale degree of a key."""
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    degree = rng.randint(2, 7)
    answer = note_name(k.pitchFromDegree(degree))
    pool = [note_name(k.pitchFromDegree(d)) for d in range(1, 8) if d != degree]
    pool.append(note_name(k.pitchFromDegree(degree).transpose("A1" if mode == "minor" else "-A1")))
    pool = [p for p in pool if "##" not in p and "bb" not in p]
    minor_note = " (natural minor)" if mode == "minor" else ""
    return ask(
        rng, kind="scale_degree", question=f"What is scale degree {degree} (the {DEGREE_NAMES[degree]}) of {key_name(k)}{minor_note}?",
        answer=answer, pool=pool,
        explanation=f"The scale of {key_name(k)}{minor_note}: "
        f"{' '.join(note_name(k.pitchFromDegree(d)) for d in range(1, 8))}; degree {degree} is {answer}.",
        meta={"key": key_name(k), "degree": degree},
    )


def mode_question(rng: random.Random) -> TheoryQuestion:
    """Which church mode a written scale is."""
    from music21 import scale

    classes = {
        "Ionian": scale.MajorScale, "Dorian": scale.DorianScale, "Phrygian": scale.PhrygianScale,
        "Lydian": scale.LydianScale, "Mixolydian": scale.MixolydianScale,
        "Aeolian": scale.MinorScale, "Locrian": scale.LocrianScale,
    }
    while True:
        mode = rng.choice(MODES)
        tonic = rng.choice(["C", "D", "E", "F", "G", "A", "B", "B-", "E-", "F#"])
        pitches = classes[mode](tonic).getPitches(tonic + "4", tonic + "5")
        notes = [note_name(p) for p in pitches]
        if all("##" not in n and "bb" not in n for n in notes):
            break
    answer = f"{note_name(pitches[0])} {mode}"
    pool = [f"{note_name(pitches[0])} {m}" for m in MODES]
    return ask(
        rng, kind="mode", question=f"Which mode is this scale: {' '.join(notes)}?",
        answer=answer, pool=pool,
        explanation=f"Its pattern of whole and half steps from {notes[0]} is that of the {mode} mode.",
        meta={"notes": notes, "mode": mode},
    )


def meter_class(ts: str) -> str:
    """A time signature's classification by music21, e.g. 'compound duple' for 6/8."""
    from music21 import meter

    t = meter.TimeSignature(ts)
    return t.classification.lower()


def meter_question(rng: random.Random) -> TheoryQuestion:
    """A time signature's classification, or its beats and their division."""
    from music21 import meter

    ts = rng.choice(METERS)
    t = meter.TimeSignature(ts)
    if rng.random() < 0.5:
        answer = meter_class(ts)
        question = f"How is the time signature {ts} classified?"
        pool = METER_CLASSES
    else:
        answer = f"{t.beatCount} beats, each divided into {t.beatDivisionCount}"
        question = f"In {ts}, how many beats are in a bar, and how is each beat divided?"
        pool = [f"{b} beats, each divided into {d}" for b in (2, 3, 4, 6) for d in (2, 3)]
    return ask(
        rng, kind="meter", question=question, answer=answer,
        pool=pool,
        explanation=f"{ts} has {t.beatCount} beats per bar, each divided into {t.beatDivisionCount}: "
        f"{meter_class(ts)}.",
        meta={"meter": ts},
    )
