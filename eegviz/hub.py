"""How eegviz loads Hugging Face models (SD pipelines, CLIP text encoders, image classifiers): offline first.

A local folder, or any id while HF_HUB_OFFLINE=1, is read with local_files_only so nothing reaches for the
network; library notices (torchvision or accelerate missing, progress bars) are silenced, because a user's
bad path should end in eegviz's one-line error, not under a screen of warnings.
"""

from __future__ import annotations

import os
from pathlib import Path


def local_files_only(model: str | Path) -> bool:
    return Path(model).is_dir() or os.environ.get("HF_HUB_OFFLINE") == "1"


def quiet_hf_libraries() -> None:
    """Call before importing diffusers or transformers model classes: importing them already prints some."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
