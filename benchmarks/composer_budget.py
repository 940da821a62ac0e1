"""The composer against its pre-training budget (issue 10): bar validity, copying and memorisation per checkpoint.

Trains the composer from scratch exactly as notebook 03 does (cm_lib.train.train_cpt on the ABC part of the small
corpus, in the composer's view) but with --hardware and --steps of your choice, keeping --points checkpoints.
Default: the `gpu-scratch` plan a GPU runs (1,000 steps x 64 blocks x 384 characters, 10x the CPU plan's
characters). For each checkpoint it prints, on the same seeded held-out header prompts as notebook 03:
syntax-valid, bars-valid and ended rates with 95% Wilson intervals, the mean bar consistency
(cm_lib.metrics.bars), the copy test's saving (cm_lib.evaluate.copy_test: an induction head shows as a positive
saving), and the nearest training tune of every sample (exact Jaccard of interval 5-grams, cm_lib.metrics.novelty, against
cm_lib.metrics.reference.training_index: every training tune of the corpus, a superset of the composer's view):
a rise in bars-valid that came from copying training tunes would show as copies (>= 0.8).

    python benchmarks/composer_budget.py [--hardware gpu-scratch] [--steps 1000] [--points 4] [--n 100] [--json OUT]

Not yet timed on a GPU; on the 2-core CPU the same budget took 42 min in a plain loop (benchmarks/README.md, "Budget").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def checkpoint_row(step: int, folder: Path, prompts: list[str], index, max_new: int) -> dict:  # noqa: ANN001
    """Validity, bar consistency, copy-test saving and nearest-training-tune similarity of one checkpoint."""
    from cm_lib.evaluate import copy_test, generation_report, sample_tunes
    from cm_lib.metrics.bars import bar_consistency
    from cm_lib.metrics.events import read_tune
    from cm_lib.metrics.novelty import COPY_THRESHOLD
    from cm_lib.metrics.summary import mean

    samples = sample_tunes(folder, n=len(prompts), max_new_tokens=max_new, start=prompts, batch_size=50)
    tunes = [read_tune(s.abc) for s in samples if s.abc and s.ok_syntax]
    similarity = [index.nearest_exact(t)[0] for t in tunes]
    return {"step": step, **generation_report(samples), "bar_consistency": mean([bar_consistency(t) for t in tunes]),
            "copy_saved": copy_test(folder)["saved"], "nn_similarity": mean(similarity),
            "copies": sum(x >= COPY_THRESHOLD for x in similarity)}


def main(argv: list[str] | None = None) -> int:
    """Train, then print one row per checkpoint."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hardware", default="gpu-scratch", help="hardware preset of the composer's run (default gpu-scratch)")
    ap.add_argument("--steps", type=int, default=1000, help="optimiser steps (default 1000, the A100/H100 plan)")
    ap.add_argument("--points", type=int, default=4, help="checkpoints to evaluate (evenly spaced)")
    ap.add_argument("--n", type=int, default=100, help="held-out header prompts per checkpoint")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--out", default=None, help="run folder (default runs/benchmarks/composer-<hardware>-<steps>)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.points < 1 or args.n < 1:
        print("error: --steps, --points and --n must be positive", file=sys.stderr)
        return 2

    from cm_lib.corpus import ensure_corpus
    from cm_lib.course import COMPOSER_MODEL
    from cm_lib.evaluate import checkpoint_steps, header_prompts
    from cm_lib.metrics.reference import training_index
    from cm_lib.paths import atomic_write_text, runs_dir
    from cm_lib.stats import format_rate
    from cm_lib.train import train_cpt

    corpus = ensure_corpus("small")
    out = Path(args.out) if args.out else runs_dir() / "benchmarks" / f"composer-{args.hardware}-{args.steps}"
    t0 = time.perf_counter()
    res = train_cpt(COMPOSER_MODEL, corpus, out=out, hardware=args.hardware, max_steps=args.steps, lora=False,
                    categories=("scores",), view="composer", save_steps=max(1, args.steps // args.points))
    print(f"trained {res.steps} steps in {res.seconds:.0f} s ({'reused' if res.skipped else 'this run'}); "
          f"{time.perf_counter() - t0:.0f} s with set-up", flush=True)
    index = training_index()  # the corpus's training tunes, cached and shared with notebook 05
    prompts = header_prompts(corpus, args.n)
    rows = [checkpoint_row(step, folder, prompts, index, args.max_new_tokens) for step, folder in checkpoint_steps(out)]
    block = res.settings["preset"]["batch_size"] * res.settings["preset"]["seq_len"]  # characters per step
    print(f"\ncomposer, preset {args.hardware}, {len(prompts)} held-out header prompts, T 0.5, {args.max_new_tokens} new tokens")
    print("step | characters | syntax | bars | ended | bar consistency | copy test saving (nats) | nearest training tune: mean / max / copies")
    for r in rows:
        cs, bc, nn = r["copy_saved"], r["bar_consistency"], r["nn_similarity"]
        near = f"{nn['mean']:.2f} / {nn['max']:.2f} / {r['copies']} of {nn['n']}" if nn["n"] else "n/a"
        consistency = f"{bc['mean']:.2f}" if bc["n"] else "n/a"
        print(f"{r['step']} | {r['step'] * block / 1e6:.1f}M | {format_rate(r['syntax'])} | {format_rate(r['bars'])} | "
              f"{format_rate(r['ended'])} | {consistency} | "
              f"{cs['mean']:.2f} [{cs['ci95'][0]:.2f}, {cs['ci95'][1]:.2f}] | {near}")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps({"hardware": args.hardware, "steps": args.steps,
                                                        "train_seconds": res.seconds, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
