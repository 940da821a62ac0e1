"""Key consistency (notebook 05): in-scale rate for the declared key and a Krumhansl–Schmuckler estimate.

- ``scale_pitch_classes(key)``: the seven pitch classes of the declared key's signature,
  {(semitone(letter) + alteration(letter)) mod 12 for letter in C D E F G A B}; for modes this is the
  mode's own scale (D dorian = the white keys). Explicit accidentals after the key count (K:D ^g).
- ``in_scale_rate = #(notes whose pitch class is in the scale) / #(notes)``, over sounding notes
  (tied continuations merged, chords by their top note); None for K:none, an invalid key or no notes.
- Krumhansl–Schmuckler: h = duration-weighted pitch-class histogram (12 values); for every tonic t and
  quality q ∈ {major, minor}, r(t, q) = Pearson correlation of h with the Krumhansl–Kessler profile of q
  rotated to start on t; the estimate is argmax r. Profiles (Krumhansl & Kessler 1982):
  major 6.35 2.23 3.48 2.33 4.38 4.09 2.52 5.19 2.39 3.66 2.29 2.88,
  minor 6.33 2.68 3.52 5.38 2.60 3.53 2.54 4.75 3.98 2.69 3.34 3.17.
- ``key_agreement``: the estimate has the declared tonic's pitch class and quality, where major,
  lydian and mixolydian count as major and minor, dorian, phrygian and locrian as minor (K-S knows
  only two qualities). None when the key is none/invalid or there are no notes.
"""

from __future__ import annotations

import numpy as np

from cm_lib.abc.keys import LETTER_SEMITONE, LETTERS, NOTE_NAMES, Key
from cm_lib.metrics.events import Note, TuneData

KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_LIKE = frozenset({"major", "lydian", "mixolydian"})
MINOR_LIKE = frozenset({"minor", "dorian", "phrygian", "locrian"})


def tonic_pitch_class(tonic: str) -> int:
    """Pitch class of a tonic name ("F#" -> 6, "Bb" -> 10)."""
    alt = {"#": 1, "b": -1}.get(tonic[1:2], 0)
    return (LETTER_SEMITONE[tonic[0].upper()] + alt) % 12


def key_quality(mode: str) -> str | None:
    """'major' or 'minor' for a mode name (see the module docstring); None for none/HP."""
    return "major" if mode in MAJOR_LIKE else "minor" if mode in MINOR_LIKE else None


def scale_pitch_classes(key: Key) -> frozenset[int] | None:
    """The pitch classes of a key's signature (its mode's scale); None for K:none."""
    if key.is_none or key.tonic is None:
        return None
    return frozenset((LETTER_SEMITONE[letter] + key.accidentals.get(letter, 0)) % 12 for letter in LETTERS)


def in_scale_rate(data: TuneData) -> float | None:
    """Share of sounding notes whose pitch class lies in the declared key's scale."""
    scale = scale_pitch_classes(data.key) if data.key is not None else None
    if scale is None or not data.notes:
        return None
    return sum(n.midi % 12 in scale for n in data.notes) / len(data.notes)


def pitch_class_weights(notes: list[Note]) -> np.ndarray:
    """Duration-weighted pitch-class histogram (12 floats, whole notes per pitch class)."""
    h = np.zeros(12)
    for n in notes:
        h[n.midi % 12] += float(n.duration)
    return h


_PROFILES = np.stack([np.roll(p, t) for p in (KK_MAJOR, KK_MINOR) for t in range(12)])  # 24 x 12: C..B major, minor
_PROFILES_Z = (_PROFILES - _PROFILES.mean(axis=1, keepdims=True)) / _PROFILES.std(axis=1, keepdims=True)


def krumhansl_schmuckler(weights: np.ndarray) -> tuple[int, str, float] | None:
    """(tonic pitch class, 'major'|'minor', correlation) of the best-correlating key; None if flat/empty."""
    h = np.asarray(weights, dtype=float)
    sd = h.std()
    if h.sum() <= 0 or sd == 0:
        return None
    r = _PROFILES_Z @ ((h - h.mean()) / sd) / 12  # Pearson r with each of the 24 rotated profiles
    best = int(np.argmax(r))  # ties: the first (major before minor, lower tonic first)
    return best % 12, ("major", "minor")[best // 12], float(r[best])


def estimated_key(data: TuneData) -> str | None:
    """The K-S estimate as text ("D major"), or None."""
    est = krumhansl_schmuckler(pitch_class_weights(data.notes))
    return None if est is None else f"{NOTE_NAMES[est[0]]} {est[1]}"


def key_agreement(data: TuneData, estimate: tuple[int, str, float] | None = None) -> bool | None:
    """Whether the K-S estimate has the declared key's tonic and quality (None: nothing to compare)."""
    k = data.key
    if k is None or k.tonic is None or key_quality(k.mode) is None:
        return None
    est = estimate if estimate is not None else krumhansl_schmuckler(pitch_class_weights(data.notes))
    if est is None:
        return None
    return est[0] == tonic_pitch_class(k.tonic) and est[1] == key_quality(k.mode)
