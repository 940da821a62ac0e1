"""The course as data and as a run: the plan of training runs notebooks 03/04 make (and 05/06 read), and
executing every notebook headless into runs/notebooks with a summary."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cm_lib.config import SMOKE_ENV
from cm_lib.errors import AssetNotFoundError
from cm_lib.paths import read_summaries, repo_root, runs_dir, stage_dir

# ---------------------------------------------------------------- the plan of runs (notebooks 03 and 04)


@dataclass(frozen=True)
class _Plan:
    """One mode of the course: its corpus preset, hardware presets, base model, step counts and data filters."""

    corpus: str
    hardware: str  # the SmolLM2 (smoke: tiny) LoRA runs
    scratch_hardware: str  # the composer: the tiny model from scratch and its full SFT
    scratch_steps: int  # the composer from scratch (full-parameter, ABC part only, composer view)
    scratch_eval_rows: int  # validation rows for the composer's held-out loss curve
    scratch_sft_steps: int  # the composer's full SFT on the generation task types
    base: str | None  # the model LoRA CPT starts from; None: the composer just trained from scratch
    label: str  # run folder of the CPT and SFT runs: runs/{cpt,sft}/<label>
    cpt_steps: int
    sft_steps: int


# Two tracks. The composer ("student-scale ChatMusician"): the `composer` preset (a 0.84M-parameter Llama
# reading characters) trained from scratch on the ABC part only, each tune in the composer's view (header
# X:1/M:/L:/K:, bar-valid tunes only; cm_lib.corpus.composer) (`scratch`), then fully fine-tuned on the
# generation-type instructions (`scratch_sft`). The paper's recipe: SmolLM2-135M LoRA CPT on the mixed
# corpus (`cpt`), then LoRA SFT (`sft`). Smoke: the composer preset stands in everywhere, a few steps each.
# Why characters: on the same budget the BPE `tiny` preset wrote 1-3 bar-valid tunes in 100, the character
# composer 43 (notebook 03 shows the measurement).
_PLANS = {
    True: _Plan(corpus="smoke", hardware="cpu-smoke", scratch_hardware="cpu-smoke", scratch_steps=12,
                scratch_eval_rows=8, scratch_sft_steps=3, base=None, label="composer-lora", cpt_steps=3, sft_steps=3),
    False: _Plan(corpus="small", hardware="cpu", scratch_hardware="cpu-scratch", scratch_steps=240,
                 scratch_eval_rows=64, scratch_sft_steps=150, base="smollm2-135m", label="smollm2-135m",
                 cpt_steps=16, sft_steps=8),
}
_ABC_ONLY = ("scores",)  # the composer pre-trains on the ABC part of the corpus only
SCRATCH_MODEL = "composer"  # the model preset the composer track starts from (random weights)
_TEACHES = {"cpt": "03_lora_continual_pretraining", "sft": "04_supervised_finetuning"}


def _runs(smoke: bool, corpus: Path | None) -> dict[str, dict]:
    """The plan of `smoke` mode as train_cpt/train_sft kwargs, on `corpus`."""
    from cm_lib.corpus.tasks import GENERATION_TASKS

    plan = _PLANS[bool(smoke)]
    scratch_out = runs_dir() / "cpt" / SCRATCH_MODEL
    scratch = dict(model=SCRATCH_MODEL, data=corpus, out=scratch_out, hardware=plan.scratch_hardware,
                   max_steps=plan.scratch_steps, lora=False, categories=_ABC_ONLY, eval_rows=plan.scratch_eval_rows,
                   view="composer")
    base = plan.base or str(scratch_out / "model")
    cpt = dict(model=base, data=corpus, out=runs_dir() / "cpt" / plan.label, hardware=plan.hardware,
               max_steps=plan.cpt_steps, lora=True)
    sft = dict(model=str(Path(cpt["out"]) / "merged"), data=corpus, out=runs_dir() / "sft" / plan.label,
               hardware=plan.hardware, max_steps=plan.sft_steps, lora=True)
    scratch_sft = dict(model=str(scratch_out / "model"), data=corpus, out=runs_dir() / "sft" / SCRATCH_MODEL,
                       hardware=plan.scratch_hardware, max_steps=plan.scratch_sft_steps, lora=False,
                       tasks=tuple(GENERATION_TASKS))
    return {"corpus": {"path": corpus}, "scratch": scratch, "cpt": cpt, "sft": sft, "scratch_sft": scratch_sft,
            "base": {"model": base}}


def course_runs(smoke: bool) -> dict[str, dict]:
    """The runs notebooks 03/04 make, as train_cpt/train_sft kwargs (each can rebuild the other's) (notebooks 03, 04)."""
    from cm_lib.corpus import ensure_corpus

    return _runs(smoke, ensure_corpus(_PLANS[bool(smoke)].corpus))


def course_base_preset(smoke: bool) -> str:
    """The model preset the course starts from: 'composer' in smoke mode, 'smollm2-135m' in full mode."""
    return _PLANS[bool(smoke)].base or SCRATCH_MODEL


def course_model_dir(stage: str, smoke: bool) -> Path:
    """The course's trained `cpt` or `sft` model folder (merged, else full); AssetNotFoundError naming the notebook to run."""
    if stage not in _TEACHES:
        raise AssetNotFoundError(f"the course trains 'cpt' and 'sft' models, not {stage!r}")
    out = Path(_runs(smoke, None)[stage]["out"])
    for sub in ("merged", "model"):
        if (out / sub / "config.json").is_file():
            return out / sub
    flag = " --smoke" if smoke else ""
    raise AssetNotFoundError(
        f"no {stage.upper()} model of the course in {out}: run notebook {_TEACHES[stage]} first "
        f"(or `python -m cm_lib course run --only {_TEACHES[stage][:2]}{flag}`)"
    )


# ---------------------------------------------------------------- running the notebooks


@dataclass
class NotebookRun:
    """Outcome of executing one notebook."""

    name: str
    ok: bool
    seconds: float
    output: Path
    error: str = ""


def course_notebooks(folder: Path | None = None) -> list[Path]:
    """The lesson notebooks (NN_*.ipynb) in course order."""
    if folder is None:
        root = repo_root()
        if root is None:
            raise AssetNotFoundError("notebooks/ ships with the course checkout; clone the repository")
        folder = root / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, out_path: Path | None = None, smoke: bool = False, timeout: int = -1) -> NotebookRun:
    """Execute a notebook top to bottom in a fresh kernel (cwd = its folder); save the executed copy."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get(SMOKE_ENV)
    os.environ[SMOKE_ENV] = "1" if smoke else "0"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    error = ""
    try:
        client = NotebookClient(
            nb, timeout=None if timeout < 0 else timeout, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    except CellExecutionError as err:
        error = str(err)
    finally:
        if previous is None:
            os.environ.pop(SMOKE_ENV, None)
        else:
            os.environ[SMOKE_ENV] = previous
    seconds = time.perf_counter() - start
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_path)
    return NotebookRun(path.stem, not error, seconds, out_path or path, error)


def run_course(smoke: bool = False, only: list[str] | None = None) -> list[NotebookRun]:
    """Execute the notebooks in order (stopping at the first failure) and write runs/summary.md."""
    out_dir = stage_dir("notebooks")
    runs: list[NotebookRun] = []
    for nb in course_notebooks():
        if only and not any(nb.stem.startswith(o) for o in only):
            continue
        print(f"▶ {nb.name} ({'smoke' if smoke else 'full'}) ...", flush=True)
        run = execute_notebook(nb, out_dir / nb.name, smoke=smoke)
        runs.append(run)
        print(f"  {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s -> {run.output}", flush=True)
        if not run.ok:
            print(run.error[-3000:])
            break
    text = format_summary(runs, smoke)
    (runs_dir() / "summary.md").write_text(text)
    print(text)
    return runs


def format_summary(runs: list[NotebookRun], smoke: bool) -> str:
    """Markdown summary: notebooks run, their times, and each stage's headline figures."""
    lines = [f"# Course run ({'smoke' if smoke else 'full'} mode)", "", "| notebook | status | seconds |",
             "|---|---|---|"]
    lines += [f"| {r.name} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.1f} |" for r in runs]
    lines += ["", f"Total: {sum(r.seconds for r in runs):.1f} s", ""]
    for stage, summary in read_summaries().items():
        lines += [f"## {stage}", "", "```json", json.dumps(summary, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)
