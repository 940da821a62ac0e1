"""Transpose ABC by semitones: key signatures (with modes), notes and accidentals, chord symbols."""

from __future__ import annotations

import re

from cm_lib.abc.chords import SYMBOL_RE, parse_chord_symbol
from cm_lib.abc.duration import NumberTooLargeError
from cm_lib.abc.keys import (
    ACC_TEXT,
    LETTER_FIFTHS,
    LETTER_SEMITONE,
    LETTERS,
    Key,
    parse_key,
)
from cm_lib.abc.tune import NO_TUNE, Tune, split_tunes
from cm_lib.abc.walk import Walker
from cm_lib.errors import AbcError

_KEY_TONIC_RE = re.compile(r"^(\s*)([A-G][#b]?)")
_KEY_EXTRA_RE = re.compile(r"(?<!\S)(\^\^|\^|__|_|=)([A-Ga-g])(?!\S)")
MAX_SEMITONES = 127  # a larger move leaves the MIDI range (0-127) whatever the tune
_MODE_OFFSET_BY_NAME = {"major": 0, "minor": -3, "dorian": -2, "mixolydian": -1, "phrygian": -4, "lydian": 1,
                        "locrian": -5}


def _pc(letter: str, alt: int) -> int:
    return (LETTER_SEMITONE[letter] + alt) % 12


def _alt_for(letter: str, pc: int) -> int:
    """Alteration (-6..5) that makes `letter` sound pitch class `pc`."""
    a = (pc - LETTER_SEMITONE[letter]) % 12
    return a - 12 if a > 5 else a


def _diatonic_shift(old_letter: str, new_letter: str, semitones: int) -> int:
    """Letter steps of a move by `semitones` from `old_letter` to `new_letter` (whole octaves: 7 steps each)."""
    octaves = int(semitones / 12)  # toward zero: the rest is within an octave either way
    rest = semitones - 12 * octaves
    d0 = (LETTERS.index(new_letter) - LETTERS.index(old_letter)) % 7
    return 7 * octaves + min((d0 + 7 * k for k in range(-2, 3)), key=lambda d: (abs(d * 12 / 7 - rest), d))


def _spell_tonic(letter: str, alt: int, mode_offset: int, semitones: int) -> tuple[str, int]:
    """Best spelling (fewest sharps/flats in the key signature) of a tonic moved by `semitones`."""
    pc = _pc(letter, alt) + semitones
    best: tuple[int, int, str, int] | None = None
    for cand in LETTERS:
        a = _alt_for(cand, pc % 12)
        if a not in (-1, 0, 1):
            continue
        sharps = LETTER_FIFTHS[cand] + 7 * a + mode_offset
        if abs(sharps) > 7:
            continue
        rank = (abs(sharps), 0 if sharps <= 0 else 1)  # ties (F#/Gb): flats
        if best is None or rank < best[:2]:
            best = (*rank, cand, a)
    assert best is not None
    return best[2], best[3]


def _tonic_text(letter: str, alt: int) -> str:
    return letter + {1: "#", -1: "b", 0: ""}[alt]


class _KeyMove:
    """How one key field transposes: its new text, the diatonic shift and both signatures.

    AbcError for a key the checker rejects (bad-K): without its signature no note can be spelled.
    """

    def __init__(self, value: str, semitones: int, line: int) -> None:
        try:
            key: Key | None = parse_key(value)
        except ValueError as err:
            raise AbcError(f"line {line}: cannot transpose a tune whose key is invalid: K:{value.strip()} ({err})") from None
        self.old_acc = dict(key.accidentals) if key else {}
        if key is None or key.tonic is None:  # K:none: spell as if in C major
            letter, _ = _spell_tonic("C", 0, 0, semitones)
            self.shift = _diatonic_shift("C", letter, semitones)
            self.text = value
            self.new_acc: dict[str, int] = {}
            return
        old_letter, old_alt = key.tonic[0], {"#": 1, "b": -1}.get(key.tonic[1:], 0)
        hp = key.mode in ("HP", "Hp")
        offset = -1 if hp else _MODE_OFFSET_BY_NAME.get(key.mode, 0)
        if semitones % 12 == 0:  # octaves keep the key as written (no C# -> Db respelling)
            letter, alt = old_letter, old_alt
        else:
            letter, alt = _spell_tonic(old_letter, old_alt, offset, semitones)
        self.shift = _diatonic_shift(old_letter, letter, semitones)
        new_tonic = _tonic_text(letter, alt)
        if hp:
            self.text = value if semitones % 12 == 0 and letter == "D" else f"{new_tonic}mix"
            new_key = parse_key(self.text)
        else:
            text = _KEY_TONIC_RE.sub(lambda m: m.group(1) + new_tonic, value, count=1)
            head_end = len(_KEY_TONIC_RE.match(text).group(0)) if _KEY_TONIC_RE.match(text) else 0
            tail = _KEY_EXTRA_RE.sub(lambda m: self._move_extra(m, semitones), text[head_end:])
            self.text = text[:head_end] + tail
            try:
                new_key = parse_key(self.text)
            except ValueError:  # a spelled extra accidental out of range: drop the extras
                self.text = text[:head_end]
                new_key = parse_key(self.text)
        self.new_acc = dict(new_key.accidentals)

    def _move_extra(self, m: re.Match[str], semitones: int) -> str:
        letter = m.group(2)
        alt = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}[m.group(1)]
        idx = (LETTERS.index(letter.upper()) + self.shift) % 7
        new_letter = LETTERS[idx]
        a = _alt_for(new_letter, (_pc(letter.upper(), alt) + semitones) % 12)
        return ACC_TEXT.get(a, "=") + (new_letter if letter.isupper() else new_letter.lower())


def _move_chord_symbol(symbol: str, shift: int, semitones: int) -> str:
    """A quoted chord symbol with its root and /bass moved (abc.chords' grammar); anything else as written."""
    inner = symbol[1:-1]
    if parse_chord_symbol(inner) is None:
        return symbol
    text = inner.strip()
    m = SYMBOL_RE.match(text)

    def root(name: str) -> str:
        letter, alt = name[0], {"#": 1, "b": -1}.get(name[1:], 0)
        new_letter = LETTERS[(LETTERS.index(letter) + shift) % 7]
        pc = (_pc(letter, alt) + semitones) % 12
        a = _alt_for(new_letter, pc)
        if a not in (-1, 0, 1):
            new_letter, a = min(((c, _alt_for(c, pc)) for c in LETTERS), key=lambda x: (abs(x[1]), x[1] < 0))
        return _tonic_text(new_letter, a)

    end = m.start("bass") if m.group("bass") else len(text)
    out = text[: m.start("root")] + root(m.group("root")) + text[m.end("root"): end]
    if m.group("bass"):
        out += root(m.group("bass")) + text[m.end("bass"):]
    lead = len(inner) - len(inner.lstrip())
    return '"' + inner[:lead] + out + inner[lead + len(text):] + '"'


def _note_text(step: int, alt_text: str) -> str:
    octave, idx = divmod(step, 7)
    letter = LETTERS[idx]
    if octave >= 5:
        return alt_text + letter.lower() + "'" * (octave - 5)
    return alt_text + letter + "," * (4 - octave)


def transpose_tune(tune: Tune, semitones: int) -> str:
    """The text of one parsed tune transposed by `semitones`; AbcError for an invalid key (notebook 01)."""
    lines = tune.text.split("\n")
    header_key_line = None
    for i in range(tune.header_lines):
        if lines[i].startswith("K:"):
            header_key_line = i
    raw_key = lines[header_key_line][2:] if header_key_line is not None else "C"
    move0 = _KeyMove(raw_key, semitones, tune.start_line + (header_key_line or 0))
    if header_key_line is not None:
        lines[header_key_line] = "K:" + move0.text
    body_lines = lines[tune.header_lines:]
    edits: dict[int, list[tuple[int, int, str]]] = {}
    states: dict[str, dict] = {}

    def vstate(v: str) -> dict:
        if v not in states:
            states[v] = {"move": move0, "new": {}}
        return states[v]

    s = vstate("1")
    off = tune.header_lines + 1
    for ev in Walker(tune):
        kind = ev.kind
        if kind == "note":
            move: _KeyMove = s["move"]
            midi = ev.midi + semitones
            octave, upper = ev.octave, ev.letter.upper()
            old_alt = ev.midi - (12 * (octave + 1) + LETTER_SEMITONE[upper])
            step = octave * 7 + LETTERS.index(upper) + move.shift
            new_letter = LETTERS[step % 7]
            natural = 12 * (step // 7 + 1) + LETTER_SEMITONE[new_letter]
            alt = midi - natural
            if alt not in ACC_TEXT or (abs(alt) == 2 and abs(old_alt) < 2):  # no new double accidentals
                step += 1 if alt > 0 else -1
                new_letter = LETTERS[step % 7]
                alt = midi - (12 * (step // 7 + 1) + LETTER_SEMITONE[new_letter])
            slot = (new_letter, step // 7)
            current = s["new"].get(slot, move.new_acc.get(new_letter, 0))
            if ev.accidental or alt != current:
                s["new"][slot] = alt
                acc_text = ACC_TEXT[alt]
            else:
                acc_text = ""
            edits.setdefault(ev.line - off, []).append((ev.col, ev.pitch_end, _note_text(step, acc_text)))
        elif kind == "bar":
            s["new"] = {}
        elif kind == "quote":
            new = _move_chord_symbol(ev.text, s["move"].shift, semitones)
            if new != ev.text:
                edits.setdefault(ev.line - off, []).append((ev.col, ev.end, new))
        elif (kind == "field" or kind == "fieldline") and ev.name == "K":
            move = _KeyMove(ev.value, semitones, tune.start_line + ev.line - 1)
            s["move"], s["new"] = move, {}
            if kind == "field":
                edits.setdefault(ev.line - off, []).append((ev.col, ev.end, f"[K:{move.text}]"))
            else:
                body_lines[ev.line - off] = "K:" + move.text
        elif kind == "voice":
            s = vstate(ev.voice)
        elif kind == "too_large":
            raise NumberTooLargeError(f"line {ev.line}: {ev.message}")
    for i, line_edits in edits.items():
        line = body_lines[i]
        for start, end, new in sorted(line_edits, reverse=True):
            line = line[:start] + new + line[end:]
        body_lines[i] = line
    return "\n".join(lines[: tune.header_lines] + body_lines)


def transpose(text: str, semitones: int) -> str:
    """Transpose every tune in `text` by `semitones` (key, notes, accidentals, chord symbols, [K:]) (notebooks 01, 02).

    Any integer from -MAX_SEMITONES to MAX_SEMITONES works; others raise AbcError, as does text with no tune
    or a K: field (header, body or inline) that the checker rejects.
    """
    if not isinstance(semitones, int) or isinstance(semitones, bool):
        raise AbcError(f"semitones must be an integer, not {semitones!r}")
    if abs(semitones) > MAX_SEMITONES:
        raise AbcError(f"cannot transpose by {semitones} semitones: at most {MAX_SEMITONES} either way "
                       "(the whole MIDI range)")
    norm = text.replace("\r\n", "\n").replace("\r", "\n")
    tunes = split_tunes(norm)
    if not tunes:
        raise AbcError(NO_TUNE)
    lines = norm.split("\n")
    for tune in reversed(tunes):
        start = tune.start_line - 1
        n = tune.text.count("\n") + 1
        lines[start : start + n] = transpose_tune(tune, semitones).split("\n")
    return "\n".join(lines)
