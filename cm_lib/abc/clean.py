"""Clean and normalise one tune for corpus use: no comments, no transcribers' metadata, tidy whitespace."""

from __future__ import annotations

import re
from collections.abc import Iterable

# N: notes, Z: transcription, S: source, B: book, W:/w: lyrics, D: discography, F: file URL,
# G: group, H: history, I: instructions, r: remarks. Kept: X T M L Q K R C V P O A U m.
DEFAULT_DROP_FIELDS: tuple[str, ...] = ("N", "Z", "S", "B", "W", "w", "D", "F", "G", "H", "I", "r")

_FIELD_RE = re.compile(r"^([A-Za-z+]):")
_COMMENT_RE = re.compile(r"(?<!\\)%.*$")
# An address starts where a run of address characters starts (the look-behind): without it a long run
# with no "@" was rescanned from each of its characters, quadratic in its length.
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPACES_RE = re.compile(r"[ \t]+")
_INLINE_FIELD_RE = re.compile(r"\[([A-Za-z]):[^\]\n]*\]")


def clean_tune(text: str, drop_fields: Iterable[str] = DEFAULT_DROP_FIELDS) -> str:
    """Drop comments, %% directives, the `drop_fields` fields and e-mail addresses; normalise spaces (notebooks 01, 02).

    Idempotent: cleaning a cleaned tune changes nothing. The result ends with one newline.
    """
    drop = frozenset(drop_fields)
    out = _clean_once(text, drop)
    for _ in range(8):  # a cleaned line can become a field line (" W:x", "[I:x]T: a"): clean to a fixed point
        again = _clean_once(out, drop)
        if again == out:
            return out
        out = again
    return out


def _clean_once(text: str, drop: frozenset[str]) -> str:
    out: list[str] = []
    dropping = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw.lstrip().startswith("%"):
            continue
        line = _COMMENT_RE.sub("", raw).strip()
        m = _FIELD_RE.match(line)
        if m:
            name = m.group(1)
            if name == "+" and dropping:
                continue
            dropping = name in drop
            if dropping:
                continue
            value = _EMAIL_RE.sub("", line[2:]) if "@" in line else line[2:]
            line = f"{name}:{_SPACES_RE.sub(' ', value).strip()}"
        else:
            dropping = False
            if drop and "[" in line:
                line = _INLINE_FIELD_RE.sub(lambda im: "" if im.group(1) in drop else im.group(0), line)
            line = _SPACES_RE.sub(" ", line).strip()
        if not line:
            continue
        if line.startswith("X:") and out:
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n" if out else ""
