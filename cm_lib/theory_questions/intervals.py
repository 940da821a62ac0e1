"""Questions on intervals and chords: name an interval or a chord, spell a chord, transpose a note (answers by music21)."""

from __future__ import annotations

import random
from functools import lru_cache

from cm_lib.theory_questions.common import (
    INTERVAL_WORDS,
    INTERVALS,
    ROOTS,
    SEVENTH_FIGURES,
    TRIAD_FIGURES,
    TheoryQuestion,
    ask,
    note_name,
    simple_pitch,
)


def interval_question(rng: random.Random) -> TheoryQuestion:
    """Name the interval between two written notes."""
    from music21 import interval, pitch

    while True:
        low = pitch.Pitch(rng.choice(ROOTS) + "4")
        ivl = rng.choice(INTERVALS)
        high = low.transpose(ivl)
        if simple_pitch(high):
            break
    name = interval.Interval(noteStart=low, noteEnd=high).niceName
    semis = interval.Interval(noteStart=low, noteEnd=high).semitones
    pool = [interval.Interval(i).niceName for i in INTERVALS]
    return ask(
        rng, kind="interval", question=f"What is the interval from {note_name(low, True)} up to {note_name(high, True)}?",
        answer=name, pool=pool,
        explanation=f"{note_name(low)} to {note_name(high)} spans {semis} semitones over "
        f"{interval.Interval(noteStart=low, noteEnd=high).generic.undirected} letter names: a {name.lower()}.",
        meta={"low": note_name(low, True), "high": note_name(high, True), "semitones": semis},
    )


@lru_cache(maxsize=512)
def chord_answer(figure: str) -> tuple[tuple[str, ...], str, str]:
    from music21 import chord, harmony

    cs = harmony.ChordSymbol(figure)
    ch = chord.Chord(cs.pitches)
    common = ch.commonName.replace(" chord", "")
    return tuple(note_name(p) for p in cs.pitches), note_name(ch.root()), common


def draw_chord(rng: random.Random, figures: dict[str, str]) -> tuple[str, str, list[str], str, str]:
    """(root drawn, quality drawn, its notes, the root's name, music21's common name) of a chord without double sharps
    or flats, drawn from ROOTS and the quality -> figure table `figures`."""
    while True:
        root = rng.choice(ROOTS)
        quality = rng.choice(list(figures))
        notes_t, r, common = chord_answer(root + figures[quality])
        notes = list(notes_t)
        if all("##" not in n and "bb" not in n for n in notes):
            return root, quality, notes, r, common


def chord_question(rng: random.Random, kind: str) -> TheoryQuestion:
    """Name the triad or seventh chord (`kind`) that given notes form in root position."""
    figures = TRIAD_FIGURES if kind == "triad" else SEVENTH_FIGURES
    root, quality, notes, r, common = draw_chord(rng, figures)
    answer = f"{r} {common}"
    pool = [f"{r} {q}" + (" triad" if kind == "triad" else "") for q in figures]
    return ask(
        rng, kind=kind, question=f"Which chord is formed by the notes {' '.join(notes)} (root position)?",
        answer=answer, pool=pool,
        explanation=f"Stacked in thirds from {r}: {' '.join(notes)} is a {common}.",
        meta={"notes": notes, "root": r, "quality": quality},
    )


def chord_spelling_question(rng: random.Random) -> TheoryQuestion:
    """Spell a named chord in root position."""
    figures = {**{f"{q} triad": f for q, f in TRIAD_FIGURES.items()}, **SEVENTH_FIGURES}
    root, quality, notes, r, _ = draw_chord(rng, figures)
    answer = " ".join(notes)
    size = len(notes)
    pool = [" ".join(chord_answer(root + f)[0]) for q, f in figures.items() if q != quality]
    pool = [p for p in pool if len(p.split()) == size and "bb" not in p and "##" not in p]
    if len(pool) < 3:  # add near misses: one note a chromatic semitone off
        from music21 import pitch

        for i in range(1, size):
            for alt in ("A1", "-A1", "m2", "-m2"):
                q = pitch.Pitch(notes[i].replace("b", "-") if len(notes[i]) > 1 else notes[i]).transpose(alt)
                if simple_pitch(q):
                    pool.append(" ".join(notes[:i] + [note_name(q)] + notes[i + 1:]))
    return ask(
        rng, kind="chord_spelling", question=f"Spell the {r} {quality}{'' if 'triad' in quality else ' chord'} in root position.",
        answer=answer, pool=pool,
        explanation=f"{r} {quality}: {answer}.",
        meta={"root": r, "quality": quality},
    )


def transpose_question(rng: random.Random) -> TheoryQuestion:
    """The note a given note becomes when transposed up or down by an interval."""
    from music21 import pitch

    while True:
        start = pitch.Pitch(rng.choice(ROOTS) + "4")
        ivl = rng.choice([i for i in INTERVALS if i != "P8"])
        down = rng.random() < 0.3
        target = start.transpose(("-" if down else "") + ivl)
        if simple_pitch(target):
            break
    answer = note_name(target, True)
    pool = []
    for other in ("A1", "-A1", "m2", "-m2", "M2", "-M2", "m3", "-m3"):
        q = target.transpose(other)
        if simple_pitch(q):
            pool.append(note_name(q, True))
    direction = "down" if down else "up"
    return ask(
        rng, kind="transpose_note", question=f"Transpose {note_name(start, True)} {direction} by {INTERVAL_WORDS[ivl]}. Which note do you get?",
        answer=answer, pool=pool,
        explanation=f"{note_name(start, True)} {direction} {INTERVAL_WORDS[ivl]} is {answer}.",
        meta={"start": note_name(start, True), "interval": ivl, "direction": direction},
    )
