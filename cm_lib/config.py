"""Run-wide switches read from the environment: smoke mode and seeds."""

from __future__ import annotations

import os
import random

SMOKE_ENV = "CM_SMOKE"


def smoke_mode() -> bool:
    """True when CM_SMOKE is set to 1/true/yes: notebooks and stages shrink to a seconds-long run."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch so that runs are repeatable; notebooks 01, 02, 03, 04, 06."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass
