"""Structure (notebook 05): sections and repeat signs, bar-level self-similarity, repeated bars, form.

- ``has_repeat_signs``: some bar line holds a repeat (``:``: ``|:``, ``:|``, ``::``) or a numbered
  ending (``[1``, ``|2``, ``:|2``) — the paper's repetition measure (share of outputs with repeat signs).
- ``n_sections``: the first voice's bars cut after every section bar line (one holding ``:``, ``||``,
  ``|]`` or ``[|``); a piece that starts with an ending (``[2``/``:|2``) belongs to the section before it;
  sections of one bar (pickups) are not counted; a tune with bars but no longer section has 1.
- Bar self-similarity: each bar of the first voice is laid out on a grid of GRID = 96 slots per whole
  note (notes and rests end to end, in written order), a slot holding the (pitch, start slot) of the
  note sounding there, or SILENCE under a rest (``z2`` and ``z z`` are the same silence; a multi-bar
  rest ``Z`` is silence for the bar's meter). A bar holding only rests is a bar like any other. A note
  tied over a bar line fills its own bar up to the line; its continuation fills the next bar's first
  slots with (pitch, HELD) — a held note, not a struck one (``C4-|C2 D2`` differs from ``C4|C2 D2``).
  ``sim(a, b) = #(slots where a and b hold the same value) / #(slots covered by a or b)`` — the share of
  the time where both bars sound the same note struck at the same moment, or are both silent
  (1 = identical bars).
  ``bar_self_similarity`` = mean sim over all pairs of non-empty bars;
  ``repeated_bar_rate`` = #(bars identical to an earlier bar) / #(non-empty bars);
  ``near_repeated_bar_rate`` = #(bars with sim ≥ NEAR_THRESHOLD = 0.75 to an earlier bar) / #(non-empty
  bars) (0.75: e.g. one of four equal notes changed).
  Transposing the whole tune changes none of these (all bars move together).
- ``motif_recurs``: the *opening motif* is the interval pattern of the first voice's first MOTIF_NOTES = 5
  notes (4 melodic intervals in semitones, tied notes counted once, rests skipped, chords by their top
  note); it recurs when the same 4 intervals follow one another again starting at note 6 or later (no
  note shared with the opening), at any pitch: an exact repeat and a transposed (chromatic) one count,
  a diatonic sequence whose semitones differ does not. None when the voice has fewer than 2·MOTIF_NOTES
  notes. (Melody in interval form is the "seqint" viewpoint of Conklin & Witten 1995, *Multiple viewpoint
  systems for music prediction*; this recurrence test is the course's own. Why 5 notes:
  `benchmarks/musicality.py`.)
- ``form``: the corpus builder's form letters (``cm_lib.corpus.analysis.detect_form`` via
  ``cm_lib.corpus.analysis.tune_attributes``: repeat signs and section lines, else 4-bar phrases compared by
  melodic similarity), for single-voice tunes with bars; None otherwise.
"""

from __future__ import annotations

import numpy as np

from cm_lib.corpus.analysis import tune_attributes
from cm_lib.metrics.events import Bar, Note, Rest, TuneData

GRID = 96
MAX_SLOTS = 4 * GRID
NEAR_THRESHOLD = 0.75
MOTIF_NOTES = 5
HELD = MAX_SLOTS  # start slot of a note held over from the bar before (real start slots are < MAX_SLOTS)
SILENCE = 128 * (MAX_SLOTS + 1)  # above every (pitch, start) value: MIDI pitches are 0-127
_SECTION_MARKS = (":", "||", "|]", "[|")


def has_repeat_signs(data: TuneData) -> bool:
    """Whether any bar line is a repeat sign or a numbered ending."""
    for text in data.bar_lines:
        if ":" in text or text[-1:].isdigit():
            return True
    return False


def is_section_line(text: str) -> bool:
    """Whether a bar line text ends a section (holds :, ||, |] or [|)."""
    return any(mark in text for mark in _SECTION_MARKS)


def sections(bars: list[Bar]) -> list[list[Bar]]:
    """The bars cut into sections (see the module docstring); endings join the section before them."""
    pieces: list[list[Bar]] = []
    current: list[Bar] = []
    for b in bars:
        current.append(b)
        if is_section_line(b.closing):
            pieces.append(current)
            current = []
    if current:
        pieces.append(current)
    merged: list[list[Bar]] = []
    for piece in pieces:
        if merged and piece[0].starts_volta:
            merged[-1].extend(piece)
        else:
            merged.append(piece)
    return merged


def n_sections(data: TuneData) -> int:
    """Number of sections of at least two bars in the first voice (1 if bars but none that long; 0 if no bars)."""
    bars = data.bars.get(data.voices[0], [])
    if not bars:
        return 0
    return max(1, sum(len(s) >= 2 for s in sections(bars)))


def bar_grids(data: TuneData) -> np.ndarray:
    """One row per non-empty bar of the first voice: slot = midi·(MAX_SLOTS+1) + the note's start slot
    (HELD for a note tied over from the bar before), SILENCE under a rest, -1 after the bar's end."""
    voice = data.voices[0]
    measures = {b.number: b.measure for b in data.bars.get(voice, [])}
    by_bar: dict[int, list[tuple[int, Note | Rest, float, bool]]] = {}  # bar -> (order, event, duration, held)
    for e in data.timeline(voice):
        if isinstance(e, Rest) or not e.ties:
            by_bar.setdefault(e.bar, []).append((e.order, e, float(e.duration), False))
            continue
        for piece in e.pieces():
            by_bar.setdefault(piece.bar, []).append((piece.order, e, float(piece.duration), piece.bar != e.bar))
    rows = []
    for number in sorted(by_bar):
        row = np.full(MAX_SLOTS, -1, dtype=np.int32)
        value_of: dict[int, int] = {}  # id(note) -> its value in this bar (pieces tied within a bar join)
        t = 0.0
        for _, e, duration, held in sorted(by_bar[number], key=lambda x: x[0]):
            start = int(round(t * GRID))
            if isinstance(e, Rest):
                measure = measures.get(number)
                t += duration if not e.bars else float(measure or 0) * e.bars
                end = int(round(t * GRID))
                row[start:end] = SILENCE
                continue
            t += duration
            end = max(start + 1, int(round(t * GRID)))
            if start >= MAX_SLOTS:
                break
            row[start:end] = value_of.setdefault(id(e), e.midi * (MAX_SLOTS + 1) + (HELD if held else start))
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, MAX_SLOTS), dtype=np.int32)


def bar_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """sim of two bar grids (rows of `bar_grids`): shared slots over covered slots."""
    covered = (a >= 0) | (b >= 0)
    n = int(covered.sum())
    return float(((a == b) & covered).sum() / n) if n else 1.0


def similarity_matrix(grids: np.ndarray) -> np.ndarray:
    """Pairwise `bar_similarity` of all bars (B x B, symmetric, 1 on the diagonal)."""
    n = len(grids)
    sim = np.eye(n)
    covered_row = grids >= 0
    for i in range(1, n):
        covered = covered_row[i][None, :] | covered_row[:i]
        same = (grids[i][None, :] == grids[:i]) & covered
        s = same.sum(axis=1) / np.maximum(covered.sum(axis=1), 1)
        sim[i, :i] = s
        sim[:i, i] = s
    return sim


def repetition(data: TuneData, near: float = NEAR_THRESHOLD) -> dict[str, float | None]:
    """bar_self_similarity, repeated_bar_rate and near_repeated_bar_rate (None with fewer than 2 bars)."""
    sim = similarity_matrix(bar_grids(data))
    n = len(sim)
    if n < 2:
        return {"bar_self_similarity": None, "repeated_bar_rate": None, "near_repeated_bar_rate": None}
    lower = np.tril(sim, -1)
    best_earlier = lower.max(axis=1)
    best_earlier[0] = 0.0
    pairs = sim[np.triu_indices(n, 1)]
    return {
        "bar_self_similarity": float(pairs.mean()),
        "repeated_bar_rate": float((best_earlier >= 1.0 - 1e-12).sum() / n),
        "near_repeated_bar_rate": float((best_earlier >= near - 1e-12).sum() / n),
    }


def opening_motif(data: TuneData, notes: int = MOTIF_NOTES) -> list[int] | None:
    """The opening motif as intervals: semitones between the first voice's first `notes` notes."""
    mel = data.melody()
    if len(mel) < notes:
        return None
    return [b.midi - a.midi for a, b in zip(mel[: notes - 1], mel[1:notes])]


def motif_recurs(data: TuneData, notes: int = MOTIF_NOTES) -> bool | None:
    """Whether the opening motif's intervals recur, at any pitch, after the opening (see the module docstring)."""
    mel = data.melody()
    if len(mel) < 2 * notes:
        return None
    iv = [b.midi - a.midi for a, b in zip(mel, mel[1:])]
    pattern = iv[: notes - 1]
    return any(iv[s:s + notes - 1] == pattern for s in range(notes, len(mel) - notes + 1))


def form(data: TuneData) -> str | None:
    """Form letters (e.g. "AABB") from the corpus builder's analysis; None for multi-voice or bar-less tunes."""
    if len(data.voices) > 1 or not data.bars or not data.notes:
        return None
    attrs = tune_attributes(data.tune.text)
    return attrs["form"] if attrs else None
