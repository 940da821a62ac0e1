"""Shared test setup: offline hub, isolated runs/ folder, persistent model cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Tests never touch the network and never write into the user's runs/ folder. Converted models
# (SmolLM2 from GGUF, the tiny tokenizer) are cached across runs in runs/cache unless overridden.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CM_CACHE_DIR", str(REPO / "runs" / "cache"))
os.environ["CM_RUNS_DIR"] = tempfile.mkdtemp(prefix="cm_test_runs_")
os.environ.setdefault("CM_SMOKE", "1")
