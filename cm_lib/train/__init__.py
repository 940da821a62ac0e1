"""Continual pre-training (CPT) and supervised fine-tuning (SFT) with TRL + PEFT, hardware presets as data.

One function per stage (`train_cpt`, `train_sft`), both built on `build_trainer`, writing to
`runs/cpt/<model>/` and `runs/sft/<model>/`: standard checkpoints, `trainer_state.json`, the LoRA
adapter (or the full model), a merged model, a model card and `train_result.json` (written last: the
run is complete). A second call with the same settings returns the finished run from disk;
`resume=True` continues an interrupted run from its newest complete checkpoint, also towards a larger
`max_steps` (train longer). A run continues only where that equals a straight run of the new length: the
learning rates of the steps already trained must be the longer run's (a constant schedule, <= 50 steps
here; a cosine or warm-up over the run's length is not). Otherwise `resume=True` is refused with one line,
as are fewer steps than trained; a call without it extends a finished run where that holds, else starts over.

presets: hardware presets; recipe: SFTConfig/LoRA kwargs; data: SFT records as prompt/completion, the data stamp; trainer: the SFTTrainer;
state: a run folder on disk; run: train_cpt/train_sft/merge; report: model card, plots, HTML.
"""

from cm_lib.corpus.splits import load_split  # notebook 04 reads held-out records through cm_lib.train
from cm_lib.train.presets import HARDWARE_PRESETS, STEP_SECONDS, HardwarePreset, hardware_preset, step_seconds
from cm_lib.train.recipe import lora_config, precision_kwargs, training_config_kwargs, training_load_kwargs
from cm_lib.train.report import labels_html, plot_loss_curves, write_model_card
from cm_lib.train.run import finished_run, merge, train_cpt, train_sft
from cm_lib.train.state import TrainResult, latest_complete_checkpoint, load_result, loss_curve
from cm_lib.train.trainer import FULL_TRAINING_MAX_PARAMS, build_trainer, example_labels, trained_text

__all__ = [
    "FULL_TRAINING_MAX_PARAMS", "HARDWARE_PRESETS", "STEP_SECONDS", "HardwarePreset", "TrainResult", "build_trainer",
    "example_labels", "finished_run", "hardware_preset", "labels_html", "latest_complete_checkpoint", "load_result", "load_split", "lora_config",
    "loss_curve", "merge", "plot_loss_curves", "precision_kwargs", "step_seconds", "train_cpt", "train_sft",
    "trained_text", "training_config_kwargs", "training_load_kwargs", "write_model_card",
]
