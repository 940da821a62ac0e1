"""Clean and normalise one tune for corpus use: no comments, no transcribers' metadata, tidy whitespace."""

from __future__ import annotations

import re
from collections.abc import Iterable

# N: notes, Z: transcription, S: source, B: book, W:/w: lyrics, D: discography, F: file URL,
# G: group, H: history, I: instructions, r: remarks. Kept: X T M L Q K R C V P O A U m.
DEFAULT_DROP_FIELDS: tuple[str, ...] = ("N", "Z", "S", "B", "W", "w", "D", "F", "G", "H", "I", "r")

_FIELD_RE = re.compile(r"^([A-Za-z+]):")
_COMMENT_RE = re.compile(r"(?<!\\)%.*$")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPACES_RE = re.compile(r"[ \t]+")
_INLINE_FIELD_RE = re.compile(r"\[([A-Za-z]):[^\]\n]*\]")


def clean_tune(text: str, drop_fields: Iterable[str] = DEFAULT_DROP_FIELDS) -> str:
    """Drop comments, %% directives, the `drop_fields` fields and e-mail addresses; normalise spaces.

    Idempotent: cleaning a cleaned tune changes nothing. The result ends with one newline.
    """
    drop = set(drop_fields)
    out: list[str] = []
    dropping = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw.lstrip().startswith("%"):
            continue
        line = _COMMENT_RE.sub("", raw)
        m = _FIELD_RE.match(line)
        if m:
            name = m.group(1)
            if name == "+" and dropping:
                continue
            dropping = name in drop
            if dropping:
                continue
            value = _EMAIL_RE.sub("", line[2:])
            line = f"{name}:{_SPACES_RE.sub(' ', value).strip()}"
        else:
            dropping = False
            if drop:
                line = _INLINE_FIELD_RE.sub(lambda im: "" if im.group(1) in drop else im.group(0), line)
            line = _SPACES_RE.sub(" ", line).strip()
        if not line:
            continue
        if line.startswith("X:") and out:
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n" if out else ""
