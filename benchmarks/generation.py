"""Generation benchmark (issue 10): validity, obedience, speed and constraint cost of a model's tunes, as tables.

For each model (default: the course's base/CPT/SFT models where the course trained them, else the `tiny`
and `smollm2-135m` presets; the first column is the base the others are compared with) it prints:

  1. unconditioned: header prompts (X:1 + M:/L:/K: of held-out test tunes), seeded, for --constrain
     none/syntax/bars: syntax-valid, bars-valid and ended rates with 95% Wilson intervals;
     tokens/s and the constrained/unconstrained time-per-token ratio; the bits/char of each mode's tunes
     under the (unconstrained) model;
  2. conditioned: held-out chat instructions of the generation task types (key/meter, form, chord,
     motif): key obeyed, meter obeyed, form (sections and repeats) obeyed, chord symbols in order
     (cm_lib.metrics.request.request_compliance, as notebooks 04 and 05), unconstrained and bars-constrained;
  3. speed: samples/s of 16 header prompts batched (one generate call) vs one at a time.

With --reader R --writer W the conditioned table gains a column for the pair of notebook 04, section 6: R (e.g.
course:reader, SmolLM2 after its header SFT) answers each instruction with a header, W (e.g. course:composer-cpt,
i.e. runs/cpt/composer/model) continues it, both unconstrained (cm_lib.evaluate.read_then_write).

    python benchmarks/generation.py [--model M ...] [--n 100] [--max-new-tokens 256] [--temperature T] [--quick] [--json OUT]
    python benchmarks/generation.py --model runs/sft/composer/model --reader course:reader --writer runs/cpt/composer/model --skip unconditioned --skip speed

Measure with OMP_NUM_THREADS=1 on a shared machine and say so beside the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from cm_lib.stats import wilson_interval

GEN_TASKS = ("key_meter_conditioned", "form_conditioned", "chord_conditioned", "motif_continuation")


def course_models() -> list[str]:
    """Base, CPT and SFT models of the course's plan that exist on disk (base always)."""
    from cm_lib.cli.generate_cmd import resolve_model
    from cm_lib.config import smoke_mode
    from cm_lib.course import course_runs
    from cm_lib.errors import CourseError

    out = [str(course_runs(smoke_mode())["base"]["model"])]
    for stage in ("cpt", "sft"):
        try:
            out.append(resolve_model(f"course:{stage}"))
        except CourseError:
            pass
    return out


def label(name: str) -> str:
    """A column name: a preset as is; a run's model folder as <stage>/<run> (runs/cpt/composer/model -> cpt/composer)."""
    if "/" not in name:
        return name
    p = Path(name)
    return f"{p.parent.parent.name}/{p.parent.name}" if p.name in ("model", "merged") else p.name


def rate(k: int, n: int) -> str:
    """'87.0% [79.1, 92.2] (n=100)'."""
    if n == 0:
        return "n/a (n=0)"
    lo, hi = wilson_interval(k, n)
    return f"{100 * k / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (n={n})"


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [title, fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(c) for c in r]) for r in rows]
    return "\n".join(lines)


def unconditioned(model: Any, tok: Any, prompts: list[str], max_new: int, batch: int, sampling: dict) -> dict:
    """Per constrain mode: verdict counts, tokens, seconds, bits/char of the tunes under the model."""
    from cm_lib.evaluate import text_nll
    from cm_lib.generate.results import sample_row
    from cm_lib.generate.sampling import sample_in_batches

    out = {}
    for mode in ("none", "syntax", "bars"):
        t0 = time.perf_counter()
        samples = sample_in_batches(model, tok, prompts, seeds=list(range(len(prompts))), batch_size=batch,
                                    max_new_tokens=max_new, constrain=mode, **sampling)
        wall = time.perf_counter() - t0
        rows = [sample_row(s) for s in samples]
        # decoding steps the batches ran (a batch runs until its longest row stops): the per-step cost
        steps = sum(len(samples[i:i + batch]) * max(s.tokens for s in samples[i:i + batch])
                    for i in range(0, len(samples), batch))
        tunes = [r["abc"] for r in rows if r["abc"]]
        nll = text_nll(model, tok, tunes, max_tokens=max_new + 64) if tunes else None
        out[mode] = {
            "n": len(rows), "syntax": sum(r["ok_syntax"] for r in rows), "bars": sum(r["ok_bars"] for r in rows),
            "ended": sum(r["ended"] for r in rows), "tokens": sum(r["tokens"] for r in rows), "seconds": wall,
            "row_steps": steps,
            "bits_per_char": None if nll is None else nll.bits_per_character,
        }
    return out


def conditioned(model: Any, tok: Any, corpus: Path, per_task: int, max_new: int, batch: int, sampling: dict) -> dict:
    """Per constrain mode (none, bars): key/meter/form obeyed and chords in order (metrics.request.request_compliance)."""
    from cm_lib.generate.results import chat_prompts, sample_tune
    from cm_lib.generate.sampling import sample_in_batches

    records = gen_records(corpus, per_task)
    prompts = chat_prompts(tok, records)
    out = {}
    for mode in ("none", "bars"):
        samples = sample_in_batches(model, tok, prompts, seeds=list(range(len(prompts))), batch_size=batch,
                                    max_new_tokens=max_new, constrain=mode, chat=True, **sampling)
        out[mode] = counted(records, [sample_tune(s) or "" for s in samples])
    return out


def gen_records(corpus: Path, per_task: int) -> list[dict]:
    """The held-out chat instructions of the conditioned table: per_task of each generation task type."""
    from cm_lib.generate.results import task_records

    records = []
    for task in GEN_TASKS:
        try:
            records += task_records(corpus, task, per_task)
        except Exception as err:  # noqa: BLE001 - a tiny corpus may lack a task: report it, keep the rest
            print(f"  (no {task} records: {err})", file=sys.stderr)
    return records


def counted(records: list[dict], tunes: list[str]) -> dict:
    """The conditioned table's counts [hits, n] for key/meter/form/chords and bars-valid tunes, by the one rule of
    cm_lib.metrics.request: every request that asks for a field counts in that field ("" or None: no tune)."""
    from cm_lib.metrics.request import request_compliance
    from cm_lib.plan import record_plan

    comp = request_compliance([record_plan(r) for r in records], [t or None for t in tunes])
    counts = {k: [comp[k]["k"], comp[k]["n"]] for k in ("key", "meter", "form", "chords")}  # motifs: not a column
    return {"counts": counts, "bars_valid": [comp["bars"]["k"], comp["bars"]["n"]], "n": len(records)}


def paired(reader: str, writer: str, corpus: Path, per_task: int, max_new: int, batch: int) -> dict:
    """The reader's header, the writer's tune (notebook 04's pair), unconstrained: counts as `conditioned` gives them."""
    from cm_lib.evaluate import read_then_write
    from cm_lib.generate import extract_abc

    records = gen_records(corpus, per_task)
    pair = read_then_write(reader, writer, records, max_new_tokens=max_new, batch_size=batch)
    out = counted(records, [extract_abc(a) or "" for a in pair.answers])
    out["headers_missing"] = sum(p is None for p in pair.prompts)
    return {"none": out}


def speed(model: Any, tok: Any, prompts: list[str], max_new: int) -> dict:
    """Samples/s for the same prompts and seeds: one batched generate call vs one call per sample."""
    from cm_lib.generate.sampling import sample_batch

    seeds = list(range(len(prompts)))
    t0 = time.perf_counter()
    batched = sample_batch(model, tok, prompts, seeds, max_new_tokens=max_new, stop_at_tune_end=False)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [sample_batch(model, tok, [p], [s], max_new_tokens=max_new, stop_at_tune_end=False)[0]
              for p, s in zip(prompts, seeds)]
    t_single = time.perf_counter() - t0
    return {"n": len(prompts), "batched_s": t_batched, "single_s": t_single,
            "tokens_batched": sum(s.tokens for s in batched), "tokens_single": sum(s.tokens for s in single)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help="preset, folder or course:cpt/course:sft (repeatable)")
    ap.add_argument("--n", type=int, default=100, help="unconditioned header prompts (>= 100 for the floors)")
    ap.add_argument("--per-task", type=int, default=None, help="conditioned instructions per task (default n/4)")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=None,
                    help="sampling temperature (default: the course's, cm_lib.evaluate.COMPOSER_SAMPLING)")
    ap.add_argument("--corpus", default=None, help="corpus folder (default: the course's corpus)")
    ap.add_argument("--quick", action="store_true", help="n=16, 4 per task, 64 new tokens, 8 speed prompts")
    ap.add_argument("--skip", action="append", default=[], choices=["unconditioned", "conditioned", "speed"])
    ap.add_argument("--reader", default=None, help="with --writer: the pair's reader (e.g. course:reader)")
    ap.add_argument("--writer", default=None, help="with --reader: the pair's writer (e.g. runs/cpt/composer/model)")
    ap.add_argument("--json", default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if (args.reader is None) != (args.writer is None):
        print("error: --reader and --writer go together", file=sys.stderr)
        return 2
    if args.quick:
        args.n, args.max_new_tokens, args.per_task = 16, 64, args.per_task or 4
    per_task = args.per_task or max(1, args.n // 4)

    from cm_lib.abc import split_tunes
    from cm_lib.cli.generate_cmd import resolve_model
    from cm_lib.config import smoke_mode
    from cm_lib.corpus import ensure_corpus
    from cm_lib.corpus.composer import header_prompt
    from cm_lib.corpus.splits import held_out_texts
    from cm_lib.models import load_model

    corpus = Path(args.corpus) if args.corpus else ensure_corpus("smoke" if smoke_mode() else "small")
    models = [resolve_model(m) for m in args.model] if args.model else course_models()
    if not args.model and len(models) == 1:
        models = ["tiny", "smollm2-135m"]
    texts = held_out_texts(corpus, "scores", 20 * args.n, max_chars=4000)
    prompts = [p for t in texts for tune in split_tunes(t)[:1] if (p := header_prompt(tune.text))][: args.n]
    if len(prompts) < args.n:
        print(f"note: only {len(prompts)} held-out header prompts in {corpus}", file=sys.stderr)
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    from cm_lib.evaluate import COMPOSER_SAMPLING

    # the course's sampling (the notebooks' settings), the temperature overridable
    sampling = {**COMPOSER_SAMPLING, **({} if args.temperature is None else {"temperature": args.temperature})}
    print(f"corpus {corpus}; {len(prompts)} header prompts; max_new_tokens {args.max_new_tokens}; "
          + ", ".join(f"{k} {v:g}" for k, v in sampling.items()) + f"; seeds 0..n-1; OMP_NUM_THREADS={threads}")
    results: dict[str, dict] = {}
    for name in models:
        import torch

        torch.manual_seed(0)
        model, tok = load_model(name)
        res: dict[str, Any] = {}
        if "unconditioned" not in args.skip:
            res["unconditioned"] = unconditioned(model, tok, prompts, args.max_new_tokens, args.batch_size, sampling)
        if "conditioned" not in args.skip:
            res["conditioned"] = conditioned(model, tok, corpus, per_task, args.max_new_tokens, args.batch_size, sampling)
        if "speed" not in args.skip:
            n_speed = 8 if args.quick else 16
            res["speed"] = speed(model, tok, (prompts * 2)[:n_speed], 64 if not args.quick else 32)
        results[name] = res
        print(f"[done {name}]", file=sys.stderr, flush=True)
    model_names = list(results)
    if args.reader and "conditioned" not in args.skip:
        reader, writer = resolve_model(args.reader), resolve_model(args.writer)
        pair_name = f"{label(reader)} reads + {label(writer)} writes"
        results[pair_name] = {"conditioned": paired(reader, writer, corpus, per_task, args.max_new_tokens,
                                                    args.batch_size)}
        print(f"[done {pair_name}: {results[pair_name]['conditioned']['none']['headers_missing']} headers without "
              "M:, L: or K:]", file=sys.stderr, flush=True)
    all_names = list(results)  # the models, then the pair (conditioned table only)
    names = model_names
    short = [label(n) for n in names]
    if all("unconditioned" in results[n] for n in names):
        rows = []
        for mode in ("none", "syntax", "bars"):
            for metric in ("syntax", "bars", "ended"):
                rows.append([mode, metric + ("-valid" if metric != "ended" else ""),
                             *[rate(results[n]["unconditioned"][mode][metric], results[n]["unconditioned"][mode]["n"])
                               for n in names]])
        print("\n" + table("Unconditioned samples (header prompts), 95% Wilson intervals",
                           ["constrain", "metric", *short], rows))
        rows = []
        for mode in ("none", "syntax", "bars"):
            cells, cells_bpc = [], []
            for n in names:
                u = results[n]["unconditioned"]
                tps = u[mode]["tokens"] / u[mode]["seconds"]
                ratio = (u[mode]["seconds"] / u[mode]["row_steps"]) / (u["none"]["seconds"] / u["none"]["row_steps"])
                cells.append(f"{tps:.1f} tok/s; {ratio:.2f}x time per row-step")
                bpc = u[mode]["bits_per_char"]
                cells_bpc.append("n/a" if bpc is None else f"{bpc:.3f}")
            rows.append([mode, "speed", *cells])
            rows.append([mode, "bits/char of its tunes", *cells_bpc])
        print("\n" + table("Cost of the constraint (unconditioned runs; bits/char under the unconstrained model)",
                           ["constrain", "metric", *short], rows))
    if all("conditioned" in results[n] for n in all_names):
        names, short = all_names, [label(n) if n in model_names else n for n in all_names]
        rows = []
        for mode in ("none", "bars"):
            for k in ("key", "meter", "form", "chords"):
                rows.append([mode, k + (" obeyed" if k != "chords" else " in order"),
                             *[rate(*results[n]["conditioned"][mode]["counts"][k]) if mode in results[n]["conditioned"]
                               else "n/a" for n in names]])
            rows.append([mode, "bars-valid", *[rate(*results[n]["conditioned"][mode]["bars_valid"])
                                               if mode in results[n]["conditioned"] else "n/a" for n in names]])
        print("\n" + table(f"Conditioned (chat instructions, {per_task} per generation task type)",
                           ["constrain", "metric", *short], rows))
    names = model_names
    if all("speed" in results[n] for n in names):
        rows = []
        for n in names:
            s = results[n]["speed"]
            rows.append([label(n), s["n"], f"{s['n'] / s['batched_s']:.3f}",
                         f"{s['n'] / s['single_s']:.3f}", f"{s['single_s'] / s['batched_s']:.2f}x"])
        print("\n" + table("Batched vs one at a time (same prompts and seeds, fixed length, no early stop)",
                           ["model", "samples", "batched samples/s", "sequential samples/s", "speed-up"], rows))
    if args.json:
        from cm_lib.cli.generate_cmd import write_json_atomic

        write_json_atomic(Path(args.json), [{"model": n, "sampling": sampling, "max_new_tokens": args.max_new_tokens,
                                             **results[n]} for n in all_names])
    return 0


if __name__ == "__main__":
    sys.exit(main())
