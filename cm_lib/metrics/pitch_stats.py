"""Pitch statistics (notebook 05): range, pitch-class entropy, mean absolute melodic interval.

Over sounding notes (tied continuations merged, chords by their top note):
- ``pitch_range = max(midi) - min(midi)`` in semitones;
- ``pitch_class_entropy = -Σ_c p_c log2 p_c`` bits, p_c = share of notes (counted, not timed) with
  pitch class c (0 for one pitch class, log2 12 ≈ 3.585 for all twelve equally often);
- ``mean_abs_interval = mean |m[i+1] - m[i]|`` semitones over successive notes of the same voice.
Each is None when the tune has too few notes (none, or no interval).
"""

from __future__ import annotations

import math
from collections import Counter

from cm_lib.metrics.events import TuneData


def pitch_range(data: TuneData) -> int | None:
    """Highest minus lowest MIDI pitch, in semitones."""
    midis = [n.midi for n in data.notes]
    return max(midis) - min(midis) if midis else None


def pitch_class_entropy(data: TuneData) -> float | None:
    """Shannon entropy (bits) of the pitch-class counts."""
    counts = Counter(n.midi % 12 for n in data.notes)
    total = sum(counts.values())
    if not total:
        return None
    return -sum(c / total * math.log2(c / total) for c in counts.values()) + 0.0


def intervals(data: TuneData) -> list[int]:
    """Successive melodic intervals (semitones, signed) within each voice."""
    out: list[int] = []
    for mel in data.melodies():
        out += [b.midi - a.midi for a, b in zip(mel, mel[1:])]
    return out


def mean_abs_interval(data: TuneData) -> float | None:
    """Mean absolute melodic interval in semitones."""
    iv = intervals(data)
    return sum(abs(i) for i in iv) / len(iv) if iv else None
