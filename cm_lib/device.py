"""One place that decides device and precision: CUDA bf16 (Ampere+), fp16 on T4, MPS opt-in, else CPU fp32
(bf16 for large frozen or inference-only models where the CPU computes bf16 in hardware)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch

from cm_lib.errors import UsageError

DEVICE_ENV = "CM_DEVICE"
DEVICE_CHOICES = ("cpu", "cuda", "mps")
CPU_BF16_ENV = "CM_CPU_BF16"  # "0": keep fp32 on every CPU (to reproduce fp32 figures); "1": bf16 even where emulated
# On a CPU with AVX512-BF16, bf16 made SmolLM2-135M's scoring and sampling faster with the same answers, while the
# 0.84M composer sampled *slower*: small matmuls gain nothing (benchmarks/cpu_bf16.py; benchmarks/README.md, "Precision
# and CPU speed"). So bf16 applies from this size up; the composer and tiny stay fp32.
CPU_BF16_MIN_PARAMS = 50_000_000


class DeviceChoiceError(UsageError, ValueError):
    """A device preference (argument or $CM_DEVICE) that is not cpu, cuda or mps."""


@dataclass(frozen=True)
class DeviceSpec:
    """Where a model runs and in which precision (what Trainer's bf16/fp16 flags should say)."""

    device: str
    dtype: torch.dtype
    bf16: bool
    fp16: bool
    name: str
    memory_gb: float | None = None  # GPU memory (None on CPU/MPS): what cm_lib.course sizes its plan by

    @property
    def is_cuda(self) -> bool:
        """True on an NVIDIA GPU (the only place 4-bit QLoRA and FlashAttention apply)."""
        return self.device.startswith("cuda")


def pick_device(prefer: str | None = None) -> DeviceSpec:
    """Best available device: prefer='cpu' forces CPU, 'mps' opts in to Apple GPUs, else CUDA if present."""
    source = "device preference" if prefer else f"${DEVICE_ENV}"
    prefer = (prefer or os.environ.get(DEVICE_ENV) or "").strip().lower() or None
    if prefer not in (None, *DEVICE_CHOICES):
        raise DeviceChoiceError(f"unknown {source} {prefer!r}: use {', '.join(DEVICE_CHOICES)} (or leave it unset)")
    if prefer in (None, "cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        memory = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name=name, memory_gb=memory)
        # T4/V100 (compute capability < 8): no native bf16, so fp16 mixed precision.
        return DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name=name, memory_gb=memory)
    if prefer == "mps" and torch.backends.mps.is_available():
        # fp32 weights on MPS: fp16 training there is fragile; opt-in only.
        return DeviceSpec("mps", torch.float32, bf16=False, fp16=False, name="Apple MPS")
    return DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name=_cpu_name())


def cpu_bf16_native() -> bool:
    """True where this CPU computes bf16 in hardware (AVX512-BF16 or AMX) and $CM_CPU_BF16 is not "0" (notebook 03)."""
    choice = os.environ.get(CPU_BF16_ENV, "").strip()
    if choice in ("0", "1"):
        return choice == "1"
    if choice:
        raise DeviceChoiceError(f"${CPU_BF16_ENV} must be 0 or 1, not {choice!r}")
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a torch without these probes: the safe choice
        return False


def cpu_bf16_for(n_params: int, spec: DeviceSpec | None = None) -> bool:
    """Whether a model of n_params on this CPU should compute in bf16: native bf16 and >= CPU_BF16_MIN_PARAMS (notebook 03)."""
    spec = spec or pick_device()
    return spec.device == "cpu" and n_params >= CPU_BF16_MIN_PARAMS and cpu_bf16_native()


@dataclass(frozen=True)
class GpuClass:
    """A kind of GPU the course plans for: usable memory as torch reports it, bf16 in hardware, relative speed."""

    key: str  # CM_PLAN / `course plan --device` value
    name: str  # what torch.cuda.get_device_name says (roughly)
    label: str  # column name in memory tables
    memory_gib: float  # torch's total_memory / 2**30 (a "16 GB" T4 reports ~14.7)
    bf16: bool  # compute capability >= 8 (Ampere and newer); else fp16 autocast
    tflops: float  # dense 16-bit peak TFLOP/s from the vendor's data sheet: scales the H100's measured throughput
    capability: str


# The GPU classes of `course plan --device` (cm_lib.course.plan): facts from vendor data sheets; memory as torch reports it.
GPU_CLASSES: dict[str, GpuClass] = {
    g.key: g
    for g in [
        GpuClass("t4", "Tesla T4", "T4 16GB", 14.7, bf16=False, tflops=65.0, capability="7.5"),
        GpuClass("l4", "NVIDIA L4", "L4 24GB", 22.0, bf16=True, tflops=121.0, capability="8.9"),
        GpuClass("a100-40", "NVIDIA A100-SXM4-40GB", "A100 40GB", 39.4, bf16=True, tflops=312.0, capability="8.0"),
        GpuClass("a100-80", "NVIDIA A100-SXM4-80GB", "A100 80GB", 79.2, bf16=True, tflops=312.0, capability="8.0"),
        GpuClass("h100", "NVIDIA H100 80GB HBM3", "H100 80GB", 79.1, bf16=True, tflops=989.0, capability="9.0"),
    ]
}
PLAN_DEVICES = ("cpu", *GPU_CLASSES)  # CM_PLAN / `course plan --device` values
_BIG_GPU_GIB = 70.0  # 80 GB A100s (H100/H200 by name)
_MID_GPU_GIB = 35.0  # 40 GB A100s, A6000s


def class_spec(key: str) -> DeviceSpec:
    """The DeviceSpec of a device class (cpu, t4, l4, a100-40, a100-80, h100), described, not detected (`course plan`)."""
    if key == "cpu":
        return DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="CPU")
    if key not in GPU_CLASSES:
        raise DeviceChoiceError(f"unknown device class {key!r}: use one of {', '.join(PLAN_DEVICES)}")
    g = GPU_CLASSES[key]
    return DeviceSpec("cuda", torch.bfloat16 if g.bf16 else torch.float16, bf16=g.bf16, fp16=not g.bf16,
                      name=g.name, memory_gb=g.memory_gib)


def device_class(spec: DeviceSpec) -> str:
    """The device class of a (detected) spec: cpu off CUDA; t4 without bf16; h100, a100-80, a100-40, l4 by name and memory."""
    if not spec.is_cuda:
        return "cpu"
    if not spec.bf16:
        return "t4"
    name = spec.name.upper()
    if "H100" in name or "H200" in name:
        return "h100"
    memory = spec.memory_gb or 0.0
    return "a100-80" if memory >= _BIG_GPU_GIB else "a100-40" if memory >= _MID_GPU_GIB else "l4"


def _cpu_name() -> str:
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def describe_hardware() -> dict:
    """Facts for a notebook's hardware table: device, precision, GPU memory, torch version, threads."""
    spec = pick_device()
    info: dict = {
        "device": spec.device,
        "name": spec.name,
        "dtype": str(spec.dtype).replace("torch.", ""),
        "bf16": spec.bf16,
        "fp16": spec.fp16,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "mps_available": torch.backends.mps.is_available(),
        "gpu_memory_gb": None,
        "cpu_bf16": spec.device == "cpu" and cpu_bf16_native(),
    }
    if spec.is_cuda:
        props = torch.cuda.get_device_properties(0)
        info["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        info["compute_capability"] = f"{props.major}.{props.minor}"
    return info
