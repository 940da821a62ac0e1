"""Speed of cm_lib.abc's checker against a music21 parse, on music21's own ABC corpus.

Usage: python benchmarks/abc_check.py [--n 2000] [--seed 0] [--processes 1]
Prints tunes/s for `check_tune(tune, "bars")` and for music21's `converter.parse(text, format="abc")` on
the same seeded sample of N tunes, their ratio, and the wall time to check all 12,978 corpus tunes
(optionally in 2 processes). Goal: >= 20x music21, all tunes < 30 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import random
import time
import warnings


def _check_chunk(texts: list[str]) -> int:
    from cm_lib.abc import check

    return sum(check(t, "bars").ok for t in texts)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="sample size for the comparison (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1, help="processes for the all-corpus pass")
    args = parser.parse_args()

    from music21 import converter

    from cm_lib.abc import check_tune, iter_music21_tunes

    t0 = time.perf_counter()
    tunes = [t for _, t in iter_music21_tunes()]
    t_read = time.perf_counter() - t0
    sample = random.Random(args.seed).sample(tunes, min(args.n, len(tunes)))

    t0 = time.perf_counter()
    ours_ok = sum(check_tune(t, "bars").ok for t in sample)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    m21_ok = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in sample:
            try:
                converter.parse(t.text, format="abc")
                m21_ok += 1
            except Exception:  # noqa: BLE001 - count music21's failures, whatever they are
                pass
    t_m21 = time.perf_counter() - t0

    n = len(sample)
    print(f"sample: {n} tunes (seed {args.seed})")
    print(f"cm_lib.abc check (bars): {n / t_ours:10.0f} tunes/s  ({t_ours:.2f} s, {ours_ok} ok)")
    print(f"music21 converter.parse: {n / t_m21:10.0f} tunes/s  ({t_m21:.2f} s, {m21_ok} parsed)")
    print(f"ratio: {t_m21 / t_ours:.1f}x faster than music21")

    t0 = time.perf_counter()
    if args.processes > 1:
        from concurrent.futures import ProcessPoolExecutor

        texts = [t.text for t in tunes]
        chunks = [texts[i :: args.processes] for i in range(args.processes)]
        with ProcessPoolExecutor(args.processes) as pool:
            all_ok = sum(pool.map(_check_chunk, chunks))
    else:
        all_ok = sum(check_tune(t, "bars").ok for t in tunes)
    t_all = time.perf_counter() - t0
    print(f"all corpus: {len(tunes)} tunes read in {t_read:.1f} s, checked (bars) in {t_all:.1f} s "
          f"with {args.processes} process(es): {all_ok} ok ({all_ok / len(tunes):.2%})")


if __name__ == "__main__":
    main()
