"""Time `corpus build --preset full` (all ~13k music21 tunes + Bach chorales: clean, check, dedup, tasks).

Usage: python benchmarks/corpus_build.py [--preset full] [--stages]
Prints the total time and throughput (tunes per second); --stages also times reading, clean+check and
dedup on their own. Goal: < 120 s for the full preset on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def time_stages(preset_name: str) -> dict[str, float]:
    """Seconds for reading, cleaning+checking and de-duplicating the preset's score sources."""
    from cm_lib.corpus.build import collect_raw
    from cm_lib.corpus.clean import clean_tunes
    from cm_lib.corpus.dedup import deduplicate
    from cm_lib.corpus.spec import corpus_preset, default_sources

    preset = corpus_preset(preset_name)
    t0 = time.perf_counter()
    raws = collect_raw(default_sources(preset), preset)
    t1 = time.perf_counter()
    kept, _ = clean_tunes(raws)
    t2 = time.perf_counter()
    dd = deduplicate(kept, threshold=preset.dedup_threshold)
    t3 = time.perf_counter()
    print(f"stages: read {len(raws)} tunes {t1 - t0:.1f} s | clean+check {t2 - t1:.1f} s "
          f"({len(raws) / (t2 - t1):.0f} tunes/s) | dedup {len(kept)} -> {len(dd.kept)} tunes, "
          f"{len(dd.clusters)} clusters {t3 - t2:.1f} s")
    return {"read": t1 - t0, "clean": t2 - t1, "dedup": t3 - t2}


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full")
    parser.add_argument("--stages", action="store_true", help="also time read / clean / dedup alone")
    args = parser.parse_args()
    from cm_lib.corpus import build_corpus

    if args.stages:
        time_stages(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        stats = build_corpus(Path(tmp) / "corpus", preset=args.preset, seed=0, progress=False)
        seconds = time.perf_counter() - start
    n_in = sum(stats.inputs.values())
    n_pre = sum(sum(v.values()) for v in stats.pretrain.values())
    n_sft = sum(sum(v.values()) for v in stats.sft.values())
    print(f"corpus build --preset {args.preset}: {seconds:.1f} s for {n_in} tunes "
          f"({n_in / seconds:.0f} tunes/s); kept {sum(stats.kept.values())}, "
          f"rejected {sum(stats.rejections.values())}, duplicates {sum(stats.duplicates.values())}, "
          f"clusters {stats.clusters['near_duplicate_clusters']}; {n_pre} pretrain + {n_sft} sft records")


if __name__ == "__main__":
    main()
