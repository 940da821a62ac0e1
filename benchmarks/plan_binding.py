"""Plan-bound answers (issue 25): do they obey every requested field and stay bars-valid, and what does binding cost per token?

Usage: python benchmarks/plan_binding.py [--per-task 25] [--max-new-tokens 512] [--seed 0]
         [--corpus runs/corpus/small] [--sft runs/sft/composer/model] [--out benchmarks/results/plan_binding.json]
The held-out requests: the first `--per-task` test-split requests of each of the four generation tasks
(cm_lib.evaluate.pick_eval_records). Each is read by the rules reader (`--plan rules`; its plans are checked
against the records' own plans) and answered under `constrain="bars"` with the plan bound, by the untrained
composer (random weights), the course's SFT composer (notebook 04; left out when `--sft` is missing) and the
grammar-only sampler; every answer is judged against what its request asked (cm_lib.metrics.request).
Per-token cost: the same model on the same chat prompts, unconstrained, under the bar grammar and with the plan
bound, timed in this run (seconds per decoding step = a batch's wall time over its longest row's tokens).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    """Run the benchmark, print its figures and write them to --out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-task", type=int, default=25)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=None, help="default: the course's small corpus")
    parser.add_argument("--sft", type=Path, default=None, help="the SFT composer (default: the course's, if trained)")
    parser.add_argument("--timing-rows", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "plan_binding.json")
    args = parser.parse_args()

    import torch

    from cm_lib.chat import generation_prompt
    from cm_lib.corpus import ensure_corpus
    from cm_lib.corpus.tasks import GENERATION_TASKS
    from cm_lib.evaluate import answer_records, pick_eval_records
    from cm_lib.generate import extract_abc
    from cm_lib.generate.sampling import GRAMMAR_ONLY, sample_batch
    from cm_lib.metrics.request import compliance_row, request_compliance
    from cm_lib.models import load_model
    from cm_lib.paths import runs_dir
    from cm_lib.plan import record_plan, rules_plan
    from cm_lib.plan.rules import request_text

    corpus = args.corpus or ensure_corpus("small")
    records = pick_eval_records(corpus, GENERATION_TASKS, per_task=args.per_task)
    truth = [record_plan(r) for r in records]
    plans = [rules_plan(request_text(r)) for r in records]
    tasks = [r["task"] for r in records]
    out: dict = {"requests": len(records), "per_task": {t: tasks.count(t) for t in GENERATION_TASKS},
                 "rules_plans_exact": sum(p == t for p, t in zip(plans, truth)), "max_new_tokens": args.max_new_tokens,
                 "torch_threads": torch.get_num_threads(), "under_load": True, "answers": {}}
    print(f"{len(records)} held-out requests {out['per_task']}; rules plans exact: {out['rules_plans_exact']}")
    sft = args.sft or runs_dir() / "sft" / "composer" / "model"
    models = {"untrained composer": load_model("composer")}
    if (Path(sft) / "config.json").is_file():
        models["composer SFT"] = load_model(str(sft))
    else:
        print(f"no SFT composer at {sft}: its row is left out")
    models["grammar-only"] = (GRAMMAR_ONLY, models["untrained composer"][1])
    for label, model in models.items():
        t0 = time.perf_counter()
        answers = answer_records(model, records, max_new_tokens=args.max_new_tokens, seed=args.seed, batch_size=50,
                                 constrain="bars", plans=plans)
        seconds = time.perf_counter() - t0
        result = request_compliance(truth, [extract_abc(a) for a in answers], tasks)
        out["answers"][label] = {"seconds": round(seconds, 1), **{k: v for k, v in result.items() if k != "rows"}}
        print(f"{label} ({seconds:.0f} s):", compliance_row(result))
        failed = [(r["task"], r) for r in result["rows"] if not r["compliant"]]
        for task, row in failed[:5]:
            print("   not compliant:", task, row)

    net, tok = models.get("composer SFT", models["untrained composer"])
    timing_records = records[:: max(1, len(records) // args.timing_rows)][: args.timing_rows]
    prompts = [generation_prompt(tok, request_text(r)) for r in timing_records]
    timing_plans = [rules_plan(request_text(r)) for r in timing_records]
    rows = {}
    for mode, constrain, row_plans in (("unconstrained", "none", None), ("bars", "bars", None),
                                       ("bars + plan", "bars", timing_plans), ("unconstrained again", "none", None)):
        t0 = time.perf_counter()
        samples = sample_batch(net, tok, prompts, seeds=range(len(prompts)), max_new_tokens=args.max_new_tokens,
                               temperature=0.5, top_k=40, top_p=0.95, constrain=constrain, chat=True,
                               add_special_tokens=True, plans=row_plans)
        wall = time.perf_counter() - t0
        steps = max(s.tokens for s in samples)
        rows[mode] = {"seconds": round(wall, 2), "steps": steps, "tokens": sum(s.tokens for s in samples),
                      "ms_per_step": round(1000 * wall / steps, 3)}
    base = (rows["unconstrained"]["ms_per_step"] + rows["unconstrained again"]["ms_per_step"]) / 2
    for mode in rows:
        rows[mode]["ratio_to_unconstrained"] = round(rows[mode]["ms_per_step"] / base, 3)
    out["per_token"] = {"model": "composer SFT" if "composer SFT" in models else "untrained composer",
                        "rows": len(prompts), **rows}
    print("per decoding step:", json.dumps(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
