"""Augmentation: transposed copies of each tune (the original is kept; copies share its cluster and split)."""

from __future__ import annotations

import random
from collections import Counter

from cm_lib.corpus.clean import CleanTune

DEFAULT_SHIFTS: tuple[int, ...] = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6)
LOWEST, HIGHEST = 40, 96  # keep transposed melodies within E2..C7


def augment(
    tunes: list[CleanTune], keys: int = 1, seed: int = 0, shifts: tuple[int, ...] = DEFAULT_SHIFTS,
) -> tuple[list[CleanTune], Counter]:
    """`keys` transposed copies per tune (shifts drawn per tune from `shifts`); returns copies and rejections; notebook 02."""
    from cm_lib.abc import check, transpose

    copies: list[CleanTune] = []
    rejected: Counter = Counter()
    if keys <= 0:
        return copies, rejected
    for tune in tunes:
        rng = random.Random(f"{seed}:{tune.ref_id}")
        for shift in sorted(rng.sample(list(shifts), min(keys, len(shifts)))):
            try:
                text = transpose(tune.text, shift)
            except Exception as err:  # noqa: BLE001 - counted
                rejected[f"transpose_error:{type(err).__name__}"] += 1
                continue
            if not check(text, level="syntax").ok:
                rejected["transposed_syntax"] += 1
                continue
            melody = [p + shift for p in tune.pitches]  # a transposition shifts every pitch alike
            if not melody or min(melody) < LOWEST or max(melody) > HIGHEST:
                rejected["transposed_out_of_range"] += 1
                continue
            copies.append(CleanTune(tune.src, tune.ref, text, list(melody), tune.cluster, tune.ref_id, shift))
    return copies, rejected
