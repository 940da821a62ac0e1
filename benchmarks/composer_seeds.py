"""How far runs of one recipe spread (issues 10, 11): notebooks 03-04's composer path trained with several seeds.

For each --seeds value it runs the composer's path exactly as notebooks 03 and 04 do (cm_lib.course.course_runs:
400 pre-training steps, then 120 SFT steps), but with that seed for both stages, and judges each run as the
notebooks do: syntax/bars/ended on 100 held-out header prompts (512 new tokens), then validity and key, meter,
form and chord compliance on the 77 held-out tune instructions (cm_lib.metrics.request.request_compliance, as
notebook 04; rows recorded before it replaced evaluate.sft_compliance counted a form obeyed by its number of
sections and compared keys as text). One row per run. With --record it writes the rows
(with this machine, today's date and the checkout's commit) into cm_lib/data/measured/composer_runs.json, which
notebooks 03 and 04 put beside the student's own run (cm_lib.course.MEASURED_COMPOSER_RUNS); a rerun of a label
replaces its row. --table prints benchmarks/README.md's "Seeds" table from that file.

The CPU's vector instructions change the weights as a seed does. torch picks its kernels when it is imported, so
for another kind of kernels run the script again under e.g. `ATEN_CPU_CAPABILITY=avx2`; the kind used is printed.

    python benchmarks/composer_seeds.py [--seeds 0 1 2] [--sft-titles] [--json OUT] [--record [--machine-label L]]
    python benchmarks/composer_seeds.py --smoke            # a few steps, to check the script runs (~1 min)
    python benchmarks/composer_seeds.py --table            # the README's table, from the data file
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

MEASURES = ("valid", "key", "meter", "form", "chords")
KERNELS = {"AVX512": "AVX-512", "AVX2": "AVX2"}  # torch's CPU capability -> the label's words
DATA = "composer_runs"  # cm_lib/data/measured/composer_runs.json


def record_row(run: dict, runs_of: dict, machine_label: str | None = None) -> dict:
    """A run of one_run as a row of composer_runs.json: successes per measure, its label, machine, date and commit."""
    from cm_lib.measured import provenance

    counts = {m: run[m]["k"] for m in runs_of}
    wrong = {m: run[m]["n"] for m in runs_of if run[m]["n"] != runs_of[m]}
    if wrong:
        raise ValueError(f"judged on other numbers of prompts than the recorded runs ({wrong} vs {runs_of})")
    label = f"seed {run['seed']}, {KERNELS.get(run['kernels'], run['kernels'])}"
    label += f", {machine_label}" if machine_label else ""
    return {"label": label, "seed": run["seed"], "kernels": run["kernels"], **counts,
            "cpt_seconds": round(run["cpt_seconds"]), **provenance()}


def seeds_table(doc: dict) -> str:
    """benchmarks/README.md's "Seeds" table: one line per recorded run of composer_runs.json."""
    n = doc["runs_of"]
    lines = ["| run | pre-training (s) | syntax | bars | ended | SFT valid | key | meter | form | chords |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        cells = [f"{r[m]}/{n[m]}" for m in ("syntax", "bars", "ended", *MEASURES)]
        lines.append(f"| {r['label']} | {r['cpt_seconds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def one_run(seed: int, smoke: bool, out: Path, titles: bool) -> dict:
    """Train the composer (CPT, then SFT) with `seed` into `out`, and judge it as notebooks 03-04 do."""
    import torch

    import cm_lib.train.trainer as trainer_module
    from cm_lib.config import seed_everything
    from cm_lib.corpus.tasks import GENERATION_TASKS
    from cm_lib.course import course_runs
    from cm_lib.evaluate import (
        answer_records,
        generation_report,
        header_prompts,
        pick_eval_records,
        sample_tunes,
    )
    from cm_lib.generate import extract_abc
    from cm_lib.metrics.request import request_compliance
    from cm_lib.plan import record_plan
    from cm_lib.train import train_cpt, train_sft

    # --sft-titles: the answers keep their T: line (the earlier plan). The trainer reads this constant when it builds
    # the SFT data, and the run's fingerprint reads it from the same module, so a titled run is never reused as untitled.
    trainer_module.SFT_ANSWER_TITLES = titles
    seed_everything(seed)
    runs = course_runs(smoke)
    corpus = runs["corpus"]["path"]
    t0 = time.perf_counter()
    cpt = train_cpt(**{**runs["composer"], "out": out / "cpt", "seed": seed})
    n_tunes, per_task, max_new = (4, 1, 60) if smoke else (100, 20, 512)
    prompts = header_prompts(corpus, n_tunes)
    gen = generation_report(sample_tunes(cpt.merged_dir, n=len(prompts), start=prompts, max_new_tokens=max_new,
                                         batch_size=50))
    sft = train_sft(**{**runs["composer_sft"], "model": str(cpt.merged_dir), "out": out / "sft", "seed": seed})
    records = pick_eval_records(corpus, GENERATION_TASKS, per_task=per_task)
    answers = answer_records(sft.merged_dir, records, max_new_tokens=max_new, batch_size=40)
    scores = request_compliance([record_plan(r) for r in records], [extract_abc(a) for a in answers])
    scores["valid"] = scores["syntax"]  # "SFT valid": answers holding a syntax-valid tune
    return {"seed": seed, "kernels": torch.backends.cpu.get_cpu_capability(), "sft_titles": titles,
            "cpt_seconds": cpt.seconds, "sft_seconds": sft.seconds, "seconds": round(time.perf_counter() - t0),
            **{k: gen[k] for k in ("syntax", "bars", "ended")}, **{m: scores[m] for m in MEASURES}}


def main(argv: list[str] | None = None) -> int:
    """Train and judge one run per seed, then print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed (default 0 1 2)")
    ap.add_argument("--sft-titles", action="store_true", help="SFT answers keep their T: line (the earlier plan)")
    ap.add_argument("--smoke", action="store_true", help="smoke plan: a few steps, a few prompts")
    ap.add_argument("--out", default=None, help="run folders (default runs/benchmarks/composer-seeds)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON")
    ap.add_argument("--record", action="store_true",
                    help="write the rows into cm_lib/data/measured/composer_runs.json (a label's rerun replaces it)")
    ap.add_argument("--machine-label", default=None, help="added to each recorded label, e.g. 'another machine'")
    ap.add_argument("--measured-dir", type=Path, default=None, help="where the data file is (default: cm_lib's)")
    ap.add_argument("--table", action="store_true", help="print the README's table from the data file and stop")
    args = ap.parse_args(argv)
    if any(s < 0 for s in args.seeds):
        print("error: seeds must be non-negative", file=sys.stderr)
        return 2
    if args.record and (args.smoke or args.sft_titles):
        print("error: --record keeps runs of the course's plan only (not --smoke, not --sft-titles)", file=sys.stderr)
        return 2

    from cm_lib.measured import MEASURED_DIR, record_rows

    folder = args.measured_dir or MEASURED_DIR
    if args.table:
        print(seeds_table(json.loads((folder / f"{DATA}.json").read_text())))
        return 0

    from cm_lib.paths import atomic_write_text, runs_dir
    from cm_lib.stats import format_rate

    base = Path(args.out) if args.out else runs_dir() / "benchmarks" / "composer-seeds"
    rows = []
    for seed in args.seeds:
        tag = f"seed{seed}" + ("-titles" if args.sft_titles else "") + ("-smoke" if args.smoke else "")
        rows.append(one_run(seed, args.smoke, base / tag, args.sft_titles))
        print(json.dumps({k: (format_rate(v) if isinstance(v, dict) else v) for k, v in rows[-1].items()}), flush=True)
    print("\nseed | kernels | syntax | bars | ended | SFT: valid | key | meter | form | chords | seconds")
    for r in rows:
        print(" | ".join([str(r["seed"]), r["kernels"], *(f"{r[k]['k']}/{r[k]['n']}" for k in ("syntax", "bars", "ended")),
                          *(f"{r[m]['k']}/{r[m]['n']}" for m in MEASURES), str(r["seconds"])]))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps({"rows": rows}, indent=2) + "\n")
    if args.record:
        runs_of = json.loads((folder / f"{DATA}.json").read_text())["runs_of"]
        path = record_rows(DATA, [record_row(r, runs_of, args.machine_label) for r in rows], folder)
        print(f"recorded {len(rows)} run(s) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
