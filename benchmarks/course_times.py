"""The course's own running times, from a finished `python -m cm_lib course run` (what `make demo` runs).

Reads runs/notebooks/course_run.json (each notebook's seconds, the machine, date and commit, written by the course
run) and the train_result.json of every run of the plan (steps and training seconds), and writes
  * cm_lib/data/measured/notebook_seconds.json: seconds per notebook, by (device class, mode, notebook): the
    whole-notebook minutes of `course plan` on a CPU and docs/TEACHING.md's runtime table;
  * cm_lib/data/measured/step_seconds.json: seconds per step, by (hardware preset, model preset, stage): the
    estimates run_estimate and ensure_stages print before training (cm_lib.train.presets.STEP_SECONDS).
Only what this course run did is recorded: notebooks that finished, training runs whose result was written while it
ran (a run reused from an earlier course run was not timed by it), and nothing from a run that planned for another
device than the one it ran on ($CM_PLAN). Run it on the machine of the course run, after an idle run: other programs
sharing the CPU slow every figure down (the course run's 1-minute load average is recorded beside them).

    python -m cm_lib course run && python benchmarks/course_times.py            # refresh the data files
    python benchmarks/course_times.py --dry-run                                  # print the rows only

docs/TEACHING.md's runtime table and a few tests pin today's figures: rerun `pytest tests/test_gpu_plan.py
tests/test_course_plan.py` after a refresh and update what they pin (benchmarks/README.md, "Data files").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROVENANCE_FIELDS = ("machine", "date", "commit", "load_average")


def notebook_rows(course_run: dict) -> list[dict]:
    """notebook_seconds.json rows of the notebooks a course run finished (none when it planned for another device)."""
    if course_run.get("plan") not in (None, course_run["device"]):
        return []
    made = {k: course_run[k] for k in PROVENANCE_FIELDS if k in course_run}
    return [{"device": course_run["device"], "mode": "smoke" if course_run["smoke"] else "full",
             "notebook": nb["name"][:2], "seconds": nb["seconds"], **made}
            for nb in course_run["notebooks"] if nb["ok"]]


def step_rows(course_run: dict, results: dict[str, tuple[dict, float]], plan_kw: dict[str, dict],
              models: dict[str, str], stages: dict[str, str]) -> tuple[list[dict], list[str]]:
    """step_seconds.json rows of the plan's runs trained during the course run, and why the others were left out.

    `results` maps a run name to (its train_result.json, the file's modification time); `plan_kw` to the plan's
    kwargs for it, `models` to its model preset, `stages` to cpt/sft.
    """
    made = {k: course_run[k] for k in PROVENANCE_FIELDS if k in course_run}
    rows, skipped = [], []
    timed: dict[tuple[str, str, str], list[tuple[str, int, float]]] = {}
    for name, (result, mtime) in results.items():
        kw, settings = plan_kw[name], result.get("settings", {})
        if not course_run["started"] <= mtime <= course_run["finished"]:
            skipped.append(f"{name}: trained before this course run (reused), not timed by it")
            continue
        if settings.get("hardware") != kw["hardware"] or settings.get("max_steps") != kw["max_steps"]:
            skipped.append(f"{name}: its result is of other settings than the plan's")
            continue
        steps = result["steps"] - int(settings.get("resumed_from_step", 0))
        if steps <= 0 or result["seconds"] <= 0:
            skipped.append(f"{name}: no timed steps")
            continue
        key = (kw["hardware"], models[name], stages[name])
        timed.setdefault(key, []).append((name, steps, float(result["seconds"])))
    mode = "smoke" if course_run["smoke"] else "full"
    for (hardware, model, stage), runs in timed.items():  # runs of one key (the smoke plan's) are pooled
        steps, seconds = sum(r[1] for r in runs), sum(r[2] for r in runs)
        what = ", ".join(f"'{n}' {s} steps in {t:.0f} s" for n, s, t in runs)
        rows.append({"hardware": hardware, "model": model, "stage": stage, "seconds_per_step": round(seconds / steps, 3),
                     "steps": steps, "train_seconds": round(seconds, 1),
                     "source": f"`course run` ({mode}): {what}, on {course_run['machine']} ({course_run['date']})",
                     "device": course_run["device"], **made})
    return rows, skipped


def main(argv: list[str] | None = None) -> int:
    """Read the finished course run under runs/ and record its notebook and step times."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="print the rows, write nothing")
    ap.add_argument("--measured-dir", type=Path, default=None, help="where the data files are (default: cm_lib's)")
    args = ap.parse_args(argv)

    from cm_lib.course import COURSE_RUN_FILE, course_choice
    from cm_lib.course.plan import RUN_STAGE, model_family, plan_runs
    from cm_lib.measured import record_rows
    from cm_lib.paths import runs_dir
    from cm_lib.train.state import RESULT_FILE

    path = runs_dir() / "notebooks" / COURSE_RUN_FILE
    if not path.is_file():
        print(f"error: no {path}: run `python -m cm_lib course run` first (it writes that file)", file=sys.stderr)
        return 2
    course_run = json.loads(path.read_text())
    plan = course_choice(course_run["smoke"]).plan
    kw = plan_runs(plan, None, None)
    results = {}
    for name in RUN_STAGE:
        result_path = Path(kw[name]["out"]) / RESULT_FILE
        if result_path.is_file():
            results[name] = (json.loads(result_path.read_text()), result_path.stat().st_mtime)
    steps, skipped = step_rows(course_run, results, kw, {n: model_family(n, plan) for n in RUN_STAGE}, RUN_STAGE)
    notebooks = notebook_rows(course_run)
    if not notebooks:
        skipped.append(f"notebooks: the run planned for {course_run.get('plan')} on a {course_run['device']} "
                       "machine, or none finished")
    for row in notebooks + steps:
        print(json.dumps(row))
    for why in skipped:
        print("left out:", why)
    if args.dry_run:
        return 0
    for name, rows in (("notebook_seconds", notebooks), ("step_seconds", steps)):
        if rows:
            print(f"recorded {len(rows)} row(s) in {record_rows(name, rows, args.measured_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
