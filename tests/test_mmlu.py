"""cm_lib.mmlu: the lm-evaluation-harness MMLU command for a course model on each device; offline it refuses at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cm_lib.device import DeviceSpec

T4 = DeviceSpec("cuda", torch.float16, bf16=False, fp16=True, name="Tesla T4", memory_gb=14.6)
CPU = DeviceSpec("cpu", torch.float32, bf16=False, fp16=False, name="cpu")


def test_command_follows_the_device_and_the_model_folder(tmp_path: Path) -> None:
    from cm_lib.mmlu import lm_eval_command
    from cm_lib.models.resolve import prepare

    folder = prepare("tiny")
    cmd = lm_eval_command("tiny", tmp_path / "base", device=T4, batch_size=16)
    assert cmd == ["lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype=float16", "--tasks", "mmlu",
                   "--num_fewshot", "5", "--batch_size", "16", "--device", "cuda", "--output_path", str(tmp_path / "base")]
    cpu = lm_eval_command(str(folder), tmp_path / "cpt", device=CPU, limit=20)
    assert f"pretrained={folder},dtype=float32" in cpu and cpu[cpu.index("--device") + 1] == "cpu"
    assert cpu[-2:] == ["--limit", "20"]


def test_offline_run_refuses_and_results_are_read_with_an_interval(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from cm_lib.errors import HubUnavailableError
    from cm_lib.mmlu import MMLU_TEST_QUESTIONS, mmlu_half_width, read_mmlu, run_mmlu

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailableError, match="cais/mmlu"):
        run_mmlu(["lm_eval", "--output_path", str(tmp_path)])
    assert read_mmlu(tmp_path) is None
    folder = tmp_path / "base" / "__runs__model"  # lm-eval writes OUT/<model name>/results_<date>.json
    folder.mkdir(parents=True)
    (folder / "results_2026-12-01T10-00-00.json").write_text(json.dumps(
        {"results": {"mmlu": {"acc,none": 0.25, "acc_stderr,none": 0.005}, "mmlu_anatomy": {"acc,none": 0.3}}}))
    score = read_mmlu(tmp_path / "base")
    assert score["acc"] == 0.25 and score["ci95"] == pytest.approx((0.2402, 0.2598))
    assert MMLU_TEST_QUESTIONS == 14_042 and round(mmlu_half_width(0.30), 4) == 0.0076
