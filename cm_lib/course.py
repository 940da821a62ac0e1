"""The course as data and as a run: the plan of training runs notebooks 03/04 make (and 05/06 read), and
executing every notebook headless into runs/notebooks with a summary."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cm_lib.config import SMOKE_ENV
from cm_lib.errors import AssetNotFoundError, UsageError
from cm_lib.paths import read_summaries, repo_root, runs_dir, stage_dir

if TYPE_CHECKING:  # torch stays out of `import cm_lib.course` until a plan is asked for
    from cm_lib.device import DeviceSpec

# ---------------------------------------------------------------- the plan of runs (notebooks 03 and 04)


@dataclass(frozen=True)
class _Plan:
    """One mode of the course: its corpus preset, hardware presets, base model, step counts and data filters."""

    corpus: str
    hardware: str  # the SmolLM2 (smoke: composer) LoRA runs
    scratch_hardware: str  # the composer: the composer preset from scratch and its full SFT
    scratch_steps: int  # the composer from scratch (full-parameter, ABC part only, composer view)
    scratch_eval_rows: int  # validation rows for the composer's held-out loss curve
    scratch_sft_steps: int  # the composer's full SFT on the generation task types
    base: str | None  # the model LoRA CPT starts from; None: the composer just trained from scratch
    label: str  # run folder of the CPT and SFT runs: runs/{cpt,sft}/<label>
    cpt_steps: int
    sft_steps: int
    reader_hardware: str  # SmolLM2's header SFT (smoke: the composer's)
    reader_steps: int


# Two tracks. The composer ("student-scale ChatMusician"): the `composer` preset (a 0.84M-parameter Llama
# reading characters) trained from scratch on the ABC part only, each tune in the composer's view (header
# X:1/M:/L:/K:, bar-valid tunes only; cm_lib.corpus.composer) (`scratch`), then fully fine-tuned on the
# generation-type instructions (`scratch_sft`). The paper's recipe: SmolLM2-135M LoRA CPT on the mixed
# corpus (`cpt`), then LoRA SFT (`sft`). The pair: SmolLM2 after CPT, LoRA-fine-tuned to answer the generation
# requests with the composer's header alone (`reader`, view "header"), whose header the composer continues
# (cm_lib.evaluate.read_then_write; CPU plan measured in benchmarks/README.md, ninth round: key 77/77, meter 74/77).
# Smoke: the composer preset stands in everywhere, a few steps each.
# Why characters and the view: measured, syntax-valid samples of 100 rose from 52-70 (BPE `tiny`) to 96;
# no CPU recipe wrote bar-valid tunes (0-3 of 100): notebook 03 and benchmarks/README.md.
_PLANS = {
    True: _Plan(corpus="smoke", hardware="cpu-smoke", scratch_hardware="cpu-smoke", scratch_steps=12,
                scratch_eval_rows=8, scratch_sft_steps=3, base=None, label="composer-lora", cpt_steps=3, sft_steps=3,
                reader_hardware="cpu-smoke", reader_steps=2),
    False: _Plan(corpus="small", hardware="cpu", scratch_hardware="cpu-scratch", scratch_steps=400,
                 scratch_eval_rows=64, scratch_sft_steps=120, base="smollm2-135m", label="smollm2-135m",
                 cpt_steps=16, sft_steps=8, reader_hardware="cpu-reader", reader_steps=24),
}
_ABC_ONLY = ("scores",)  # the composer pre-trains on the ABC part of the corpus only
SCRATCH_MODEL = "composer"  # the model preset the composer track starts from (random weights)
CURVE_POINTS = 4  # checkpoints of the composer run, for notebook 03's validity-against-steps curve
# The composer's CPU plan (400 pre-training + 120 SFT steps) as measured in six runs: seeds 0-3 with AVX-512 kernels
# and seed 0 with AVX2 kernels on one 2-core machine, seed 0 on another (benchmarks/README.md, seventh round;
# benchmarks/composer_seeds.py reruns it). Successes out of MEASURED_RUNS_OF: notebook 03's 100 held-out headers,
# notebook 04's 77 tune instructions (19 ask for a form, 18 for chords). Notebooks 03-04 read a student's run against
# them (cm_lib.evaluate.runs_reading).
MEASURED_COMPOSER_RUNS: dict[str, dict[str, int]] = {
    "seed 0, AVX-512": dict(syntax=86, bars=0, ended=93, valid=19, key=12, meter=14, form=6, chords=1),
    "seed 1, AVX-512": dict(syntax=73, bars=1, ended=84, valid=19, key=11, meter=11, form=7, chords=0),
    "seed 2, AVX-512": dict(syntax=93, bars=0, ended=88, valid=34, key=10, meter=12, form=6, chords=0),
    "seed 3, AVX-512": dict(syntax=95, bars=2, ended=95, valid=62, key=17, meter=15, form=6, chords=0),
    "seed 0, AVX2": dict(syntax=83, bars=0, ended=79, valid=21, key=9, meter=13, form=5, chords=0),
    "seed 0, another machine": dict(syntax=96, bars=0, ended=100, valid=46, key=12, meter=11, form=3, chords=0),
}
MEASURED_RUNS_OF = dict(syntax=100, bars=100, ended=100, valid=77, key=77, meter=77, form=19, chords=18)
_TEACHES = {"cpt": "03_lora_continual_pretraining", "sft": "04_supervised_finetuning",
            "reader": "04_supervised_finetuning"}

# On a GPU (full mode) the CPU plan above keeps its corpus, models and data filters; each GPU class swaps in its
# presets and the step counts a GPU makes cheap. Sizes against the small corpus (~3.3M SmolLM2 tokens of training
# text, ~0.9M characters of ABC in the composer's view, ~9,300 SFT answers): LoRA CPT about one pass (T4: 16,384 tokens/step,
# A100/H100: 32,768 x 200 = two passes); the composer 600-1,000 steps of 64 x 384 characters (gpu-scratch), 14.7M-24.6M characters, 6-10x the CPU plan's 2.5M.
# Not yet timed on a GPU: the estimates say so (cm_lib.train.presets.STEP_SECONDS). What the composer's gpu-scratch budget
# buys was measured on a CPU: benchmarks/README.md, sixth round (benchmarks/composer_budget.py reruns it).
_GPU_PLANS: dict[str, dict] = {
    "colab-t4": dict(hardware="colab-t4", scratch_hardware="gpu-scratch", scratch_steps=600, scratch_sft_steps=300,
                     cpt_steps=200, sft_steps=300, reader_hardware="colab-t4", reader_steps=60),
    "a100": dict(hardware="a100", scratch_hardware="gpu-scratch", scratch_steps=1000, scratch_sft_steps=300,
                 cpt_steps=200, sft_steps=600, reader_hardware="a100", reader_steps=60),
    "h100": dict(hardware="h100", scratch_hardware="gpu-scratch", scratch_steps=1000, scratch_sft_steps=300,
                 cpt_steps=200, sft_steps=600, reader_hardware="h100", reader_steps=60),
}
_BIG_GPU_GB = 70.0  # H100/H200 and 80 GB A100s: the h100 preset's batches
_MID_GPU_GB = 35.0  # 40 GB A100s, A6000s: the a100 preset's


def plan_hardware(spec: DeviceSpec) -> tuple[str, str]:
    """(hardware preset, why) the course trains the SmolLM2 runs with on the device `spec` describes (notebooks 03, 04)."""
    if not spec.is_cuda:
        from cm_lib.device import cpu_bf16_native

        if spec.device == "cpu" and cpu_bf16_native():
            return "cpu", (f"{spec.name}: no CUDA GPU, so the CPU plan; this CPU computes bf16 in hardware, so SmolLM2 "
                           "(>= 50M parameters) runs in bf16 and the composer in fp32")
        return "cpu", f"{spec.name}: no CUDA GPU, so the CPU plan in fp32"
    mem = f"{spec.memory_gb:g} GB" if spec.memory_gb is not None else "memory unknown"
    if not spec.bf16:
        return "colab-t4", (f"{spec.name} ({mem}) has no bf16 (compute capability < 8, e.g. T4, V100): "
                            "fp16 autocast with fp32 master weights and T4-sized batches")
    big = spec.memory_gb is not None and spec.memory_gb >= _BIG_GPU_GB
    if big or any(k in spec.name.upper() for k in ("H100", "H200")):
        return "h100", f"{spec.name} ({mem}, bf16): the large-GPU batches, bf16 autocast"
    if spec.memory_gb is not None and spec.memory_gb >= _MID_GPU_GB:
        return "a100", f"{spec.name} ({mem}, bf16): A100-sized batches, bf16 autocast"
    return "colab-t4", f"{spec.name} ({mem}, bf16): a consumer-sized GPU, so T4-sized batches, in bf16 autocast"


def _plan(smoke: bool, spec: DeviceSpec | None) -> tuple[_Plan, str]:
    """The plan of `smoke` mode on `spec` (None: the CPU plan) and why it was chosen."""
    cpu = _PLANS[bool(smoke)]
    if spec is None:
        return cpu, "the CPU plan"
    preset, why = plan_hardware(spec)
    if smoke:
        return cpu, f"smoke mode: the same few small steps on every device ({spec.name})"
    if preset == "cpu":
        return cpu, why
    return replace(cpu, **_GPU_PLANS[preset]), why


def _runs(smoke: bool, corpus: Path | None, spec: DeviceSpec | None = None) -> dict[str, dict]:
    """The plan of `smoke` mode on `spec` (None: the CPU plan) as train_cpt/train_sft kwargs, on `corpus`."""
    from cm_lib.corpus.tasks import GENERATION_TASKS

    plan = _plan(smoke, spec)[0]
    scratch_out = runs_dir() / "cpt" / SCRATCH_MODEL
    scratch = dict(model=SCRATCH_MODEL, data=corpus, out=scratch_out, hardware=plan.scratch_hardware,
                   max_steps=plan.scratch_steps, lora=False, categories=_ABC_ONLY, eval_rows=plan.scratch_eval_rows,
                   view="composer", save_steps=max(1, plan.scratch_steps // CURVE_POINTS))
    base = plan.base or str(scratch_out / "model")
    cpt = dict(model=base, data=corpus, out=runs_dir() / "cpt" / plan.label, hardware=plan.hardware,
               max_steps=plan.cpt_steps, lora=True)
    sft = dict(model=str(Path(cpt["out"]) / "merged"), data=corpus, out=runs_dir() / "sft" / plan.label,
               hardware=plan.hardware, max_steps=plan.sft_steps, lora=True)
    scratch_sft = dict(model=str(scratch_out / "model"), data=corpus, out=runs_dir() / "sft" / SCRATCH_MODEL,
                       hardware=plan.scratch_hardware, max_steps=plan.scratch_sft_steps, lora=False,
                       tasks=tuple(GENERATION_TASKS), view="composer")
    reader = dict(model=str(Path(cpt["out"]) / "merged"), data=corpus, out=runs_dir() / "sft" / f"{plan.label}-reader",
                  hardware=plan.reader_hardware, max_steps=plan.reader_steps, lora=True,
                  tasks=tuple(GENERATION_TASKS), view="plan")
    return {"corpus": {"path": corpus}, "scratch": scratch, "cpt": cpt, "sft": sft, "scratch_sft": scratch_sft,
            "reader": reader, "base": {"model": base}}


def _spec(device: DeviceSpec | None) -> DeviceSpec:
    """`device`, or cm_lib.device's pick for this machine."""
    from cm_lib.device import pick_device

    return device if device is not None else pick_device()


def course_runs(smoke: bool, device: DeviceSpec | None = None) -> dict[str, dict]:
    """The runs notebooks 03/04 make on `device` (default: this machine's), as train_cpt/train_sft kwargs (notebooks 03, 04)."""
    from cm_lib.corpus import ensure_corpus

    spec = _spec(device)
    return _runs(smoke, ensure_corpus(_plan(smoke, spec)[0].corpus), spec)


# The runs in build order: each with its trainer stage; what each needs comes from the plan (_needs).
_RUN_STAGE = {"scratch": "cpt", "cpt": "cpt", "scratch_sft": "sft", "sft": "sft", "reader": "sft"}
_ORDER = ("corpus", "scratch", "cpt", "scratch_sft", "sft", "reader")


def _needs(name: str, plan: _Plan) -> tuple[str, ...]:
    """The runs `name` starts from: the corpus, and the model it continues."""
    return {"corpus": (), "scratch": ("corpus",), "cpt": ("corpus",) if plan.base else ("corpus", "scratch"),
            "scratch_sft": ("corpus", "scratch"), "sft": ("corpus", "cpt"), "reader": ("corpus", "cpt")}[name]


def _model_family(name: str, plan: _Plan) -> str:
    """The model preset a run trains (the composer or the plan's base), the key of its measured step time."""
    return SCRATCH_MODEL if name in ("scratch", "scratch_sft") else (plan.base or SCRATCH_MODEL)


def _precision(kw: dict, spec: DeviceSpec, params: int) -> str:
    """How a run's weights and arithmetic are held on `spec`, in words (`params`: the model's size)."""
    from cm_lib.train.presets import hardware_preset
    from cm_lib.train.recipe import cpu_bf16_base, precision_kwargs, training_load_kwargs

    load = training_load_kwargs(hardware_preset(kw["hardware"]), spec, kw["model"], kw["lora"])
    cpu_bf16 = cpu_bf16_base(spec, kw["lora"], params, load["quantize_4bit"])  # build_trainer's choice on this CPU
    flags = precision_kwargs(spec, cpu_bf16)
    if cpu_bf16:
        load["dtype"] = "bfloat16"
    auto = "bf16" if flags["bf16"] else "fp16" if flags["fp16"] else None
    if auto is None:
        return "fp32"
    scaler = " + loss scaling" if auto == "fp16" else ""
    if load["quantize_4bit"]:
        return f"QLoRA: 4-bit NF4 base, {auto} compute, {'bf16' if auto == 'bf16' else 'fp32'} adapters (TRL's choice)"
    if kw["lora"]:
        return f"{auto} autocast{scaler}, frozen base in {str(load['dtype']).replace('torch.', '')}, fp32 LoRA adapters"
    return f"{auto} autocast{scaler}, fp32 master weights"


def _estimate(name: str, kw: dict, plan: _Plan) -> tuple[float | None, str]:
    """(seconds or None, text) for one run: steps x the preset's measured seconds per step."""
    from cm_lib.train.presets import step_seconds

    if name == "corpus":
        return None, f"corpus '{plan.corpus}' (notebook 02; build time not measured for this preset)"
    model = _model_family(name, plan)
    measured = step_seconds(kw["hardware"], model, _RUN_STAGE[name])
    head = f"{name}: {model}, {kw['max_steps']} steps on preset {kw['hardware']}"
    if measured is None:
        return None, f"{head} (no measured step time for this preset yet)"
    secs = kw["max_steps"] * measured[0]
    return secs, f"{head} x {measured[0]:g} s/step = {_duration(secs)} ({measured[1]})"


def _duration(seconds: float) -> str:
    """~N s below a minute and a half, else ~N.N min."""
    return f"~{seconds:.0f} s" if seconds < 90 else f"~{seconds / 60:.1f} min"


def run_estimate(name: str, smoke: bool, device: DeviceSpec | None = None) -> str:
    """How long one run of the plan (scratch, cpt, scratch_sft, sft, reader) should train on `device`, from measured step times (notebook 04)."""
    spec = _spec(device)
    plan = _plan(smoke, spec)[0]
    if name not in _RUN_STAGE:
        raise UsageError(f"unknown course run {name!r}: choose from {sorted(_RUN_STAGE)}")
    return _estimate(name, _runs(smoke, None, spec)[name], plan)[1]


def course_plan_summary(smoke: bool, device: DeviceSpec | None = None) -> str:
    """One line per run of the plan on `device` (default: this machine's): model, preset, steps, precision; first why (notebooks 03, 04)."""
    from cm_lib.models.presets import model_preset

    spec = _spec(device)
    plan, why = _plan(smoke, spec)
    runs = _runs(smoke, None, spec)
    lines = [f"{'smoke' if smoke else 'full'} plan: {why}"]
    for name in _ORDER[1:]:
        kw = runs[name]
        model = _model_family(name, plan)
        lines.append(f"  {name:<11} model {model:<13} preset {kw['hardware']:<11} {kw['max_steps']:>4} steps  "
                     f"{'LoRA' if kw['lora'] else 'full'}, {_precision(kw, spec, model_preset(model).approx_params)}")
    return "\n".join(lines)


def ensure_stages(stages: list[str] | tuple[str, ...], smoke: bool, device: DeviceSpec | None = None,
                  build: bool = True) -> list[str]:
    """Build only the missing or stale runs of `stages` (and what they start from), after printing them with a time estimate (notebooks 04, 06).

    `stages` names runs of the plan: corpus, scratch, cpt, scratch_sft, sft, reader. A run is stale when its finished
    result was made with other settings (or on another preset) or what it starts from is rebuilt now.
    `build=False` only prints. Returns the names built (or, with build=False, that would be built).
    """
    from cm_lib.corpus.build import corpus_is_current
    from cm_lib.train import finished_run

    spec = _spec(device)
    plan = _plan(smoke, spec)[0]
    unknown = sorted(set(stages) - set(_ORDER))
    if unknown:
        raise UsageError(f"unknown course stage(s) {unknown}: choose from {list(_ORDER)}")
    wanted: set[str] = set()
    stack = list(stages)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(_needs(name, plan))
    corpus = runs_dir() / "corpus" / plan.corpus  # where ensure_corpus builds it
    runs = _runs(smoke, corpus, spec)
    todo: list[str] = []
    for name in (n for n in _ORDER if n in wanted):
        if name == "corpus":
            stale = not corpus_is_current(corpus, plan.corpus)
        else:
            stale = any(d in todo for d in _needs(name, plan)) or finished_run(_RUN_STAGE[name], **runs[name]) is None
        if stale:
            todo.append(name)
    if not todo:
        print(f"on disk and current: {', '.join(n for n in _ORDER if n in wanted)}: nothing to build")
        return []
    estimates = [_estimate(n, runs[n], plan) for n in todo]
    known = [s for s, _ in estimates if s is not None]
    unmeasured = [n for n, (s, _) in zip(todo, estimates) if s is None]
    total = f"{_duration(sum(known))} of training steps" + (f", plus {', '.join(unmeasured)} (not timed)"
                                                            if unmeasured else "")
    print(f"{'to build' if build else 'missing or stale (not built: build=False)'}: {', '.join(todo)}: {total} "
          "on an idle machine of the measured kind (loading, evaluation and merging add to it; "
          "other programs sharing the CPU slow it down)")
    for _, text in estimates:
        print("  -", text)
    if build:
        for name in todo:
            _build(name, runs[name], plan, fresh=any(d in todo for d in _needs(name, plan)))
    return todo


def _build(name: str, kw: dict, plan: _Plan, fresh: bool) -> None:
    """Build one run of the plan: resume an interrupted one, start over when its inputs were rebuilt."""
    from cm_lib.corpus import ensure_corpus
    from cm_lib.train import train_cpt, train_sft
    from cm_lib.train.state import is_run_folder

    if name == "corpus":
        ensure_corpus(plan.corpus)
        return
    train = train_cpt if _RUN_STAGE[name] == "cpt" else train_sft
    if not fresh:
        try:
            train(**kw, resume=True)  # continues an interrupted run of these settings, else starts one
            return
        except UsageError:  # checkpoints of other settings: start over, but only in a folder of ours
            if not is_run_folder(Path(kw["out"])):
                raise
    train(**kw, overwrite=True)


def course_base_preset(smoke: bool) -> str:
    """The model preset the course starts from: 'composer' in smoke mode, 'smollm2-135m' in full mode."""
    return _PLANS[bool(smoke)].base or SCRATCH_MODEL


def course_model_dir(stage: str, smoke: bool) -> Path:
    """The course's trained `cpt`, `sft` or `reader` model folder (merged, else full); AssetNotFoundError naming the notebook to run."""
    if stage not in _TEACHES:
        raise AssetNotFoundError(f"the course trains 'cpt', 'sft' and 'reader' models, not {stage!r}")
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
