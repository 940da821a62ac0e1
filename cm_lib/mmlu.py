"""MMLU through lm-evaluation-harness, for online users: the command for a course model, running it, its score (notebook 03).

MMLU and its data (`cais/mmlu` on the Hugging Face Hub) are not offline: this module only builds the command
(always) and runs it where the hub and the `lm-eval` package are there.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from cm_lib.errors import CourseError

if TYPE_CHECKING:
    from cm_lib.device import DeviceSpec

LM_EVAL_PIN = "lm-eval==0.4.13"  # installs beside requirements.lock and changes none of its pins
INSTALL = f"pip install {LM_EVAL_PIN} -c requirements.lock"
MMLU_TEST_QUESTIONS = 14_042  # the test split of cais/mmlu, 57 subjects
MMLU_FEWSHOT = 5  # the standard (and the paper's) protocol


def lm_eval_command(model: str | os.PathLike, out: Path, device: DeviceSpec | None = None, batch_size: int = 8,
                    num_fewshot: int = MMLU_FEWSHOT, limit: int | None = None) -> list[str]:
    """The `lm_eval` command (argument list) that scores MMLU for a model folder or preset on `device` (notebook 03)."""
    from cm_lib.device import pick_device
    from cm_lib.models.resolve import prepare

    spec = device or pick_device()
    folder = prepare(model)  # a preset name -> its local HF folder (lm-eval loads folders)
    dtype = str(spec.dtype).replace("torch.", "")
    cmd = ["lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype={dtype}", "--tasks", "mmlu",
           "--num_fewshot", str(num_fewshot), "--batch_size", str(batch_size), "--device", spec.device,
           "--output_path", str(out)]
    if limit is not None:
        cmd += ["--limit", str(limit)]  # per subject: a quicker, rougher estimate
    return cmd


def run_mmlu(cmd: list[str]) -> Path:
    """Run an lm_eval command (needs the hub and `lm-eval`); returns its output folder (notebook 03)."""
    from cm_lib.hub import require_hub

    require_hub("the MMLU data set (cais/mmlu)", "run the printed command on a machine with internet access")
    if importlib.util.find_spec("lm_eval") is None:
        raise CourseError(f"lm-evaluation-harness is not installed: {INSTALL}")
    subprocess.run(cmd, check=True)  # an argument list, no shell
    return Path(cmd[cmd.index("--output_path") + 1])


def read_mmlu(out: Path) -> dict | None:
    """{'acc', 'stderr', 'ci95'} of the newest lm-eval results file under `out`, or None when there is none (notebook 03)."""
    found = sorted(Path(out).rglob("results_*.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        return None
    res = json.loads(found[-1].read_text())["results"]["mmlu"]
    acc, se = float(res["acc,none"]), float(res.get("acc_stderr,none", math.nan))
    return {"acc": acc, "stderr": se, "ci95": (acc - 1.96 * se, acc + 1.96 * se), "file": str(found[-1])}


def mmlu_half_width(acc: float, n: int = MMLU_TEST_QUESTIONS) -> float:
    """Half-width of the 95% normal interval of an accuracy `acc` on `n` questions (notebook 03)."""
    return 1.96 * math.sqrt(acc * (1 - acc) / n)
