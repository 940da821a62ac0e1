"""Checks for notebook 03 (LoRA continual pre-training): bits per character, LoRA sizes, hardware presets."""

from __future__ import annotations

import math
from collections.abc import Callable


def _verdict(ok: bool, good: str, hint: str) -> bool:
    """Print ✅ good or ❌ hint; return ok."""
    print(f"✅ {good}" if ok else f"❌ {hint}")
    return ok


def check_bits_per_character(fn: Callable[[float, int], float]) -> bool:
    """`fn(total_nll_nats, n_characters)` must return bits per character."""
    cases = [(math.log(2) * 1000, 1000, 1.0), (1386.2944, 500, 4.0), (0.0, 10, 0.0)]
    try:
        got = [float(fn(n, c)) for n, c, _ in cases]
    except Exception as err:  # noqa: BLE001 - any student error becomes a hint
        return _verdict(False, "", f"your function raised {type(err).__name__}: {err}")
    ok = all(math.isclose(g, want, rel_tol=1e-3, abs_tol=1e-6) for g, (_, _, want) in zip(got, cases))
    hint = ("nats -> bits divides by ln 2 (math.log(2)); then divide by the number of characters. "
            f"For 693.1 nats over 1000 characters you returned {got[0]:.4f}, expected 1.0")
    return _verdict(ok, "right: bits = nats / ln 2, per character, so any tokenizer can be compared", hint)


def check_lora_parameters(answer: int) -> bool:
    """Trainable parameters LoRA r=8 adds to one 576x576 q_proj of SmolLM2: r * (576 + 576)."""
    want = 8 * (576 + 576)
    if answer == 576 * 576:
        return _verdict(False, "", "that is the frozen weight itself; LoRA adds A (r x in) and B (out x r)")
    return _verdict(answer == want, f"right: {want:,} = r*(d_in+d_out), {want / 576**2:.1%} of the frozen matrix",
                    "LoRA learns W + B@A with A: r x d_in and B: d_out x r; count both for r=8, d=576")


def check_t4_precision(answer: dict) -> bool:
    """The SFTConfig precision flags cm_lib chooses on a Colab T4: {'bf16': False, 'fp16': True}."""
    if not isinstance(answer, dict):
        return _verdict(False, "", "answer with a dict such as {'bf16': ..., 'fp16': ...}")
    ok = answer.get("bf16") is False and answer.get("fp16") is True
    return _verdict(ok, "right: a T4 (compute capability 7.5) has no bf16, so mixed precision is fp16",
                    "call training_config_kwargs(hardware_preset('colab-t4'), True, out, spec=T4) with a "
                    "DeviceSpec('cuda', torch.float16, bf16=False, fp16=True, name='T4') and read bf16/fp16")
