"""What a run leaves for people: the model card (README.md), loss plots and the loss-mask view of an example."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cm_lib.train.state import loss_curve

if TYPE_CHECKING:
    from cm_lib.train.state import TrainResult


def mean_loss(points: list[tuple[int, float]]) -> float:
    """Mean loss of some logged points (single steps are noisy), NaN when there are none."""
    return sum(lo for _, lo in points) / len(points) if points else math.nan


def plot_loss_curves(runs: dict[str, Path], ax: Any = None, title: str = "training loss") -> Any:
    """Plot the loss curves of several runs (label -> out folder) on one matplotlib axis (notebooks 03, 04)."""
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
  alpha={p.get('lora_alpha')}, dropout={p.get('lora_dropout')} on {', '.join(s.get('lora_targets') or ['-'])}
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


def labels_html(marks: list[tuple[str, bool]]) -> str:
    """HTML of tokens coloured by whether they carry loss (green) or are context only (grey) (notebook 04)."""
    import html

    spans = []
    for text, trained in marks:
        shown = html.escape(text).replace("\n", "↵<br>") or "∅"
        colour = "#b7f0b1" if trained else "#e3e3e3"
        spans.append(f'<span style="background:{colour};border:1px solid #fff;font-family:monospace">{shown}</span>')
    legend = ('<p><span style="background:#e3e3e3">grey: prompt, label -100 (no loss)</span> '
              '<span style="background:#b7f0b1">green: answer + EOS (loss)</span></p>')
    return legend + "".join(spans)
