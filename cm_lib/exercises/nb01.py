"""Checks for notebook 01 (ABC as a second language): write, fix and transpose tunes."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from cm_lib.errors import AbcError

BROKEN_CHORD_TUNE = """X:1
T:Unclosed chord
M:4/4
L:1/4
K:C
C E G c|[CEG4|c B A G|C4|]
"""
FIXED_CHORD_TUNE = BROKEN_CHORD_TUNE.replace("[CEG4", "[CEG]4")


def _verdict(ok: bool, good: str, hint: str) -> bool:
    """Print ✅ good or ❌ hint; return ok."""
    print(f"✅ {good}" if ok else f"❌ {hint}")
    return ok


def _problems(answer: str, level: str = "bars") -> list[str]:
    """Problem messages that cm_lib.abc.check finds in `answer` (empty when it is fine)."""
    from cm_lib.abc import check

    result = check(answer, level=level)
    return [f"{p.code} (line {p.line}, bar {p.bar}): {p.message}" for p in result.problems]


def check_six_eight_pickup(answer: str) -> bool:
    """A valid tune (bars check passes) in 6/8 whose first bar is a pickup (shorter than a full bar)."""
    from cm_lib.abc import notes, parse_tune

    if not isinstance(answer, str) or "K:" not in answer:
        return _verdict(False, "", "write a whole tune as a string: X:, T:, M:6/8, L:, K: lines, then the music")
    try:
        tune = parse_tune(answer)
        events = notes(answer)
    except AbcError as err:
        return _verdict(False, "", f"this is not a tune yet: {err}")
    if (tune.meter or "").replace(" ", "") != "6/8":
        return _verdict(False, "", f"the meter is {tune.meter!r}: write M:6/8 in the header")
    problems = _problems(answer)
    if problems:
        return _verdict(False, "", "the checker found: " + "; ".join(problems[:3]))
    first_bar = min((e.bar for e in events), default=None)
    pickup = sum((e.duration for e in events if e.bar == first_bar), Fraction(0))
    if first_bar is None or pickup >= Fraction(6, 8) or len({e.bar for e in events}) < 3:
        return _verdict(
            False, "", "start with a pickup (e.g. one eighth note, then a bar line) and write at least two full bars"
        )
    return _verdict(True, f"a 6/8 tune with a pickup of {pickup} whole note, and every bar is full", "")


def check_fixed_chord(answer: str) -> bool:
    """BROKEN_CHORD_TUNE repaired: the bars check passes and the notes are the same as intended."""
    from cm_lib.abc import pitches

    if not isinstance(answer, str) or not answer.strip():
        return _verdict(False, "", "pass the repaired tune as a string")
    problems = _problems(answer)
    if problems:
        return _verdict(False, "", "still broken: " + "; ".join(problems[:3]) + " (where does the chord end?)")
    try:
        same = pitches(answer) == pitches(FIXED_CHORD_TUNE)
    except AbcError as err:
        return _verdict(False, "", f"not a tune: {err}")
    return _verdict(same, "fixed: the chord is closed and bar 2 lasts a whole bar",
                    "it checks, but the notes changed: only close the chord [CEG ... ] and keep its length")


def check_transposed_to_d(answer: str, original: str) -> bool:
    """`answer` is `original` (a tune in G) moved to D major: K:D and every pitch +7 or -5 semitones."""
    from cm_lib.abc import parse_tune, pitches

    try:
        key = (parse_tune(answer).key or "").split()
        moved, source = pitches(answer), pitches(original)
    except AbcError as err:
        return _verdict(False, "", f"not a tune: {err}")
    if not key or key[0] not in {"D", "Dmaj", "Dmajor", "DMaj"}:
        return _verdict(False, "", f"the key is {' '.join(key) or 'missing'}; the answer should say K:D")
    for shift in (7, -5):
        if moved == [p + shift for p in source]:
            return _verdict(True, f"every note moved {shift:+d} semitones, key D major", "")
    return _verdict(False, "", "K:D is right but the notes did not all move by the same interval (+7 or -5)")


def check_d_major_sharps(answer: Iterable[str] | str) -> bool:
    """The sharps of D major's key signature, as note names (e.g. ["F#", "C#"]; order free)."""
    names = answer.replace(",", " ").split() if isinstance(answer, str) else list(answer)
    normal = {str(n).strip().upper().replace("♯", "#").replace("SHARP", "#").replace(" ", "") for n in names}
    ok = normal == {"F#", "C#"}
    return _verdict(ok, "D major has two sharps: F# and C#",
                    "count the ^ a transposition had to add, or look at the sheet music: which lines carry a #?")
