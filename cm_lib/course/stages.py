"""The runs of the picked plan on disk: which are missing or stale, their estimates, and building them (notebooks 03-06).

The plans themselves are data in cm_lib.course.plan (which hardware, hub state and base model pick which runs) and
their cost is cm_lib.course.cost."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cm_lib.course.plan import (
    COMPOSER_MODEL,
    RUN_STAGE,
    PlanChoice,
    _Plan,
    choose_plan,
    model_family,
    plan_runs,
)
from cm_lib.errors import AssetNotFoundError, UsageError
from cm_lib.measured import measured, measured_rows
from cm_lib.paths import runs_dir

if TYPE_CHECKING:  # torch stays out of `import cm_lib.course` until a plan is asked for
    from cm_lib.device import DeviceSpec

# The composer's CPU plan (notebooks 03-04) trained again with other seeds and CPU kernels: label -> {measure:
# successes}, each out of MEASURED_RUNS_OF (cm_lib/data/measured/composer_runs.json, written by
# benchmarks/composer_seeds.py; benchmarks/README.md, "Seeds"). Notebooks 03-04 read a student's run against them
# (cm_lib.evaluate.runs_reading).
MEASURED_RUNS_OF: dict[str, int] = measured("composer_runs")["runs_of"]
MEASURED_COMPOSER_RUNS: dict[str, dict[str, int]] = {
    row["label"]: {m: row[m] for m in MEASURED_RUNS_OF} for row in measured_rows("composer_runs")}
_TEACHES = {"cpt": "03_lora_continual_pretraining", "sft": "04_supervised_finetuning",
            "reader": "04_supervised_finetuning"}


def course_choice(smoke: bool, device: DeviceSpec | None = None, device_class: str | None = None,
                  online: bool | None = None, base: str | None = None) -> PlanChoice:
    """The plan for this machine (or `device`, or a class such as "t4"), the hub and $CM_PLAN/$CM_BASE_MODEL (notebooks 03-06)."""
    from cm_lib.course.cost import with_checkpoints

    return with_checkpoints(choose_plan(smoke, device, device_class, online, base))


def _plan(smoke: bool, spec: DeviceSpec | None) -> tuple[_Plan, str]:
    """The plan of `smoke` mode on `spec` (None: this machine, or $CM_PLAN) and why it was chosen."""
    choice = course_choice(smoke, spec)
    return choice.plan, choice.why


def _runs(smoke: bool, corpus: Path | None, spec: DeviceSpec | None = None) -> dict[str, dict]:
    """The plan of `smoke` mode on `spec` (None: this machine, or $CM_PLAN) as train_cpt/train_sft kwargs, on `corpus`."""
    plan = _plan(smoke, spec)[0]
    lora_corpus = runs_dir() / "corpus" / plan.lora_corpus if plan.lora_corpus else None  # where ensure_corpus builds it
    return plan_runs(plan, corpus, lora_corpus)


def course_runs(smoke: bool, device: DeviceSpec | None = None) -> dict[str, dict]:
    """The runs notebooks 03/04 make on `device` (default: this machine's), as train_cpt/train_sft kwargs (notebooks 03, 04)."""
    from cm_lib.corpus import ensure_corpus

    plan = _plan(smoke, device)[0]
    if plan.lora_corpus:
        ensure_corpus(plan.lora_corpus)  # the MusicPile sample (cm_lib.corpus: hub, or reused from runs/)
    return _runs(smoke, ensure_corpus(plan.corpus), device)


# The runs in build order; what each needs comes from the plan (_needs). hub_corpus: the online plans' MusicPile sample.
_RUN_STAGE = RUN_STAGE
_ORDER = ("corpus", "hub_corpus", "composer", "cpt", "composer_sft", "sft", "reader")


def _needs(name: str, plan: _Plan) -> tuple[str, ...]:
    """The runs `name` starts from: the corpus, and the model it continues."""
    data = "hub_corpus" if plan.lora_corpus else "corpus"
    return {"corpus": (), "hub_corpus": (), "composer": ("corpus",),
            "cpt": (data,) if plan.base else (data, "composer"),
            "composer_sft": ("corpus", "composer"), "sft": (data, "cpt"), "reader": (data, "cpt")}[name]


_model_family = model_family


def _precision(name: str, kw: dict, choice: PlanChoice) -> str:
    """How a run's weights and arithmetic are held on the plan's device, in words."""
    from cm_lib.models.presets import model_preset
    from cm_lib.train.presets import hardware_preset
    from cm_lib.train.recipe import cpu_bf16_base, precision_kwargs, training_load_kwargs

    spec, model = choice.spec, _model_family(name, choice.plan)
    # a GPU plan assumes the GPU install (requirements-gpu.lock: bitsandbytes), as the Colab cell does
    load = training_load_kwargs(hardware_preset(kw["hardware"]), spec, model, kw["lora"],
                                bnb_available=True if spec.is_cuda else None)
    cpu_bf16 = cpu_bf16_base(spec, kw["lora"], model_preset(model).approx_params, load["quantize_4bit"])
    flags = precision_kwargs(spec, cpu_bf16)
    if cpu_bf16:
        load["dtype"] = "bfloat16"
    auto = "bf16" if flags["bf16"] else "fp16" if flags["fp16"] else None
    if auto is None:
        return "fp32"
    scaler = " + loss scaling" if auto == "fp16" else ""
    if load["quantize_4bit"]:
        return (f"QLoRA: 4-bit NF4 base, {auto} compute, {'bf16' if auto == 'bf16' else 'fp32'} adapters "
                "(TRL's choice), adapter kept (no merge)")
    if kw["lora"]:
        return f"{auto} autocast{scaler}, frozen base in {str(load['dtype']).replace('torch.', '')}, fp32 LoRA adapters"
    return f"{auto} autocast{scaler}, fp32 master weights"


def _estimate(name: str, kw: dict, choice: PlanChoice) -> tuple[float | None, str]:
    """(seconds or None, text) for one run: steps x the measured (else estimated) seconds per step."""
    from cm_lib.course.cost import step_estimate

    plan = choice.plan
    if name in ("corpus", "hub_corpus"):
        preset = plan.corpus if name == "corpus" else plan.lora_corpus
        return None, f"corpus '{preset}' (notebook 02; build time not measured for this preset)"
    model = _model_family(name, plan)
    step = step_estimate(name, plan, choice.device)
    head = f"{name}: {model}, {kw['max_steps']} steps on preset {kw['hardware']}"
    if step is None:
        return None, f"{head} (no measured step time for this preset yet)"
    secs = kw["max_steps"] * step[0]
    if not step[2]:
        return secs, f"{head} x {step[0]:g} s/step = {_duration(secs)} ({step[1].removeprefix('measured: ')})"
    return secs, f"{head} x ~{step[0]:.2g} s/step = {_duration(secs)} (estimate: {step[1]})"


def _duration(seconds: float) -> str:
    """~N s below a minute and a half, else ~N.N min."""
    return f"~{seconds:.0f} s" if seconds < 90 else f"~{seconds / 60:.1f} min"


def run_estimate(name: str, smoke: bool, device: DeviceSpec | None = None) -> str:
    """How long one run of the plan (composer, cpt, composer_sft, sft, reader) should train on `device`, from measured step times (notebook 04)."""
    if name not in _RUN_STAGE:
        raise UsageError(f"unknown course run {name!r}: choose from {sorted(_RUN_STAGE)}")
    choice = course_choice(smoke, device)
    return _estimate(name, plan_runs(choice.plan, None, None)[name], choice)[1]


def course_plan_summary(smoke: bool, device: DeviceSpec | None = None) -> str:
    """One line per run of the plan on `device` (default: this machine's): model, preset, steps, precision; first why (notebooks 03, 04)."""
    choice = course_choice(smoke, device)
    plan = choice.plan
    runs = plan_runs(plan, None, None)
    lines = [f"{'smoke' if smoke else 'full'} plan: {choice.why}"] + [f"  note: {n}" for n in choice.notes]
    for name in _ORDER[2:]:
        kw = runs[name]
        model = _model_family(name, plan)
        lines.append(f"  {name:<11} model {model:<13} preset {kw['hardware']:<11} {kw['max_steps']:>4} steps  "
                     f"{'LoRA' if kw['lora'] else 'full'}, {_precision(name, kw, choice)}")
    return "\n".join(lines)


def show_plan(smoke: bool, notebook: str | None = None) -> None:
    """Print the plan this machine runs, why, and the expected minutes and peak memory (of one notebook's runs) (notebooks 03-06)."""
    from cm_lib.course.cost import course_plan

    cp = course_plan(course_choice(smoke))
    text = cp.text().splitlines()
    if notebook is None:
        print("\n".join(text))
        return
    keep = [line for line in text[1:] if line.startswith(f"  {notebook} ") or line.startswith("  note:")
            or line.startswith(f"  notebook {notebook}:")]
    print("\n".join(text[:1] + keep))


def ensure_stages(stages: list[str] | tuple[str, ...], smoke: bool, device: DeviceSpec | None = None,
                  build: bool = True) -> list[str]:
    """Build only the missing or stale runs of `stages` (and what they start from), after printing them with a time estimate (notebooks 04, 06).

    `stages` names runs of the plan: corpus, composer, cpt, composer_sft, sft, reader. A run is stale when its finished
    result was made with other settings (or on another preset) or what it starts from is rebuilt now.
    `build=False` only prints. Returns the names built (or, with build=False, that would be built).
    """
    from cm_lib.corpus.store import corpus_is_current
    from cm_lib.train import finished_run

    choice = course_choice(smoke, device)
    plan = choice.plan
    unknown = sorted(set(stages) - set(_ORDER))
    if unknown:
        raise UsageError(f"unknown course stage(s) {unknown}: choose from {list(_ORDER)}")
    if "hub_corpus" in stages and not plan.lora_corpus:
        raise UsageError("this plan is offline: it has no hub corpus (MusicPile sample) to build")
    wanted: set[str] = set()
    stack = list(stages)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(_needs(name, plan))
    corpus = runs_dir() / "corpus" / plan.corpus  # where ensure_corpus builds it
    runs = _runs(smoke, corpus, choice.spec)
    todo: list[str] = []
    for name in (n for n in _ORDER if n in wanted):
        if name in ("corpus", "hub_corpus"):
            preset = plan.corpus if name == "corpus" else plan.lora_corpus
            stale = not corpus_is_current(runs_dir() / "corpus" / preset, preset)
        else:
            stale = any(d in todo for d in _needs(name, plan)) or finished_run(
                _RUN_STAGE[name], **{k: v for k, v in runs[name].items() if k != "merge_model"}) is None
        if stale:
            todo.append(name)
    if not todo:
        print(f"on disk and current: {', '.join(n for n in _ORDER if n in wanted)}: nothing to build")
        return []
    estimates = [_estimate(n, runs[n], choice) for n in todo]
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

    if name in ("corpus", "hub_corpus"):
        ensure_corpus(plan.corpus if name == "corpus" else plan.lora_corpus)
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
    """The model preset the LoRA track starts from on this machine's plan (offline: 'composer' in smoke mode, 'smollm2-135m' in full)."""
    return _plan(smoke, None)[0].base or COMPOSER_MODEL


def lora_track_label(smoke: bool) -> str:
    """What the notebooks call the LoRA track's models on this machine's plan: its base preset (e.g. tinyllama-1.1b), 'SmolLM2' offline (notebooks 04, 05)."""
    base = _plan(smoke, None)[0].base
    return base if base and base != "smollm2-135m" else "SmolLM2"  # offline smoke: the composer stands in for SmolLM2


def course_model_dir(stage: str, smoke: bool) -> Path:
    """The course's trained `cpt`, `sft` or `reader` model (merged, else full, else a kept QLoRA adapter); AssetNotFoundError naming the notebook to run."""
    if stage not in _TEACHES:
        raise AssetNotFoundError(f"the course trains 'cpt', 'sft' and 'reader' models, not {stage!r}")
    out = Path(_runs(smoke, None)[stage]["out"])
    for sub in ("merged", "model"):
        if (out / sub / "config.json").is_file():
            return out / sub
    if (out / "adapter" / "adapter_config.json").is_file():  # QLoRA: loads as base + adapter (cm_lib.models)
        return out / "adapter"
    flag = " --smoke" if smoke else ""
    raise AssetNotFoundError(
        f"no {stage.upper()} model of the course in {out}: run notebook {_TEACHES[stage]} first "
        f"(or `python -m cm_lib course run --only {_TEACHES[stage][:2]}{flag}`)"
    )


def course_models(smoke: bool = False) -> dict[str, str]:
    """The models to probe: the base preset, plus the CPT and SFT models of notebooks 03-04 if on disk (notebook 06)."""
    base = course_base_preset(smoke)
    models = {f"base ({base})": base}
    for stage in ("cpt", "sft"):
        try:
            path = course_model_dir(stage, smoke)
        except AssetNotFoundError:
            continue
        models[f"{stage.upper()} ({path.parent.name})"] = str(path)
    return models
