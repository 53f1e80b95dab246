"""Resumable training: each stage saves its progress every few hundred steps and a final state when done.

`eegviz train --resume` skips finished stages (loading their weights) and continues an interrupted one from
its last checkpoint, with optimiser and random-generator state, so a killed 2-core run loses minutes, not hours.
Files live in MODEL_DIR/checkpoints/ and are written atomically (temp file + rename): a crash while saving
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch


class Checkpoints:
    def __init__(self, folder: Path | None, resume: bool = False, every: int = 250, enabled: bool = True):
        self.folder = Path(folder) if folder else None
        self.resume, self.every = resume, every
        self.enabled = enabled and self.folder is not None
        if self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, stage: str, kind: str) -> Path:
        return self.folder / f"{stage}.{kind}.pt"

    def _load(self, path: Path):
        if self.folder is None or not self.resume or not path.exists():
            return None
        return torch.load(path, map_location="cpu", weights_only=False)  # our own files only

    def _save(self, path: Path, payload: dict) -> None:
        if not self.enabled:
            return
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def finished(self, stage: str) -> dict | None:
        """The saved result of a completed stage when resuming, else None."""
        return self._load(self._path(stage, "done")) if self.folder else None

    def partial(self, stage: str) -> dict | None:
        return self._load(self._path(stage, "partial")) if self.folder else None

    def due(self, step: int) -> bool:
        return self.enabled and step > 0 and step % self.every == 0

    def save_partial(self, stage: str, payload: dict) -> None:
        if self.enabled:
            self._save(self._path(stage, "partial"), payload)

    def finish(self, stage: str, payload: dict) -> None:
        if self.enabled:  # Checkpoints(None): training without a folder (library use, tests) saves nothing
            self._save(self._path(stage, "done"), payload)
            self._path(stage, "partial").unlink(missing_ok=True)


def rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}


def restore_rng(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
