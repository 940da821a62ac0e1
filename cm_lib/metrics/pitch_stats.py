"""Pitch statistics (notebook 05): range, pitch-class entropy, mean absolute melodic interval, stepwise motion.

Over sounding notes (tied continuations merged, chords by their top note):
- ``pitch_range = max(midi) - min(midi)`` in semitones;
- ``pitch_class_entropy = -Σ_c p_c log2 p_c`` bits, p_c = share of notes (counted, not timed) with
  pitch class c (0 for one pitch class, log2 12 ≈ 3.585 for all twelve equally often);
- ``mean_abs_interval = mean |m[i+1] - m[i]|`` semitones over successive notes of the same voice.
- ``stepwise_share = #(intervals of 1 or 2 semitones) / #(intervals)``, the intervals between successive
  notes of the same voice (across rests and bar lines). A repeated note (interval 0: the same pitch struck
  again; a tied continuation is the same note, not a repeat) is not a step and stays in the denominator,
  as does a leap (3 semitones or more). A scale run gives 1; ``C C G G A A G`` (0 +7 0 +2 0 -2) gives 2/6.
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


def stepwise_share(data: TuneData) -> float | None:
    """Share of melodic intervals that are steps (1-2 semitones); repeated notes count as non-steps."""
    iv = intervals(data)
    return sum(1 <= abs(i) <= 2 for i in iv) / len(iv) if iv else None
