"""Continual pre-training (CPT) and supervised fine-tuning (SFT) with TRL + PEFT, hardware presets as data.

One function per stage (`train_cpt`, `train_sft`), both built on `build_trainer`, writing to
`runs/cpt/<model>/` and `runs/sft/<model>/`: standard checkpoints, `trainer_state.json`, the LoRA
adapter (or the full model), a merged model, a model card and `train_result.json`. A second call with
the same settings returns the finished run from disk; `resume=True` continues an interrupted run from
its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cm_lib.errors import AssetNotFoundError, CourseError
from cm_lib.paths import stage_dir

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
FULL_TRAINING_MAX_PARAMS = 50_000_000  # below this, `lora=None` trains every weight (the tiny model)


@dataclass(frozen=True)
class HardwarePreset:
    """Batch, length, packing, checkpointing, LoRA and optimiser settings for one kind of machine."""

    name: str
    description: str
    seq_len: int  # CPT block length
    batch_size: int
    sft_seq_len: int = 512  # SFT: longer examples are dropped (counted), never truncated (that would cut the EOS)
    grad_accum: int = 1
    max_steps: int | None = None  # None: train `epochs` epochs
    epochs: float = 1.0
    packing_strategy: str = "wrapped"  # "wrapped" (plain blocks) or "bfd" (padding-free, needs flash/sdpa)
    gradient_checkpointing: bool = False
    quantize_4bit: bool | None = False  # None: QLoRA when the model is large (>= 1B) and CUDA is present
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    learning_rate: float = 5e-4  # LoRA
    full_learning_rate: float = 2e-3  # full-parameter training of a small model
    sft_full_learning_rate: float | None = None  # full-parameter SFT (None: full_learning_rate)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    needs_cuda: bool = False  # informational: the preset is sized for a GPU; precision still comes from cm_lib.device


HARDWARE_PRESETS: dict[str, HardwarePreset] = {
    p.name: p
    for p in [
        HardwarePreset("cpu-smoke", "a few steps to prove the pipeline runs (CI, smoke notebooks)",
                       seq_len=128, batch_size=2, max_steps=4, sft_seq_len=384),
        HardwarePreset("cpu", "LoRA on a 135M model on a laptop CPU: fp32, plain blocks, no checkpointing",
                       seq_len=256, batch_size=4, max_steps=30),
        HardwarePreset("cpu-scratch", "a few-M-parameter model trained from scratch on a CPU: longer blocks, high LR, warm-up, cosine",
                       seq_len=512, batch_size=8, max_steps=300, sft_seq_len=512, full_learning_rate=3e-3,
                       sft_full_learning_rate=1e-3, warmup_ratio=0.05, weight_decay=0.01),
        HardwarePreset("colab-t4", "Colab T4 (16 GB, fp16, no bf16): QLoRA for >= 1B models",
                       seq_len=1024, batch_size=4, grad_accum=4, sft_seq_len=1024, gradient_checkpointing=True,
                       quantize_4bit=None, lora_r=64, lora_alpha=16, lora_dropout=0.1, learning_rate=2e-4,
                       needs_cuda=True),
        HardwarePreset("a100", "A100 (40/80 GB, bf16): padding-free packing with sdpa/FlashAttention",
                       seq_len=2048, batch_size=8, grad_accum=2, packing_strategy="bfd", sft_seq_len=2048,
                       gradient_checkpointing=True, quantize_4bit=None, lora_r=64, lora_alpha=16,
                       lora_dropout=0.1, learning_rate=2e-4, needs_cuda=True),
        HardwarePreset("h100", "H100 (80 GB, bf16): padding-free packing with sdpa/FlashAttention",
                       seq_len=2048, batch_size=16, grad_accum=1, packing_strategy="bfd", sft_seq_len=2048,
                       gradient_checkpointing=True, quantize_4bit=None, lora_r=64, lora_alpha=16,
                       lora_dropout=0.1, learning_rate=2e-4, needs_cuda=True),
        HardwarePreset("chatmusician", "ChatMusician's released recipe (LLaMA2-7B, 8 GPUs with DeepSpeed)",
                       seq_len=2048, batch_size=8, grad_accum=2, epochs=2.0, packing_strategy="bfd", sft_seq_len=2048,
                       gradient_checkpointing=True, quantize_4bit=None, lora_r=64, lora_alpha=16,
                       lora_dropout=0.1, learning_rate=1e-4, adam_betas=(0.9, 0.95), weight_decay=0.1,
                       needs_cuda=True),
    ]
}


def hardware_preset(name: str) -> HardwarePreset:
    """The named hardware preset, or AssetNotFoundError listing the known ones."""
    try:
        return HARDWARE_PRESETS[name]
    except KeyError:
        raise AssetNotFoundError(f"unknown hardware preset {name!r}; choose one of {sorted(HARDWARE_PRESETS)}") from None


@dataclass
class TrainResult:
    """What a training run produced: folders, steps, losses (mean of the first/last 3 logged) and speed."""

    stage: str
    out: Path
    model_dir: Path  # the adapter (LoRA) or the full model
    merged_dir: Path | None
    lora: bool
    steps: int
    first_loss: float
    final_loss: float
    seconds: float
    tokens_per_second: float
    settings: dict = field(default_factory=dict)
    skipped: bool = False

    def to_json(self) -> dict:
        """A JSON-safe dict of the result."""
        d = asdict(self)
        for k in ("out", "model_dir", "merged_dir"):
            d[k] = None if d[k] is None else str(d[k])
        return d


def _device_spec() -> Any:
    """cm_lib.device's pick of device and precision."""
    from cm_lib.device import pick_device

    return pick_device()


def precision_kwargs(spec: Any | None = None) -> dict:
    """bf16/fp16/use_cpu flags for SFTConfig from cm_lib.device (never bf16 or CUDA on a CPU)."""
    spec = spec or _device_spec()
    on_cpu = str(spec.device) == "cpu"
    return {"bf16": bool(spec.bf16) and not on_cpu, "fp16": bool(spec.fp16) and not on_cpu, "use_cpu": on_cpu}


def training_config_kwargs(preset: HardwarePreset, lora: bool, out: Path, max_steps: int | None = None,
                           save_steps: int | None = None, seed: int = 0, spec: Any | None = None,
                           completion_only: bool = False) -> dict:
    """Keyword arguments for trl.SFTConfig for this preset on this machine."""
    spec = spec or _device_spec()
    on_cpu = str(spec.device) == "cpu"
    steps = max_steps if max_steps is not None else preset.max_steps
    packing = not completion_only
    strategy = preset.packing_strategy
    if strategy == "bfd" and on_cpu:
        strategy = "wrapped"  # padding-free packing is 2.5x slower without FlashAttention (STACK_NOTES)
    kw = dict(
        output_dir=str(out),
        per_device_train_batch_size=preset.batch_size,
        gradient_accumulation_steps=preset.grad_accum,
        max_length=preset.sft_seq_len if completion_only else preset.seq_len,
        packing=packing,
        packing_strategy=strategy,
        completion_only_loss=True if completion_only else None,
        activation_checkpointing=preset.gradient_checkpointing and not on_cpu,
        learning_rate=preset.learning_rate if lora else (
            preset.sft_full_learning_rate if completion_only and preset.sft_full_learning_rate else preset.full_learning_rate),
        adam_beta1=preset.adam_betas[0],
        adam_beta2=preset.adam_betas[1],
        weight_decay=preset.weight_decay,
        warmup_steps=int(preset.warmup_ratio * steps) if steps else 0,
        lr_scheduler_type="cosine" if (steps or 0) > 50 or steps is None else "constant",
        optim="adamw_torch",
        logging_steps=1 if (steps is not None and steps <= 50) else 10,
        logging_first_step=True,
        save_steps=save_steps or max(1, steps or 500),
        save_total_limit=2,
        seed=seed,
        data_seed=seed,
        report_to="none",
        dataloader_pin_memory=False,
        dataset_num_proc=None,
        disable_tqdm=False,
        **precision_kwargs(spec),
    )
    if steps is not None:
        kw["max_steps"] = steps
    else:
        kw["num_train_epochs"] = preset.epochs
    return kw


def lora_config(preset: HardwarePreset) -> Any:
    """The PEFT LoraConfig of a preset (q/k/v/o/gate/up/down, as ChatMusician)."""
    from peft import LoraConfig

    return LoraConfig(r=preset.lora_r, lora_alpha=preset.lora_alpha, lora_dropout=preset.lora_dropout,
                      target_modules=list(LORA_TARGETS), bias="none", task_type="CAUSAL_LM")


def _load_model(model: str, spec: Any, preset: HardwarePreset, for_training: bool = True) -> tuple[Any, Any]:
    """A preset name or a local folder -> (model, tokenizer) via cm_lib.models."""
    from cm_lib.models import load_model

    quant = False if str(spec.device) != "cuda" else preset.quantize_4bit
    return load_model(model, device=spec, quantize_4bit=quant, for_training=for_training)


def _model_label(model: str) -> str:
    """A folder-safe label of a model preset or path."""
    p = Path(model)
    return p.name if (p.exists() or "/" in model) else model


def _split_dir(data: Path, split: str) -> Path:
    """DIR/pretrain or DIR/sft of a corpus folder (or the folder itself when it is that split)."""
    data = Path(data)
    if (data / split).exists():
        return data / split
    if (data / "dataset_dict.json").exists():
        return data
    raise AssetNotFoundError(f"no {split!r} dataset under {data}; build one with `python -m cm_lib corpus build`")


def load_split(data: Path, split: str, part: str = "train") -> Any:
    """One part (train/validation/test) of a corpus split (pretrain or sft) saved with save_to_disk."""
    from datasets import load_from_disk

    dd = load_from_disk(str(_split_dir(data, split)))
    if part not in dd:
        raise AssetNotFoundError(f"{data}/{split} has no {part!r} part (has {list(dd)})")
    return dd[part]


def _sft_dataset(ds: Any, tokenizer: Any) -> Any:
    """Instruction records -> prompt/completion pairs in ChatMusician's chat format."""
    from cm_lib.chat import to_prompt_completion

    def conv(rec: dict) -> dict:
        return to_prompt_completion(rec, tokenizer)

    return ds.map(conv, remove_columns=ds.column_names)


def _settings(stage: str, model: str, data: Path, hardware: str, max_steps: int | None, seed: int,
              lora: bool, n_rows: int) -> dict:
    """The settings that decide whether an existing output can be reused."""
    return {"stage": stage, "model": model, "data": str(Path(data).resolve()), "hardware": hardware,
            "max_steps": max_steps, "seed": seed, "lora": lora, "rows": n_rows}


def _fingerprint(settings: dict) -> str:
    """Short stable hash of a settings dict."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def build_trainer(stage: str, model: str, data: Path, out: Path, hardware: str = "cpu",
                  max_steps: int | None = None, save_steps: int | None = None, seed: int = 0,
                  lora: bool | None = None, callbacks: list | None = None,
                  max_rows: int | None = None, categories: tuple[str, ...] | None = None,
                  tasks: tuple[str, ...] | None = None, eval_rows: int | None = None) -> tuple[Any, dict]:
    """A ready trl.SFTTrainer for `cpt` (packed text) or `sft` (prompt/completion, answer-only loss)."""
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    if stage not in ("cpt", "sft"):
        raise CourseError(f"stage must be 'cpt' or 'sft', not {stage!r}")
    preset = hardware_preset(hardware)
    spec = _device_spec()
    set_seed(seed)
    net, tok = _load_model(model, spec, preset)
    n_params = sum(p.numel() for p in net.parameters())
    use_lora = (n_params > FULL_TRAINING_MAX_PARAMS) if lora is None else bool(lora)
    ds = load_split(data, "pretrain" if stage == "cpt" else "sft", "train")
    if categories is not None and stage == "cpt":  # e.g. ("scores",): the ABC part only
        ds = ds.filter(lambda r: r["category"] in categories)
    if tasks is not None and stage == "sft":  # e.g. the generation task types only
        ds = ds.filter(lambda r: r["task"] in tasks)
    if max_rows is not None:
        ds = ds.select(range(min(max_rows, len(ds))))
    limit = preset.sft_seq_len

    def prepare(part: Any) -> Any:
        if stage == "cpt":
            return part.select_columns(["text"])
        part = _sft_dataset(part, tok)
        return part.filter(lambda r: len(tok(r["prompt"] + r["completion"])["input_ids"]) + 1 <= limit)

    eval_ds = None
    if eval_rows:  # a held-out validation loss beside the training loss
        eval_ds = load_split(data, "pretrain" if stage == "cpt" else "sft", "validation")
        if categories is not None and stage == "cpt":
            eval_ds = eval_ds.filter(lambda r: r["category"] in categories)
        if tasks is not None and stage == "sft":
            eval_ds = eval_ds.filter(lambda r: r["task"] in tasks)
        eval_ds = prepare(eval_ds.select(range(min(eval_rows, len(eval_ds)))))
    n_before = len(ds)
    ds = prepare(ds)
    dropped = 0 if stage == "cpt" else n_before - len(ds)
    if stage == "sft":
        if not len(ds):
            raise CourseError(f"every SFT example is longer than {limit} tokens; choose a preset with a longer sft_seq_len")
    settings = _settings(stage, model, data, hardware, max_steps, seed, use_lora, len(ds))
    settings["dropped_too_long"] = dropped
    if max_rows is not None:
        settings["max_rows"] = max_rows
    if categories is not None:
        settings["categories"] = list(categories)
    if tasks is not None:
        settings["tasks"] = list(tasks)
    kw = training_config_kwargs(preset, use_lora, out, max_steps, save_steps, seed, spec,
                                completion_only=(stage == "sft"))
    if eval_ds is not None:
        settings["eval_rows"] = len(eval_ds)
        steps = kw.get("max_steps") or 100
        kw.update(eval_strategy="steps", eval_steps=max(1, steps // 8), per_device_eval_batch_size=preset.batch_size)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    args = SFTConfig(**kw)
    trainer = SFTTrainer(model=net, args=args, train_dataset=ds, eval_dataset=eval_ds, processing_class=tok,
                         peft_config=lora_config(preset) if use_lora else None, callbacks=callbacks)
    settings["parameters"] = n_params
    settings["trainable_parameters"] = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    settings["preset"] = asdict(preset)
    return trainer, settings


def _data_stamp(data: Path, stage: str) -> list:
    """Names, sizes and mtimes of a split's files, so a rebuilt corpus invalidates earlier runs."""
    folder = _split_dir(data, "pretrain" if stage == "cpt" else "sft")
    return sorted((str(p.relative_to(folder)), p.stat().st_size, int(p.stat().st_mtime))
                  for p in folder.rglob("*") if p.is_file() and not p.name.startswith("cache-"))


def _checkpoints(out: Path) -> list[Path]:
    """checkpoint-N folders of a run, oldest first."""
    return sorted(Path(out).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))


def _tokens_seen(trainer: Any) -> int:
    """Tokens processed so far (batch x length x steps; packed blocks are full)."""
    a = trainer.args
    return int(trainer.state.global_step * a.per_device_train_batch_size * a.gradient_accumulation_steps
               * max(1, a.world_size) * a.max_length)


def _run(stage: str, model: str, data: Path, out: Path | None, hardware: str, max_steps: int | None,
         save_steps: int | None, seed: int, resume: bool, lora: bool | None, merge_model: bool,
         callbacks: list | None, max_rows: int | None, categories: tuple[str, ...] | None = None,
         tasks: tuple[str, ...] | None = None, eval_rows: int | None = None) -> TrainResult:
    """Shared body of train_cpt / train_sft: reuse, train (or resume), save, merge, card."""
    hardware_preset(hardware)  # fail fast on bad input, before any folder is made
    key = _fingerprint({"stage": stage, "model": model, "data": str(Path(data).resolve()),
                        "data_files": _data_stamp(data, stage), "hardware": hardware, "max_steps": max_steps,
                        "seed": seed, "lora": lora, "max_rows": max_rows,
                        **({"categories": list(categories)} if categories is not None else {}),
                        **({"tasks": list(tasks)} if tasks is not None else {}),
                        **({"eval_rows": eval_rows} if eval_rows else {})})
    out = Path(out) if out is not None else stage_dir(stage, _model_label(model))
    out.mkdir(parents=True, exist_ok=True)
    done = out / "train_result.json"
    if done.exists():
        prev = json.loads(done.read_text())
        if prev.get("settings", {}).get("fingerprint") == key and Path(prev["model_dir"]).exists():
            return _result_from_json(prev, skipped=True)
    trainer, settings = build_trainer(stage, model, data, out, hardware, max_steps, save_steps, seed, lora,
                                      callbacks, max_rows, categories, tasks, eval_rows)
    settings["fingerprint"] = key
    done.unlink(missing_ok=True)
    checkpoint = bool(resume and _checkpoints(out))
    if not resume:  # a fresh run: stale checkpoints of other settings would be picked up by resume later
        for c in _checkpoints(out):
            shutil.rmtree(c, ignore_errors=True)
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=True if checkpoint else None)
    seconds = time.perf_counter() - start
    lora_used = bool(settings["lora"])
    model_dir = out / ("adapter" if lora_used else "model")
    if not trainer.accelerator.is_main_process:  # other ranks of `accelerate launch`: rank 0 writes
        return TrainResult(stage, out, model_dir, None, lora_used, int(trainer.state.global_step),
                           math.nan, math.nan, round(seconds, 2), 0.0, settings)
    trainer.state.save_to_json(str(out / "trainer_state.json"))
    if model_dir.exists():
        shutil.rmtree(model_dir)
    trainer.save_model(str(model_dir))
    trainer.processing_class.save_pretrained(str(model_dir))
    (out / "settings.json").write_text(json.dumps(settings, indent=2, default=str) + "\n")
    curve = loss_curve(out)
    result = TrainResult(
        stage=stage, out=out, model_dir=model_dir, merged_dir=None, lora=lora_used,
        steps=int(trainer.state.global_step),
        first_loss=_mean_loss(curve[:3]), final_loss=_mean_loss(curve[-3:]),
        seconds=round(seconds, 2), tokens_per_second=round(_tokens_seen(trainer) / max(seconds, 1e-9), 1),
        settings=settings,
    )
    del trainer
    if merge_model:
        result.merged_dir = merge(out)
    write_model_card(out, result)
    done.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    return result


def _mean_loss(points: list[tuple[int, float]]) -> float:
    """Mean loss of some logged points (single steps are noisy), NaN when there are none."""
    return sum(lo for _, lo in points) / len(points) if points else math.nan


def _result_from_json(d: dict, skipped: bool = False) -> TrainResult:
    """TrainResult from its train_result.json."""
    d = dict(d)
    d["skipped"] = skipped
    for k in ("out", "model_dir", "merged_dir"):
        d[k] = None if d[k] is None else Path(d[k])
    return TrainResult(**d)


def train_cpt(model: str, data: Path, out: Path | None = None, hardware: str = "cpu", max_steps: int | None = None,
              save_steps: int | None = None, seed: int = 0, resume: bool = False, lora: bool | None = None,
              merge_model: bool = True, callbacks: list | None = None, max_rows: int | None = None,
              categories: tuple[str, ...] | None = None, eval_rows: int | None = None) -> TrainResult:
    """Continual pre-training on DIR/pretrain (packed text, optionally only some categories); tiny models full-parameter, larger ones LoRA."""
    return _run("cpt", model, data, out, hardware, max_steps, save_steps, seed, resume, lora, merge_model,
                callbacks, max_rows, categories=categories, eval_rows=eval_rows)


def train_sft(model: str, data: Path, out: Path | None = None, hardware: str = "cpu", max_steps: int | None = None,
              save_steps: int | None = None, seed: int = 0, resume: bool = False, lora: bool | None = None,
              merge_model: bool = True, callbacks: list | None = None, max_rows: int | None = None,
              tasks: tuple[str, ...] | None = None, eval_rows: int | None = None) -> TrainResult:
    """Supervised fine-tuning on DIR/sft (optionally only some task types): chat format, loss on the answer + EOS only."""
    return _run("sft", model, data, out, hardware, max_steps, save_steps, seed, resume, lora, merge_model,
                callbacks, max_rows, tasks=tasks, eval_rows=eval_rows)


def load_result(out: Path) -> TrainResult | None:
    """The finished run in `out` (its train_result.json), or None."""
    path = Path(out) / "train_result.json"
    return _result_from_json(json.loads(path.read_text())) if path.exists() else None


def merge(out: Path) -> Path:
    """Merge a run's LoRA adapter into its base model, saved in OUT/merged (a full run: OUT/model)."""
    out = Path(out)
    if (out / "model").exists() and not (out / "adapter").exists():
        return out / "model"
    adapter = out / "adapter"
    if not adapter.exists():
        raise AssetNotFoundError(f"no adapter or model in {out}; train first")
    from peft import PeftModel

    settings = json.loads((out / "settings.json").read_text())
    spec = _device_spec()
    base, tok = _load_model(settings["model"], spec, hardware_preset(settings["hardware"]), for_training=False)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    target = out / "merged"
    if target.exists():
        shutil.rmtree(target)
    merged.save_pretrained(str(target))
    tok.save_pretrained(str(target))
    return target


def loss_curve(out: Path, key: str = "loss") -> list[tuple[int, float]]:
    """(step, training loss) pairs from a run's trainer_state.json (or its last checkpoint's); key="eval_loss": validation."""
    out = Path(out)
    path = out / "trainer_state.json"
    if not path.exists():
        cps = _checkpoints(out)
        if not cps:
            raise AssetNotFoundError(f"no trainer_state.json in {out}")
        path = cps[-1] / "trainer_state.json"
    hist = json.loads(path.read_text()).get("log_history", [])
    return [(int(h["step"]), float(h[key])) for h in hist if key in h]


def plot_loss_curves(runs: dict[str, Path], ax: Any = None, title: str = "training loss") -> Any:
    """Plot the loss curves of several runs (label -> out folder) on one matplotlib axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, out in runs.items():
        steps, losses = zip(*loss_curve(out)) if loss_curve(out) else ((), ())
        line = ax.plot(steps, losses, marker="." if len(steps) < 60 else None, label=label)[0]
        val = loss_curve(out, "eval_loss")
        if val:  # the held-out validation loss, when the run measured it
            ax.plot(*zip(*val), ls="--", marker="o", color=line.get_color(), label=f"{label} (validation)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def write_model_card(out: Path, result: TrainResult) -> Path:
    """README.md in the run folder: data, preset, recipe, losses and how to load it."""
    s = result.settings
    p = s.get("preset", {})
    curve = loss_curve(out)
    every = max(1, len(curve) // 10)
    rows = "\n".join(f"| {st} | {lo:.4f} |" for st, lo in curve[::every])
    merged_line = ("\n  `merged/` (adapter merged into the base; loads with `AutoModelForCausalLM.from_pretrained`),"
                   if result.merged_dir is not None and result.lora else "")
    text = f"""# {result.stage.upper()} run: {s.get('model')}

- Stage: {'continual pre-training on packed ABC text' if result.stage == 'cpt' else
          'supervised fine-tuning (ChatMusician chat format, loss on answer + EOS only)'}
- Base model: `{s.get('model')}` ({s.get('parameters', 0):,} parameters;
  trainable: {s.get('trainable_parameters', 0):,}, {'LoRA' if result.lora else 'full-parameter'})
- Data: `{s.get('data')}` ({s.get('rows')} training rows). Licences: see the corpus card (Essen
  encodings: non-commercial use only).
- Hardware preset: `{s.get('hardware')}` (sequence length {p.get('seq_len')}, batch {p.get('batch_size')} x
  {p.get('grad_accum')}, packing `{p.get('packing_strategy')}`), seed {s.get('seed')}
- Recipe: learning rate {p.get('learning_rate') if result.lora else p.get('full_learning_rate')},
  AdamW betas {p.get('adam_betas')}, weight decay {p.get('weight_decay')}; LoRA r={p.get('lora_r')},
  alpha={p.get('lora_alpha')}, dropout={p.get('lora_dropout')} on {', '.join(LORA_TARGETS)}
- Steps: {result.steps}; loss {result.first_loss:.4f} -> {result.final_loss:.4f};
  {result.seconds:.0f} s ({result.tokens_per_second:.0f} tokens/s)
- Files: `{result.model_dir.name}/` ({'LoRA adapter' if result.lora else 'the full model'}),{merged_line}
  `trainer_state.json` (loss per logged step), `checkpoint-*/` (resume with `resume=True` / `--resume`)

## Loss

| step | loss |
|---:|---:|
{rows}
"""
    path = Path(out) / "README.md"
    path.write_text(text)
    return path


def example_labels(trainer: Any, index: int = 0) -> list[tuple[str, bool]]:
    """(token text, carries loss) for one training example as the trainer's collator builds it."""
    batch = trainer.data_collator([trainer.train_dataset[index]])
    tok = trainer.processing_class
    ids = batch["input_ids"][0].tolist()
    labels = batch["labels"][0].tolist()
    return [(tok.decode([i]), lab != -100) for i, lab in zip(ids, labels)]


def trained_text(trainer: Any, index: int = 0) -> str:
    """The decoded tokens of one example that carry loss (for SFT: the answer and EOS)."""
    batch = trainer.data_collator([trainer.train_dataset[index]])
    labels = [t for t in batch["labels"][0].tolist() if t != -100]
    return trainer.processing_class.decode(labels)


__all__ = [
    "HARDWARE_PRESETS", "HardwarePreset", "LORA_TARGETS", "TrainResult", "build_trainer", "example_labels",
    "course_runs", "hardware_preset", "load_result", "load_split", "lora_config", "loss_curve", "merge", "plot_loss_curves",
    "precision_kwargs", "train_cpt", "train_sft", "trained_text", "training_config_kwargs", "write_model_card",
]


def course_runs(smoke: bool) -> dict[str, dict]:
    """The runs notebooks 03/04 make, as train_cpt/train_sft kwargs (shared: each notebook can rebuild the other's).

    Two tracks. The composer ("student-scale ChatMusician"): the tiny Llama trained from scratch on the
    ABC part only (`scratch`), then fully fine-tuned on the generation-type instructions (`scratch_sft`).
    The paper's recipe: SmolLM2-135M LoRA CPT on the mixed corpus (`cpt`), then LoRA SFT (`sft`).
    Smoke: the tiny model stands in everywhere, a few steps each: seconds.
    Full (idle 2-core CPU, notebooks 03+04 ~13-14 min estimated from measured throughputs): tiny 240 steps
    x 8x512 tokens (~4 min), SmolLM2 LoRA CPT 16 steps x 4x256 (~2 min), tiny SFT 150 steps x 8 answers
    (~1.5 min), SmolLM2 LoRA SFT 8 steps (~2 min).
    """
    from cm_lib.corpus import ensure_corpus
    from cm_lib.evaluate import GENERATION_TASKS

    corpus = ensure_corpus("smoke" if smoke else "small")
    scratch_out = stage_dir("cpt", "tiny")
    abc_only = ("scores",)
    if smoke:
        scratch = dict(model="tiny", data=corpus, out=scratch_out, hardware="cpu-smoke", max_steps=12, lora=False,
                       categories=abc_only, eval_rows=8)
        cpt = dict(model=str(scratch_out / "model"), data=corpus, out=stage_dir("cpt", "tiny-lora"),
                   hardware="cpu-smoke", max_steps=3, lora=True)
        base = str(scratch_out / "model")
        sft_out = stage_dir("sft", "tiny-lora")
        sft_steps, hw, scratch_sft_steps, scratch_hw = 3, "cpu-smoke", 3, "cpu-smoke"
    else:
        scratch = dict(model="tiny", data=corpus, out=scratch_out, hardware="cpu-scratch", max_steps=240, lora=False,
                       categories=abc_only, eval_rows=64)
        cpt = dict(model="smollm2-135m", data=corpus, out=stage_dir("cpt", "smollm2-135m"), hardware="cpu",
                   max_steps=16, lora=True)
        base = "smollm2-135m"
        sft_out = stage_dir("sft", "smollm2-135m")
        sft_steps, hw, scratch_sft_steps, scratch_hw = 8, "cpu", 150, "cpu-scratch"
    sft = dict(model=str(Path(cpt["out"]) / "merged"), data=corpus, out=sft_out, hardware=hw, max_steps=sft_steps,
               lora=True)
    scratch_sft = dict(model=str(scratch_out / "model"), data=corpus, out=stage_dir("sft", "tiny"), hardware=scratch_hw,
                       max_steps=scratch_sft_steps, lora=False, tasks=GENERATION_TASKS)
    return {"corpus": {"path": corpus}, "scratch": scratch, "cpt": cpt, "sft": sft, "scratch_sft": scratch_sft,
            "base": {"model": base}}


def labels_html(marks: list[tuple[str, bool]]) -> str:
    """HTML of tokens coloured by whether they carry loss (green) or are context only (grey)."""
    import html

    spans = []
    for text, trained in marks:
        shown = html.escape(text).replace("\n", "↵<br>") or "∅"
        colour = "#b7f0b1" if trained else "#e3e3e3"
        spans.append(f'<span style="background:{colour};border:1px solid #fff;font-family:monospace">{shown}</span>')
    legend = ('<p><span style="background:#e3e3e3">grey: prompt, label -100 (no loss)</span> '
              '<span style="background:#b7f0b1">green: answer + EOS (loss)</span></p>')
    return legend + "".join(spans)
