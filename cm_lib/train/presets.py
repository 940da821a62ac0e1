"""Hardware presets as data: batch, length, packing, checkpointing, LoRA and optimiser settings per kind of machine."""

from __future__ import annotations

from dataclasses import dataclass

from cm_lib.errors import AssetNotFoundError


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
STEP_SECONDS: dict[tuple[str, str, str], tuple[float, str]] = {
    ("cpu", "smollm2-135m", "cpt"): (13.6, "notebook 03's LoRA CPT, 4 x 256 tokens: 16 steps in 217 s, idle 2-core CPU, make demo (Dec 2026)"),
    ("cpu", "smollm2-135m", "sft"): (17.8, "notebook 04's LoRA SFT, 4 answers of <= 512 tokens: 8 steps in 142 s, idle 2-core CPU, make demo"),
    ("cpu-reader", "smollm2-135m", "sft"): (3.2, "notebook 04's header SFT, 8 requests with headers of ~15 tokens: 24 steps in 76 s, idle 2-core CPU, bf16, make demo (Dec 2026)"),
    ("cpu-scratch", "composer", "cpt"): (0.87, "composer, 400 steps x 16 x 384 characters in 346 s (7,100 tokens/s), 2 threads, idle 2-core CPU, make demo"),
    ("cpu-scratch", "composer", "sft"): (1.6, "16 answers of <= 1,024 characters padded to the longest: 120 steps in 189 s, idle 2-core CPU, make demo"),
    ("cpu-smoke", "composer", "cpt"): (0.28, "the tiny preset's 4 x 256 tokens, 2 threads, idle (STACK_NOTES): the composer is smaller"),
    ("cpu-smoke", "composer", "sft"): (0.28, "as cpt: an upper bound for 2 short answers"),
}


# Measured or published training throughput on GPUs, for the plan's estimates (cm_lib.course.cost):
# (GPU class, model preset, method) -> (tokens per second, where the figure comes from, measured by this project).
# Other GPU classes scale the H100 row by dense 16-bit TFLOP/s (cm_lib.planner.GPU_CLASSES): an estimate.
GPU_TOKENS_PER_SECOND: dict[tuple[str, str, str], tuple[float, str, bool]] = {
    ("h100", "llama2-7b", "qlora"): (4140.0, "benchmarks/gpu_train.py on an H100, LLaMA-2-7B shape, QLoRA nf4 r=64, 1 x 2,048, checkpointing, raw training loop", True),
    ("h100", "tinyllama-1.1b", "lora"): (36106.0, "benchmarks/gpu_train.py on an H100, TinyLlama shape, LoRA r=64, 8 x 2,048, raw training loop", True),
    ("h100", "smollm2-135m", "lora"): (92970.0, "benchmarks/gpu_train.py on an H100, SmolLM2-135M shape, LoRA r=64, 16 x 2,048, raw training loop", True),
    ("h100", "composer", "full"): (38105.0, "`cm_lib train cpt --model tiny --hardware h100` on an H100 (the 3.7M `tiny` preset; the 0.84M composer is assumed no faster: small models are launch-bound)", False),
    ("t4", "llama2-7b", "qlora"): (706.0, "public Colab T4 notebooks: LLaMA-2-7B 4-bit, r64, 4 x 1,024 tokens in ~5.8 s/step (STACK_NOTES)", False),
    ("t4", "tinyllama-1.1b", "lora"): (1220.0, "public Colab T4 notebooks: TinyLlama-1.1B packed 2,048, ~1,220 tokens/s (STACK_NOTES)", False),
}


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
