"""Where models come from, and the policy for loading them: offline first.

eegviz's own models (`--model`: a folder, or a Hugging Face repo id) and the Hugging Face models it uses (SD
pipelines, CLIP text encoders, image classifiers) are all loaded this way.

A local folder, or any id while HF_HUB_OFFLINE=1, is read with local_files_only so nothing reaches for the
network; library notices (torchvision or accelerate missing, progress bars) are silenced, because a user's
bad path should end in eegviz's one-line error, not under a screen of warnings.
"""

from __future__ import annotations

import os
from pathlib import Path


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it (1/true/yes/on)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def local_files_only(model: str | Path) -> bool:
    return Path(model).is_dir() or hub_offline()


def quiet_hf_libraries() -> None:
    """Call before importing diffusers or transformers model classes: importing them already prints some."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()  # e.g. "accelerate not found": not the user's problem
    diffusers_logging.disable_progress_bar()  # "Loading pipeline components..." on every load


def resolve_model_dir(model: str | Path | None) -> Path:
    """A model folder from `--model`: a local folder as it is, else a Hugging Face repo id ("owner/name", or
    "owner/name@revision") fetched into the HF cache the from_pretrained way.

    Offline first, like every load here: the cache is asked with local_files_only, and only when the model is
    not cached and HF_HUB_OFFLINE is not set is the Hub asked. Only what eegviz reads is fetched (JSON,
    safetensors, the model card), so a repo's other files - pickles, code - never reach the disk. Failure is one
    line: the folder does not exist, or the repo is neither cached nor reachable.
    """
    from eegviz.errors import EegvizError
    from eegviz.paths import SHIPPED_WITH_THE_REPOSITORY, default_model_dir

    if model is None or str(model) == "":
        if not default_model_dir().is_dir():  # a non-editable install: `eegviz train` is not what is missing
            raise EegvizError(f"the default model is missing at {default_model_dir()}; give --model, or: "
                              f"{SHIPPED_WITH_THE_REPOSITORY}")
        return default_model_dir()
    path = Path(model).expanduser()
    text = str(model)
    if (path.exists() or text.startswith((".", "/", "~")) or text.count("/") != 1
            or Path(path.parts[0]).exists()):
        # A folder (TwoBranchDecoder.load says 'no model at ...' when it is not one). "models/lab" whose
        # "models/" exists is a folder not trained yet, never a Hub id: a typo must not go to the network.
        return path
    repo_id, _, revision = text.partition("@")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    patterns = ["*.json", "*.safetensors", "README.md", "report/*"]
    try:
        return Path(snapshot_download(repo_id, revision=revision or None, local_files_only=True,
                                      allow_patterns=patterns))
    except HFValidationError:
        return path
    except Exception as cached_miss:  # noqa: BLE001 - not cached: maybe the Hub, unless offline
        if hub_offline():
            raise EegvizError(f"--model {model}: no such folder, and not in the Hugging Face cache "
                              f"(HF_HUB_OFFLINE=1, so the Hub was not asked)") from None
        try:
            return Path(snapshot_download(repo_id, revision=revision or None, allow_patterns=patterns))
        except Exception as e:  # noqa: BLE001
            why = " ".join(str(e).split())[:200] or type(cached_miss).__name__
            raise EegvizError(f"--model {model}: no such folder, not in the Hugging Face cache, and the Hub "
                              f"could not be reached ({type(e).__name__}: {why})") from None
