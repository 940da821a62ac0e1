"""Cleaning: normalise each raw tune with cm_lib.abc, keep those that pass the syntax check, count the rest."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from cm_lib.corpus.sources import RawTune

MIN_NOTES = 8
MAX_CHARS = 6000
_X_LINE = re.compile(r"^X:.*$", re.M)


@dataclass
class CleanTune:
    """A kept tune: cleaned text (X:1) with its source, reference and melody (MIDI pitches)."""

    src: str
    ref: str
    text: str
    pitches: list[int] = field(default_factory=list)
    cluster: str = ""
    augmented_from: str = ""  # ref of the original for transposed copies
    semitones: int = 0

    @property
    def ref_id(self) -> str:
        """Unique, stable reference: source/file#index (plus the transposition for augmented copies)."""
        return f"{self.src}/{self.ref}" + (f"@{self.semitones:+d}" if self.semitones else "")


def renumber(text: str, number: int = 1) -> str:
    """Set the X: field to `number` (corpus tunes are stored one per record as X:1)."""
    return _X_LINE.sub(f"X:{number}", text, count=1)


def clean_one(raw: RawTune) -> tuple[CleanTune | None, str]:
    """(cleaned tune, "") or (None, rejection reason) for one raw tune."""
    from cm_lib.abc import check, clean_tune, pitches

    if not raw.text.strip():
        return None, "empty"
    try:
        text = clean_tune(raw.text)
    except Exception as err:  # noqa: BLE001 - any cleaner failure is a counted rejection
        return None, f"clean_error:{type(err).__name__}"
    if not text.startswith("X:"):
        text = "X:1\n" + text
    text = renumber(text)
    if "\nK:" not in text:
        return None, "no_K_field"
    if len(text) > MAX_CHARS:
        return None, "too_long"
    result = check(text, level="syntax")
    if not result.ok:
        code = result.problems[0].code if result.problems else "unknown"
        return None, f"syntax:{code}"
    try:
        melody = pitches(text)
    except Exception as err:  # noqa: BLE001
        return None, f"pitch_error:{type(err).__name__}"
    if len(melody) < MIN_NOTES:
        return None, "too_few_notes"
    return CleanTune(raw.src, raw.ref, text, list(melody)), ""


def clean_tunes(raws: Iterable[RawTune], progress: bool = False) -> tuple[list[CleanTune], Counter]:
    """Clean every raw tune; returns the kept tunes and a Counter of rejection reasons; notebook 02."""
    raws = list(raws)
    if progress:
        from tqdm.auto import tqdm

        raws_iter = tqdm(raws, desc="clean + check", unit="tune")
    else:
        raws_iter = raws
    kept: list[CleanTune] = []
    rejected: Counter = Counter()
    for raw in raws_iter:
        tune, reason = clean_one(raw)
        if tune is None:
            rejected[reason] += 1
        else:
            kept.append(tune)
    return kept, rejected
