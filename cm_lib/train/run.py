"""One training run end to end: check the inputs, reuse a finished run, train or resume, save, merge, write the card."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from pathlib import Path

from cm_lib.errors import AssetNotFoundError, CourseError, UsageError
from cm_lib.paths import atomic_write_text, runs_dir
from cm_lib.train import trainer as _trainer
from cm_lib.train.data import data_stamp
from cm_lib.train.presets import hardware_preset
from cm_lib.train.recipe import device_spec
from cm_lib.train.report import mean_loss, write_model_card
from cm_lib.train.state import (
    RESULT_FILE,
    TrainResult,
    check_run_folder,
    claim_run_folder,
    loss_curve,
    result_from_json,
)
from cm_lib.train.trainer import STAGES, build_trainer, text_view, tokens_seen


def _model_label(model: str) -> str:
    """A folder-safe label of a model preset or path."""
    p = Path(model)
    return p.name if (p.exists() or "/" in model) else model


def _fingerprint(settings: dict) -> str:
    """Short stable hash of a settings dict."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def _check_count(name: str, value: int | None) -> None:
    """UsageError unless `value` is None or a positive integer."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(f"{name} must be a positive whole number, not {value!r}")


def _run_key(stage: str, model: str, data: Path, hardware: str, max_steps: int | None, seed: int,
             lora: bool | None, max_rows: int | None, categories: tuple[str, ...] | None,
             tasks: tuple[str, ...] | None, eval_rows: int | None, view: str | None = None) -> str:
    """The fingerprint of a run's settings and data files: a finished run with the same key is reused."""
    return _fingerprint({"stage": stage, "model": model, "data": str(Path(data).resolve()),
                         "data_files": data_stamp(data, stage), "hardware": hardware, "max_steps": max_steps,
                         "seed": seed, "lora": lora, "max_rows": max_rows,
                         **({"categories": list(categories)} if categories is not None else {}),
                         **({"tasks": list(tasks)} if tasks is not None else {}),
                         **({"eval_rows": eval_rows} if eval_rows else {}),
                         **({"view": view} if view is not None else {}),
                         **({"answer_titles": _trainer.SFT_ANSWER_TITLES} if view is not None and stage == "sft" else {}),
                         **({"cpu_bf16": True} if lora is not False and _cpu_bf16_machine() else {})})


def _cpu_bf16_machine() -> bool:
    """True on a CPU where build_trainer puts a large LoRA base in bf16 (part of a LoRA run's fingerprint)."""
    from cm_lib.device import cpu_bf16_native

    return device_spec().device == "cpu" and cpu_bf16_native()


def _finished(out: Path, key: str) -> TrainResult | None:
    """The complete run in `out` if it was made with settings `key` and its model is on disk, else None."""
    done = out / RESULT_FILE
    if not done.is_file():
        return None
    prev = json.loads(done.read_text())
    if prev.get("settings", {}).get("fingerprint") == key and Path(prev["model_dir"]).exists():
        return result_from_json(prev, skipped=True)
    return None


def finished_run(stage: str, model: str, data: Path, out: Path | None = None, hardware: str = "cpu",
                 max_steps: int | None = None, seed: int = 0, lora: bool | None = None,
                 max_rows: int | None = None, categories: tuple[str, ...] | None = None,
                 tasks: tuple[str, ...] | None = None, eval_rows: int | None = None,
                 view: str | None = None, save_steps: int | None = None) -> TrainResult | None:
    """The finished run train_cpt/train_sft would reuse for these arguments, or None (missing or stale); trains nothing (notebooks 04, 06)."""
    from cm_lib.models import check_model

    if stage not in STAGES:
        raise UsageError(f"stage must be 'cpt' or 'sft', not {stage!r}")
    try:
        check_model(model)
        key = _run_key(stage, model, data, hardware, max_steps, seed, lora, max_rows, categories, tasks, eval_rows,
                       view)
    except (CourseError, OSError):  # its model or corpus is not built yet
        return None
    out = Path(out) if out is not None else runs_dir() / stage / _model_label(model)
    return _finished(out, key)


def _run(stage: str, model: str, data: Path, out: Path | None, hardware: str, max_steps: int | None,
         save_steps: int | None, seed: int, resume: bool, lora: bool | None, merge_model: bool,
         callbacks: list | None, max_rows: int | None, overwrite: bool = False,
         categories: tuple[str, ...] | None = None, tasks: tuple[str, ...] | None = None,
         eval_rows: int | None = None, view: str | None = None) -> TrainResult:
    """Shared body of train_cpt / train_sft: check, reuse, train (or resume), save, merge, card."""
    from cm_lib.models import check_model

    if stage not in STAGES:
        raise UsageError(f"stage must be 'cpt' or 'sft', not {stage!r}")
    hardware_preset(hardware)  # fail fast on bad input, before any folder is made
    _check_count("max_steps", max_steps)
    _check_count("save_steps", save_steps)
    _check_count("max_rows", max_rows)
    _check_count("eval_rows", eval_rows)
    if resume and overwrite:
        raise UsageError("--resume continues a run and --overwrite starts it over: pass one of them")
    check_model(model)
    text_view(view)  # an unknown view fails here, before any folder is made
    key = _run_key(stage, model, data, hardware, max_steps, seed, lora, max_rows, categories, tasks, eval_rows, view)
    out = Path(out) if out is not None else runs_dir() / stage / _model_label(model)
    if not overwrite and (prev := _finished(out, key)) is not None:
        return prev
    checkpoint = check_run_folder(out, key, resume=resume, overwrite=overwrite)  # refuse before loading anything
    trainer, settings = build_trainer(stage, model, data, out, hardware, max_steps, save_steps, seed, lora,
                                      callbacks, max_rows, categories, tasks, eval_rows, view)
    claim_run_folder(out, key, checkpoint)
    settings["fingerprint"] = key
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
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
        first_loss=mean_loss(curve[:3]), final_loss=mean_loss(curve[-3:]),
        seconds=round(seconds, 2), tokens_per_second=round(tokens_seen(trainer) / max(seconds, 1e-9), 1),
        settings=settings,
    )
    del trainer
    if merge_model:
        result.merged_dir = merge(out)
    write_model_card(out, result)
    atomic_write_text(out / RESULT_FILE, json.dumps(result.to_json(), indent=2, default=str) + "\n")  # last: the run is complete
    return result


def train_cpt(model: str, data: Path, out: Path | None = None, hardware: str = "cpu", max_steps: int | None = None,
              save_steps: int | None = None, seed: int = 0, resume: bool = False, lora: bool | None = None,
              merge_model: bool = True, callbacks: list | None = None, max_rows: int | None = None,
              overwrite: bool = False, categories: tuple[str, ...] | None = None,
              eval_rows: int | None = None, view: str | None = None) -> TrainResult:
    """Continual pre-training on DIR/pretrain (packed text, optionally only some categories, optionally in a view such as "composer"); tiny models full-parameter, larger ones LoRA (notebooks 03, 04)."""
    return _run("cpt", model, data, out, hardware, max_steps, save_steps, seed, resume, lora, merge_model,
                callbacks, max_rows, overwrite, categories=categories, eval_rows=eval_rows, view=view)


def train_sft(model: str, data: Path, out: Path | None = None, hardware: str = "cpu", max_steps: int | None = None,
              save_steps: int | None = None, seed: int = 0, resume: bool = False, lora: bool | None = None,
              merge_model: bool = True, callbacks: list | None = None, max_rows: int | None = None,
              overwrite: bool = False, tasks: tuple[str, ...] | None = None,
              eval_rows: int | None = None, view: str | None = None) -> TrainResult:
    """Supervised fine-tuning on DIR/sft (optionally only some task types, optionally answers in a view): chat format, loss on the answer + EOS only (notebook 04)."""
    return _run("sft", model, data, out, hardware, max_steps, save_steps, seed, resume, lora, merge_model,
                callbacks, max_rows, overwrite, tasks=tasks, eval_rows=eval_rows, view=view)


# A LoRA update merged into 16-bit weights is partly rounded away (it is small beside the weights it is added to), so a
# base is merged in fp32, on the CPU (no GPU memory, the same on every machine): up to this size (TinyLlama-1.1B: 4.4 GB
# of RAM, and a 4.4 GB merged folder). A larger base (a 7B) keeps its adapter: load_model puts it on its base exactly.
MERGE_FP32_MAX_PARAMS = 1_200_000_000


def merge(out: Path) -> Path | None:
    """Merge a run's LoRA adapter into its base, in fp32 on the CPU, saved in OUT/merged (a full run: OUT/model); None: too large, the adapter is kept."""
    out = Path(out)
    if (out / "model").exists() and not (out / "adapter").exists():
        return out / "model"
    adapter = out / "adapter"
    if not adapter.exists():
        raise AssetNotFoundError(f"no adapter or model in {out}; train first")
    from peft import PeftModel

    from cm_lib.device import pick_device
    from cm_lib.models import load_model
    from cm_lib.models.adapter import adapter_root

    settings = json.loads((out / "settings.json").read_text())
    if int(settings.get("parameters") or 0) > MERGE_FP32_MAX_PARAMS:
        return None
    # an adapter continued from a kept adapter holds the whole update: merge it into the root base, not base + both
    base, tok = load_model(adapter_root(settings["model"]), device=pick_device("cpu"), quantize_4bit=False,
                           for_training=False, cpu_bf16=False)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    target = out / "merged"
    if target.exists():
        shutil.rmtree(target)
    merged.save_pretrained(str(target))
    tok.save_pretrained(str(target))
    return target
