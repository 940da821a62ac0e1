"""Back-of-envelope GPU memory for fine-tuning: weights, LoRA/optimizer states, activations, logits (no GPU needed).

Assumptions (Llama architecture, AdamW, one GPU; estimates):
- weights: 2 bytes/param in bf16/fp16, 4 in fp32; QLoRA stores linear layers in NF4 with double
  quantisation (4.127 bits/param) and keeps embeddings and lm_head in the compute dtype;
- LoRA adapters are trained in fp32: weight + gradient + AdamW's two moments = 16 bytes/param;
  full fine-tuning with mixed precision: fp32 master weight + gradient + moments = 16 bytes/param;
- activations per token and layer (16-bit, memory-efficient attention, no dropout): 16*hidden +
  8*intermediate bytes (RMSNorm inputs, q/k/v, attention output, SwiGLU gate/up/act/product); with
  gradient checkpointing only each layer's input (2*hidden bytes) is kept, plus one layer recomputed;
- logits: 16-bit logits + fp32 copy for the loss + its gradient = 10 bytes per token per vocab entry;
- CUDA context and allocator slack: a fixed 0.75 GiB.

Checked against peak GPU memory measured on an H100 (LoRA r=64 in bf16 with checkpointing, and QLoRA):
cm_lib/data/measured/planner_check.json holds the peaks, tests/test_planner.py keeps every estimate within 25% of
them (benchmarks/README.md, "GPU figures (H100)").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# GPU_CLASSES lives in cm_lib.device (the hardware the course plans for).
from cm_lib.device import GPU_CLASSES
from cm_lib.models.presets import LLAMA_LORA_TARGETS, ModelPreset, model_preset

GIB = 2**30
NF4_BYTES_PER_PARAM = 4.127 / 8
CUDA_OVERHEAD_GIB = 0.75
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
METHODS = ("lora", "qlora", "full")


# Usable memory (GiB) of common GPUs, as torch reports it: the memory table's columns.
GPUS: dict[str, float] = {GPU_CLASSES[k].label: GPU_CLASSES[k].memory_gib for k in ("t4", "a100-40", "h100")}


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know about a model."""

    name: str
    params: int
    layers: int
    hidden: int
    vocab: int
    intermediate: int
    kv_dim: int
    tied_embeddings: bool = False
    lora_targets: tuple[str, ...] = LLAMA_LORA_TARGETS


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak GPU memory of one training setup, by component (GiB)."""

    model: str
    method: str
    seq_len: int
    batch: int
    lora_r: int
    dtype: str
    gradient_checkpointing: bool
    trainable_params: int
    weights_gib: float
    trainable_gib: float
    activations_gib: float
    logits_gib: float
    overhead_gib: float
    total_gib: float

    def fits(self, gpu_gib: float) -> bool:
        """True when the estimate fits in `gpu_gib` GiB."""
        return self.total_gib <= gpu_gib

    def as_row(self) -> dict:
        """A flat dict (rounded GiB) plus one fits-column per GPU in GPUS."""
        row = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        for gpu, cap in GPUS.items():
            row[f"fits {gpu}"] = self.fits(cap)
        return row


def model_shape(model: str | ModelPreset | dict[str, Any]) -> ModelShape:
    """A ModelShape from a preset (or its name) or a dict with params, layers, hidden, vocab (+ intermediate, kv_dim)."""
    if isinstance(model, str):
        model = model_preset(model)  # AssetNotFoundError listing the presets
    if isinstance(model, ModelPreset):
        return ModelShape(
            name=model.name,
            params=model.approx_params,
            layers=model.layers,
            hidden=model.hidden,
            vocab=model.vocab,
            intermediate=model.intermediate,
            kv_dim=model.kv_dim,
            tied_embeddings=model.tied_embeddings,
            lora_targets=model.lora_targets,
        )
    missing = {"params", "layers", "hidden", "vocab"} - set(model)
    if missing:
        raise ValueError(f"model dict lacks {sorted(missing)}")
    hidden = int(model["hidden"])
    return ModelShape(
        name=str(model.get("name", f"{model['params'] / 1e9:.2g}B")),
        params=int(model["params"]),
        layers=int(model["layers"]),
        hidden=hidden,
        vocab=int(model["vocab"]),
        intermediate=int(model.get("intermediate", round(8 * hidden / 3))),
        kv_dim=int(model.get("kv_dim", hidden)),
        tied_embeddings=bool(model.get("tied_embeddings", False)),
    )


def lora_parameters(shape: ModelShape, r: int) -> int:
    """LoRA parameters for rank r on the shape's target matrices of every layer: r * (in + out) per matrix."""
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_dim
    dims = {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
            "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
    unknown = set(shape.lora_targets) - set(dims)
    if unknown:
        raise ValueError(f"no matrix shape known for LoRA targets {sorted(unknown)}")
    return r * sum(sum(dims[t]) for t in shape.lora_targets) * shape.layers


def estimate_memory(
    model: str | ModelPreset | dict[str, Any],
    method: str,
    seq_len: int,
    batch: int,
    lora_r: int = 64,
    dtype: str = "bf16",
    gradient_checkpointing: bool = True,
) -> MemoryEstimate:
    """Estimated peak GPU memory to train `model` with LoRA (16-bit), QLoRA (4-bit NF4) or full fine-tuning."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {sorted(DTYPE_BYTES)}, not {dtype!r}")
    if seq_len < 1 or batch < 1:
        raise ValueError("seq_len and batch must be positive")
    shape = model_shape(model)
    act_bytes = DTYPE_BYTES[dtype] if method != "qlora" else 2  # QLoRA computes in bf16/fp16
    embed = shape.vocab * shape.hidden * (1 if shape.tied_embeddings else 2)
    if method == "qlora":
        weights = (shape.params - embed) * NF4_BYTES_PER_PARAM + embed * act_bytes
    else:
        weights = shape.params * DTYPE_BYTES[dtype]
    trainable = shape.params if method == "full" else lora_parameters(shape, lora_r)
    # LoRA: fp32 adapter + grad + AdamW moments = 16 B/param. Full: 16 B/param in all, the weights above included.
    trainable_bytes = trainable * (16 - DTYPE_BYTES[dtype] if method == "full" else 16)
    tokens = seq_len * batch
    per_layer = tokens * (16 * shape.hidden + 8 * shape.intermediate) * act_bytes / 2
    if gradient_checkpointing:
        activations = shape.layers * tokens * shape.hidden * act_bytes + per_layer
    else:
        activations = shape.layers * per_layer
    logits = tokens * shape.vocab * 10
    parts = [weights / GIB, trainable_bytes / GIB, activations / GIB, logits / GIB, CUDA_OVERHEAD_GIB]
    return MemoryEstimate(
        model=shape.name,
        method=method,
        seq_len=seq_len,
        batch=batch,
        lora_r=lora_r,
        dtype="nf4+" + dtype if method == "qlora" else dtype,
        gradient_checkpointing=gradient_checkpointing,
        trainable_params=trainable,
        weights_gib=parts[0],
        trainable_gib=parts[1],
        activations_gib=parts[2],
        logits_gib=parts[3],
        overhead_gib=parts[4],
        total_gib=sum(parts),
    )


def memory_table(
    models: list[str | ModelPreset | dict[str, Any]] | None = None,
    methods: list[str] | None = None,
    seq_lens: list[int] | None = None,
    batch: int = 1,
    lora_r: int = 64,
) -> list[dict]:
    """Rows of estimate_memory(...).as_row() over models x methods x seq_lens (defaults: 135M/1B/7B x LoRA/QLoRA x 512/2048) (notebook 03)."""
    models = models or ["smollm2-135m", "tinyllama-1.1b", "llama2-7b"]
    methods = methods or ["lora", "qlora"]
    seq_lens = seq_lens or [512, 2048]
    return [
        estimate_memory(m, method, s, batch, lora_r=lora_r).as_row()
        for m in models
        for method in methods
        for s in seq_lens
    ]
