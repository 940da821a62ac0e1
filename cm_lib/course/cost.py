"""What a plan of cm_lib.course.plan costs: minutes and peak GPU memory per run and per notebook, measured or estimated.

Minutes come from measured seconds per step (cm_lib.train.presets.STEP_SECONDS: the CPU plans), else from GPU
tokens per second (GPU_TOKENS_PER_SECOND: measured on an H100, or public T4 figures), else from the H100 figure
scaled by the GPU's dense 16-bit TFLOP/s (cm_lib.device.GPU_CLASSES): every figure says which. Whole notebooks on a
CPU, and the minutes a GPU notebook spends besides training (estimates), come from cm_lib/data/measured/ too. Peak
memory is cm_lib.planner.estimate_memory's (an estimate, checked against GPU peaks in
cm_lib/data/measured/planner_check.json). `python -m cm_lib course plan` prints the result; docs/TEACHING.md's
runtime table is checked against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from cm_lib.course.plan import RUN_NOTEBOOK, RUN_STAGE, PlanChoice, _Plan, model_family, plan_runs
from cm_lib.measured import measured_rows

# Tokens an SFT example takes once padded to the longest of its batch: an estimate from the CPU plan's measured steps
# (seconds per step in cm_lib/data/measured/step_seconds.json x the CPU's training tokens/s / examples per step), for
# other tokenizers and data, capped by the preset's sft_seq_len.
SFT_TOKENS_PER_EXAMPLE = {"sft": 556, "reader": 100, "composer_sft": 710}
_SMALL_MODEL_PARAMS = 100_000_000  # below this a GPU step is launch-bound: the H100 figure is not scaled by TFLOP/s
# Whole notebooks on the CPU plan: {smoke: {notebook: seconds}} from cm_lib/data/measured/notebook_seconds.json
# (written by benchmarks/course_times.py; the smoke rows are the runtime tables' upper bounds, marked estimates).
_CPU_ROWS = [r for r in measured_rows("notebook_seconds") if r["device"] == "cpu"]
CPU_NOTEBOOK_SECONDS = {smoke: {r["notebook"]: float(r["seconds"]) for r in _CPU_ROWS if (r["mode"] == "smoke") == smoke}
                        for smoke in (False, True)}
_CPU_MADE = {r["notebook"]: f"{r['machine']}, {r['date']}" for r in _CPU_ROWS if r["mode"] == "full"}
# Minutes of a notebook besides its training runs on a T4-class GPU (downloads, loading, sampling, scoring), by the
# LoRA track's size; online adds the released ChatMusician to notebooks 05 and 06; A100/H100 classes take half.
# Estimates, not measurements: cm_lib/data/measured/gpu_other_minutes.json says so in every row.
_OTHER_ROWS = measured_rows("gpu_other_minutes")
GPU_OTHER_MINUTES = {size: {r["notebook"]: float(r["minutes"]) for r in _OTHER_ROWS
                            if r["part"] == "other" and r["size"] == size}
                     for size in sorted({r["size"] for r in _OTHER_ROWS if r["part"] == "other"})}
CHATMUSICIAN_MINUTES = {r["notebook"]: float(r["minutes"]) for r in _OTHER_ROWS if r["part"] == "chatmusician"}
NOTEBOOKS = ("03", "04", "05", "06")
SAVE_EVERY_SECONDS = 300  # GPU runs checkpoint about every 5 minutes of estimated time (resume after a disconnect)


@dataclass
class PlannedRun:
    """One training run of a plan with everything `course plan --json` prints about it."""

    name: str
    notebook: str
    stage: str  # cpt or sft
    model: str  # model preset
    hub_id: str | None
    method: str  # full, lora or qlora
    precision: str  # fp16-autocast, bf16-autocast or fp32
    hardware: str  # hardware preset
    steps: int
    batch: int  # examples per device per micro-step
    grad_accum: int
    seq_len: int
    data: list[dict]  # {"source", "records"}
    minutes: float | None
    peak_gib: float | None
    minutes_estimated: bool
    peak_estimated: bool
    basis: str  # where the minutes come from
    save_steps: int | None = None

    @property
    def estimated(self) -> bool:
        """True unless both minutes and peak memory are measured."""
        return self.minutes_estimated or self.peak_estimated


@dataclass
class CoursePlan:
    """A picked plan with its runs and per-notebook estimates (`python -m cm_lib course plan`)."""

    choice: PlanChoice
    runs: list[PlannedRun]
    notebooks: dict[str, dict] = field(default_factory=dict)  # "03" -> {"minutes", "estimated", "basis"}

    def as_json(self) -> dict:
        """{"device", "online", "why", "runs": [...], ...}: the schema of `course plan --json`."""
        c = self.choice
        runs = []
        for r in self.runs:
            row = asdict(r)
            row["estimated"] = r.estimated
            runs.append(row)
        total = sum(n["minutes"] for n in self.notebooks.values())
        return {"device": c.device, "device_name": c.spec.name, "online": c.online, "smoke": c.smoke, "why": c.why,
                "notes": list(c.notes), "base": c.plan.base, "corpus": c.plan.corpus,
                "lora_corpus": c.plan.lora_corpus, "runs": runs, "notebooks": self.notebooks,
                "total_minutes": round(total, 1),
                "total_estimated": any(n["estimated"] for n in self.notebooks.values())}

    def text(self) -> str:
        """The plan in lines a teacher reads: why, one line per run, then minutes per notebook."""
        c = self.choice
        hub = "" if c.device == "cpu" else ", online" if c.online else ", offline"
        lines = [f"{'smoke' if c.smoke else 'full'} plan for {c.device} ({c.spec.name}){hub}: {c.why}"]
        lines += [f"  note: {n}" for n in c.notes]
        for r in self.runs:
            mins = "?" if r.minutes is None else f"{r.minutes:.1f} min"
            peak = "" if r.peak_gib is None else f", peak ~{r.peak_gib:.1f} GiB (estimate)"
            lines.append(f"  {r.notebook} {r.name:<11} {r.model:<14} {r.method:<5} {r.precision:<13} {r.steps:>4} steps "
                         f"x {r.batch}x{r.grad_accum}x{r.seq_len}: {mins}{' (estimate)' if r.minutes_estimated else ''}"
                         f"{peak}")
        for nb, est in self.notebooks.items():
            how = " (estimate)" if est["estimated"] else " (measured)"
            lines.append(f"  notebook {nb}: ~{est['minutes']:.0f} min{how}")
        total = sum(n["minutes"] for n in self.notebooks.values())
        lines.append(f"  notebooks 03-06: ~{total:.0f} min"
                     + (" (estimate)" if any(n["estimated"] for n in self.notebooks.values()) else ""))
        return "\n".join(lines)


def _hardware(name: str, plan: _Plan) -> str:
    """The hardware preset a run of `plan` trains with."""
    return {"composer": plan.composer_hardware, "composer_sft": plan.composer_hardware,
            "reader": plan.reader_hardware}.get(name, plan.hardware)


def run_method(name: str, plan: _Plan, device: str) -> str:
    """full (the composer), qlora (a 4-bit base: a >= 1B preset on a GPU preset that leaves it to the model), or lora."""
    from cm_lib.models.presets import model_preset
    from cm_lib.train.presets import hardware_preset

    if name in ("composer", "composer_sft"):
        return "full"
    quant = hardware_preset(_hardware(name, plan)).quantize_4bit
    model = model_family(name, plan)
    if quant is None:
        quant = model_preset(model).quantize_4bit_default
    return "qlora" if quant and device != "cpu" else "lora"


def _tokens_per_step(name: str, plan: _Plan) -> int:
    """Tokens one optimiser step processes: packed blocks for CPT, padded examples (an estimate) for SFT."""
    from cm_lib.train.presets import hardware_preset

    p = hardware_preset(_hardware(name, plan))
    per_example = p.seq_len if RUN_STAGE[name] == "cpt" else min(p.sft_seq_len, SFT_TOKENS_PER_EXAMPLE[name])
    return p.batch_size * p.grad_accum * per_example


def _throughput(device: str, model: str, method: str) -> tuple[float, str, bool] | None:
    """(tokens/s, basis, measured) of `model`/`method` on a GPU class: a table row, else the H100 row scaled."""
    from cm_lib.device import GPU_CLASSES
    from cm_lib.models.presets import model_preset
    from cm_lib.train.presets import gpu_tokens_per_second

    preset = model_preset(model)
    keys = [model] + (["llama2-7b"] if preset.quantize_4bit_default else [])  # 7B presets share a shape
    for key in keys:
        row = gpu_tokens_per_second(device, key, method)
        if row is not None:
            return row
    for key in keys:
        h100 = gpu_tokens_per_second("h100", key, method)
        if h100 is None:
            continue
        if preset.approx_params < _SMALL_MODEL_PARAMS:
            return h100[0], f"the H100 figure unscaled (a small model is launch-bound): {h100[1]}", False
        scale = GPU_CLASSES[device].tflops / GPU_CLASSES["h100"].tflops
        return h100[0] * scale, f"the H100 figure x {scale:.2f} (dense 16-bit TFLOP/s): {h100[1]}", False
    return None


def step_estimate(name: str, plan: _Plan, device: str) -> tuple[float, str, bool] | None:
    """(seconds per step, basis, estimated) of one run of `plan` on a device class, or None where nothing is known."""
    from cm_lib.train.presets import step_seconds

    model = model_family(name, plan)
    measured = step_seconds(_hardware(name, plan), model, RUN_STAGE[name])
    if measured is not None:
        return measured[0], f"measured: {measured[1]}", False
    if device == "cpu":
        return None
    tps = _throughput(device, model, run_method(name, plan, device))
    if tps is None:
        return None
    tokens = _tokens_per_step(name, plan)
    kind = "a throughput measured by this project" if tps[2] else "a throughput not measured by this project"
    basis = f"{tokens:,} tokens/step at {tps[0]:,.0f} tokens/s, {kind} ({tps[1]})"
    return tokens / tps[0], basis, True  # the course's own runs on this GPU class are not timed yet


def _precision(name: str, choice: PlanChoice, method: str) -> str:
    """fp16-autocast, bf16-autocast or fp32: the autocast build_trainer uses for this run on the plan's device."""
    from cm_lib.models.presets import model_preset
    from cm_lib.train.recipe import cpu_bf16_base, precision_kwargs

    spec = choice.spec
    params = model_preset(model_family(name, choice.plan)).approx_params
    flags = precision_kwargs(spec, cpu_bf16_base(spec, method != "full", params, method == "qlora"))
    return "bf16-autocast" if flags["bf16"] else "fp16-autocast" if flags["fp16"] else "fp32"


def _peak(name: str, plan: _Plan, choice: PlanChoice, method: str) -> float | None:
    """cm_lib.planner's peak GPU memory estimate for one run (None on a CPU plan)."""
    from cm_lib.planner import estimate_memory
    from cm_lib.train.presets import hardware_preset

    if choice.device == "cpu":
        return None
    p = hardware_preset(_hardware(name, plan))
    seq = p.seq_len if RUN_STAGE[name] == "cpt" else p.sft_seq_len
    dtype = "fp32" if method == "full" else ("bf16" if choice.spec.bf16 else "fp16")
    est = estimate_memory(model_family(name, plan), method, seq, p.batch_size, lora_r=p.lora_r, dtype=dtype,
                          gradient_checkpointing=p.gradient_checkpointing)
    return round(est.total_gib, 2)


def _data(name: str, plan: _Plan) -> list[dict]:
    """Where a run's examples come from: the offline corpus, or the hub datasets of the plan's MusicPile preset."""
    from cm_lib.corpus.spec import corpus_preset

    offline = f"course corpus '{plan.corpus}' (offline: music21 ABC and generated tasks; counts in its stats.json)"
    if name in ("composer", "composer_sft") or not plan.lora_corpus:
        what = {"composer": "ABC part, composer's view", "composer_sft": "generation tasks, composer's view",
                "reader": "generation tasks, answers cut to the header"}.get(name)
        return [{"source": offline + (f" [{what}]" if what else ""), "records": None}]
    tasks = {"source": f"course generation tasks in '{plan.lora_corpus}'"
                       + (" [answers cut to the header]" if name == "reader" else ""), "records": None}
    if name == "reader":
        return [tasks]
    sft = RUN_STAGE[name] == "sft"
    rows = [{"source": ds, "records": n} for ds, n in corpus_preset(plan.lora_corpus).hub
            if ds.lower().endswith("-sft") == sft]
    return rows + ([tasks] if sft else [])


def course_plan(choice: PlanChoice) -> CoursePlan:
    """Every training run of `choice` with minutes and peak memory, and each notebook's minutes (`course plan`)."""
    from cm_lib.models.presets import model_preset
    from cm_lib.train.presets import hardware_preset

    plan = choice.plan
    kwargs = plan_runs(plan, Path(plan.corpus), Path(plan.lora_corpus) if plan.lora_corpus else None)
    runs = []
    for name in ("composer", "cpt", "composer_sft", "sft", "reader"):
        kw = kwargs[name]
        model = model_family(name, plan)
        method = run_method(name, plan, choice.device)
        p = hardware_preset(kw["hardware"])
        step = step_estimate(name, plan, choice.device)
        minutes = None if step is None else round(step[0] * kw["max_steps"] / 60, 1)
        runs.append(PlannedRun(
            name=name, notebook=RUN_NOTEBOOK[name], stage=RUN_STAGE[name], model=model,
            hub_id=model_preset(model).hub_id, method=method, precision=_precision(name, choice, method),
            hardware=kw["hardware"], steps=kw["max_steps"], batch=p.batch_size, grad_accum=p.grad_accum,
            seq_len=p.seq_len if RUN_STAGE[name] == "cpt" else p.sft_seq_len, data=_data(name, plan),
            minutes=minutes, peak_gib=_peak(name, plan, choice, method), minutes_estimated=step is None or step[2],
            peak_estimated=choice.device != "cpu", basis="not measured, no figure to scale" if step is None else step[1],
            save_steps=kw.get("save_steps")))
    return CoursePlan(choice, runs, notebook_minutes(choice, runs))


def notebook_minutes(choice: PlanChoice, runs: list[PlannedRun]) -> dict[str, dict]:
    """Minutes per notebook 03-06: measured wholes on a CPU, else its runs plus GPU_OTHER_MINUTES (estimates)."""
    if choice.device == "cpu":
        secs = CPU_NOTEBOOK_SECONDS[choice.smoke]
        def basis(nb: str) -> str:
            return ("smoke: the runtime tables' upper bounds" if choice.smoke else
                    f"measured: whole notebook on {_CPU_MADE[nb]} (cm_lib/data/measured/notebook_seconds.json)")

        return {nb: {"minutes": round(secs[nb] / 60, 1), "estimated": choice.smoke, "basis": basis(nb)}
                for nb in NOTEBOOKS}
    from cm_lib.course.plan import _size

    size = _size(choice.plan.base) if choice.plan.base else "1b"
    fast = 0.5 if choice.device in ("a100-40", "a100-80", "h100") else 1.0
    out = {}
    for nb in NOTEBOOKS:
        mine = [r for r in runs if r.notebook == nb]
        train = sum(r.minutes or 0.0 for r in mine)
        other = GPU_OTHER_MINUTES[size][nb] + (CHATMUSICIAN_MINUTES.get(nb, 0.0) if choice.online else 0.0)
        other *= 0.1 if choice.smoke else fast
        basis = (f"training {train:.1f} min + loading, sampling and scoring ~{other:.0f} min (estimate"
                 + (", incl. the released ChatMusician)" if choice.online and nb in CHATMUSICIAN_MINUTES else ")"))
        out[nb] = {"minutes": round(train + other, 1), "estimated": True, "basis": basis}
    return out


def with_checkpoints(choice: PlanChoice) -> PlanChoice:
    """A full GPU plan whose LoRA runs (cpt, sft, reader) save a checkpoint about every SAVE_EVERY_SECONDS (estimated)."""
    if choice.device == "cpu" or choice.smoke:
        return choice
    plan = choice.plan
    saves = []
    for name, steps in (("cpt", plan.cpt_steps), ("sft", plan.sft_steps), ("reader", plan.reader_steps)):
        est = step_estimate(name, plan, choice.device)
        every = steps if est is None else max(1, int(SAVE_EVERY_SECONDS // max(est[0], 1e-9)))
        saves.append(min(every, steps))
    return replace(choice, plan=replace(plan, save_every=(saves[0], saves[1], saves[2])))


# The columns of docs/TEACHING.md's runtime table: (heading, device class, online, base model).
RUNTIME_COLUMNS = (
    ("CPU, 2 cores", "cpu", False, None),
    ("Colab T4, offline (SmolLM2)", "t4", False, None),
    ("Colab T4, online (TinyLlama-1.1B, LoRA)", "t4", True, None),
    ("Colab T4, online, `CM_BASE_MODEL=llama2-7b` (QLoRA)", "t4", True, "llama2-7b"),
    ("A100 40GB, online (LLaMA-2-7B, QLoRA)", "a100-40", True, None),
    ("H100 80GB, online (LLaMA-2-7B, QLoRA)", "h100", True, None),
)


def runtime_table() -> str:
    """The markdown table of minutes per notebook 03-06 on each RUNTIME_COLUMNS plan (docs/TEACHING.md; a test compares)."""
    from cm_lib.course.plan import choose_plan

    plans = [course_plan(with_checkpoints(choose_plan(False, device=d, online=o, base=b)))
             for _, d, o, b in RUNTIME_COLUMNS]

    def cell(minutes: float, estimated: bool) -> str:
        return f"~{minutes:.0f} min (estimate)" if estimated else f"{minutes:.1f} min (measured)"

    lines = ["| notebook | " + " | ".join(h for h, *_ in RUNTIME_COLUMNS) + " |",
             "|---|" + "---|" * len(RUNTIME_COLUMNS)]
    for nb in NOTEBOOKS:
        lines.append(f"| {nb} | " + " | ".join(cell(p.notebooks[nb]["minutes"], p.notebooks[nb]["estimated"])
                                              for p in plans) + " |")
    totals = [(sum(n["minutes"] for n in p.notebooks.values()), any(n["estimated"] for n in p.notebooks.values()))
              for p in plans]
    lines.append("| 03-06 | " + " | ".join(f"**{cell(m, e)}**" for m, e in totals) + " |")
    return "\n".join(lines)
