"""`python -m cm_lib generate`: batched, seeded (optionally grammar-constrained) tunes from a model; JSON out."""

from __future__ import annotations

import argparse
from pathlib import Path

from cm_lib.abc.check import LEVELS
from cm_lib.config import smoke_mode
from cm_lib.errors import CourseError
from cm_lib.paths import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `generate` subcommand."""
    p = sub.add_parser("generate", help="sample tunes (batched, seeded, optionally grammar-constrained) and check them")
    p.add_argument("--model", default="smollm2-135m",
                   help="preset name, local model folder, or course:cpt / course:sft / course:reader (the course's trained models)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="raw text continued as is (e.g. an ABC header 'X:1\\nM:6/8\\nL:1/8\\nK:D\\n')")
    src.add_argument("--task", help="draw N held-out instructions of this task type from the course corpus (chat format)")
    p.add_argument("--chat", action="store_true", help="wrap --prompt in the chat format instead of continuing it")
    p.add_argument("--corpus", default=None, help="corpus folder for --task (default: the course's corpus)")
    p.add_argument("--n", type=int, default=1, help="number of samples (seeds seed, seed+1, ...)")
    p.add_argument("--constrain", choices=("none", *LEVELS), default="none",  # generate.constrain.MODES
                   help="grammar-constrained decoding: valid ABC syntax, or also full bars")
    p.add_argument("--obey-request", action="store_true",
                   help="with --task and --constrain syntax|bars: the grammar imposes each record's requested key/meter")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16, help="rows per generate call")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", default=None, help="write a JSON list, one object per sample, to OUT")
    p.set_defaults(func=_generate)


def resolve_model(name: str) -> str:
    """A preset or folder as given; course:cpt / course:sft / course:reader -> the folder the course's notebook trained."""
    if not name.startswith("course:"):
        return name
    from cm_lib.course import course_model_dir

    return str(course_model_dir(name.split(":", 1)[1], smoke_mode()))


def write_json_atomic(path: Path, rows: list[dict]) -> None:
    """Write rows as a JSON list, all or nothing (`paths.atomic_write_text`)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rows, ensure_ascii=False, indent=1))


def _generate(args: argparse.Namespace) -> int:
    if args.n < 1 or args.max_new_tokens < 1 or args.batch_size < 1:
        raise CourseError("--n, --max-new-tokens and --batch-size must be positive")
    if args.obey_request and (not args.task or args.constrain == "none"):
        raise CourseError("--obey-request needs --task and --constrain syntax or bars (the grammar imposes the request)")
    from cm_lib.corpus.tasks import requested
    from cm_lib.generate.constrain import request_header
    from cm_lib.generate.results import chat_prompts, sample_row, task_records
    from cm_lib.generate.sampling import sample_in_batches
    from cm_lib.models import load_model

    if args.task:
        from cm_lib.corpus import ensure_corpus

        corpus = Path(args.corpus) if args.corpus else ensure_corpus("smoke" if smoke_mode() else "small")
        records = task_records(corpus, args.task, args.n)
    model, tokenizer = load_model(resolve_model(args.model))
    if args.task:
        prompts, requests, chat = chat_prompts(tokenizer, records), [requested(r) for r in records], True
    else:
        from cm_lib.chat import generation_prompt

        text = args.prompt.replace("\\n", "\n")
        prompts = [generation_prompt(tokenizer, text) if args.chat else text] * args.n
        requests, chat = [{}] * args.n, args.chat
    samples = sample_in_batches(
        model, tokenizer, prompts, seeds=[args.seed + i for i in range(len(prompts))], batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        constrain=args.constrain, chat=chat,
        headers=[request_header(r) or None for r in requests] if args.obey_request else None,
    )
    rows = [sample_row(s, req) for s, req in zip(samples, requests)]
    for k, (s, row) in enumerate(zip(samples, rows)):
        print(f"--- sample {k + 1} (seed {s.seed}, {s.tokens} tokens, stop: {s.stop}) ---\n{s.text}")
        print(f"[ABC: {'found' if row['abc'] else 'none'}; syntax {'ok' if row['ok_syntax'] else 'no'}; "
              f"bars {'ok' if row['ok_bars'] else 'no'}]", flush=True)
    n = len(rows)
    print(f"{n} samples: {sum(r['ok_syntax'] for r in rows)} syntax-valid, {sum(r['ok_bars'] for r in rows)} "
          f"bars-valid, {sum(r['ended'] for r in rows)} ended, {sum(not r['ended'] for r in rows)} hit the "
          f"{args.max_new_tokens}-token limit")
    if args.json:
        write_json_atomic(Path(args.json), rows)
        print(f"wrote {n} samples to {args.json}")
    return 0
