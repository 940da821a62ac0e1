"""fp32 against bf16 on this CPU, in one run: SmolLM2-135M's scoring and sampling, the composer's sampling, and notebook 03's LoRA step.

Prints each time with its ratio to fp32, and what bf16 changes in the numbers: held-out ABC and prose bits/char
(paired, with a 95% interval), MusicTheoryBench predictions (the 400 generated questions and the 21 sample test
questions, fast == naive within each precision). Then notebook 03's LoRA step as build_trainer sets it up, with TRL's
fused LM head against the model's own loss (what build_trainer uses for a CPU LoRA run), in both precisions. `cm_lib.device.cpu_bf16_for` uses bf16 only where this pays: a CPU
that computes bf16 in hardware (AVX512-BF16 or AMX) and a model of >= 50M parameters.

    .venv/bin/python benchmarks/cpu_bf16.py            # ~12 min on an idle 2-core CPU
    .venv/bin/python benchmarks/cpu_bf16.py --smoke    # seconds: tiny sizes, proves it runs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _timed(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    """(best wall seconds of `repeat` calls, the last call's result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _trainer_step_seconds(corpus: Any, half: bool, own_loss: bool, steps: int, out: str) -> float:
    """Seconds per step of notebook 03's SmolLM2 LoRA CPT as build_trainer sets it up (train_runtime / steps)."""
    import cm_lib.train.trainer as trainer_mod
    from cm_lib.device import CPU_BF16_ENV

    saved = (os.environ.get(CPU_BF16_ENV), trainer_mod.CPU_LORA_OWN_LOSS)
    os.environ[CPU_BF16_ENV] = "1" if half else "0"
    trainer_mod.CPU_LORA_OWN_LOSS = own_loss
    try:
        trainer, _ = trainer_mod.build_trainer("cpt", "smollm2-135m", corpus, out, hardware="cpu", max_steps=steps,
                                               lora=True)
        result = trainer.train()
    finally:
        if saved[0] is None:
            os.environ.pop(CPU_BF16_ENV, None)
        else:
            os.environ[CPU_BF16_ENV] = saved[0]
        trainer_mod.CPU_LORA_OWN_LOSS = saved[1]
    return result.metrics["train_runtime"] / steps


def _measure(half: bool, corpus: Any, prompts: list[str], n_abc: int, n_prose: int, n_gen: int, n_bench: int,
             new_tokens: int, smoke: bool) -> dict:
    """Every timing and score of one precision (bf16 if `half`)."""
    import torch

    from cm_lib.bench.data import load_sample
    from cm_lib.bench.results import agreement
    from cm_lib.bench.run import run_bench, run_questions
    from cm_lib.evaluate import language_model_report, sample_tunes
    from cm_lib.models import load_model

    model, tok = load_model("smollm2-135m", cpu_bf16=half)
    assert model.dtype == (torch.bfloat16 if half else torch.float32)
    pair = (model, tok)
    t_lm, lm = _timed(partial(language_model_report, pair, corpus, n_abc=n_abc, n_general=n_prose, max_tokens=128))
    t_bench, bench = _timed(partial(run_bench, "smollm2-135m", data="generated", n_generated=n_bench, loaded=pair))
    sample_qs = load_sample("test")
    naive = run_questions(model, tok, sample_qs, impl="naive")["predictions"]
    fast = run_questions(model, tok, sample_qs, impl="fast")["predictions"]
    t_gen, _ = _timed(partial(sample_tunes, pair, n=n_gen, start=prompts[:n_gen], max_new_tokens=new_tokens, seed=0,
                              batch_size=n_gen))
    del model, pair
    n_comp = 4 if smoke else 50
    composer = load_model("composer", cpu_bf16=half)  # untrained: every sample runs to the token limit
    t_comp, _ = _timed(partial(sample_tunes, composer, n=n_comp, start=prompts[:n_comp], max_new_tokens=new_tokens * 4,
                               seed=0, batch_size=n_comp), repeat=2)
    return {"lm_report_s": t_lm, "bench_s": t_bench, "sample_s": t_gen,
            "composer_sample_s": t_comp, "abc_each": lm["abc_each"], "prose_each": lm["prose_each"],
            "abc_bits_per_char": lm["abc_bits_per_char"], "prose_bits_per_char": lm["prose_bits_per_char"],
            "bench_pred": [p["pred"] for p in bench["predictions"]], "bench_accuracy": bench["accuracy"]["overall"],
            "naive_equals_fast": agreement(naive, fast), "sample_pred": [p["pred"] for p in fast]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the script runs")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    from cm_lib.corpus import ensure_corpus
    from cm_lib.device import cpu_bf16_native
    from cm_lib.evaluate import header_prompts
    from cm_lib.stats import paired_change

    smoke = args.smoke
    n_abc, n_prose, n_gen, n_bench = (4, 4, 2, 20) if smoke else (60, 40, 8, 400)
    new_tokens = 16 if smoke else 64
    print(f"CPU kernels {torch.backends.cpu.get_cpu_capability()}, bf16 in hardware: {cpu_bf16_native()}, "
          f"torch threads {torch.get_num_threads()}", flush=True)
    corpus = ensure_corpus("smoke" if smoke else "small")
    prompts = header_prompts(corpus, max(n_gen, 50 if not smoke else 4))
    rows: list[dict] = []
    figures: dict[str, dict] = {}
    for label, half in (("fp32", False), ("bf16", True)):
        figures[label] = _measure(half, corpus, prompts, n_abc, n_prose, n_gen, n_bench, new_tokens, smoke)
        print(f"{label}: done", flush=True)
    import tempfile

    steps = 2 if smoke else 6
    trainer_rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, half, own in (("fp32, TRL's fused LM head (the course before)", False, False),
                                 ("fp32, the model's own loss", False, True),
                                 ("bf16, TRL's fused LM head", True, False),
                                 ("bf16, the model's own loss (the course now, on this CPU)", True, True)):
            trainer_rows[label] = _trainer_step_seconds(corpus, half, own, steps, f"{tmp}/{len(trainer_rows)}")
            print(f"trainer {label}: {trainer_rows[label]:.2f} s/step", flush=True)
    a, b = figures["fp32"], figures["bf16"]
    for key, what in (("lm_report_s", f"SmolLM2 bits/char on {n_abc} ABC + {n_prose} prose texts (128 tokens, batch 8)"),
                      ("bench_s", f"SmolLM2 MusicTheoryBench ppl, {n_bench} generated questions"),
                      ("sample_s", f"SmolLM2 {n_gen} samples x {new_tokens} new tokens, one batch"),
                      ("composer_sample_s", f"untrained composer (0.84M; fp32 in the course), {4 if smoke else 50} samples x {new_tokens * 4} tokens")):
        rows.append({"measure": what, "fp32 s": round(a[key], 2), "bf16 s": round(b[key], 2),
                     "fp32 / bf16": round(a[key] / b[key], 2)})
    width = max(len(r["measure"]) for r in rows)
    print(f"\n{'measure':<{width}}  {'fp32 s':>8}  {'bf16 s':>8}  {'speed-up':>8}")
    for r in rows:
        print(f"{r['measure']:<{width}}  {r['fp32 s']:>8}  {r['bf16 s']:>8}  {r['fp32 / bf16']:>7}x")
    first = next(iter(trainer_rows.values()))
    print(f"\nnotebook 03's SmolLM2 LoRA CPT step under build_trainer (4 x 256 tokens, {steps} steps, train_runtime / steps):")
    for label, secs in trainer_rows.items():
        print(f"  {label:<58} {secs:6.2f} s/step  {first / secs:5.2f}x")
    abc = paired_change(a["abc_each"], b["abc_each"])
    prose = paired_change(a["prose_each"], b["prose_each"])
    same = sum(x == y for x, y in zip(a["bench_pred"], b["bench_pred"]))
    same_sample = sum(x == y for x, y in zip(a["sample_pred"], b["sample_pred"]))
    print(f"\nABC bits/char {a['abc_bits_per_char']} (fp32) vs {b['abc_bits_per_char']} (bf16): "
          f"bf16 - fp32 = {abc['mean']:+.4f} {abc['ci95']}, n = {abc['n']}")
    print(f"prose bits/char {a['prose_bits_per_char']} vs {b['prose_bits_per_char']}: "
          f"{prose['mean']:+.4f} {prose['ci95']}, n = {prose['n']}")
    print(f"MusicTheoryBench predictions: same answer {same}/{len(a['bench_pred'])} generated questions, "
          f"{same_sample}/{len(a['sample_pred'])} sample test questions; accuracy {a['bench_accuracy']:.4f} vs "
          f"{b['bench_accuracy']:.4f}; fast == naive: {a['naive_equals_fast']:.0%} (fp32), {b['naive_equals_fast']:.0%} (bf16)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "trainer_step_s": trainer_rows, "abc_change": abc, "prose_change": prose, "same_generated": same,
                       "same_sample": same_sample}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
