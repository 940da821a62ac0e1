"""Keys (with modes), meters and unit lengths of ABC fields, and pitch names: the music facts the walker needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from cm_lib.abc.duration import check_digits

LETTER_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
LETTERS = "CDEFGAB"
LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
SHARP_ORDER = "FCGDAEB"
FLAT_ORDER = "BEADGCF"
MODE_OFFSET = {
    "maj": 0, "ion": 0, "mix": -1, "dor": -2, "aeo": -3, "min": -3, "m": -3, "phr": -4, "loc": -5, "lyd": 1,
}
MODE_NAME = {
    "maj": "major", "ion": "major", "mix": "mixolydian", "dor": "dorian", "aeo": "minor", "min": "minor",
    "m": "minor", "phr": "phrygian", "loc": "locrian", "lyd": "lydian",
}
ACC_VALUE = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
ACC_TEXT = {2: "^^", 1: "^", 0: "=", -1: "_", -2: "__"}

_KEY_RE = re.compile(r"^\s*(?:(?P<none>none)|(?P<hp>HP|Hp)|(?P<tonic>[A-G])(?P<acc>[#b]?)(?:\s*(?P<mode>(?i:maj|min|ion|dor|phr|lyd|mix|aeo|loc|m)[A-Za-z]*))?(?![^\s]))")
_KEY_ACC_RE = re.compile(r"^(\^\^|\^|__|_|=)([A-Ga-g])$")
_CLEF_WORDS = {"treble", "bass", "alto", "tenor", "perc", "none", "bass3", "tenor2", "alto1", "alto2", "mezzo",
               "soprano", "baritone", "exp", "+8", "-8"}


@dataclass
class Key:
    """A parsed K: field: tonic, mode and the accidental each letter carries."""

    tonic: str | None  # "G", "F#", "Bb"; None for K:none
    mode: str  # "major", "minor", "dorian", ...; "none" for K:none, "HP"/"Hp" for pipes
    sharps: int  # signature as count of sharps (negative: flats)
    accidentals: dict[str, int] = field(default_factory=dict)  # upper-case letter -> alteration
    mode_word: str = ""  # the mode as written ("m", "dor", ...)
    extra: list[tuple[int, str]] = field(default_factory=list)  # explicit accidentals after the key
    rest: str = ""  # clef and other words kept verbatim

    @property
    def is_none(self) -> bool:
        """K:none (no key signature, transposition keeps it that way)."""
        return self.mode == "none"


def signature(sharps: int) -> dict[str, int]:
    """Letter -> alteration for a key signature of `sharps` sharps (negative for flats) (notebook 01)."""
    if sharps >= 0:
        return {letter: 1 for letter in SHARP_ORDER[:sharps]}
    return {letter: -1 for letter in FLAT_ORDER[: -sharps]}


def parse_key(value: str) -> Key:
    """Parse a K: value (e.g. "G", "Ador", "E phr", "F#m", "Bb", "none", "HP"); ValueError if invalid (notebook 02)."""
    v = value.split("%", 1)[0].strip()
    if not v:
        raise ValueError("empty K: field")
    m = _KEY_RE.match(v)
    words: list[str]
    if not m:
        words = v.split()
        if all(_is_clef_word(w) for w in words):  # K:clef=bass or K:bass: C major with a clef
            return Key("C", "major", 0, {}, "", [], v)
        raise ValueError(f"invalid key {value.strip()!r}")
    if m.group("none"):
        key = Key(None, "none", 0, {})
    elif m.group("hp"):
        key = Key("D", m.group("hp"), 2 if m.group("hp") == "Hp" else 0, signature(2) if m.group("hp") == "Hp" else {})
        if m.group("hp") == "HP":  # HP: no signature written, pipes play F# and C#
            key.accidentals = signature(2)
    else:
        tonic = m.group("tonic") + m.group("acc")
        mode_word = m.group("mode") or ""
        low = mode_word.lower()
        if low == "":
            mode_key = "maj"
        elif low == "m":
            mode_key = "m"
        elif len(low) >= 3 and low[:3] in MODE_OFFSET:
            mode_key = low[:3]
        else:
            raise ValueError(f"invalid mode {mode_word!r} in key {value.strip()!r}")
        fifths = LETTER_FIFTHS[m.group("tonic")] + (7 if m.group("acc") == "#" else -7 if m.group("acc") == "b" else 0)
        sharps = fifths + MODE_OFFSET[mode_key]
        if not -7 <= sharps <= 7:
            raise ValueError(f"key {value.strip()!r} needs more than 7 sharps or flats")
        key = Key(tonic, MODE_NAME[mode_key], sharps, signature(sharps), mode_word)
    rest_words = []
    for w in v[m.end():].split():
        am = _KEY_ACC_RE.match(w)
        if am:
            key.extra.append((ACC_VALUE[am.group(1)], am.group(2).upper()))
        elif _is_clef_word(w):
            rest_words.append(w)
        else:
            raise ValueError(f"unexpected {w!r} in key {value.strip()!r}")
    if "exp" in rest_words:
        key.accidentals = {}
    for alt, letter in key.extra:
        key.accidentals[letter] = alt
    key.rest = " ".join(rest_words)
    return key


# Mode names (as parse_key gives them) -> the suffix a K: field writes ("minor" -> "m", "dorian" -> "dor").
MODE_SUFFIX = {"major": "", "minor": "m", "dorian": "dor", "mixolydian": "mix", "phrygian": "phr",
               "lydian": "lyd", "locrian": "loc"}


def abc_key(key: str) -> str:
    """A key in words as a K: value: 'D major' -> 'D', 'E minor' -> 'Em', 'A dorian' -> 'Ador' (notebook 05).

    ValueError when parse_key cannot read it; K:none stays 'none'.
    """
    parsed = parse_key(key)
    if parsed.tonic is None:
        return "none"
    return parsed.tonic + MODE_SUFFIX.get(parsed.mode, "")


_PARAM_RE = re.compile(r"[A-Za-z][\w.-]*=\S*")  # clef=bass, middle=d, transpose=-2: a name, then =


def _is_clef_word(w: str) -> bool:
    """A clef or staff word of a K: field ("bass", "clef=alto", "+8"); not an accidental such as "=G" or "^f"."""
    return (w.lower() in _CLEF_WORDS or bool(re.fullmatch(r"[+-](?:8|15)(?:va|vb|ma|mb)?", w))
            or bool(_PARAM_RE.fullmatch(w)) or w.lower().startswith(("clef", "treble", "bass", "alto", "tenor")))


_METER_RE = re.compile(r"^\(?(\d+(?:\+\d+)*)\)?/(\d+)$")


def parse_meter(value: str) -> Fraction | None:
    """Bar length (in whole notes) of an M: value ("6/8", "C", "C|", "2+3/8"); None for free meter (notebook 01)."""
    v = value.split("%", 1)[0].strip().replace(" ", "")
    if v.lower() == "none" or v == "":
        if v == "":
            raise ValueError("empty M: field")
        return None
    if v == "C":
        return Fraction(1)
    if v == "C|":
        return Fraction(1)
    m = _METER_RE.match(v)
    if not m:
        raise ValueError(f"invalid meter {value.strip()!r}")
    check_digits(m.group(2), *m.group(1).split("+"))
    num = sum(int(x) for x in m.group(1).split("+"))
    den = int(m.group(2))
    if num == 0 or den == 0:
        raise ValueError(f"invalid meter {value.strip()!r}")
    return Fraction(num, den)


def meter_numerator(value: str) -> int | None:
    """The top number of a meter (for compound-meter tuplet rules), or None (notebook 01)."""
    m = _METER_RE.match(value.split("%", 1)[0].strip().replace(" ", ""))
    if not m or any(len(x) > 9 for x in m.group(1).split("+")):
        return None
    return sum(int(x) for x in m.group(1).split("+"))


_UNIT_RE = re.compile(r"^(\d+)(?:/(\d+))?$")


def parse_unit(value: str) -> Fraction:
    """The unit note length of an L: value ("1/8"); ValueError if invalid (notebook 02)."""
    v = value.split("%", 1)[0].strip().replace(" ", "")
    m = _UNIT_RE.match(v)
    if m:
        check_digits(m.group(1), m.group(2))
    if not m or int(m.group(1)) == 0 or (m.group(2) is not None and int(m.group(2)) == 0):
        raise ValueError(f"invalid unit length {value.strip()!r}")
    return Fraction(int(m.group(1)), int(m.group(2) or 1))


def default_unit(meter: Fraction | None) -> Fraction:
    """ABC 2.1's default L: 1/16 when the meter is below 3/4, else 1/8 (notebook 01)."""
    return Fraction(1, 16) if meter is not None and meter < Fraction(3, 4) else Fraction(1, 8)


NOTE_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def midi_name(midi: int) -> str:
    """Scientific pitch name of a MIDI number (60 -> "C4") (notebook 02)."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"
