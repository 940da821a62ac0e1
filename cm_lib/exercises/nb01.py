"""Checks for notebook 01 (ABC as a second language): write, fix and transpose tunes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction

from cm_lib.errors import AbcError
from cm_lib.exercises._common import call, verdict

BROKEN_CHORD_TUNE = """X:1
T:Unclosed chord
M:4/4
L:1/4
K:C
C E G c|[CEG4|c B A G|C4|]
"""
FIXED_CHORD_TUNE = BROKEN_CHORD_TUNE.replace("[CEG4", "[CEG]4")


def _verdict(name: str, ok: bool, good: str, hint: str) -> bool:
    return verdict(f"nb01.{name}", ok, good, hint)


def _problems(answer: str, level: str = "bars") -> list[str]:
    """Problem messages that cm_lib.abc.check finds in `answer` (empty when it is fine)."""
    from cm_lib.abc import check

    result = check(answer, level=level)
    return [f"{p.code} (line {p.line}, bar {p.bar}): {p.message}" for p in result.problems]


def check_six_eight_pickup(answer: str) -> bool:
    """A valid 6/8 tune (bars check passes): a pickup shorter than a bar, then >= 2 full bars of >= 3 notes each."""
    from cm_lib.abc import notes, parse_tune

    name = "six_eight_pickup"
    if not isinstance(answer, str) or "K:" not in answer:
        return _verdict(name, False, "", "write a whole tune as a string: X:, T:, M:6/8, L:, K: lines, then the music")
    try:
        tune = parse_tune(answer)
        events = notes(answer)
    except AbcError as err:
        return _verdict(name, False, "", f"this is not a tune yet: {err}")
    if (tune.meter or "").replace(" ", "") != "6/8":
        return _verdict(name, False, "", f"the meter is {tune.meter!r}: write M:6/8 in the header")
    problems = _problems(answer)
    if problems:
        return _verdict(name, False, "", "the checker found: " + "; ".join(problems[:3]))
    if not events:
        return _verdict(name, False, "", "the tune has no notes yet")
    length: dict[int, Fraction] = {}
    count: dict[int, int] = {}
    for e in events:
        length[e.bar] = length.get(e.bar, Fraction(0)) + e.duration
        count[e.bar] = count.get(e.bar, 0) + 1
    first = min(length)
    pickup = length[first]
    full = [b for b in length if b != first and length[b] == Fraction(6, 8) and count[b] >= 3]
    if pickup >= Fraction(6, 8):
        return _verdict(name, False, "", f"the first bar lasts {pickup} of a whole note, a full 6/8 bar: make it a "
                        "pickup (e.g. one eighth note, A|)")
    if len(full) < 2:
        return _verdict(name, False, "", f"after the pickup there are {len(full)} full bars that move (six eighths of "
                        "notes, at least three notes each, e.g. dfa afd or e3 e2 A); write at least two")
    return _verdict(name, True, f"a 6/8 tune with a pickup of {pickup} whole note and {len(full)} full bars", "")


def check_fixed_chord(answer: str) -> bool:
    """BROKEN_CHORD_TUNE repaired: the bars check passes and the notes are the same as intended."""
    from cm_lib.abc import pitches

    name = "fixed_chord"
    if not isinstance(answer, str) or not answer.strip():
        return _verdict(name, False, "", "pass the repaired tune as a string")
    problems = _problems(answer)
    if problems:
        return _verdict(name, False, "", "still broken: " + "; ".join(problems[:3]) + " (where does the chord end?)")
    try:
        same = pitches(answer) == pitches(FIXED_CHORD_TUNE)
    except AbcError as err:
        return _verdict(name, False, "", f"not a tune: {err}")
    return _verdict(name, same, "fixed: the chord is closed and bar 2 lasts a whole bar",
                    "it checks, but the notes changed: only close the chord [CEG ... ] and keep its length")


def check_transposed_up_to_d(answer: str, original: str) -> bool:
    """`answer` is `original` (a tune in G) moved UP to D major: K:D and every pitch exactly +7 semitones."""
    from cm_lib.abc import parse_tune, pitches

    name = "transposed_up_to_d"
    try:
        key = (parse_tune(answer).key or "").split()
        moved, source = pitches(answer), pitches(original)
    except AbcError as err:
        return _verdict(name, False, "", f"not a tune: {err}")
    if not key or key[0] not in {"D", "Dmaj", "Dmajor", "DMaj"}:
        return _verdict(name, False, "", f"the key is {' '.join(key) or 'missing'}; the answer should say K:D")
    if len(moved) == len(source) and moved == [p - 5 for p in source]:
        return _verdict(name, False, "", "that is D a fourth *down* (-5 semitones, the lesson's in_d); up from G to D "
                        "is a fifth: count G, G#, A, A#, B, C, C#, D")
    if moved == [p + 7 for p in source]:
        return _verdict(name, True, "every note moved up +7 semitones (a perfect fifth), key D major", "")
    return _verdict(name, False, "", "K:D is right but the notes did not all move up by the same interval")


def check_d_major_sharps(answer: Iterable[str] | str) -> bool:
    """The sharps of D major's key signature, as note names (e.g. ["F#", "C#"]; order free)."""
    names = answer.replace(",", " ").split() if isinstance(answer, str) else list(answer)
    normal = {str(n).strip().upper().replace("♯", "#").replace("SHARP", "#").replace(" ", "") for n in names}
    ok = normal == {"F#", "C#"}
    return _verdict("d_major_sharps", ok, "D major has two sharps: F# and C#",
                    "spell the D major scale (D E F# G A B C# D: whole, whole, half, whole, whole, whole, half "
                    "steps) and list the notes that need a sharp; the K:D sheet music shows them at the clef")


def _most_tokens_per_char(texts: list[str], tokenizer: object) -> int:
    from cm_lib.tokenstats import token_ids

    return max(range(len(texts)), key=lambda i: len(token_ids(tokenizer, texts[i])) / max(1, len(texts[i])))


def check_most_tokens_per_char(fn: Callable[[list[str], object], int]) -> bool:
    """`fn(texts, tokenizer)` returns the index of the text with the most tokens per character (any set of tunes)."""
    import random

    from cm_lib.abc import clean_tune, iter_music21_tunes
    from cm_lib.tokenstats import smollm2_tokenizer

    name = "most_tokens_per_char"
    tok = smollm2_tokenizer()
    pool = [clean_tune(t.text) for _, t in iter_music21_tunes(["oneill"])][:200]
    for seed in (1, 2, 3):  # three different sets: a typed-in index cannot pass
        texts = random.Random(seed).sample(pool, 12)
        got, err = call(fn, texts, tok)
        if err:
            return _verdict(name, False, "", err)
        want = _most_tokens_per_char(texts, tok)
        if got != want:
            return _verdict(name, False, "", f"on one set of 12 tunes you returned {got!r}, expected index {want}: "
                            "for each tune len(tokenstats.token_ids(tok, text)) / len(text), then the index of the largest")
    return _verdict(name, True, "right on three different sets of tunes; now look at that tune's tokens", "")
