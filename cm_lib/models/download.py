"""Hub presets (TinyLlama, LLaMA-2, ChatMusician): downloaded once into the Hugging Face cache, safetensors only."""

from __future__ import annotations

from pathlib import Path

from cm_lib.errors import AssetNotFoundError, LicenceError
from cm_lib.models.folder import ModelFolderError, validate_model_dir
from cm_lib.models.presets import ModelPreset


def prepare_from_hub(preset: ModelPreset) -> Path:
    """The local snapshot of a hub preset (config, safetensors, tokenizer); clear errors offline, gated or missing."""
    from cm_lib.hub import require_hub

    assert preset.hub_id is not None
    require_hub(f"{preset.name} ({preset.hub_id})", "`--model smollm2-135m` or `--model tiny`")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    patterns = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt"]
    try:
        path = Path(snapshot_download(preset.hub_id, allow_patterns=patterns))
    except GatedRepoError as err:
        raise LicenceError(
            f"{preset.hub_id} is gated: open https://huggingface.co/{preset.hub_id}, accept the licence "
            "with your account, create a read token (Settings > Access Tokens) and run `hf auth login` "
            f"(or set HF_TOKEN). ({type(err).__name__})"
        ) from None
    except RepositoryNotFoundError as err:
        raise AssetNotFoundError(f"{preset.hub_id} not found on the hub (or needs a token): {err}") from None
    if not any(path.glob("*.safetensors")):
        raise ModelFolderError(f"{preset.hub_id} ships no *.safetensors weights, and cm_lib refuses pickle weights")
    validate_model_dir(path)
    return path
