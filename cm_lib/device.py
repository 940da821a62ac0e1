"""One place that decides device and precision: CUDA bf16 (Ampere+), fp16 on T4, MPS opt-in, else CPU fp32."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch

from cm_lib.errors import UsageError

DEVICE_ENV = "CM_DEVICE"
DEVICE_CHOICES = ("cpu", "cuda", "mps")


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
    }
    if spec.is_cuda:
        props = torch.cuda.get_device_properties(0)
        info["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        info["compute_capability"] = f"{props.major}.{props.minor}"
    return info
