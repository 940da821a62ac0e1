"""cm_lib.theory_questions: every generated answer re-derived with plain semitone/letter arithmetic (no music21)."""

from __future__ import annotations

import re

import pytest

from cm_lib.theory_questions import KINDS, TheoryQuestion, generate_questions

LETTERS = "CDEFGAB"
NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ORDINALS = {1: "Unison", 2: "Second", 3: "Third", 4: "Fourth", 5: "Fifth", 6: "Sixth", 7: "Seventh", 8: "Octave"}
PERFECT = {1: 0, 4: 5, 5: 7, 8: 12}
MAJOR = {2: 2, 3: 4, 6: 9, 7: 11}
MAJOR_SCALE = [0, 2, 4, 5, 7, 9, 11]
MINOR_SCALE = [0, 2, 3, 5, 7, 8, 10]
MODE_ROTATION = ["Ionian", "Dorian", "Phrygian", "Lydian", "Mixolydian", "Aeolian", "Locrian"]
TRIADS = {(4, 7): "major", (3, 7): "minor", (3, 6): "diminished", (4, 8): "augmented"}
SEVENTHS = {
    (4, 7, 10): "dominant seventh", (4, 7, 11): "major seventh", (3, 7, 10): "minor seventh",
    (3, 6, 10): "half-diminished seventh", (3, 6, 9): "diminished seventh",
}
N_PER_KIND = 30


def parse_note(text: str) -> tuple[int, int, int | None]:
    """'F#4' -> (letter index, alter, octave)."""
    m = re.fullmatch(r"([A-G])(#{1,2}|b{1,2})?(-?\d+)?", text)
    assert m, text
    acc = m.group(2) or ""
    alter = len(acc) if acc.startswith("#") else -len(acc)
    return LETTERS.index(m.group(1)), alter, int(m.group(3)) if m.group(3) else None


def midi(text: str) -> int:
    """MIDI number of 'F#4' (C4 = 60)."""
    letter, alter, octave = parse_note(text)
    return 12 * (octave + 1) + NATURAL[LETTERS[letter]] + alter


def pc(text: str) -> int:
    """Pitch class of a note name without octave."""
    letter, alter, _ = parse_note(text)
    return (NATURAL[LETTERS[letter]] + alter) % 12


def interval_name(low: str, high: str) -> str:
    """Name of the interval from low up to high by letter steps and semitones."""
    l1, _, o1 = parse_note(low)
    l2, _, o2 = parse_note(high)
    number = l2 - l1 + 7 * (o2 - o1) + 1
    semis = midi(high) - midi(low)
    if number in PERFECT:
        quality = {0: "Perfect", 1: "Augmented", -1: "Diminished"}[semis - PERFECT[number]]
    else:
        quality = {0: "Major", -1: "Minor", 1: "Augmented", -2: "Diminished"}[semis - MAJOR[number]]
    return f"{quality} {ORDINALS[number]}"


def major_sharps(tonic: str) -> int:
    """Sharps (negative: flats) of a major key from the order of fifths F C G D A E B."""
    letter, alter, _ = parse_note(tonic)
    return "FCGDAEB".index(LETTERS[letter]) - 1 + 7 * alter


def key_sharps(key_text: str) -> int:
    """Sharps of 'Eb major' / 'F# minor'."""
    tonic, mode = key_text.split()
    return major_sharps(tonic) - (3 if mode == "minor" else 0)


def sig_text(sharps: int) -> str:
    """Text used by the questions for a key signature."""
    if sharps == 0:
        return "no sharps or flats"
    n = abs(sharps)
    return f"{n} {'sharp' if sharps > 0 else 'flat'}{'s' if n > 1 else ''}"


def chord_quality(notes: list[str]) -> str:
    """Quality of a root-position chord from semitones above its root."""
    steps = tuple((pc(n) - pc(notes[0])) % 12 for n in notes[1:])
    return (TRIADS.get(steps, "") + " triad") if len(notes) == 3 else SEVENTHS[steps]


def scale_note(tonic: str, mode: str, degree: int) -> str:
    """Spelled scale degree: letter from the tonic's letter, accidental from semitones."""
    letter, _, _ = parse_note(tonic)
    target_letter = LETTERS[(letter + degree - 1) % 7]
    steps = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    target_pc = (pc(tonic) + steps[degree - 1]) % 12
    alter = (target_pc - NATURAL[target_letter] + 6) % 12 - 6
    return target_letter + ("#" * alter if alter > 0 else "b" * -alter)


def rederive(q: TheoryQuestion) -> str:
    """Compute the expected answer of a question from its text alone."""
    text = q.question
    if q.kind == "interval":
        low, high = re.search(r"from (\S+) up to (\S+)\?", text).groups()
        return interval_name(low, high)
    if q.kind in ("triad", "seventh"):
        notes = re.search(r"notes (.+) \(root", text).group(1).split()
        return f"{notes[0]} {chord_quality(notes)}"
    if q.kind == "chord_spelling":
        root, quality = re.search(r"Spell the (\S+) (.+?)(?: chord)? in root", text).groups()
        notes = q.answer.split()
        assert notes[0] == root
        assert chord_quality(notes) == quality
        letters = [parse_note(n)[0] for n in notes]
        assert all((b - a) % 7 == 2 for a, b in zip(letters, letters[1:])), "stacked thirds"
        return q.answer
    if q.kind == "key_signature":
        m = re.search(r"signature of (\S+ (?:major|minor))\?", text)
        if m:
            return sig_text(key_sharps(m.group(1)))
        mode, sig = re.search(r"Which (major|minor) key has (.+) in its", text).groups()
        assert q.answer.endswith(mode) and sig_text(key_sharps(q.answer)) == sig
        return q.answer
    if q.kind in ("relative_key", "parallel_key"):
        word, mode, src = re.search(r"the (relative|parallel) (major|minor) of (\S+ (?:major|minor))\?", text).groups()
        tonic = src.split()[0]
        if word == "parallel":
            return f"{tonic} {mode}"
        # relative: same key signature, tonic a minor third below (major -> minor) or above
        letter, _, _ = parse_note(tonic)
        shift = -2 if mode == "minor" else 2
        new_letter = LETTERS[(letter + shift) % 7]
        target_pc = (pc(tonic) + (-3 if mode == "minor" else 3)) % 12
        alter = (target_pc - NATURAL[new_letter] + 6) % 12 - 6
        rel = new_letter + ("#" * alter if alter > 0 else "b" * -alter)
        assert key_sharps(f"{rel} {mode}") == key_sharps(src)
        return f"{rel} {mode}"
    if q.kind == "scale_degree":
        degree, key_text = re.search(r"degree (\d) \(the .+?\) of (\S+ (?:major|minor))", text).groups()
        tonic, mode = key_text.split()
        return scale_note(tonic, mode, int(degree))
    if q.kind == "mode":
        notes = re.search(r"scale: (.+)\?", text).group(1).split()
        steps = tuple((pc(b) - pc(a)) % 12 for a, b in zip(notes, notes[1:]))
        major_steps = (2, 2, 1, 2, 2, 2, 1)
        rot = next(i for i in range(7) if major_steps[i:] + major_steps[:i] == steps)
        return f"{notes[0]} {MODE_ROTATION[rot]}"
    if q.kind == "meter":
        num, den = map(int, re.search(r"(\d+)/(\d+)", text).groups())
        compound = num in (6, 9, 12)
        beats = num // 3 if compound else num
        if "classified" in text:
            kind = {2: "duple", 3: "triple", 4: "quadruple"}[beats]
            return f"{'compound' if compound else 'simple'} {kind}"
        return f"{beats} beats, each divided into {3 if compound else 2}"
    if q.kind == "tune_key":
        field = re.search(r"^K:(\S+)$", q.abc, re.M).group(1)
        return f"{field[:-1]} minor" if field.endswith("m") else f"{field} major"
    if q.kind == "tune_meter":
        return re.search(r"^M:(\S+)$", q.abc, re.M).group(1)
    if q.kind == "transpose_note":
        start, direction, ivl = re.search(r"Transpose (\S+) (up|down) by an? (.+?)\. ", text).groups()
        quality, ordinal = ivl.split()
        number = next(k for k, v in ORDINALS.items() if v.lower() == ordinal)
        base = PERFECT.get(number, MAJOR.get(number))
        semis = base + {"perfect": 0, "major": 0, "minor": -1, "augmented": 1, "diminished": -1 if number in PERFECT else -2}[quality]
        letter, _, octave = parse_note(start)
        sign = 1 if direction == "up" else -1
        steps = letter + sign * (number - 1)
        new_letter, new_oct = LETTERS[steps % 7], octave + steps // 7
        target = midi(start) + sign * semis
        alter = target - (12 * (new_oct + 1) + NATURAL[new_letter])
        return f"{new_letter}{'#' * alter if alter > 0 else 'b' * -alter}{new_oct}"
    raise AssertionError(q.kind)


@pytest.fixture(scope="module")
def questions() -> list[TheoryQuestion]:
    return generate_questions(N_PER_KIND * len(KINDS), seed=7)


def test_every_kind_and_subject(questions: list[TheoryQuestion]) -> None:
    assert {q.kind for q in questions} == set(KINDS)
    assert {q.subject for q in questions} == {"knowledge", "reasoning"}


def test_every_answer_rederived_independently(questions: list[TheoryQuestion]) -> None:
    for q in questions:
        assert rederive(q) == q.answer, (q.kind, q.question, q.answer)


def test_distractors_are_three_distinct_wrong_answers(questions: list[TheoryQuestion]) -> None:
    for q in questions:
        assert len(q.distractors) == 3 and len(set(q.distractors)) == 3, q
        assert q.answer not in q.distractors, q
        assert sorted(q.options(seed=3)) == sorted([q.answer, *q.distractors])


def test_distractors_are_really_wrong(questions: list[TheoryQuestion]) -> None:
    """A distractor naming the same pitch/key as the answer would be a second correct option."""
    for q in questions:
        if q.kind == "transpose_note":
            assert all(midi(d) != midi(q.answer) for d in q.distractors), q
        if q.kind == "scale_degree":
            assert all(pc(d) != pc(q.answer) for d in q.distractors), q


def test_tune_questions_carry_valid_abc(questions: list[TheoryQuestion]) -> None:
    tunes = [q for q in questions if q.kind in ("tune_key", "tune_meter")]
    for q in tunes:
        assert q.abc.startswith("X:1\n") and "|]" in q.abc
        num, den = map(int, q.meta["meter"].split("/"))
        eighths = num * 8 // den
        for bar in re.split(r"\|\]?", q.abc.split("\n", 5)[5]):
            bar = bar.strip()
            if bar:
                lengths = [int(d) if d else 1 for d in re.findall(r"[A-Ga-g][,']*(\d*)", bar)]
                assert sum(lengths) == eighths, (bar, q.meta)


def test_deterministic_and_seed_dependent() -> None:
    a = [q.as_dict() for q in generate_questions(26, seed=3)]
    assert a == [q.as_dict() for q in generate_questions(26, seed=3)]
    assert a != [q.as_dict() for q in generate_questions(26, seed=4)]


def test_kinds_filter_and_unknown_kind() -> None:
    qs = generate_questions(5, seed=0, kinds=["meter"])
    assert [q.kind for q in qs] == ["meter"] * 5
    with pytest.raises(ValueError, match="unknown theory question kind"):
        generate_questions(1, kinds=["nope"])
