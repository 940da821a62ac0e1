"""Chord conditioning (notebook 05): were the requested chord symbols written, and do the notes fit them?

- Chord symbols are read with the course's one chord-symbol grammar (``cm_lib.abc.chords``) as root + quality
  (+ optional /bass): ``m``/``min``/``-`` minor, ``maj7``/``M7``,
  ``7``, ``m7``, ``6``, ``m6``, ``dim``/``°``, ``dim7``, ``m7b5``/``ø``, ``aug``/``+``, ``sus2``, ``sus4``/``sus``,
  and the extended chords with their extensions: ``9`` = 7 + 9th, ``m9``, ``maj9``, ``11`` = 9 + 11th,
  ``13`` = 9 + 13th (the 11th left out, as usually voiced). Every quality the course writes
  (``cm_lib.abc.chords.WRITTEN_QUALITIES``: m 7 m7 maj7 dim aug sus4 6 m6 9) is read.
  ``chord_pitch_classes("A7") = {9, 1, 4, 7}``; a symbol we cannot read ("N.C.") has none.
- ``chord_following = LCS(requested, written) / len(requested)``: the longest run of requested chords
  found in the tune's chord symbols in the same order (not necessarily adjacent), chords compared by
  root pitch class and pitch-class set (so "Dm" = "Dmin", "A" ≠ "A7", the bass note is ignored), over
  all voices' symbols in written order. 1.0 = every requested chord, in order. None without a request.
- ``chord_tone_ratio = Σ duration(notes whose pitch class is in their chord) / Σ duration(notes under a
  readable chord)``: each note is under the last chord symbol written before it in its voice; notes
  before the first symbol or under an unreadable one do not count. A note tied across a chord change
  counts each tied piece under its own chord (``"C"G2-|"Am"G2``: half in C, half outside Am). The
  chord's pitch classes include its /bass note. None when no note is under a chord.
"""

from __future__ import annotations

from cm_lib.abc.chords import parse_chord_symbol
from cm_lib.metrics.events import TuneData
from cm_lib.metrics.key import tonic_pitch_class


def parse_chord(symbol: str) -> tuple[int, frozenset[int]] | None:
    """(root pitch class, pitch classes without the bass) of a chord symbol, or None if unreadable."""
    chord = parse_chord_symbol(symbol)
    if chord is None:
        return None
    root = tonic_pitch_class(chord.root)
    return root, frozenset((root + s) % 12 for s in chord.intervals)


def chord_pitch_classes(symbol: str) -> frozenset[int] | None:
    """Pitch classes of a chord symbol including a /bass note; None if unreadable."""
    chord = parse_chord_symbol(symbol)
    if chord is None:
        return None
    root = tonic_pitch_class(chord.root)
    pcs = frozenset((root + s) % 12 for s in chord.intervals)
    return pcs | ({tonic_pitch_class(chord.bass)} if chord.bass else set())


def _lcs(a: list, b: list) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y and x is not None else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def written_chords(data: TuneData) -> list[str]:
    """Every voice's chord symbols, voice after voice, in written order."""
    return [c for v in data.chord_symbols.values() for c in v]


def chord_following(data: TuneData, requested: list[str]) -> float | None:
    """LCS of requested and written chords over the number requested (see the module docstring)."""
    if not requested:
        return None
    want = [parse_chord(c) for c in requested]
    got = [parse_chord(c) for c in written_chords(data)]
    return _lcs(want, got) / len(requested)


def chord_tone_ratio(data: TuneData) -> float | None:
    """Duration-weighted share of notes under a chord symbol that are tones of that chord."""
    under = inside = 0.0
    cache: dict[str, frozenset[int] | None] = {}
    for n in data.notes:
        for chord, duration in [(p.chord, p.duration) for p in n.pieces()] if n.ties else [(n.chord, n.duration)]:
            if chord is None:
                continue
            if chord not in cache:
                cache[chord] = chord_pitch_classes(chord)
            pcs = cache[chord]
            if pcs is None:
                continue
            d = float(duration)
            under += d
            if n.midi % 12 in pcs:
                inside += d
    return inside / under if under else None
