"""cm_lib.planner: memory estimates behave sensibly and land in documented ranges."""

from __future__ import annotations

import pytest

from cm_lib.planner import GPUS, estimate_memory, lora_parameters, memory_table, model_shape


def test_lora_parameter_count_matches_peft_formula() -> None:
    # LLaMA-2 7B, r=64 on q/k/v/o/gate/up/down: 64*(4*8192 + 3*(4096+11008)) per layer x 32 layers
    assert lora_parameters(model_shape("llama2-7b"), 64) == 159_907_840
    # SmolLM2 uses grouped-query attention (k/v width 192)
    assert lora_parameters(model_shape("smollm2-135m"), 8) == 8 * 30 * (2 * 1152 + 2 * 768 + 3 * 2112)


def test_monotonic_in_seq_len_and_batch() -> None:
    for method in ("lora", "qlora", "full"):
        totals = [estimate_memory("tinyllama-1.1b", method, s, 1).total_gib for s in (256, 512, 1024, 2048)]
        assert totals == sorted(totals) and len(set(totals)) == 4
        batches = [estimate_memory("tinyllama-1.1b", method, 512, b).total_gib for b in (1, 2, 4, 8)]
        assert batches == sorted(batches) and len(set(batches)) == 4
    ckpt = estimate_memory("llama2-7b", "lora", 2048, 4)
    no_ckpt = estimate_memory("llama2-7b", "lora", 2048, 4, gradient_checkpointing=False)
    assert no_ckpt.activations_gib > 5 * ckpt.activations_gib


def test_7b_qlora_is_smaller_and_plausible() -> None:
    lora = estimate_memory("llama2-7b", "lora", 2048, 1)
    qlora = estimate_memory("llama2-7b", "qlora", 2048, 1)
    full = estimate_memory("llama2-7b", "full", 2048, 1)
    assert qlora.total_gib < lora.total_gib < full.total_gib
    # Reported QLoRA peaks for 7B at 2k tokens, batch 1, r=64, checkpointing: roughly 6-14 GiB.
    assert 6 < qlora.total_gib < 14
    assert 3.3 < qlora.weights_gib < 4.0  # NF4 + double quant + 16-bit embeddings/lm_head
    assert 12.5 < lora.weights_gib < 12.6  # 6.74e9 params x 2 bytes
    assert full.total_gib > 80  # full fine-tuning of 7B does not fit one H100


def test_memory_table_rows() -> None:
    rows = memory_table()
    assert len(rows) == 3 * 2 * 2
    assert {r["model"] for r in rows} == {"smollm2-135m", "tinyllama-1.1b", "llama2-7b"}
    by = {(r["model"], r["method"], r["seq_len"]): r for r in rows}
    assert by[("llama2-7b", "qlora", 2048)]["fits T4 16GB"] is True
    assert by[("llama2-7b", "lora", 2048)]["fits T4 16GB"] is False
    assert all(r["fits H100 80GB"] for r in rows)
    assert set(GPUS) == {"T4 16GB", "A100 40GB", "H100 80GB"}


def test_custom_dict_and_bad_input() -> None:
    est = estimate_memory({"params": 1_000_000_000, "layers": 16, "hidden": 2048, "vocab": 32000}, "qlora", 512, 2)
    assert est.model == "1B" and est.total_gib > 0
    with pytest.raises(ValueError):
        estimate_memory("llama2-7b", "prefix-tuning", 512, 1)
    with pytest.raises(ValueError):
        estimate_memory({"params": 1}, "lora", 512, 1)


def test_estimates_stay_near_the_peaks_measured_on_a_gpu() -> None:
    """cm_lib/data/measured/planner_check.json: peaks measured on an H100; LoRA estimates err on the safe side."""
    from cm_lib.measured import measured_rows

    rows = measured_rows("planner_check")
    assert {r["method"] for r in rows} == {"lora", "qlora"}
    for r in rows:
        est = estimate_memory(r["model"], r["method"], r["seq_len"], r["batch"], lora_r=r["lora_r"], dtype=r["dtype"],
                              gradient_checkpointing=r["gradient_checkpointing"]).total_gib
        assert abs(est - r["peak_gib"]) <= 0.25 * r["peak_gib"], (r, est)
        if r["method"] == "lora":
            assert est >= r["peak_gib"], (r, est)
