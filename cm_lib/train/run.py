"""One training run end to end: check the inputs, reuse a finished run, train or resume, save, merge, write the card."""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from cm_lib.errors import AssetNotFoundError, CourseError, UsageError
from cm_lib.paths import atomic_write_text, runs_dir
from cm_lib.train import trainer as _trainer
from cm_lib.train.data import data_stamp
from cm_lib.train.presets import hardware_preset
from cm_lib.train.recipe import device_spec, training_config_kwargs
from cm_lib.train.report import mean_loss, write_model_card
from cm_lib.train.state import (
    RESULT_FILE,
    TrainResult,
    check_run_folder,
    checkpoint_step,
    claim_run_folder,
    latest_complete_checkpoint,
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


def _run_identity(stage: str, model: str, data: Path, hardware: str, seed: int, lora: bool | None,
                  max_rows: int | None, categories: tuple[str, ...] | None, tasks: tuple[str, ...] | None,
                  eval_rows: int | None, view: str | None = None) -> dict:
    """What makes a run a different run (model, data and its files, preset, seed, filters, view...); not its length."""
    return {"stage": stage, "model": model, "data": str(Path(data).resolve()),
            "data_files": data_stamp(data, stage), "hardware": hardware,
            "seed": seed, "lora": lora, "max_rows": max_rows,
            **({"categories": list(categories)} if categories is not None else {}),
            **({"tasks": list(tasks)} if tasks is not None else {}),
            **({"eval_rows": eval_rows} if eval_rows else {}),
            **({"view": view} if view is not None else {}),
            **({"answer_titles": _trainer.SFT_ANSWER_TITLES} if view is not None and stage == "sft" else {}),
            **({"cpu_bf16": True} if lora is not False and _cpu_bf16_machine() else {})}


class _RunKey(NamedTuple):
    """A run's fingerprint (what makes it a different run), its length, and the fingerprints older markers carry."""

    fingerprint: str
    steps: int | None  # max_steps, else the preset's (None: the preset trains epochs)
    legacy: dict[str, int | None]  # fingerprint as written before lengths were kept apart (length included) -> length


def _run_key(stage: str, model: str, data: Path, out: Path, hardware: str, max_steps: int | None, seed: int,
             lora: bool | None, max_rows: int | None, categories: tuple[str, ...] | None,
             tasks: tuple[str, ...] | None, eval_rows: int | None, view: str | None = None) -> _RunKey:
    """The key of a run's settings and data files: a finished run with the same fingerprint and length is reused."""
    identity = _run_identity(stage, model, data, hardware, seed, lora, max_rows, categories, tasks, eval_rows, view)
    steps = _planned_steps(hardware, max_steps)
    legacy = {_fingerprint({**identity, "max_steps": max_steps}): steps}
    newest = latest_complete_checkpoint(out) if out.is_dir() else None
    if newest is not None:  # an older run's length is in its trainer state; its fingerprint held it as passed
        planned = json.loads((newest / "trainer_state.json").read_text()).get("max_steps")
        legacy.setdefault(_fingerprint({**identity, "max_steps": planned}), planned)
        if planned == hardware_preset(hardware).max_steps:
            legacy.setdefault(_fingerprint({**identity, "max_steps": None}), planned)
    return _RunKey(_fingerprint(identity), steps, legacy)


def _planned_steps(hardware: str, max_steps: int | None) -> int | None:
    """A run's length: `max_steps`, else its hardware preset's (None: the preset trains epochs)."""
    return max_steps if max_steps is not None else hardware_preset(hardware).max_steps


def _schedule(hardware: str, steps: int, upto: int) -> list[float]:
    """The learning-rate factors the trainer's scheduler gives optimizer steps 1..upto+1 of a `steps`-step run (recipe's warm-up and decay)."""
    import torch
    from transformers import get_scheduler

    kw = training_config_kwargs(hardware_preset(hardware), False, Path("."), steps)
    warmup = kw["warmup_steps"]
    warmup = int(warmup) if warmup >= 1 else math.ceil(steps * warmup)  # TrainingArguments.get_warmup_steps
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = get_scheduler(kw["lr_scheduler_type"], optimizer, num_warmup_steps=warmup, num_training_steps=steps)
    factors = getattr(scheduler, "lr_lambdas", None)
    if factors is None:  # not a LambdaLR: no way to compare, so no two lengths count as the same schedule
        return [float(steps)]
    return [float(factors[0](k)) for k in range(upto + 1)]


def _same_schedule(hardware: str, steps: int) -> Callable[[int, int], bool]:
    """Whether a run of `old` steps gave steps 1..upto+1 the learning rates a `steps`-step run gives them (resumed, it equals a straight run)."""
    return lambda old, upto: _schedule(hardware, old, upto) == _schedule(hardware, steps, upto)


def _keep_intervals(args: Any, checkpoint: Path) -> None:
    """Set the logging, evaluation and save intervals of `args` to the checkpoint's: the Trainer continues a run with those."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    for name in ("logging_steps", "eval_steps", "save_steps"):  # else it warns that they differ, and keeps the checkpoint's
        if state.get(name) and getattr(args, name, None) is not None:
            setattr(args, name, state[name])


@contextmanager
def _quiet_tied_weights(model: Any) -> Iterator[None]:
    """Hide the Trainer's warning, on resuming, that a checkpoint lacks tied weights: saved once, under the name they share."""
    tied = ({n for n, _ in model.named_parameters(remove_duplicate=False)} - {n for n, _ in model.named_parameters()})
    prefix = "There were missing keys in the checkpoint model loaded: "

    def keep(record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not (tied and text.startswith(prefix)):
            return True
        try:
            return not set(ast.literal_eval(text[len(prefix):].rstrip("."))) <= tied
        except (ValueError, SyntaxError, TypeError):
            return True

    log = logging.getLogger("transformers.trainer")
    log.addFilter(keep)
    try:
        yield
    finally:
        log.removeFilter(keep)


def _cpu_bf16_machine() -> bool:
    """True on a CPU where build_trainer puts a large LoRA base in bf16 (part of a LoRA run's fingerprint)."""
    from cm_lib.device import cpu_bf16_native

    return device_spec().device == "cpu" and cpu_bf16_native()


def _finished(out: Path, key: _RunKey) -> TrainResult | None:
    """The complete run in `out` if it was made with the settings and length of `key` and its model is on disk, else None."""
    done = out / RESULT_FILE
    if not done.is_file():
        return None
    prev = json.loads(done.read_text())
    settings = prev.get("settings", {})
    fingerprint = settings.get("fingerprint")
    same = ((fingerprint == key.fingerprint and settings.get("planned_steps", -1) == key.steps)
            or key.legacy.get(fingerprint, -1) == key.steps)
    if same and Path(prev["model_dir"]).exists():
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
        out = Path(out) if out is not None else runs_dir() / stage / _model_label(model)
        key = _run_key(stage, model, data, out, hardware, max_steps, seed, lora, max_rows, categories, tasks,
                       eval_rows, view)
    except (CourseError, OSError, ValueError):  # its model or corpus is not built yet
        return None
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
    out = Path(out) if out is not None else runs_dir() / stage / _model_label(model)
    key = _run_key(stage, model, data, out, hardware, max_steps, seed, lora, max_rows, categories, tasks, eval_rows,
                   view)
    if not overwrite and (prev := _finished(out, key)) is not None:
        return prev
    checkpoint = check_run_folder(out, key.fingerprint, resume=resume, overwrite=overwrite, max_steps=key.steps,
                                  legacy=key.legacy, same_schedule=_same_schedule(hardware, key.steps)
                                  if key.steps else None)  # refuse before loading anything
    trainer, settings = build_trainer(stage, model, data, out, hardware, max_steps, save_steps, seed, lora,
                                      callbacks, max_rows, categories, tasks, eval_rows, view)
    claim_run_folder(out, key.fingerprint, checkpoint, max_steps=key.steps)
    settings["fingerprint"] = key.fingerprint
    settings["planned_steps"] = key.steps
    start_step = checkpoint_step(checkpoint) if checkpoint is not None else 0
    if start_step:
        settings["resumed_from_step"] = start_step
    if checkpoint is not None:
        _keep_intervals(trainer.args, checkpoint)
    start = time.perf_counter()
    with _quiet_tied_weights(trainer.model):
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
        seconds=round(seconds, 2), tokens_per_second=round(tokens_seen(trainer) * (1 - start_step / max(
            trainer.state.global_step, 1)) / max(seconds, 1e-9), 1),  # this call's steps only
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
