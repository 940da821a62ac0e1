"""The course's plan as data: which runs notebooks 03/04 train (and 05/06 read) on which hardware, online or not.

One table of plans. The CPU plans (`_PLANS`) are the course as measured on a 2-core CPU. On a CUDA GPU the
plan follows the GPU class (`cm_lib.device.device_class`: t4, l4, a100-40, a100-80, h100) and the hub: offline
it keeps the CPU plan's corpus, models and data filters with a GPU's step counts (`_GPU`, `offline`); online
(the hub answers, or the base model is in the local HF cache and its MusicPile sample under runs/) the LoRA
track is a LLaMA-2-family model on a MusicPile sample (`_GPU`, `online`). The composer track (a character model
from scratch, notebook 03) is the same on every plan. `CM_PLAN` and `CM_BASE_MODEL` (environment, or a
notebook's first cell) override what is detected. cm_lib.course.cost adds minutes, peak memory and checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cm_lib.errors import UsageError
from cm_lib.paths import runs_dir

if TYPE_CHECKING:  # torch stays out of `import cm_lib.course.plan` until a plan is asked for
    from cm_lib.device import DeviceSpec

PLAN_ENV = "CM_PLAN"  # cpu | t4 | l4 | a100-40 | a100-80 | h100: plan for that device class, whatever is detected
BASE_ENV = "CM_BASE_MODEL"  # a model preset: the LoRA track's base on a GPU plan (e.g. llama2-7b, QLoRA)


@dataclass(frozen=True)
class _Plan:
    """One mode of the course: its corpora, hardware presets, base model, step counts and data filters."""

    corpus: str  # the offline corpus (notebook 02): the composer's data, and the LoRA track's when lora_corpus is None
    hardware: str  # the LoRA runs (smoke: composer) cpt and sft
    composer_hardware: str  # the composer: the composer preset from scratch and its full SFT
    composer_steps: int  # the composer from scratch (full-parameter, ABC part only, composer view)
    composer_eval_rows: int  # validation rows for the composer's held-out loss curve
    composer_sft_steps: int  # the composer's full SFT on the generation task types
    base: str | None  # the model LoRA CPT starts from; None: the composer just trained from scratch
    label: str  # run folder of the LoRA CPT and SFT runs, runs/{cpt,sft}/<label>: the base's name (smoke: composer-lora,
    #   LoRA on the composer, whose own runs `composer` and `composer_sft` hold runs/cpt/composer and runs/sft/composer)
    cpt_steps: int
    sft_steps: int
    reader_hardware: str  # the header SFT of the CPT model (smoke: the composer's)
    reader_steps: int
    lora_corpus: str | None = None  # a hub corpus preset (musicpile-*) for the LoRA track; None: `corpus`
    merge: bool = True  # merge LoRA adapters after training; False (QLoRA): SFT continues the kept CPT adapter
    save_every: tuple[int | None, int | None, int | None] = (None, None, None)  # cpt, sft, reader save_steps


# Two tracks. The composer ("student-scale ChatMusician"): the `composer` preset (a 0.84M-parameter Llama
# reading characters) trained from scratch on the ABC part only, each tune in the composer's view (header
# X:1/M:/L:/K:, bar-valid tunes only; cm_lib.corpus.composer) (`composer`), then fully fine-tuned on the
# generation-type instructions (`composer_sft`). The paper's recipe: SmolLM2-135M LoRA CPT on the mixed
# corpus (`cpt`), then LoRA SFT (`sft`). The reader: SmolLM2 after CPT, LoRA-fine-tuned to answer the generation
# requests with their plan (`reader`, view "plan": the request plans of cm_lib.plan), which the grammar binds and the composer writes.
# Smoke: the composer preset stands in everywhere, a few steps each.
# Why characters and the view, and why no CPU recipe fills bars: notebook 03 and benchmarks/README.md, "Tokenizer and
# view".
_PLANS = {
    True: _Plan(corpus="smoke", hardware="cpu-smoke", composer_hardware="cpu-smoke", composer_steps=12,
                composer_eval_rows=8, composer_sft_steps=3, base=None, label="composer-lora", cpt_steps=3, sft_steps=3,
                reader_hardware="cpu-smoke", reader_steps=2),
    False: _Plan(corpus="small", hardware="cpu", composer_hardware="cpu-scratch", composer_steps=400,
                 composer_eval_rows=64, composer_sft_steps=120, base="smollm2-135m", label="smollm2-135m",
                 cpt_steps=16, sft_steps=8, reader_hardware="cpu-reader", reader_steps=24),
}
COMPOSER_MODEL = "composer"  # the model preset the composer track starts from (random weights); also its runs' folder

# The GPU plans, one row per device class. `hardware`: the LoRA track's hardware preset; the composer track's
# numbers are the same offline and online. `offline`: SmolLM2 on the offline corpus (the CPU plan's models and data
# filters, a GPU's steps; sized against the small corpus, ~3.3M SmolLM2 tokens of training text: T4 16,384
# tokens/step, A100/H100 32,768 x 200 = two passes). `online`: (cpt, sft, reader) steps of the LLaMA-2-family track
# per base size ("1b": LoRA, e.g. tinyllama-1.1b; "7b": QLoRA, e.g. llama2-7b), sized so that notebooks 03-06 fit a
# free Colab session on a T4 (`python -m cm_lib course plan --device t4` prints the estimate). The composer:
# 600-1,000 steps of 64 x 384 characters (gpu-scratch), 6-10x the CPU plan's; what that buys was measured on a CPU
# (benchmarks/README.md, "Budget"). `corpus`: the MusicPile sample (hub corpus preset) of the online track.
_GPU: dict[str, dict] = {
    "t4": dict(hardware="colab-t4", composer_steps=600, composer_sft_steps=300, corpus="musicpile-t4",
               offline=dict(cpt_steps=200, sft_steps=300, reader_steps=60),
               online={"1b": (40, 40, 40), "7b": (12, 12, 12)}),
    "l4": dict(hardware="colab-t4", composer_steps=600, composer_sft_steps=300, corpus="musicpile-t4",
               offline=dict(cpt_steps=200, sft_steps=300, reader_steps=60),
               online={"1b": (80, 80, 40), "7b": (16, 16, 16)}),
    "a100-40": dict(hardware="a100", composer_steps=1000, composer_sft_steps=300, corpus="musicpile-a100",
                    offline=dict(cpt_steps=200, sft_steps=600, reader_steps=60),
                    online={"1b": (200, 200, 60), "7b": (30, 30, 30)}),
    "a100-80": dict(hardware="h100", composer_steps=1000, composer_sft_steps=300, corpus="musicpile-a100",
                    offline=dict(cpt_steps=200, sft_steps=600, reader_steps=60),
                    online={"1b": (200, 200, 60), "7b": (30, 30, 30)}),
    "h100": dict(hardware="h100", composer_steps=1000, composer_sft_steps=300, corpus="musicpile-a100",
                 offline=dict(cpt_steps=200, sft_steps=600, reader_steps=60),
                 online={"1b": (300, 300, 60), "7b": (100, 100, 60)}),
}
_SMOKE_ONLINE = dict(corpus="musicpile-smoke", cpt_steps=3, sft_steps=3, reader_steps=2)  # hardware cpu-smoke
DEFAULT_BASES = ("tinyllama-1.1b", "llama2-7b")  # the LoRA track online: below / from _LARGE_GPU_GIB
_LARGE_GPU_GIB = 20.0  # a "24 GB" card reports 22-23.6 GiB to torch: from here llama2-7b (QLoRA) by default


@dataclass(frozen=True)
class PlanChoice:
    """The plan picked for a device class and hub state, and why (what `course plan` and the notebooks print)."""

    smoke: bool
    device: str  # device class: cpu, t4, l4, a100-40, a100-80, h100
    spec: DeviceSpec  # the detected device, or the described one (--device / CM_PLAN)
    online: bool
    plan: _Plan
    why: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def env_choice() -> tuple[str | None, str | None]:
    """(CM_PLAN, CM_BASE_MODEL) from the environment, normalised (None when unset or empty)."""
    plan = os.environ.get(PLAN_ENV, "").strip().lower() or None
    base = os.environ.get(BASE_ENV, "").strip() or None
    return plan, base


def check_choice(device: str | None, base: str | None, source: tuple[str, str] = ("--device", "--base")) -> None:
    """UsageError (one line) unless `device` is a plan device class and `base` a pretrained model preset."""
    from cm_lib.device import PLAN_DEVICES
    from cm_lib.models.presets import MODEL_PRESETS
    from cm_lib.models.tiny import SCRATCH_PRESETS

    if device is not None and device not in PLAN_DEVICES:
        raise UsageError(f"unknown {source[0]} {device!r}: choose from {', '.join(PLAN_DEVICES)}")
    bases = [n for n in MODEL_PRESETS if n not in SCRATCH_PRESETS]
    if base is not None and base not in bases:
        raise UsageError(f"unknown {source[1]} {base!r}: choose a pretrained model preset ({', '.join(bases)})")


def plan_hardware(spec: DeviceSpec) -> tuple[str, str]:
    """(hardware preset, why) of the LoRA runs on the device `spec` describes (notebooks 03, 04)."""
    from cm_lib.device import device_class

    if not spec.is_cuda:
        from cm_lib.device import cpu_bf16_native

        if spec.device == "cpu" and cpu_bf16_native():
            return "cpu", (f"{spec.name}: no CUDA GPU, so the CPU plan; this CPU computes bf16 in hardware, so SmolLM2 "
                           "(>= 50M parameters) runs in bf16 and the composer in fp32")
        return "cpu", f"{spec.name}: no CUDA GPU, so the CPU plan in fp32"
    mem = f"{spec.memory_gb:g} GB" if spec.memory_gb is not None else "memory unknown"
    key = device_class(spec)
    preset = _GPU[key]["hardware"]
    if not spec.bf16:
        return preset, (f"{spec.name} ({mem}) has no bf16 (compute capability < 8, e.g. T4, V100): "
                        "fp16 autocast with fp32 master weights and T4-sized batches")
    if preset == "h100":
        return preset, f"{spec.name} ({mem}, bf16): the large-GPU batches, bf16 autocast"
    if preset == "a100":
        return preset, f"{spec.name} ({mem}, bf16): A100-sized batches, bf16 autocast"
    return preset, f"{spec.name} ({mem}, bf16): a consumer-sized GPU, so T4-sized batches, in bf16 autocast"


def _size(base: str) -> str:
    """'7b' for the models the presets train under QLoRA (>= 1B and 4-bit by default), else '1b'."""
    from cm_lib.models.presets import model_preset

    return "7b" if model_preset(base).quantize_4bit_default else "1b"


def default_base(spec: DeviceSpec) -> str:
    """The LoRA track's base online: llama2-7b (QLoRA) from ~24 GB of GPU memory, else tinyllama-1.1b (LoRA)."""
    return DEFAULT_BASES[1] if (spec.memory_gb or 0.0) >= _LARGE_GPU_GIB else DEFAULT_BASES[0]


def hub_state(base: str, corpus: str) -> tuple[bool, str]:
    """(online, why): the hub answers, or `base` is in the local HF cache and the `corpus` sample is under runs/."""
    from cm_lib.hub import hub_available, hub_offline_flag
    from cm_lib.models.presets import model_preset

    if hub_available():
        return True, "online: the Hugging Face Hub answers"
    hub_id = model_preset(base).hub_id
    cached = False
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = isinstance(try_to_load_from_cache(hub_id, "config.json"), str)
        except (ImportError, OSError, ValueError):
            cached = False
    from cm_lib.corpus.store import is_complete

    if cached and is_complete(runs_dir() / "corpus" / corpus):
        return True, f"offline, but {hub_id} is in the HF cache and the {corpus} sample under runs/"
    reason = "HF_HUB_OFFLINE=1" if hub_offline_flag() else "the hub cannot be reached"
    return False, f"offline ({reason}; {base} not cached with its MusicPile sample), so the offline corpus and SmolLM2"


def choose_plan(smoke: bool, spec: DeviceSpec | None = None, device: str | None = None, online: bool | None = None,
                base: str | None = None) -> PlanChoice:
    """The plan for `device` (a class; default $CM_PLAN, else `spec`, else this machine), the hub and `base` (notebooks 03-06).

    `online=None` looks (cm_lib.hub); `base=None` reads $CM_BASE_MODEL, else the GPU's default (default_base).
    Offline, or on a CPU, this is the plan the course always ran.
    """
    from cm_lib.device import class_spec, device_class, pick_device

    env_device, env_base = env_choice()
    source = ("--device", "--base")
    if device is None and spec is None and env_device is not None:
        device, source = env_device, (f"${PLAN_ENV}", source[1])
    if base is None and env_base is not None:
        base, source = env_base, (source[0], f"${BASE_ENV}")
    check_choice(device, base, source)
    notes: list[str] = []
    if device is not None:
        target = class_spec(device)
        if source[0] == f"${PLAN_ENV}" and device_class(here := pick_device()) != device:
            notes.append(f"{PLAN_ENV}={device} on {here.name}: the {device} plan's runs, trained in this machine's "
                         f"precision ({'fp32' if here.device == 'cpu' else str(here.dtype).replace('torch.', '')})")
    else:
        target = spec if spec is not None else pick_device()
        device = device_class(target)
    cpu = _PLANS[bool(smoke)]
    preset, why = plan_hardware(target)
    if device == "cpu":
        if base is not None:
            notes.append(f"{source[1]}={base} applies to GPU plans: the CPU plan keeps its models")
        return PlanChoice(bool(smoke), "cpu", target, bool(online), cpu, why, tuple(notes))
    row = _GPU[device]
    base = base or default_base(target)
    corpus = _SMOKE_ONLINE["corpus"] if smoke else row["corpus"]
    if online is None:
        online, hub_why = hub_state(base, corpus)
    else:
        hub_why = "online (as asked)" if online else "offline (as asked), so the offline corpus and SmolLM2"
    if not online:
        if smoke:
            return PlanChoice(True, device, target, False, cpu, f"smoke mode: the same few small steps on every device "
                              f"({target.name}); {hub_why}", tuple(notes))
        plan = replace(cpu, hardware=preset, composer_hardware="gpu-scratch", composer_steps=row["composer_steps"],
                       composer_sft_steps=row["composer_sft_steps"], reader_hardware=preset, **row["offline"])
        return PlanChoice(False, device, target, False, plan, f"{why}; {hub_why}", tuple(notes))
    qlora = _size(base) == "7b"
    if smoke:
        steps = dict(cpt_steps=_SMOKE_ONLINE["cpt_steps"], sft_steps=_SMOKE_ONLINE["sft_steps"],
                     reader_steps=_SMOKE_ONLINE["reader_steps"])
        plan = replace(cpu, base=base, label=base, lora_corpus=corpus, merge=not qlora, **steps)
    else:
        c, s, r = row["online"][_size(base)]
        plan = replace(cpu, hardware=preset, composer_hardware="gpu-scratch", composer_steps=row["composer_steps"],
                       composer_sft_steps=row["composer_sft_steps"], reader_hardware=preset, base=base, label=base,
                       cpt_steps=c, sft_steps=s, reader_steps=r, lora_corpus=corpus, merge=not qlora)
    method = "under QLoRA (4-bit NF4 base; the adapter is kept, not merged)" if qlora else "with LoRA"
    track = f"the LoRA track trains {base} {method} on a MusicPile sample ({corpus}); the composer as on every plan"
    if not qlora and base == DEFAULT_BASES[0]:
        track += f"; set {BASE_ENV}=llama2-7b for LLaMA-2-7B under QLoRA"
    if base == "llama2-7b":
        notes.append("meta-llama/Llama-2-7b-hf is gated: accept the Llama 2 licence on its hub page and "
                     f"`hf auth login`, or set {BASE_ENV}=tinyllama-1.1b")
    return PlanChoice(bool(smoke), device, target, True, plan, f"{why}; {hub_why}: {track}", tuple(notes))


# The runs in build order: each with its trainer stage and the notebook that trains it.
RUN_STAGE = {"composer": "cpt", "cpt": "cpt", "composer_sft": "sft", "sft": "sft", "reader": "sft"}
RUN_NOTEBOOK = {"composer": "03", "cpt": "03", "composer_sft": "04", "sft": "04", "reader": "04"}
_ABC_ONLY = ("scores",)  # the composer pre-trains on the ABC part of the corpus only
CURVE_POINTS = 4  # checkpoints of the composer run, for notebook 03's validity-against-steps curve


def model_family(name: str, plan: _Plan) -> str:
    """The model preset a run trains (the composer or the plan's base), the key of its measured step time."""
    return COMPOSER_MODEL if name in ("composer", "composer_sft") else (plan.base or COMPOSER_MODEL)


def plan_runs(plan: _Plan, corpus: Path | None, lora_corpus: Path | None = None) -> dict[str, dict]:
    """The runs of `plan` as train_cpt/train_sft kwargs: the composer on `corpus`, the LoRA track on `lora_corpus`."""
    from cm_lib.corpus.tasks import GENERATION_TASKS

    data = lora_corpus if plan.lora_corpus else corpus
    composer_out = runs_dir() / "cpt" / COMPOSER_MODEL
    composer = dict(model=COMPOSER_MODEL, data=corpus, out=composer_out, hardware=plan.composer_hardware,
                    max_steps=plan.composer_steps, lora=False, categories=_ABC_ONLY, eval_rows=plan.composer_eval_rows,
                    view="composer", save_steps=max(1, plan.composer_steps // CURVE_POINTS))
    base = plan.base or str(composer_out / "model")
    cpt = dict(model=base, data=data, out=runs_dir() / "cpt" / plan.label, hardware=plan.hardware,
               max_steps=plan.cpt_steps, lora=True)
    cpt_model = str(Path(cpt["out"]) / ("merged" if plan.merge else "adapter"))
    sft = dict(model=cpt_model, data=data, out=runs_dir() / "sft" / plan.label, hardware=plan.hardware,
               max_steps=plan.sft_steps, lora=True)
    composer_sft = dict(model=str(composer_out / "model"), data=corpus, out=runs_dir() / "sft" / COMPOSER_MODEL,
                        hardware=plan.composer_hardware, max_steps=plan.composer_sft_steps, lora=False,
                        tasks=tuple(GENERATION_TASKS), view="composer")
    reader = dict(model=cpt_model, data=data, out=runs_dir() / "sft" / f"{plan.label}-reader",
                  hardware=plan.reader_hardware, max_steps=plan.reader_steps, lora=True,
                  tasks=tuple(GENERATION_TASKS), view="plan")
    for run, every in zip((cpt, sft, reader), plan.save_every):
        if every is not None:
            run["save_steps"] = every
        if not plan.merge:
            run["merge_model"] = False  # QLoRA: keep the adapter (train_cpt/train_sft's merge_model)
    if plan.lora_corpus:  # the hub track merges only CPT, which SFT and the reader start from; they keep their adapters
        sft["merge_model"] = reader["merge_model"] = False  # (loaded on their base exactly; a merged fp32 1.1B is 4.4 GB)
    runs = {"corpus": {"path": corpus}, "composer": composer, "cpt": cpt, "sft": sft, "composer_sft": composer_sft,
            "reader": reader, "base": {"model": base}}
    if plan.lora_corpus:
        runs["hub_corpus"] = {"path": lora_corpus, "preset": plan.lora_corpus}
    return runs
