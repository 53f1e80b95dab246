"""Saving and loading model folders: config.json + weights as safetensors, with clear errors when broken."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from eegviz.errors import EegvizError


def save_module(module: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))


def load_module(module: torch.nn.Module, path: Path) -> torch.nn.Module:
    if not path.exists():
        raise EegvizError(f"model weights missing: {path}")
    try:
        state = load_file(str(path))
        module.load_state_dict(state)
    except Exception as exc:  # safetensors raises several types for truncated or foreign files
        raise EegvizError(f"model weights in {path} are corrupt or do not fit the model ({type(exc).__name__})") from None
    return module.eval()


def read_config(model_dir: Path, name: str = "config.json") -> dict:
    path = Path(model_dir) / name
    if not path.exists():
        raise EegvizError(f"no model at {model_dir} ({name} missing); train one with `eegviz train`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise EegvizError(f"{path} is not valid JSON") from None


def write_config(model_dir: Path, config: dict, name: str = "config.json") -> None:
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    (Path(model_dir) / name).write_text(json.dumps(config, indent=2))
