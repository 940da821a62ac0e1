"""Checks for notebook 03 (LoRA continual pre-training): bits per character, LoRA sizes, training settings."""

from __future__ import annotations

import math
from collections.abc import Callable

from cm_lib.exercises._common import call, verdict


def _verdict(name: str, ok: bool, good: str, hint: str) -> bool:
    return verdict(f"nb03.{name}", ok, good, hint)


def check_bits_per_character(fn: Callable[[float, int], float]) -> bool:
    """`fn(total_nll_nats, n_characters)` must return bits per character."""
    name = "bits_per_character"
    cases = [(math.log(2) * 1000, 1000, 1.0), (1386.2944, 500, 4.0), (0.0, 10, 0.0), (2079.4415, 750, 4.0)]
    got = []
    for n, c, _ in cases:
        value, err = call(fn, n, c)
        if err:
            return _verdict(name, False, "", err)
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            return _verdict(name, False, "", f"return a number; you returned {value!r}")
    ok = all(math.isclose(g, want, rel_tol=1e-3, abs_tol=1e-6) for g, (_, _, want) in zip(got, cases))
    hint = ("nats -> bits divides by ln 2 (math.log(2)); then divide by the number of characters. "
            f"For 693.1 nats over 1000 characters you returned {got[0]:.4f}, expected 1.0")
    return _verdict(name, ok, "right: bits = nats / ln 2, per character, so any tokenizer can be compared", hint)


LORA_CASES = [(576, 576, 8), (576, 192, 8), (1536, 576, 16), (4096, 4096, 4), (576, 1536, 1)]  # (d_in, d_out, r)


def check_lora_parameters(fn: Callable[[int, int, int], int]) -> bool:
    """`fn(d_in, d_out, r)`: trainable parameters LoRA adds to one d_out x d_in linear layer (A: r x d_in, B: d_out x r)."""
    name = "lora_parameters"
    for d_in, d_out, r in LORA_CASES:
        got, err = call(fn, d_in, d_out, r)
        if err:
            return _verdict(name, False, "", err)
        want = r * (d_in + d_out)
        if got == d_in * d_out:
            return _verdict(name, False, "", "that is the frozen weight itself; LoRA adds A (r x d_in) and B (d_out x r)")
        if got != want:
            return _verdict(name, False, "", f"for d_in={d_in}, d_out={d_out}, r={r} you returned {got!r}: count the "
                            "entries of A (r x d_in) and of B (d_out x r)")
    share = 8 * (576 + 576) / 576**2
    return _verdict(name, True, f"right on {len(LORA_CASES)} shapes: r*(d_in+d_out); for SmolLM2's q_proj with r=8 "
                    f"that is {8 * 1152:,}, {share:.1%} of the frozen matrix", "")


def _spec_cases() -> list[tuple[str, object]]:
    import torch

    from cm_lib.device import DeviceSpec

    t4 = DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="T4")
    a100 = DeviceSpec("cuda", torch.bfloat16, bf16=True, fp16=False, name="A100")
    cpu = DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="CPU")
    return [("colab-t4", t4), ("a100", a100), ("a100", cpu), ("cpu", cpu), ("h100", a100)]


SETTING_KEYS = ("bf16", "fp16", "packing_strategy")


def check_sft_settings(fn: Callable[[str, object], dict]) -> bool:
    """`fn(preset_name, spec)` returns {"bf16", "fp16", "packing_strategy"} as cm_lib.train chooses them."""
    from pathlib import Path

    from cm_lib.train import hardware_preset, training_config_kwargs

    name = "sft_settings"
    for preset, spec in _spec_cases():
        got, err = call(fn, preset, spec)
        if err:
            return _verdict(name, False, "", err)
        kw = training_config_kwargs(hardware_preset(preset), True, Path("unused"), spec=spec)
        want = {k: kw.get(k) for k in SETTING_KEYS}
        if not isinstance(got, dict) or {k: got.get(k) for k in SETTING_KEYS} != want:
            wrong = [k for k in SETTING_KEYS if not isinstance(got, dict) or got.get(k) != want[k]]
            return _verdict(name, False, "", f"for preset {preset!r} on {spec.name} these keys are wrong or missing: "
                            f"{wrong}. Call training_config_kwargs(hardware_preset(preset), True, Path('out'), "
                            "spec=spec) and read those three keys")
    return _verdict(name, True, "right on five preset x device pairs: a T4 has no bf16 (fp16 instead), and padding-free "
                    "'bfd' packing falls back to 'wrapped' on a CPU", "")
