"""Shared test setup: offline hub, isolated runs/ folder, persistent model cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hubsim.pytest_fixtures import _hub_home, hub_server, hub_site  # noqa: F401 - the hub on 127.0.0.1 (issue 24)

REPO = Path(__file__).resolve().parent.parent

# Tests never touch the network and never write into the user's runs/ folder. Converted models
# (SmolLM2 from GGUF, the tiny tokenizer) are cached across runs in runs/cache unless overridden.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CM_CACHE_DIR", str(REPO / "runs" / "cache"))
os.environ["CM_RUNS_DIR"] = tempfile.mkdtemp(prefix="cm_test_runs_")
os.environ.setdefault("CM_SMOKE", "1")
# fp32 on every CPU, so that exact values hold on CPUs with and without hardware bf16 (tests/test_cpu_bf16.py sets it to 1)
os.environ.setdefault("CM_CPU_BF16", "0")


@pytest.fixture(scope="module")
def smollm():
    """SmolLM2-135M (converted once into the cache) on CPU, one torch thread while the tests use it.

    On a shared, oversubscribed 2-core machine two torch threads run ~10x slower than one.
    """
    import torch

    from cm_lib.device import pick_device
    from cm_lib.models import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_model("smollm2-135m", device=pick_device("cpu"))
    torch.set_num_threads(threads)
