"""Music-theory questions with answers computed by music21 (no LLM): intervals, chords, keys, modes, meters.

Every question carries its answer, three distinct plausible wrong answers (for multiple choice) and
an explanation. Notes are written in English style (``F#4``, ``Bb``); keys as ``Eb major``.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from functools import lru_cache
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


def note_name(p: Any, octave: bool = False) -> str:
    """English spelling of a music21 pitch: 'B-4' -> 'Bb4', 'F#' -> 'F#'."""
    name = p.name.replace("-", "b")
    return f"{name}{p.octave}" if octave and p.octave is not None else name


def key_name(k: Any) -> str:
    """English name of a music21 key: 'E- major' -> 'Eb major', 'f# minor' -> 'F# minor'."""
    return f"{note_name(k.tonic)} {k.mode}"


def _pick_distractors(rng: random.Random, answer: str, pool: list[str], n: int = 3) -> list[str]:
    out: list[str] = []
    for cand in pool:
        if cand != answer and cand not in out:
            out.append(cand)
    rng.shuffle(out)
    if len(out) < n:
        raise ValueError(f"not enough distractors for {answer!r}")
    return out[:n]


def _simple_pitch(p: Any) -> bool:
    return p.accidental is None or abs(p.accidental.alter) <= 1


def _q_interval(rng: random.Random) -> TheoryQuestion:
    from music21 import interval, pitch

    while True:
        low = pitch.Pitch(rng.choice(ROOTS) + "4")
        ivl = rng.choice(INTERVALS)
        high = low.transpose(ivl)
        if _simple_pitch(high):
            break
    name = interval.Interval(noteStart=low, noteEnd=high).niceName
    semis = interval.Interval(noteStart=low, noteEnd=high).semitones
    pool = [interval.Interval(i).niceName for i in INTERVALS]
    return TheoryQuestion(
        kind="interval", subject=SUBJECTS["interval"],
        question=f"What is the interval from {note_name(low, True)} up to {note_name(high, True)}?",
        answer=name, distractors=_pick_distractors(rng, name, pool),
        explanation=f"{note_name(low)} to {note_name(high)} spans {semis} semitones over "
        f"{interval.Interval(noteStart=low, noteEnd=high).generic.undirected} letter names: a {name.lower()}.",
        meta={"low": note_name(low, True), "high": note_name(high, True), "semitones": semis},
    )


@lru_cache(maxsize=512)
def _chord_answer(figure: str) -> tuple[tuple[str, ...], str, str]:
    from music21 import chord, harmony

    cs = harmony.ChordSymbol(figure)
    ch = chord.Chord(cs.pitches)
    common = ch.commonName.replace(" chord", "")
    return tuple(note_name(p) for p in cs.pitches), note_name(ch.root()), common


def _q_chord(rng: random.Random, kind: str) -> TheoryQuestion:
    figures = TRIAD_FIGURES if kind == "triad" else SEVENTH_FIGURES
    while True:
        root = rng.choice(ROOTS)
        quality = rng.choice(list(figures))
        notes_t, r, common = _chord_answer(root + figures[quality])
        notes = list(notes_t)
        if all("##" not in n and "bb" not in n for n in notes):
            break
    answer = f"{r} {common}"
    pool = [f"{r} {q}" + (" triad" if kind == "triad" else "") for q in figures]
    return TheoryQuestion(
        kind=kind, subject=SUBJECTS[kind],
        question=f"Which chord is formed by the notes {' '.join(notes)} (root position)?",
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=f"Stacked in thirds from {r}: {' '.join(notes)} is a {common}.",
        meta={"notes": notes, "root": r, "quality": quality},
    )


def _q_chord_spelling(rng: random.Random) -> TheoryQuestion:
    figures = {**{f"{q} triad": f for q, f in TRIAD_FIGURES.items()}, **SEVENTH_FIGURES}
    while True:
        root = rng.choice(ROOTS)
        quality = rng.choice(list(figures))
        notes_t, r, _ = _chord_answer(root + figures[quality])
        notes = list(notes_t)
        if all("##" not in n and "bb" not in n for n in notes):
            break
    answer = " ".join(notes)
    size = len(notes)
    pool = [" ".join(_chord_answer(root + f)[0]) for q, f in figures.items() if q != quality]
    pool = [p for p in pool if len(p.split()) == size and "bb" not in p and "##" not in p]
    if len(pool) < 3:  # add near misses: one note a chromatic semitone off
        from music21 import pitch

        for i in range(1, size):
            for alt in ("A1", "-A1", "m2", "-m2"):
                q = pitch.Pitch(notes[i].replace("b", "-") if len(notes[i]) > 1 else notes[i]).transpose(alt)
                if _simple_pitch(q):
                    pool.append(" ".join(notes[:i] + [note_name(q)] + notes[i + 1:]))
    return TheoryQuestion(
        kind="chord_spelling", subject=SUBJECTS["chord_spelling"],
        question=f"Spell the {r} {quality}{'' if 'triad' in quality else ' chord'} in root position.",
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=f"{r} {quality}: {answer}.",
        meta={"root": r, "quality": quality},
    )


def _sig_text(sharps: int) -> str:
    if sharps == 0:
        return "no sharps or flats"
    n, what = abs(sharps), ("sharp" if sharps > 0 else "flat")
    return f"{n} {what}{'s' if n > 1 else ''}"


def _q_key_signature(rng: random.Random) -> TheoryQuestion:
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    if rng.random() < 0.5:
        answer = _sig_text(k.sharps)
        pool = [_sig_text(s) for s in (k.sharps - 1, k.sharps + 1, -k.sharps, k.sharps + 2, k.sharps - 2)]
        question = f"How many sharps or flats are in the key signature of {key_name(k)}?"
    else:
        answer = key_name(k)
        others = [key.KeySignature(s).asKey(mode) for s in (k.sharps - 1, k.sharps + 1, -k.sharps, k.sharps + 2)]
        pool = [key_name(o) for o in others if abs(o.sharps) <= 7]
        question = f"Which {mode} key has {_sig_text(k.sharps)} in its key signature?"
    return TheoryQuestion(
        kind="key_signature", subject=SUBJECTS["key_signature"], question=question,
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=f"{key_name(k)} has {_sig_text(k.sharps)}.",
        meta={"key": key_name(k), "sharps": k.sharps},
    )


def _q_related_key(rng: random.Random, kind: str) -> TheoryQuestion:
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    rel = k.relative if kind == "relative_key" else k.parallel
    if abs(rel.sharps) > 7:
        return _q_related_key(rng, kind)
    answer = key_name(rel)
    other = k.parallel if kind == "relative_key" else k.relative
    dominant = key.Key(k.pitchFromDegree(5).name, rel.mode)
    wrong_mode = rel.mode
    near = key.Key(rel.tonic.transpose("m2").name, wrong_mode)
    pool = [key_name(other), key_name(dominant), key_name(near), key_name(key.Key(k.tonic.transpose("-m3").name, rel.mode))]
    word = "relative" if kind == "relative_key" else "parallel"
    return TheoryQuestion(
        kind=kind, subject=SUBJECTS[kind],
        question=f"What is the {word} {rel.mode} of {key_name(k)}?",
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=(f"The {word} {rel.mode} of {key_name(k)} is {answer}"
                     + (" (same key signature)." if kind == "relative_key" else " (same tonic).")),
        meta={"key": key_name(k)},
    )


def _q_scale_degree(rng: random.Random) -> TheoryQuestion:
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    degree = rng.randint(2, 7)
    answer = note_name(k.pitchFromDegree(degree))
    pool = [note_name(k.pitchFromDegree(d)) for d in range(1, 8) if d != degree]
    pool.append(note_name(k.pitchFromDegree(degree).transpose("A1" if mode == "minor" else "-A1")))
    pool = [p for p in pool if "##" not in p and "bb" not in p]
    minor_note = " (natural minor)" if mode == "minor" else ""
    return TheoryQuestion(
        kind="scale_degree", subject=SUBJECTS["scale_degree"],
        question=f"What is scale degree {degree} (the {DEGREE_NAMES[degree]}) of {key_name(k)}{minor_note}?",
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=f"The scale of {key_name(k)}{minor_note}: "
        f"{' '.join(note_name(k.pitchFromDegree(d)) for d in range(1, 8))}; degree {degree} is {answer}.",
        meta={"key": key_name(k), "degree": degree},
    )


def _q_mode(rng: random.Random) -> TheoryQuestion:
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
    return TheoryQuestion(
        kind="mode", subject=SUBJECTS["mode"],
        question=f"Which mode is this scale: {' '.join(notes)}?",
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=f"Its pattern of whole and half steps from {notes[0]} is that of the {mode} mode.",
        meta={"notes": notes, "mode": mode},
    )


def _meter_class(ts: str) -> str:
    from music21 import meter

    t = meter.TimeSignature(ts)
    return t.classification.lower()


def _q_meter(rng: random.Random) -> TheoryQuestion:
    from music21 import meter

    ts = rng.choice(METERS)
    t = meter.TimeSignature(ts)
    if rng.random() < 0.5:
        answer = _meter_class(ts)
        question = f"How is the time signature {ts} classified?"
        pool = METER_CLASSES
    else:
        answer = f"{t.beatCount} beats, each divided into {t.beatDivisionCount}"
        question = f"In {ts}, how many beats are in a bar, and how is each beat divided?"
        pool = [f"{b} beats, each divided into {d}" for b in (2, 3, 4, 6) for d in (2, 3)]
    return TheoryQuestion(
        kind="meter", subject=SUBJECTS["meter"], question=question, answer=answer,
        distractors=_pick_distractors(rng, answer, pool),
        explanation=f"{ts} has {t.beatCount} beats per bar, each divided into {t.beatDivisionCount}: "
        f"{_meter_class(ts)}.",
        meta={"meter": ts},
    )


def _abc_key_field(k: Any) -> str:
    tonic = note_name(k.tonic)
    return tonic + ("m" if k.mode == "minor" else "")


def _abc_note(p: Any, k: Any) -> str:
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
            notes.append(_abc_note(ladder[idx], k) + ("" if dur == 1 else str(dur)))
            left -= dur
        body.append("".join(notes))
    return (f"X:1\nT:Exercise\nM:{meter_text}\nL:1/8\nK:{_abc_key_field(k)}\n"
            + " | ".join(body[:2]) + " |\n" + " | ".join(body[2:]) + " |]\n")


def _parse_abc_key_meter(abc: str) -> tuple[Any, str]:
    from music21 import converter

    flat = converter.parse(abc, format="abc").flatten()
    ks = flat.getElementsByClass("KeySignature")[0]
    ts = flat.getElementsByClass("TimeSignature")[0]
    return ks, ts.ratioString


def _q_tune(rng: random.Random, kind: str) -> TheoryQuestion:
    from music21 import key

    mode = rng.choice(["major", "minor"])
    k = key.Key(rng.choice(MAJOR_TONICS if mode == "major" else MINOR_TONICS))
    ts_text = rng.choice(["2/4", "3/4", "4/4", "6/8", "9/8"])
    abc = synthetic_tune(rng, k, ts_text)
    parsed_key, parsed_meter = _parse_abc_key_meter(abc)
    if kind == "tune_key":
        answer = key_name(parsed_key)
        pool = [key_name(parsed_key.relative), key_name(parsed_key.parallel),
                key_name(key.Key(parsed_key.pitchFromDegree(5).name, parsed_key.mode)),
                key_name(key.Key(parsed_key.pitchFromDegree(4).name, parsed_key.mode))]
        pool = [p for p in pool if "##" not in p and "bb" not in p]
        question = "In which key is this tune written?"
        expl = f"The K: field and key signature give {answer} ({_sig_text(parsed_key.sharps)})."
    else:
        answer = parsed_meter
        pool = [m for m in METERS if m != answer]
        question = "What is the time signature of this tune?"
        expl = f"The M: field says {answer}; each bar holds that many beats."
    return TheoryQuestion(
        kind=kind, subject=SUBJECTS[kind], question=question, answer=answer,
        distractors=_pick_distractors(rng, answer, pool), abc=abc, explanation=expl,
        meta={"key": key_name(k), "meter": ts_text},
    )


def _q_transpose_note(rng: random.Random) -> TheoryQuestion:
    from music21 import pitch

    while True:
        start = pitch.Pitch(rng.choice(ROOTS) + "4")
        ivl = rng.choice([i for i in INTERVALS if i != "P8"])
        down = rng.random() < 0.3
        target = start.transpose(("-" if down else "") + ivl)
        if _simple_pitch(target):
            break
    answer = note_name(target, True)
    pool = []
    for other in ("A1", "-A1", "m2", "-m2", "M2", "-M2", "m3", "-m3"):
        q = target.transpose(other)
        if _simple_pitch(q):
            pool.append(note_name(q, True))
    direction = "down" if down else "up"
    return TheoryQuestion(
        kind="transpose_note", subject=SUBJECTS["transpose_note"],
        question=f"Transpose {note_name(start, True)} {direction} by {INTERVAL_WORDS[ivl]}. Which note do you get?",
        answer=answer, distractors=_pick_distractors(rng, answer, pool),
        explanation=f"{note_name(start, True)} {direction} {INTERVAL_WORDS[ivl]} is {answer}.",
        meta={"start": note_name(start, True), "interval": ivl, "direction": direction},
    )


def make_question(kind: str, rng: random.Random) -> TheoryQuestion:
    """One question of `kind` drawn with `rng`."""
    if kind == "interval":
        return _q_interval(rng)
    if kind in ("triad", "seventh"):
        return _q_chord(rng, kind)
    if kind == "chord_spelling":
        return _q_chord_spelling(rng)
    if kind == "key_signature":
        return _q_key_signature(rng)
    if kind in ("relative_key", "parallel_key"):
        return _q_related_key(rng, kind)
    if kind == "scale_degree":
        return _q_scale_degree(rng)
    if kind == "mode":
        return _q_mode(rng)
    if kind == "meter":
        return _q_meter(rng)
    if kind in ("tune_key", "tune_meter"):
        return _q_tune(rng, kind)
    if kind == "transpose_note":
        return _q_transpose_note(rng)
    raise ValueError(f"unknown theory question kind {kind!r}; choose from {KINDS}")


def generate_questions(n: int, seed: int = 0, kinds: list[str] | None = None) -> list[TheoryQuestion]:
    """`n` questions cycling through `kinds` (default all KINDS), deterministic for a seed; notebook 02."""
    kinds = list(kinds) if kinds else list(KINDS)
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown theory question kind {k!r}; choose from {KINDS}")
    rng = random.Random(seed)
    return [make_question(kinds[i % len(kinds)], rng) for i in range(n)]
