"""`python -m cm_lib generate`: sample answers (and the ABC in them) from a preset or a model folder."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `generate` subcommand."""
    p = sub.add_parser("generate", help="generate answers with the paper's sampling settings and check their ABC")
    p.add_argument("--model", default="smollm2-135m", help="preset name or local model folder")
    p.add_argument("--prompt", required=True, help="the instruction (wrapped in ChatMusician's chat format)")
    p.add_argument("--n", type=int, default=1, help="number of samples (seeds seed, seed+1, ...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--raw", action="store_true", help="do not wrap the prompt in the chat format")
    p.add_argument("--json", action="store_true", help="one JSON object per sample: seed, raw, abc, ok")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from cm_lib.generate import generate_abc
    from cm_lib.models import load_model

    if args.n < 1 or args.max_new_tokens < 1:
        from cm_lib.errors import CourseError

        raise CourseError("--n and --max-new-tokens must be positive")
    model, tokenizer = load_model(args.model)
    for k in range(args.n):
        seed = args.seed + k
        tune = generate_abc(
            model, tokenizer, args.prompt, max_new_tokens=args.max_new_tokens, seed=seed, chat=not args.raw
        )
        if args.json:
            print(json.dumps({"seed": seed, "raw": tune.raw, "abc": tune.abc, "ok": tune.ok}), flush=True)
        else:
            print(f"--- sample {k + 1} (seed {seed}) ---\n{tune.raw}")
            print(f"[ABC: {'found' if tune.abc else 'none'}{', valid' if tune.ok else ''}]", flush=True)
    return 0
