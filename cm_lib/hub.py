"""Hugging Face Hub access that fails fast and clearly when offline (HF_HUB_OFFLINE=1 or no network)."""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from cm_lib.errors import HubUnavailableError

HUB_HOST = "huggingface.co"


def hub_offline_flag() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False


@lru_cache(maxsize=1)
def _host_reachable(host: str, timeout: float) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_available(timeout: float = 3.0) -> bool:
    """True when hub downloads can work: not in offline mode and the host answers within `timeout`; notebook 06."""
    endpoint = os.environ.get("HF_ENDPOINT", "")
    host = endpoint.split("//")[-1].split("/")[0].split(":")[0] if endpoint else HUB_HOST
    return not hub_offline_flag() and _host_reachable(host, timeout)


def require_hub(what: str, offline_alternative: str) -> None:
    """Raise HubUnavailableError at once (no retries) if `what` cannot be fetched from the hub."""
    if hub_offline_flag():
        reason = "HF_HUB_OFFLINE=1 is set"
        fix = "unset HF_HUB_OFFLINE when you are online"
    elif not hub_available():
        reason = f"{HUB_HOST} cannot be reached (no network?)"
        fix = "connect to the internet"
    else:
        return
    raise HubUnavailableError(
        f"{what} is only on the Hugging Face Hub, but {reason}. "
        f"Offline, use {offline_alternative} instead; to use the hub, {fix} "
        "(gated models such as meta-llama/Llama-2-7b-hf also need `hf auth login` with an accepted licence)."
    )
