"""The chord-symbol grammar, defined once: a quoted "Am7", "D/F#" or "G" in a tune body (notebooks 02, 04, 05).

A chord symbol is ROOT QUALITY [/BASS], optionally in parentheses ("(D7)", an optional chord):
- ROOT and BASS: a letter A-G with an optional ``#`` or ``b``;
- QUALITY: one of QUALITIES (longest prefix first: "7sus4" before "7", "m7b5" before "m7"), followed only by
  extensions (``add9``, ``b9``, ``#11``, ``13``); "" is a major triad. Each quality names its intervals above
  the root, so a symbol reads as pitch classes (``cm_lib.metrics.chords``).
A quoted text that does not parse ("Allegro", "N.C.", "^text") is an annotation or unreadable, never a chord.
WRITTEN_QUALITIES are the qualities the course writes when it generates chords (the constrained-decoding
grammar's `written_symbol_pattern`); every one parses. The transposer moves ROOT and BASS and keeps the quality
text as written. `abc.walk.is_chord_symbol` is the walker's looser split (a quote that is not an annotation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ROOT = r"[A-G][#b]?"
SYMBOL_RE = re.compile(rf"^\(?(?P<root>{ROOT})(?P<quality>[^/\s)]*)(?:/(?P<bass>{ROOT}))?\)?$")
QUOTED_RE = re.compile(r'"([^"\n]*)"')  # a quoted text on one line, as the lexer reads it
_EXTENSIONS_RE = re.compile(r"(?:add\d+|[#b]\d+|\d+)*")

# quality -> intervals (semitones above the root)
QUALITIES: dict[str, tuple[int, ...]] = dict(sorted({
    "m7b5": (0, 3, 6, 10), "ø": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "°7": (0, 3, 6, 9),
    "maj7": (0, 4, 7, 11), "maj9": (0, 4, 7, 11, 2), "M7": (0, 4, 7, 11), "maj": (0, 4, 7),
    "min7": (0, 3, 7, 10), "min6": (0, 3, 7, 9), "min": (0, 3, 7),
    "m7": (0, 3, 7, 10), "m9": (0, 3, 7, 10, 2), "m6": (0, 3, 7, 9), "m": (0, 3, 7), "-7": (0, 3, 7, 10),
    "-": (0, 3, 7), "dim": (0, 3, 6), "°": (0, 3, 6), "aug": (0, 4, 8), "+": (0, 4, 8),
    "sus2": (0, 2, 7), "sus4": (0, 5, 7), "sus": (0, 5, 7), "7sus4": (0, 5, 7, 10),
    "13": (0, 4, 7, 10, 2, 9), "11": (0, 4, 7, 10, 2, 5), "9": (0, 4, 7, 10, 2), "7": (0, 4, 7, 10),
    "6": (0, 4, 7, 9),
    "": (0, 4, 7),
}.items(), key=lambda kv: -len(kv[0])))

_QUALITY_ALTERNATIVES = "|".join(re.escape(q) for q in QUALITIES if q)
# A quoted chord symbol of the grammar, to search raw text for (no parentheses, no spaces inside the quotes).
QUOTED_SYMBOL_RE = re.compile(rf'"{ROOT}(?:{_QUALITY_ALTERNATIVES})?{_EXTENSIONS_RE.pattern}(?:/{ROOT})?"')

# The qualities generated text may write (the constrained-decoding grammar), "" (major) included.
WRITTEN_QUALITIES = ("", "m", "7", "m7", "maj7", "dim", "aug", "sus4", "6", "m6", "9")


@dataclass(frozen=True)
class ChordSymbol:
    """A parsed chord symbol: root and bass as written ("F#"), the quality prefix, its extensions, its intervals."""

    root: str
    quality: str  # a key of QUALITIES
    extensions: str  # what follows the quality ("add9", "b9"), kept as written
    bass: str | None
    intervals: tuple[int, ...]


def parse_chord_symbol(text: str) -> ChordSymbol | None:
    """The chord symbol in `text` (without its quotes, surrounding spaces allowed), or None when it is not one."""
    m = SYMBOL_RE.match(text.strip())
    if not m:
        return None
    quality = m.group("quality")
    for prefix, steps in QUALITIES.items():
        if quality.startswith(prefix):
            rest = quality[len(prefix):]
            if not _EXTENSIONS_RE.fullmatch(rest):
                return None
            return ChordSymbol(m.group("root"), prefix, rest, m.group("bass"), steps)
    return None


def is_chord_name(text: str) -> bool:
    """Whether a quoted text (without its quotes) is a chord symbol of the grammar ("G", "Em7", "D/F#"), not "Allegro"."""
    return parse_chord_symbol(text) is not None


def quoted_chord_names(text: str) -> list[str]:
    """The quoted texts of `text` that are chord symbols, in order (without quotes)."""
    return [q for q in QUOTED_RE.findall(text) if parse_chord_symbol(q) is not None]


def split_chords(text: str | Sequence[str] | None) -> list[str]:
    """The chord symbols of a request: text such as 'D G A7 D' or 'D | G | A7 | D' (commas too), or a list; quotes dropped."""
    if text is None:
        return []
    items = re.split(r"[\s|,;]+", text) if isinstance(text, str) else [str(c) for c in text]
    return [c for c in (item.replace('"', "").strip() for item in items) if c]


def chord_symbols(abc: str) -> list[str]:
    """The chord symbols ("Am", "D7") of a tune's body (after its first K: line), in order (notebooks 04, 05)."""
    return quoted_chord_names(abc.split("K:", 1)[-1])


def written_symbol_pattern() -> str:
    """A regular expression for a quoted chord symbol the course may write: root and one of WRITTEN_QUALITIES."""
    qualities = "|".join(q for q in WRITTEN_QUALITIES if q)
    return f'"{ROOT}({qualities})?"'


def _collapse(seq: Sequence[str]) -> list[str]:
    """Consecutive repeats merged: A A D -> A D (a chord held over two bars is written once or twice)."""
    return [c for i, c in enumerate(seq) if i == 0 or c != seq[i - 1]]


def chords_in_order(wanted: Sequence[str], got: Sequence[str]) -> bool:
    """True when the requested chords (repeats merged) occur in the answer's chord symbols in that order."""
    want, have = _collapse(list(wanted)), _collapse(list(got))
    it = iter(have)
    return bool(want) and all(any(c == h for h in it) for c in want)
