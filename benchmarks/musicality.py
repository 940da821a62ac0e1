"""Speed of cm_lib.metrics.musicality_table, and why the opening motif is 5 notes long.

Usage: python benchmarks/musicality.py [--sets 5] [--n 100] [--n-reference 300] [--seed 0]
         [--out benchmarks/results/musicality.json]
Real tunes: a seeded sample of music21's ABC corpus. A "random" set stands in for the grammar-only sampler:
uniformly random notes of the C major scale over two octaves, durations of 1-4 eighths filling each 4/4
bar, one diatonic chord symbol per bar (16 bars). The table is timed for `--sets` sets of `--n` tunes (one
of held-out real tunes, harmonised; the rest random) against `--n-reference` real tunes, as notebook 05
would call it (and again without harmonising the real tunes); then the motif-recurrence rate of real and random tunes for openings of 3 to 8 notes, and
the table's own rows (real vs random) as an example. Writes the figures to `--out` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

LETTERS = "C D E F G A B c d e f g a b".split()
CHORDS = ["C", "Dm", "Em", "F", "G", "G7", "Am"]


def random_tune(rng: random.Random, n_bars: int = 16) -> str:
    """A bar-filling random tune in C with one chord symbol per bar (see the module docstring)."""
    bars = []
    for _ in range(n_bars):
        left, notes = 8, []
        while left:
            d = rng.randint(1, min(4, left))
            notes.append(rng.choice(LETTERS) + (str(d) if d > 1 else ""))
            left -= d
        bars.append(f'"{rng.choice(CHORDS)}"' + "".join(notes))
    return "X:1\nM:4/4\nL:1/8\nK:C\n" + "|".join(bars) + "|]\n"


def main() -> None:
    """Run the benchmark, print its figures and write them to --out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, default=5)
    parser.add_argument("--n", type=int, default=100, help="tunes per set")
    parser.add_argument("--n-reference", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "musicality.json")
    args = parser.parse_args()

    from cm_lib.abc import iter_music21_tunes
    from cm_lib.metrics import musicality_cells, musicality_reading, musicality_table, read_tune
    from cm_lib.metrics.structure import motif_recurs

    tunes = [t.text for _, t in iter_music21_tunes()]
    rng = random.Random(args.seed)
    rng.shuffle(tunes)
    real, reference = tunes[: args.n], tunes[args.n: args.n + args.n_reference]
    sets = {"real (held-out)": real}
    for i in range(args.sets - 1):
        sets[f"random {i + 1}"] = [random_tune(rng) for _ in range(args.n)]

    t0 = time.perf_counter()
    rows = musicality_table(sets, reference, seed=args.seed, harmonise=("real (held-out)",))
    seconds = time.perf_counter() - t0
    reading = musicality_reading(rows, model="real (held-out)", baseline="random 1")
    print(f"musicality_table: {args.sets} sets x {args.n} tunes, {args.n_reference} reference tunes: {seconds:.1f} s")
    t0 = time.perf_counter()
    musicality_table(sets, reference, seed=args.seed, harmonise_reference=False)
    bare = time.perf_counter() - t0
    print(f"the same without harmonising real tunes for their chord-tone ratio: {bare:.1f} s")

    other = tunes[args.n + args.n_reference: args.n + args.n_reference + 400]
    real_data = [read_tune(t) for t in other]
    rand_data = [read_tune(random_tune(rng)) for _ in range(400)]
    calibration = {}
    for notes in range(3, 9):
        r = [x for x in (motif_recurs(d, notes) for d in real_data) if x is not None]
        q = [x for x in (motif_recurs(d, notes) for d in rand_data) if x is not None]
        calibration[notes] = {"real": [sum(r), len(r)], "random": [sum(q), len(q)]}
        print(f"opening of {notes} notes recurs: real {sum(r)}/{len(r)}, random {sum(q)}/{len(q)}")
    cells = musicality_cells(rows)
    for label in ("real (held-out)", "random 1", "real (reference)"):
        print(label, json.dumps(cells[label], ensure_ascii=False, indent=1))
    print(reading)
    record = {"sets": args.sets, "n_per_set": args.n, "n_reference": args.n_reference, "seed": args.seed,
              "seconds": round(seconds, 2),
              "seconds_without_harmoniser": round(bare, 2), "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
              "motif_recurrence_by_opening_notes": calibration,
              "example_cells": {k: cells[k] for k in ("real (held-out)", "random 1", "real (reference)")},
              "example_reading": reading}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
