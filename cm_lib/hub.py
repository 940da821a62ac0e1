"""Hugging Face Hub access that fails fast and clearly offline, where HF_HUB_OFFLINE=1 means "cache only".

`require_hub` answers "online" (download), "cache" (offline, but the asset is in the local cache) or raises
HubUnavailableError at once (no retries) with one line saying what to do.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlsplit

from cm_lib.errors import AssetNotFoundError, HubUnavailableError, LicenceError, UsageError

HUB_HOST = "huggingface.co"


def hub_offline_flag() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False


def hub_endpoint() -> tuple[str, int]:
    """(host, port) of the hub in use: HF_ENDPOINT when set (a mirror, a local simulator), else huggingface.co:443."""
    endpoint = os.environ.get("HF_ENDPOINT", "").strip()
    if not endpoint:
        return HUB_HOST, 443
    parts = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
    return parts.hostname or HUB_HOST, parts.port or (80 if parts.scheme == "http" else 443)


@lru_cache(maxsize=8)
def _host_reachable(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_available(timeout: float = 3.0) -> bool:
    """True when hub downloads can work: not in offline mode and the host answers within `timeout`; notebook 06."""
    host, port = hub_endpoint()
    return not hub_offline_flag() and _host_reachable(host, port, timeout)


def require_hub(what: str, offline_alternative: str, in_cache: Callable[[], bool] | None = None) -> str:
    """'online' if `what` can be fetched; 'cache' if offline but `in_cache()` finds it locally; else HubUnavailableError.

    Offline means HF_HUB_OFFLINE=1 (the HF stack's "cache only") or an unreachable hub; the error comes at once,
    without the libraries' retries.
    """
    if hub_offline_flag():
        reason = "HF_HUB_OFFLINE=1 is set"
        fix = "unset HF_HUB_OFFLINE when you are online"
    elif not hub_available():
        host, _ = hub_endpoint()
        reason = f"{host} cannot be reached (no network?)"
        fix = "connect to the internet"
    else:
        return "online"
    if in_cache is not None and in_cache():
        return "cache"
    cached = " and it is not in the local cache" if in_cache is not None else ""
    raise HubUnavailableError(
        f"{what} is only on the Hugging Face Hub, but {reason}{cached}. "
        f"Offline, use {offline_alternative} instead; to use the hub, {fix} "
        "(gated models such as meta-llama/Llama-2-7b-hf also need `hf auth login` with an accepted licence)."
    )


def resolve_revision(dataset: str, revision: str) -> str:
    """The commit sha of a dataset revision (a full sha is returned as is), asked from the hub; typed errors."""
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        with hub_errors(dataset):
            return str(HfApi().dataset_info(dataset, revision=revision).sha)
    except GatedRepoError:
        raise LicenceError(f"{dataset} is gated: accept its terms on the hub and run `hf auth login`") from None
    except RevisionNotFoundError:
        raise UsageError(f"{dataset} has no revision {revision!r} on the hub") from None
    except RepositoryNotFoundError:
        raise AssetNotFoundError(f"{dataset} not found on the hub (a private dataset needs a token)") from None


def _is_network_error(err: BaseException) -> bool:
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, HfHubHTTPError):  # an answer from the hub (404, 401...): not a connection problem
        return False
    module = type(err).__module__.split(".")[0]
    return isinstance(err, (ConnectionError, TimeoutError)) or module in {"httpx", "httpx2", "httpcore", "httpcore2"}


@contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """Turn a connection failure inside the block into one line (HubUnavailableError) instead of a traceback."""
    try:
        yield
    except Exception as err:
        if _is_network_error(err):
            raise HubUnavailableError(f"{what}: the hub did not answer ({type(err).__name__}: "
                                      f"{str(err).splitlines()[0] if str(err) else 'no detail'}); nothing was "
                                      "saved, try again when the connection is back") from None
        raise
