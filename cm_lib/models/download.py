"""Hub presets (TinyLlama, LLaMA-2, ChatMusician): downloaded once into the Hugging Face cache, safetensors only.

Offline (HF_HUB_OFFLINE=1 or no network) a snapshot already in the cache is used, as everywhere in the HF stack;
a preset that is not cached fails at once with one line. Pickled weights (`*.bin`) are never downloaded.
"""

from __future__ import annotations

from pathlib import Path

from cm_lib.errors import AssetNotFoundError, LicenceError, UsageError
from cm_lib.models.folder import ModelFolderError, validate_model_dir
from cm_lib.models.presets import ModelPreset

# What a snapshot downloads: configs, safetensors weights and tokenizer files; never pickles (*.bin, *.pt).
SAFE_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*.jinja"]


def _revision_kwargs(preset: ModelPreset) -> dict:
    return {"revision": preset.revision} if preset.revision else {}


def cached_snapshot(preset: ModelPreset) -> Path | None:
    """The preset's snapshot in the local HF cache when it holds safetensors weights, else None (no network)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    assert preset.hub_id is not None
    try:
        path = Path(snapshot_download(preset.hub_id, allow_patterns=SAFE_PATTERNS, local_files_only=True,
                                      **_revision_kwargs(preset)))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        return None
    return path if any(path.glob("*.safetensors")) and (path / "config.json").is_file() else None


def prepare_from_hub(preset: ModelPreset) -> Path:
    """The local snapshot of a hub preset (config, safetensors, tokenizer); the cached one offline; clear errors."""
    from cm_lib.hub import require_hub

    assert preset.hub_id is not None
    where = preset.hub_id + (f"@{preset.revision}" if preset.revision else "")
    mode = require_hub(f"{preset.name} ({where})", "`--model smollm2-135m` or `--model tiny`",
                       in_cache=lambda: cached_snapshot(preset) is not None)
    if mode == "cache":
        path = cached_snapshot(preset)
        assert path is not None
    else:
        path = _download(preset)
    if not any(path.glob("*.safetensors")):
        raise ModelFolderError(
            f"{where} ships no *.safetensors weights, and cm_lib refuses pickle weights"
            + ("" if preset.revision else " (a safetensors copy may exist on another revision: set the preset's `revision`)")
        )
    validate_model_dir(path)
    return path


def _download(preset: ModelPreset) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    from cm_lib.hub import hub_errors

    assert preset.hub_id is not None
    try:
        with hub_errors(preset.hub_id):
            return Path(snapshot_download(preset.hub_id, allow_patterns=SAFE_PATTERNS, **_revision_kwargs(preset)))
    except GatedRepoError as err:
        raise LicenceError(
            f"{preset.hub_id} is gated: open https://huggingface.co/{preset.hub_id}, accept the licence "
            "with your account, create a read token (Settings > Access Tokens) and run `hf auth login` "
            f"(or set HF_TOKEN). ({type(err).__name__})"
        ) from None
    except RevisionNotFoundError:
        raise UsageError(f"{preset.hub_id} has no revision {preset.revision!r} on the hub") from None
    except RepositoryNotFoundError as err:
        raise AssetNotFoundError(f"{preset.hub_id} not found on the hub (a private repo needs a token; {type(err).__name__})") from None
