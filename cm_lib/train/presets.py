"""Hardware presets as data: batch, length, packing, checkpointing, LoRA and optimiser settings per kind of machine."""

from __future__ import annotations

from dataclasses import dataclass

from cm_lib.errors import AssetNotFoundError
from cm_lib.measured import measured_rows


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
    keep_checkpoints: int | None = 2  # checkpoints kept on disk (None: all, e.g. for a validity-vs-steps curve)
    # "paged_adamw_8bit": bitsandbytes' paged 8-bit AdamW on CUDA where bitsandbytes is installed, else adamw_torch
    optim: str = "adamw_torch"
    # Gradient checkpointing's torch.utils.checkpoint mode: PEFT's docs ask use_reentrant=True for single-GPU
    # QLoRA; benchmarks/gpu_course.py measures both.
    use_reentrant: bool = True


HARDWARE_PRESETS: dict[str, HardwarePreset] = {
    p.name: p
    for p in [
        HardwarePreset("cpu-smoke", "a few steps to prove the pipeline runs (CI, smoke notebooks)",
                       seq_len=128, batch_size=2, max_steps=4, sft_seq_len=384),
        HardwarePreset("cpu", "LoRA on a 135M model on a laptop CPU: fp32 (bf16 where the CPU computes it in hardware), plain blocks, no checkpointing",
                       seq_len=256, batch_size=4, max_steps=30),
        HardwarePreset("cpu-reader", "LoRA SFT of SmolLM2 on short request -> header answers on a CPU: 8 rows a step, a high LR, warm-up",
                       seq_len=256, batch_size=8, max_steps=24, learning_rate=2e-3, warmup_ratio=0.05),
        HardwarePreset("cpu-scratch", "a ~1M-parameter model trained from scratch on a CPU: 16 blocks of 384 tokens, high LR, warm-up, cosine; every checkpoint kept (10 MB each)",
                       seq_len=384, batch_size=16, max_steps=300, sft_seq_len=1024, full_learning_rate=5e-3,
                       sft_full_learning_rate=1e-3, warmup_ratio=0.05, weight_decay=0.01, keep_checkpoints=None),
        HardwarePreset("gpu-scratch", "the ~1M-parameter composer from scratch on any GPU: cpu-scratch's recipe, 4x the batch; every checkpoint kept",
                       seq_len=384, batch_size=64, max_steps=300, sft_seq_len=1024, full_learning_rate=5e-3,
                       sft_full_learning_rate=1e-3, warmup_ratio=0.05, weight_decay=0.01, keep_checkpoints=None),
        HardwarePreset("colab-t4", "Colab T4 (16 GB, fp16, no bf16): QLoRA for >= 1B models",
                       seq_len=1024, batch_size=4, grad_accum=4, sft_seq_len=1024, gradient_checkpointing=True,
                       quantize_4bit=None, lora_r=64, lora_alpha=16, lora_dropout=0.1, learning_rate=2e-4, optim="paged_adamw_8bit"),
        HardwarePreset("a100", "A100 (40/80 GB, bf16): padding-free packing with sdpa/FlashAttention",
                       seq_len=2048, batch_size=8, grad_accum=2, packing_strategy="bfd", sft_seq_len=2048,
                       gradient_checkpointing=True, quantize_4bit=None, lora_r=64, lora_alpha=16,
                       lora_dropout=0.1, learning_rate=2e-4, optim="paged_adamw_8bit"),
        HardwarePreset("h100", "H100 (80 GB, bf16): padding-free packing with sdpa/FlashAttention",
                       seq_len=2048, batch_size=16, grad_accum=1, packing_strategy="bfd", sft_seq_len=2048,
                       gradient_checkpointing=True, quantize_4bit=None, lora_r=64, lora_alpha=16,
                       lora_dropout=0.1, learning_rate=2e-4, optim="paged_adamw_8bit"),
        HardwarePreset("chatmusician", "ChatMusician's released recipe (LLaMA2-7B, 8 GPUs with DeepSpeed)",
                       seq_len=2048, batch_size=8, grad_accum=2, epochs=2.0, packing_strategy="bfd", sft_seq_len=2048,
                       gradient_checkpointing=True, quantize_4bit=None, lora_r=64, lora_alpha=16,
                       lora_dropout=0.1, learning_rate=1e-4, adam_betas=(0.9, 0.95), weight_decay=0.1, optim="paged_adamw_8bit"),
    ]
}


# Measured seconds per optimiser step, for the time estimates cm_lib.course prints before it trains:
# (hardware preset, model, stage) -> (seconds, where the figure comes from). A missing key: not measured yet.
# The figures are data: cm_lib/data/measured/step_seconds.json, written by benchmarks/course_times.py from a finished
# course run (each row with its machine, date and commit).
STEP_SECONDS: dict[tuple[str, str, str], tuple[float, str]] = {
    (r["hardware"], r["model"], r["stage"]): (float(r["seconds_per_step"]), r["source"])
    for r in measured_rows("step_seconds")}


# Measured or published training throughput on GPUs, for the plan's estimates (cm_lib.course.cost):
# (GPU class, model preset, method) -> (tokens per second, where the figure comes from, measured by this project).
# Other GPU classes scale the H100 row by dense 16-bit TFLOP/s (cm_lib.device.GPU_CLASSES): an estimate.
# The figures are data: cm_lib/data/measured/gpu_throughput.json, written by benchmarks/gpu_train.py and
# benchmarks/gpu_course.py (--record); public T4 figures are marked as not measured here.
GPU_TOKENS_PER_SECOND: dict[tuple[str, str, str], tuple[float, str, bool]] = {
    (r["gpu"], r["model"], r["method"]): (float(r["tokens_per_second"]), r["source"], bool(r["measured_here"]))
    for r in measured_rows("gpu_throughput")}


def gpu_tokens_per_second(gpu: str, model: str, method: str) -> tuple[float, str, bool] | None:
    """(tokens/s, source, measured here) of training `model` with `method` on GPU class `gpu`, or None (cm_lib.course.cost)."""
    return GPU_TOKENS_PER_SECOND.get((gpu, model, method))


def step_seconds(hardware: str, model: str, stage: str) -> tuple[float, str] | None:
    """The measured seconds per step of (hardware preset, model, 'cpt'/'sft') and its source, or None if unmeasured (notebooks 04, 06)."""
    return STEP_SECONDS.get((hardware, model, stage))


def hardware_preset(name: str) -> HardwarePreset:
    """The named hardware preset (notebook 03, exercise 3), or AssetNotFoundError listing the known ones."""
    try:
        return HARDWARE_PRESETS[name]
    except KeyError:
        raise AssetNotFoundError(f"unknown hardware preset {name!r}; choose one of {sorted(HARDWARE_PRESETS)}") from None
