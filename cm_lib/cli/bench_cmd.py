"""`python -m cm_lib bench`: probe a model on MusicTheoryBench (hub), the sample, the generated set or a file."""

from __future__ import annotations

import argparse

from cm_lib.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `bench` subcommand (choices come from cm_lib.bench's registries)."""
    from cm_lib.bench.run import MODES, SHOTS
    from cm_lib.bench.schema import SPLITS

    p = sub.add_parser("bench", help="score a model on MusicTheoryBench-style four-option questions")
    p.add_argument("--model", help="preset (tiny, smollm2-135m, chatmusician, ...) or a local model folder")
    p.add_argument("--data", default="sample",
                   help="hub | generated | sample | sample+generated | a .json/.jsonl/.parquet file")
    p.add_argument("--split", default="test", choices=list(SPLITS))
    p.add_argument("--mode", default="ppl", choices=list(MODES))
    p.add_argument("--shots", type=int, default=0, choices=list(SHOTS))
    p.add_argument("--shuffles", type=int, default=1,
                   help="option orders per question, at least 1 (the first order is the file's own)")
    p.add_argument("--impl", default="fast", help="scoring implementation (cm_lib.bench.scoring.IMPLS: fast or naive)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions (N >= 1; omit for all)")
    p.add_argument("--chat", action="store_true", help="wrap prompts in ChatMusician's chat format")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-generated", type=int, default=400, help="size of the generated set")
    p.add_argument("--json", dest="json_out", default=None, help="write the full result JSON here")
    p.add_argument("--save-prompts", default=None, help="write one JSON line {id, shuffle, prompt} per item")
    p.add_argument("--export-lmeval", metavar="OUT", default=None,
                   help="write an lm-evaluation-harness task YAML for the protocol and exit")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.export_lmeval:
        from cm_lib.bench.lmeval import export_lmeval

        print(f"wrote {export_lmeval(args.export_lmeval, num_fewshot=args.shots)}")
        return 0
    if not args.model:
        raise UsageError("--model is required (a preset name or a model folder)")
    from cm_lib.bench.run import check_run_args, select_questions

    check_run_args(shuffles=args.shuffles, limit=args.limit, impl=args.impl, n_generated=args.n_generated)
    from pathlib import Path

    for flag, out in (("--json", args.json_out), ("--save-prompts", args.save_prompts)):
        if out and Path(out).is_dir():
            raise UsageError(f"{flag} {out} is a folder; give a file name (checked before scoring)")
    from cm_lib.models import prepare

    select_questions(args.data, args.split, args.limit, args.n_generated, args.seed)  # fail fast: hub, file, empty
    prepare(args.model)  # unknown model -> AssetNotFoundError (exit 2) before any scoring

    from cm_lib.bench.run import run_bench, write_json

    res = run_bench(args.model, data=args.data, split=args.split, mode=args.mode, shots=args.shots,
                    shuffles=args.shuffles, impl=args.impl, limit=args.limit, chat=args.chat, seed=args.seed,
                    n_generated=args.n_generated, progress=True, save_prompts=args.save_prompts)
    for name in ("knowledge", "reasoning", "overall"):
        lo, hi = res["ci95"][name]
        print(f"{name:>9}: {100 * res['accuracy'][name]:5.1f}%  (n={res['n'][name]}, 95% CI {100 * lo:.1f}-{100 * hi:.1f})")
    print(f"scoring: {res['timing']['scoring_seconds']:.1f} s ({args.mode}, {args.impl}, {args.shots}-shot, "
          f"{args.shuffles} shuffle(s)); chance 25%")
    if args.mode == "generate":
        print(f"unparseable answers: {res['unparseable']['overall']}")
    if args.json_out:
        print(f"wrote {write_json(res, args.json_out)}")
    return 0
