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
    src.add_argument("--request", help="one request in words, answered in the chat format (N samples of it)")
    src.add_argument("--requests", metavar="FILE.jsonl",
                     help='requests, one {"request": "..."} a line (optional "expected": the plan fields it asks for)')
    p.add_argument("--chat", action="store_true", help="wrap --prompt in the chat format instead of continuing it")
    p.add_argument("--corpus", default=None, help="corpus folder for --task (default: the course's corpus)")
    p.add_argument("--n", type=int, default=1, help="number of samples (seeds seed, seed+1, ...)")
    p.add_argument("--constrain", choices=("none", *LEVELS), default="none",  # generate.constrain.MODES
                   help="grammar-constrained decoding: valid ABC syntax, or also full bars")
    p.add_argument("--obey-request", action="store_true",
                   help="with a request and --constrain syntax|bars: the grammar imposes its requested key/meter")
    p.add_argument("--plan", choices=["none", "rules", "reader"], default="none",
                   help="read each request's plan (key, meter, form, chords, motif) with the rules reader or the "
                        "fine-tuned reader model; with --constrain syntax|bars the plan binds")
    p.add_argument("--reader", default="course:reader",
                   help="the reader model for --plan reader (default: notebook 04's plan SFT of SmolLM2)")
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


def _requests(args: argparse.Namespace) -> tuple[list[str], list, list[str | None]]:
    """(request texts, the plans they ask for, task names) of --task, --request or --requests; checked before any model loads.

    What a request asks for: a corpus record's own fields (cm_lib.plan.record_plan); a file line's "expected"
    fields; otherwise what the rules reader reads in the text (exact on the course's templates).
    """
    from cm_lib.plan.rules import load_requests, record_plan, request_text, rules_plan

    if args.task:
        from cm_lib.corpus import ensure_corpus
        from cm_lib.generate.results import task_records

        corpus = Path(args.corpus) if args.corpus else ensure_corpus("smoke" if smoke_mode() else "small")
        records = task_records(corpus, args.task, args.n)
        return [request_text(r) for r in records], [record_plan(r) for r in records], [r["task"] for r in records]
    if args.request is not None:
        text = args.request.replace("\\n", "\n").strip()
        if not text:
            raise CourseError("--request is empty: write the request, e.g. 'Compose a 6/8 tune in D major'")
        return [text] * args.n, [rules_plan(text)] * args.n, [None] * args.n
    rows = load_requests(args.requests)
    if not rows:
        raise CourseError(f"{args.requests} holds no requests")
    return ([r["request"] for r in rows], [r["expected"] or rules_plan(r["request"]) for r in rows],
            [r["task"] for r in rows])


def _generate(args: argparse.Namespace) -> int:
    if args.n < 1 or args.max_new_tokens < 1 or args.batch_size < 1:
        raise CourseError("--n, --max-new-tokens and --batch-size must be positive")
    if args.obey_request and (args.prompt is not None or args.constrain == "none"):
        raise CourseError("--obey-request needs a request (--task, --request or --requests) and --constrain syntax or "
                          "bars (the grammar imposes the request's key and meter)")
    if args.plan != "none" and args.prompt is not None:
        raise CourseError("--plan reads a request: use --task, --request or --requests (a raw --prompt has none)")
    if args.plan != "none" and args.obey_request:
        raise CourseError("--plan already imposes the request's header: drop --obey-request")
    from cm_lib.evaluate.plans import read_plans
    from cm_lib.generate.constrain import request_header
    from cm_lib.generate.results import sample_row
    from cm_lib.generate.sampling import sample_in_batches
    from cm_lib.models import load_model

    texts, asked, tasks = (None, None, None) if args.prompt is not None else _requests(args)
    plans = None
    if texts is not None and args.plan != "none":
        plans = read_plans(texts, args.plan, resolve_model(args.reader) if args.plan == "reader" else None,
                           seed=args.seed)
    model, tokenizer = load_model(resolve_model(args.model))
    if texts is not None:
        from cm_lib.chat import generation_prompt

        prompts, chat = [generation_prompt(tokenizer, t) for t in texts], True
        requests = [a.fields() for a in asked]
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
        plans=plans if args.constrain != "none" else None,
    )
    rows = [sample_row(s, req, plan=plans[k] if plans else None, asked=asked[k] if asked else None,
                       read_by=args.plan if plans else None)
            for k, (s, req) in enumerate(zip(samples, requests))]
    for k, (s, row) in enumerate(zip(samples, rows)):
        print(f"--- sample {k + 1} (seed {s.seed}, {s.tokens} tokens, stop: {s.stop}) ---\n{s.text}")
        print(f"[ABC: {'found' if row['abc'] else 'none'}; syntax {'ok' if row['ok_syntax'] else 'no'}; "
              f"bars {'ok' if row['ok_bars'] else 'no'}]", flush=True)
    n = len(rows)
    print(f"{n} samples: {sum(r['ok_syntax'] for r in rows)} syntax-valid, {sum(r['ok_bars'] for r in rows)} "
          f"bars-valid, {sum(r['ended'] for r in rows)} ended, {sum(not r['ended'] for r in rows)} hit the "
          f"{args.max_new_tokens}-token limit")
    if asked is not None:
        fields = sorted({f for r in rows for f in r["hits"]})
        print("requested fields obeyed: " + (", ".join(
            f"{f} {sum(r['hits'].get(f, False) for r in rows)}/{sum(f in r['hits'] for r in rows)}" for f in fields)
            or "none asked"))
    if args.json:
        write_json_atomic(Path(args.json), rows)
        print(f"wrote {n} samples to {args.json}")
    return 0
