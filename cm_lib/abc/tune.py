"""Tunes as data: split ABC text into tunes, parse headers, read files (with the Essen cp437 repair)."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cm_lib.errors import AbcError

_FIELD_RE = re.compile(r"^([A-Za-z+]):(.*)$")
_X_RE = re.compile(r"^X:")
_INLINE_V_RE = re.compile(r"\[V:\s*([^\]\s]*)[^\]]*\]")
# Header fields that may legitimately appear before K: (ABC 2.1, plus common extensions).
HEADER_FIELDS = frozenset("ABCDFGHIKLMmNOPQRSTUVWwXZr+")


@dataclass
class Tune:
    """One tune: ordered header fields, the body, and where it came from."""

    index: int
    fields: list[tuple[str, str]]
    body: str
    text: str
    start_line: int = 1
    source: str = ""
    header_lines: int = field(default=0, repr=False)

    def get(self, name: str) -> str | None:
        """The first value of header field `name` (e.g. "T"), or None."""
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of header field `name`, in order."""
        return [value for key, value in self.fields if key == name]

    @property
    def title(self) -> str | None:
        """The first T: field."""
        return self.get("T")

    @property
    def key(self) -> str | None:
        """The K: field (the last one in the header)."""
        values = self.get_all("K")
        return values[-1] if values else None

    @property
    def meter(self) -> str | None:
        """The M: field of the header."""
        return self.get("M")

    @property
    def unit_length(self) -> str | None:
        """The L: field of the header."""
        return self.get("L")

    def voices(self) -> dict[str, str]:
        """Voice id -> that voice's body text (V: blocks and inline [V:n]); one voice -> {"1": body}."""
        return split_voices(self.body, [v.split()[0] for v in self.get_all("V") if v.split()])


def split_voices(body: str, declared: list[str] | None = None) -> dict[str, str]:
    """Split a tune body into voices: `V:` lines and inline `[V:n]` switch the current voice (notebook 01)."""
    voices: dict[str, list[str]] = {}
    for vid in declared or []:
        voices.setdefault(vid, [])
    current: str | None = None
    for line in body.split("\n"):
        m = _FIELD_RE.match(line)
        if m and m.group(1) == "V":
            parts = m.group(2).split()
            current = parts[0] if parts else "1"
            voices.setdefault(current, [])
            continue
        pos = 0
        for im in _INLINE_V_RE.finditer(line):
            chunk = line[pos : im.start()]
            if chunk.strip():
                voices.setdefault(current or _first(voices), []).append(chunk)
            current = im.group(1) or "1"
            voices.setdefault(current, [])
            pos = im.end()
        rest = line[pos:]
        if rest.strip() or pos == 0:
            voices.setdefault(current or _first(voices), []).append(rest)
    out = {vid: "\n".join(lines).strip("\n") for vid, lines in voices.items()}
    out = {vid: text for vid, text in out.items() if text.strip()} or {"1": body}
    return out


def _first(voices: dict[str, list[str]]) -> str:
    return next(iter(voices), "1")


def _looks_like_continuation(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("%") and "|" in s and not _X_RE.match(s)


def split_tunes(text: str, source: str = "") -> list[Tune]:
    """Split ABC text into tunes: each starts at an `X:` line and ends at a blank line (ABC 2.1) (notebook 01).

    A blank line followed by more bar-lined music (before the next X:) does not end the tune.
    Text with no X: line but a K: line is taken as one tune (as models often write it).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _X_RE.match(line)]
    if not starts:
        if any(line.startswith("K:") for line in lines):
            first = next(i for i, line in enumerate(lines) if line.strip())
            starts = [first]
        else:
            return []
    # next_text[i]: the first line at or after i that is not blank (len(lines) if none): one pass, so a
    # run of blank lines costs its length once, not once per blank line
    next_text = [0] * (len(lines) + 1)
    nxt = len(lines)
    next_text[nxt] = nxt
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            nxt = i
        next_text[i] = nxt
    tunes: list[Tune] = []
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(lines)
        end = start + 1
        while end < stop:
            if not lines[end].strip():
                j = next_text[end]
                if j >= stop or not _looks_like_continuation(lines[j]):
                    break
                end = j
                continue
            end += 1
        chunk = lines[start:end]
        while chunk and not chunk[-1].strip():
            chunk.pop()
        tunes.append(_parse_lines(chunk, index=n, start_line=start + 1, source=source))
    return tunes


def _parse_lines(lines: list[str], index: int = 0, start_line: int = 1, source: str = "") -> Tune:
    fields: list[tuple[str, str]] = []
    n_header = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("%") or (i > 0 and not stripped):
            n_header = i + 1
            continue
        m = _FIELD_RE.match(line)
        if not m or (m.group(1) not in HEADER_FIELDS and i > 0):
            break
        fields.append((m.group(1), m.group(2).strip()))
        n_header = i + 1
        if m.group(1) == "K":
            break
    body = "\n".join(lines[n_header:])
    return Tune(
        index=index,
        fields=fields,
        body=body,
        text="\n".join(lines),
        start_line=start_line,
        source=source,
        header_lines=n_header,
    )


NO_TUNE = "no tune found (no X: or K: line)"


def parse_tune(text: str) -> Tune:
    """The first tune of `text`; raises AbcError when there is none (notebook 01)."""
    tunes = split_tunes(text)
    if not tunes:
        raise AbcError(NO_TUNE)
    return tunes[0]


# The Essen files were encoded on Atari STs: bytes 0x80-0x9D match cp437 (0x84 "ä", 0x81 "ü", 0x94 "ö"),
# and 0x9E is "ß" there (cp437 has a peseta sign): "Stra\x9een" is "Straßen".
_CP437_C1 = {i: bytes([i]).decode("cp437") for i in range(0x80, 0xA0)}
_CP437_C1[0x9E] = "ß"


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode_abc_bytes(data: bytes) -> str:
    """Decode ABC bytes: UTF-8 where valid, C1 bytes as cp437 (Essen umlauts), other bytes as latin-1 (notebook 01).

    A byte-order mark (UTF-8, UTF-16 or UTF-32) is honoured; UTF-16 or UTF-32 without one raises AbcError
    naming the encoding (ABC files are 8-bit text: save it as UTF-8).
    """
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8's byte-order mark: drop it (X: must start the line)
        data = data[3:]
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as err:
                raise AbcError(f"the text starts with a {encoding.upper()} byte-order mark but is not valid "
                               f"{encoding.upper()} ({err.reason} at byte {err.start})") from None
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(0) * 4 >= len(sample):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        encoding = "UTF-16-BE" if even > 2 * odd else "UTF-16-LE" if odd > 2 * even else "UTF-16 or UTF-32"
        raise AbcError(f"the text looks {encoding}-encoded (many zero bytes) and has no byte-order mark; "
                       "save it as UTF-8")
    text = data.decode("utf-8", errors="surrogateescape")
    if not any(0x80 <= ord(c) < 0xA0 or 0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return text
    out = []
    for c in text:
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:
            b = o - 0xDC00
            out.append(_CP437_C1[b] if b < 0xA0 else bytes([b]).decode("latin-1"))
        elif 0x80 <= o < 0xA0:
            out.append(_CP437_C1[o])
        else:
            out.append(c)
    return "".join(out)


DEFAULT_MAX_ABC_BYTES = 16 * 2**20  # music21's largest ABC file is about 1 MB


def max_abc_bytes() -> int:
    """The largest ABC file read (bytes): env CM_MAX_ABC_BYTES, default 16 MiB (notebook 01)."""
    raw = os.environ.get("CM_MAX_ABC_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_ABC_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise AbcError(f"CM_MAX_ABC_BYTES must be a positive number of bytes, not {raw!r}")
    return value


def read_abc_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file of at most max_abc_bytes(); AbcError for a FIFO, device or too big a file (notebook 01).

    The file is opened without blocking and checked with fstat before anything is read, so a FIFO or
    /dev/zero is refused at once instead of hanging or filling memory. Missing files raise OSError.
    """
    p = Path(path)
    if p.is_dir():
        raise AbcError(f"{p} is a directory, not an ABC file")
    limit = max_abc_bytes()
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise AbcError(f"{p} is a directory, not an ABC file")
        if not stat.S_ISREG(info.st_mode):
            raise AbcError(f"{p} is not a regular file (a pipe, socket or device): refusing to read it")
        if info.st_size > limit:
            raise AbcError(f"{p} is {info.st_size:,} bytes, more than the {limit:,} allowed "
                           "(set CM_MAX_ABC_BYTES to raise the limit)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            # read what fstat promised (+1 to see growth), then small chunks: f.read(limit) would allocate
            # the whole limit up front for every file
            chunks = [f.read(info.st_size + 1)]
            total = len(chunks[0])
            while total > info.st_size and total <= limit:
                chunk = f.read(min(2**20, limit + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:  # grew while we read it
        raise AbcError(f"{p} is more than the {limit:,} bytes allowed (set CM_MAX_ABC_BYTES to raise the limit)")
    return data


def read_abc_file(path: str | Path) -> str:
    """Read an ABC file as text (UTF-8, repairing cp437 umlaut bytes; latin-1 for other bad bytes) (notebook 01).

    Regular files only, at most max_abc_bytes() (see read_abc_bytes); AbcError names an unusable encoding.
    """
    try:
        return decode_abc_bytes(read_abc_bytes(path))
    except AbcError as err:
        msg = str(err)
        raise AbcError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def read_tunes(path: str | Path) -> list[Tune]:
    """Every tune of an ABC file (read with read_abc_file) (notebook 01)."""
    return split_tunes(read_abc_file(path), source=str(path))
