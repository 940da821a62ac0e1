"""Measured figures live in data (cm_lib/data/measured/*.json), written by the scripts that measured them.

Every file's rows carry machine, date and commit; library code reads them only through cm_lib.measured; no measured
table is typed into cm_lib; prose cites a benchmarks/README.md section by topic, never a numbered "round" or a notes
file outside the repository; the scripts' writers produce the rows the files hold.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from cm_lib import measured as m

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"


def _script(name: str) -> ModuleType:
    """A benchmarks/ script as a module (its folder on sys.path, as when it runs)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_every_measured_file_names_its_writer_and_each_row_its_machine_date_and_commit() -> None:
    names = m.measured_names()
    assert {"composer_runs", "step_seconds", "notebook_seconds", "gpu_throughput", "gpu_other_minutes",
            "planner_check"} <= set(names)
    for name in names:
        doc = m.measured(name)
        assert doc["writer"] and doc["about"] and doc["readers"] and doc["key"], name
        keys = [tuple(row[k] for k in doc["key"]) for row in doc["rows"]]
        assert len(keys) == len(set(keys)) and keys, name  # one row per key
        for row in doc["rows"]:
            assert all(isinstance(row[f], str) and row[f] for f in m.PROVENANCE), (name, row)
            assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", row["date"]), (name, row["date"])
            assert re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?|unknown.*", row["commit"]), (name, row["commit"])
    # estimates say so in every row
    assert all(r["estimate"] is True for r in m.measured_rows("gpu_other_minutes"))
    assert all(r.get("estimate") for r in m.measured_rows("notebook_seconds") if r["mode"] == "smoke")


def test_the_library_reads_its_measured_tables_from_the_files() -> None:
    from cm_lib import course
    from cm_lib.course import cost as plan_cost
    from cm_lib.train import presets

    assert presets.STEP_SECONDS == {(r["hardware"], r["model"], r["stage"]): (r["seconds_per_step"], r["source"])
                                    for r in m.measured_rows("step_seconds")}
    assert presets.GPU_TOKENS_PER_SECOND == {(r["gpu"], r["model"], r["method"]): (r["tokens_per_second"], r["source"],
                                             r["measured_here"]) for r in m.measured_rows("gpu_throughput")}
    runs = m.measured("composer_runs")
    assert course.MEASURED_RUNS_OF == runs["runs_of"]
    assert course.MEASURED_COMPOSER_RUNS == {r["label"]: {k: r[k] for k in runs["runs_of"]} for r in runs["rows"]}
    rows = m.measured_rows("notebook_seconds")
    assert plan_cost.CPU_NOTEBOOK_SECONDS[False] == {r["notebook"]: r["seconds"] for r in rows
                                                     if r["device"] == "cpu" and r["mode"] == "full"}
    other = m.measured_rows("gpu_other_minutes")
    assert plan_cost.GPU_OTHER_MINUTES["7b"]["06"] == next(r["minutes"] for r in other if r["part"] == "other"
                                                            and r["size"] == "7b" and r["notebook"] == "06")
    assert plan_cost.CHATMUSICIAN_MINUTES == {r["notebook"]: r["minutes"] for r in other if r["part"] == "chatmusician"}


MEASURED_NAMES = ("STEP_SECONDS", "GPU_TOKENS_PER_SECOND", "MEASURED_COMPOSER_RUNS", "MEASURED_RUNS_OF",
                  "CPU_NOTEBOOK_SECONDS", "GPU_OTHER_MINUTES", "CHATMUSICIAN_MINUTES")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def test_no_measured_table_is_typed_into_cm_lib_and_only_the_loader_reads_the_files() -> None:
    for path in sorted((REPO / "cm_lib").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if names & set(MEASURED_NAMES):
                    literal = isinstance(node.value, ast.Dict) and any(
                        isinstance(c, ast.Constant) and isinstance(c.value, (int, float))
                        for c in ast.walk(node.value))
                    assert not literal, f"{path}: {names} typed as a literal; read it from cm_lib/data/measured/"
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                    and path.name != "measured.py"):
                bare_path = " " not in node.value and re.search(r"(^|/)measured(/|\.json|$)", node.value)
                assert not bare_path, (
                    f"{path}: reads a measured-data file itself; use cm_lib.measured")


# A numbered "round" of measurements, or a notes file outside the repository: prose cites a section by topic.
ROUND_WORDING = re.compile(r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(st|nd|rd|th)"
                           r"|previous|earlier|this|last|next) rounds?\b|STACK_NOTES|/work/", re.IGNORECASE)
# Files another change owns (issue 25's): each entry must still hold the wording, so the list empties as it is fixed.
KNOWN_ROUND_WORDING = {"cm_lib/generate/sampling.py": "issue 25's files: the lead cites 'Precision and CPU speed'"}


def _prose_files() -> list[Path]:
    files = [*(REPO / "cm_lib").rglob("*.py"), *(REPO / "docs").glob("*.md"), *BENCH.glob("*.py"), BENCH / "README.md",
             *(REPO / "tests").glob("*.py")]
    files += [p for p in (REPO / "notebooks").glob("0[1236]_*.ipynb")]
    return sorted(f for f in files if f.name != Path(__file__).name)


def test_prose_cites_sections_by_topic_not_rounds_or_outside_notes() -> None:
    found = {}
    for path in _prose_files():
        text = path.read_text(encoding="utf-8")
        hits = [m.group(0) for m in ROUND_WORDING.finditer(text)]
        if hits:
            found[str(path.relative_to(REPO))] = hits
    assert set(found) <= set(KNOWN_ROUND_WORDING), {k: v for k, v in found.items() if k not in KNOWN_ROUND_WORDING}
    for known in KNOWN_ROUND_WORDING:  # fixed: take it off the list
        assert known in found, f"{known} no longer has the wording: remove it from KNOWN_ROUND_WORDING"


def test_record_rows_replaces_rows_of_the_same_key_and_refuses_rows_without_provenance(tmp_path: Path) -> None:
    about = {"about": "a test", "writer": "tests", "readers": ["tests"], "key": ["k"]}
    made = m.provenance()
    assert set(m.PROVENANCE) <= set(made) and made["machine"] and made["date"].startswith("20")
    m.record_rows("t", [{"k": "a", "v": 1, **made}, {"k": "b", "v": 2, **made}], tmp_path, about)
    path = m.record_rows("t", [{"k": "a", "v": 3, **made}], tmp_path)
    doc = json.loads(path.read_text())
    assert [(r["k"], r["v"]) for r in doc["rows"]] == [("b", 2), ("a", 3)] and doc["writer"] == "tests"
    with pytest.raises(m.CourseError, match="lacks commit"):
        m.record_rows("t", [{"k": "c", "machine": "x", "date": "2026-12-08"}], tmp_path)
    with pytest.raises(m.CourseError, match="key field"):
        m.record_rows("t", [{"v": 4, **made}], tmp_path)
    assert json.loads(path.read_text()) == doc  # a refused write leaves the file as it was
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary file left behind
    with pytest.raises(m.AssetNotFoundError):
        m.record_rows("new", [{"k": "a", **made}], tmp_path)


def test_the_readme_seeds_table_is_the_data_file() -> None:
    seeds = _script("composer_seeds")
    assert seeds.seeds_table(m.measured("composer_runs")) in (BENCH / "README.md").read_text(encoding="utf-8")


def test_composer_seeds_records_a_run_as_a_row_with_provenance() -> None:
    from cm_lib.stats import rate

    seeds = _script("composer_seeds")
    runs_of = m.measured("composer_runs")["runs_of"]
    run = {"seed": 4, "kernels": "AVX512", "cpt_seconds": 211.6,
           **{k: rate(n // 2, n) for k, n in runs_of.items()}}
    row = seeds.record_row(run, runs_of, "a laptop")
    assert row["label"] == "seed 4, AVX-512, a laptop" and row["syntax"] == 50 and row["chords"] == 9
    assert row["cpt_seconds"] == 212 and all(row[f] for f in m.PROVENANCE)
    with pytest.raises(ValueError, match="other numbers of prompts"):
        seeds.record_row({**run, "valid": rate(3, 80)}, runs_of)


def test_gpu_train_writes_the_h100_rows_the_files_hold() -> None:
    gpu_train = _script("gpu_train")
    rows = []
    for name in ("gpu_train_h100_run1.txt", "gpu_train_h100_7b_qlora.txt"):
        rows += [json.loads(line) for line in (BENCH / "results" / name).read_text().splitlines()
                 if line.startswith("{")]
    rows = [r for r in rows if not (r["method"] == "qlora-nf4" and r["peak_gib"] > 20)]  # run 1's eval-mode 7B row
    made = {"machine": "NVIDIA H100 80GB HBM3 on a host", "date": "2026-11-24", "commit": "9cc4c01"}
    written = {(r["gpu"], r["model"], r["method"]): r for r in gpu_train.throughput_rows(rows, "h100", made)}
    for r in m.measured_rows("gpu_throughput"):
        if r["gpu"] == "h100" and r["measured_here"] and "gpu_train.py" in r["source"]:
            assert written[(r["gpu"], r["model"], r["method"])]["tokens_per_second"] == r["tokens_per_second"]
    qlora = gpu_train.planner_rows(rows, made)
    check = {(r["model"], r["method"], r["seq_len"], r["batch"]): r["peak_gib"] for r in m.measured_rows("planner_check")}
    assert [check[(q["model"], q["method"], q["seq_len"], q["batch"])] for q in qlora] == [q["peak_gib"] for q in qlora]


def test_course_times_records_what_a_course_run_timed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cm_lib.course import COURSE_RUN_FILE, course_choice
    from cm_lib.course.plan import plan_runs

    runs, data = tmp_path / "runs", tmp_path / "measured"
    shutil.copytree(m.MEASURED_DIR, data)
    monkeypatch.setenv("CM_RUNS_DIR", str(runs))
    started = time.time() - 100
    made = {"machine": "2-core test CPU", "date": "2026-12-08", "commit": "abcdef0", "load_average": 0.3}
    record = {"smoke": True, "device": "cpu", "plan": "cpu", "started": started, "finished": started + 90,
              "notebooks": [{"name": "03_lora_continual_pretraining", "ok": True, "seconds": 61.2},
                            {"name": "04_supervised_finetuning", "ok": False, "seconds": 3.0}], **made}
    (runs / "notebooks").mkdir(parents=True)
    (runs / "notebooks" / COURSE_RUN_FILE).write_text(json.dumps(record))
    kw = plan_runs(course_choice(True).plan, None, None)
    for name, steps, seconds, when in (("composer", 12, 3.6, started + 10), ("cpt", 3, 1.2, started + 20),
                                       ("sft", 3, 0.9, started - 50)):  # sft: trained before this run
        out = Path(kw[name]["out"])
        out.mkdir(parents=True)
        result = {"stage": "cpt" if name != "sft" else "sft", "steps": steps, "seconds": seconds,
                  "settings": {"hardware": kw[name]["hardware"], "max_steps": kw[name]["max_steps"]}}
        (out / "train_result.json").write_text(json.dumps(result))
        os.utime(out / "train_result.json", (when, when))
    assert _script("course_times").main(["--measured-dir", str(data)]) == 0
    nb = {(r["device"], r["mode"], r["notebook"]): r for r in json.loads((data / "notebook_seconds.json").read_text())["rows"]}
    assert nb[("cpu", "smoke", "03")]["seconds"] == 61.2 and nb[("cpu", "smoke", "03")]["commit"] == "abcdef0"
    assert nb[("cpu", "smoke", "04")]["estimate"] is True  # a failed notebook keeps the old row
    assert nb[("cpu", "full", "03")] == next(r for r in m.measured_rows("notebook_seconds")
                                              if r["mode"] == "full" and r["notebook"] == "03")
    steps = {(r["hardware"], r["model"], r["stage"]): r for r in json.loads((data / "step_seconds.json").read_text())["rows"]}
    pooled = steps[("cpu-smoke", "composer", "cpt")]  # the smoke plan's two CPT runs share a key: pooled
    assert pooled["steps"] == 15 and pooled["seconds_per_step"] == pytest.approx(4.8 / 15, abs=1e-3)
    assert pooled["machine"] == "2-core test CPU" and "estimate" not in pooled
    assert steps[("cpu-smoke", "composer", "sft")]["estimate"] is True  # not timed by this run: unchanged
