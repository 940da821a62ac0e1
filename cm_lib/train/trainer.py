"""A ready trl.SFTTrainer for one stage (cpt: packed text; sft: prompt/completion, answer-only loss) and what it trains on."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from cm_lib.corpus.splits import load_split
from cm_lib.errors import CourseError
from cm_lib.train.data import sft_dataset
from cm_lib.train.presets import hardware_preset
from cm_lib.train.recipe import (
    cpu_bf16_base,
    device_spec,
    lora_config,
    training_config_kwargs,
    training_load_kwargs,
    upcast_trainable,
)

FULL_TRAINING_MAX_PARAMS = 50_000_000  # below this, `lora=None` trains every weight (the tiny model)
STAGES = ("cpt", "sft")
VIEWS = ("composer", "header", "plan")  # ways a run may rewrite its texts or answers (None: as the corpus has them)
# Whether an SFT answer in a view keeps its T: line: the composer never wrote one in pre-training, and with
# titles it obeyed the requested meter less often in each of three seeds (benchmarks/README.md, "The composer's SFT";
# valid answers did not differ beyond the spread between seeds). Part of a run's fingerprint (cm_lib.train.run).
SFT_ANSWER_TITLES = False


def text_view(view: str | None) -> Any:
    """The function a run applies to each text or answer (None: unchanged); CourseError for an unknown view (notebook 03)."""
    if view is None:
        return lambda text, title=False: text
    if view == "composer":
        from cm_lib.corpus.composer import composer_text

        return composer_text
    if view == "header":
        from cm_lib.corpus.composer import header_prompt

        return header_prompt
    if view == "plan":  # reads the whole record (`reads_record`): a request's plan, not its answer's
        from cm_lib.plan.rules import plan_answer

        return plan_answer
    raise CourseError(f"unknown view {view!r}; choose one of {list(VIEWS)}")


# A CPU LoRA run takes the model's own loss instead of TRL's fused LM head (see build_trainer); benchmarks/cpu_bf16.py
# sets this to False to time TRL's path in the same run.
CPU_LORA_OWN_LOSS = True


def build_trainer(stage: str, model: str, data: Path, out: Path, hardware: str = "cpu",
                  max_steps: int | None = None, save_steps: int | None = None, seed: int = 0,
                  lora: bool | None = None, callbacks: list | None = None,
                  max_rows: int | None = None, categories: tuple[str, ...] | None = None,
                  tasks: tuple[str, ...] | None = None, eval_rows: int | None = None,
                  view: str | None = None) -> tuple[Any, dict]:
    """A ready trl.SFTTrainer for `cpt` (packed text) or `sft` (prompt/completion, answer-only loss) (notebook 04).

    `categories` keeps only those pretrain rows (e.g. ("scores",): the ABC part), `tasks` only those SFT task
    types; `view="composer"` rewrites each pretrain text (SFT: each answer's tune, without its title) as the composer
    sees it (cm_lib.corpus.composer, dropping the tunes it leaves out), `view="header"` cuts each SFT answer to
    the composer's header (SmolLM2's header SFT, notebook 04); `eval_rows` adds a validation loss on that many rows of the
    validation split (same filters).
    """
    import torch
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    from cm_lib.models import load_model, lora_targets_for
    from cm_lib.models.adapter import adapter_root, is_adapter_folder

    if stage not in STAGES:
        raise CourseError(f"stage must be 'cpt' or 'sft', not {stage!r}")
    _viewed = text_view(view)
    preset = hardware_preset(hardware)
    spec = device_spec()
    set_seed(seed)
    # A kept adapter (a QLoRA CPT run) is continued: its base loads as the plan says, the adapter stays trainable.
    continued = is_adapter_folder(model)
    if continued and lora is False:
        raise CourseError(f"{model} is a LoRA adapter: it can only be trained further with LoRA (lora=True)")
    base = adapter_root(model) if continued else model
    load = training_load_kwargs(preset, spec, base, True if continued else lora)  # fp32 master weights under autocast
    net, tok = load_model(model, device=replace(spec, dtype=load["dtype"]), quantize_4bit=load["quantize_4bit"],
                          for_training=True)
    n_params = sum(p.numel() for p in net.parameters())
    use_lora = continued or ((n_params > FULL_TRAINING_MAX_PARAMS) if lora is None else bool(lora))
    # On a CPU that computes bf16 in hardware, a large frozen LoRA base sits in bf16 under bf16 autocast (a faster step:
    # benchmarks/README.md, "Precision and CPU speed"); the adapters stay fp32 (upcast below), full training fp32.
    cpu_bf16 = cpu_bf16_base(spec, use_lora, n_params, load["quantize_4bit"])
    if cpu_bf16:
        net.to(torch.bfloat16)
        load = {**load, "dtype": torch.bfloat16}
    part_name = "pretrain" if stage == "cpt" else "sft"

    def select(split: str) -> Any:
        rows = load_split(data, part_name, split)
        if categories is not None and stage == "cpt":
            rows = rows.filter(lambda r: r["category"] in categories)
        if tasks is not None and stage == "sft":
            rows = rows.filter(lambda r: r["task"] in tasks)
        if view is not None:  # each text (SFT: each answer) in the view; what the view leaves out is dropped
            col, title = ("text", False) if stage == "cpt" else ("output", SFT_ANSWER_TITLES)
            whole = getattr(_viewed, "reads_record", False)
            rows = rows.map(lambda r: {col: (_viewed(r) if whole else _viewed(r[col], title=title)) or ""}).filter(
                lambda r: bool(r[col]))
        return rows

    limit = preset.sft_seq_len

    def prepare(part: Any) -> Any:
        if stage == "cpt":
            return part.select_columns(["text"])
        part = sft_dataset(part, tok)
        return part.filter(lambda r: len(tok(r["prompt"] + r["completion"])["input_ids"]) + 1 <= limit)

    ds = select("train")
    if max_rows is not None:
        ds = ds.select(range(min(max_rows, len(ds))))
    eval_ds = None
    if eval_rows:  # a held-out validation loss beside the training loss
        eval_ds = select("validation")
        eval_ds = prepare(eval_ds.select(range(min(eval_rows, len(eval_ds)))))
    n_before = len(ds)
    ds = prepare(ds)
    dropped = 0 if stage == "cpt" else n_before - len(ds)
    if stage == "sft":
        if not len(ds):
            raise CourseError(f"every SFT example is longer than {limit} tokens; choose a preset with a longer sft_seq_len")
    settings = {"stage": stage, "model": model, "data": str(Path(data).resolve()), "hardware": hardware,
                "max_steps": max_steps, "seed": seed, "lora": use_lora, "rows": len(ds)}
    settings["dropped_too_long"] = dropped
    settings["weights_dtype"] = str(load["dtype"]).replace("torch.", "") if not load["quantize_4bit"] else "nf4"
    if cpu_bf16:
        settings["cpu_bf16"] = True
    if max_rows is not None:
        settings["max_rows"] = max_rows
    if categories is not None:
        settings["categories"] = list(categories)
    if tasks is not None:
        settings["tasks"] = list(tasks)
    if view is not None:
        settings["view"] = view
    kw = training_config_kwargs(preset, use_lora, out, max_steps, save_steps, seed, spec,
                                completion_only=(stage == "sft"), cpu_bf16=cpu_bf16)
    settings["optim"] = kw["optim"]
    if kw.get("activation_checkpointing"):
        settings["use_reentrant"] = kw["activation_checkpointing_kwargs"]["use_reentrant"]
    if eval_ds is not None:
        settings["eval_rows"] = len(eval_ds)
        steps = kw.get("max_steps") or 100
        kw.update(eval_strategy="steps", eval_steps=max(1, steps // 8), per_device_eval_batch_size=preset.batch_size)
    args = SFTConfig(**kw)
    peft_config = None
    if continued:
        settings["continues_adapter"] = str(model)
        settings["lora_targets"] = sorted(net.peft_config["default"].target_modules)
    elif use_lora:
        peft_config = lora_config(preset, lora_targets_for(type(net).__name__))
        settings["lora_targets"] = list(peft_config.target_modules)
    # On a CPU, a LoRA run takes the model's own loss: TRL's fused LM head (a GPU memory saver) recomputes the 49k-word
    # projection in the backward pass; SmolLM2's step is faster without it, in fp32 and in bf16
    # (benchmarks/README.md, "Precision and CPU speed").
    # Full-parameter runs (the composer: 259 symbols, its measured runs) keep TRL's loss.
    plain_loss = CPU_LORA_OWN_LOSS and use_lora and str(spec.device) == "cpu"
    trainer_class = _plain_loss_trainer(SFTTrainer) if plain_loss else SFTTrainer
    if plain_loss:
        settings["loss"] = "model"
    trainer = trainer_class(model=net, args=args, train_dataset=ds, eval_dataset=eval_ds, processing_class=tok,
                            peft_config=peft_config, callbacks=callbacks)
    if not spec.bf16:  # TRL casts QLoRA adapters to bf16, which a T4 lacks: keep fp32 master weights for fp16 autocast
        settings["upcast_to_fp32"] = upcast_trainable(trainer.model)
    settings["parameters"] = n_params
    settings["trainable_parameters"] = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    settings["preset"] = asdict(preset)
    return trainer, settings


def _plain_loss_trainer(base: type) -> type:
    """`base` (trl.SFTTrainer) with the model's own cross-entropy on the labels instead of TRL's fused LM head."""

    class PlainLossSFTTrainer(base):  # type: ignore[misc, valid-type]
        """SFTTrainer whose loss is the model's own (labels of -100 carry none); no entropy/token-accuracy logs."""

        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            keys = ("input_ids", "attention_mask", "position_ids", "labels")
            out = model(**{k: inputs[k] for k in keys if k in inputs}, use_cache=False,
                        num_items_in_batch=num_items_in_batch)
            return (out.loss, out) if return_outputs else out.loss

    return PlainLossSFTTrainer


def tokens_seen(trainer: Any) -> int:
    """Tokens processed so far (batch x length x steps; packed blocks are full)."""
    a = trainer.args
    return int(trainer.state.global_step * a.per_device_train_batch_size * a.gradient_accumulation_steps
               * max(1, a.world_size) * a.max_length)


def example_labels(trainer: Any, index: int = 0) -> list[tuple[str, bool]]:
    """(token text, carries loss) for one training example as the trainer's collator builds it (notebook 04)."""
    batch = trainer.data_collator([trainer.train_dataset[index]])
    tok = trainer.processing_class
    ids = batch["input_ids"][0].tolist()
    labels = batch["labels"][0].tolist()
    return [(tok.decode([i]), lab != -100) for i, lab in zip(ids, labels)]


def trained_text(trainer: Any, index: int = 0) -> str:
    """The decoded tokens of one example that carry loss (for SFT: the answer and EOS) (notebook 04)."""
    batch = trainer.data_collator([trainer.train_dataset[index]])
    labels = [t for t in batch["labels"][0].tolist() if t != -100]
    return trainer.processing_class.decode(labels)
