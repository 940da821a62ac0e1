"""Scoring speed on SmolLM2-135M: naive (4 forwards/question) vs fast (shared prefix), then the full protocol.

    .venv/bin/python benchmarks/bench_scoring.py [--n-compare 40] [--n-full 372] [--threads 2] [--shots 0]

Part 1 scores the same questions with both implementations (ppl mode, zero-shot, 1 shuffle) and
checks that the predictions are identical. Part 2 runs the paper's protocol (ppl, fast) on 372
questions, as many as MusicTheoryBench holds: offline, the 21 test questions of the sample plus
generated ones. Timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import time

from cm_lib.bench.data import generated_questions, load_sample
from cm_lib.bench.run import run_questions


def offline_set(n: int, seed: int = 0) -> list:
    """n test questions: the sample's test split first, then generated ones."""
    sample = load_sample("test")
    extra = max(0, n - len(sample))
    gen = [q for q in generated_questions(extra, seed=seed) if q.split == "test"]
    return (sample + gen)[:n]


def main() -> None:
    """Run both parts and print a JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-compare", type=int, default=40)
    ap.add_argument("--n-full", type=int, default=372)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--shots", type=int, default=0, choices=[0, 5])
    ap.add_argument("--json", default=None, help="also write the summary here")
    args = ap.parse_args()

    import torch

    from cm_lib.device import pick_device
    from cm_lib.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, tok = load_model("smollm2-135m", device=pick_device("cpu"))
    load_s = time.perf_counter() - t0
    dev = load_sample("dev")
    summary: dict = {"threads": torch.get_num_threads(), "load_seconds": round(load_s, 1), "shots": args.shots}

    qs = offline_set(args.n_compare)
    run_questions(model, tok, qs[:2], dev, shots=args.shots, impl="fast")  # warm-up
    naive = run_questions(model, tok, qs, dev, shots=args.shots, impl="naive", progress=True)
    fast = run_questions(model, tok, qs, dev, shots=args.shots, impl="fast", progress=True)
    same = [a["pred"] for a in naive["predictions"]] == [b["pred"] for b in fast["predictions"]]
    max_diff = max(abs(x - y) for a, b in zip(naive["predictions"], fast["predictions"])
                   for x, y in zip(a["scores"], b["scores"]))
    tn, tf = naive["timing"]["scoring_seconds"], fast["timing"]["scoring_seconds"]
    summary["compare"] = {"questions": len(qs), "naive_seconds": tn, "fast_seconds": tf,
                          "speedup": round(tn / tf, 2), "identical_predictions": same,
                          "max_abs_score_diff": max_diff}
    print(json.dumps(summary["compare"]), flush=True)

    if args.n_full:
        full_qs = offline_set(args.n_full)
        full = run_questions(model, tok, full_qs, dev, shots=args.shots, impl="fast", progress=True)
        summary["full"] = {"questions": len(full_qs), "seconds": full["timing"]["scoring_seconds"],
                           "accuracy": full["accuracy"], "n": full["n"]}
        print(json.dumps(summary["full"]), flush=True)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
