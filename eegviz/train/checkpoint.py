"""Resumable training: each stage saves its progress every few hundred steps and a final state when done.

`eegviz train --resume` skips finished stages (loading their weights) and continues an interrupted decoder stage
from its last checkpoint, with optimiser and random-generator state. The generator's stages (classifier,
autoencoder, teacher, student) are kept whole when each ends and loaded on --resume, but one cut short starts
again (eegviz.train.diffusers_gen): a killed 2-core run loses at most the stage it was in, up to about 18 minutes
(the teacher), not the run.
Files live in MODEL_DIR/checkpoints/ and are written atomically (temp file + rename): a crash while saving
leaves the previous checkpoint intact.

They are read with torch.load(weights_only=True): a checkpoint folder is just files on disk, and one swapped for
a crafted pickle must not run code when `--resume` opens it. Everything saved is therefore kept to what that
loader accepts (tensors, dicts, lists, strings, numbers): numpy's generator state is stored as plain ints and
strings, any numpy arrays in it as tensors tagged with their dtype, and turned back on restore.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from eegviz.atomic import replacing
from eegviz.errors import EegvizError, one_line
from eegviz.modelio import torch_load_plain, unpickler_reason


class Checkpoints:
    def __init__(self, folder: Path | None, resume: bool = False, every: int = 250, enabled: bool = True):
        self.folder = Path(folder) if folder else None
        self.resume, self.every = resume, every
        self.enabled = enabled and self.folder is not None
        # stage -> what --resume took from its checkpoints ("loaded", or "continued from step K of N"): training.json
        # records it, as it records the generator's loaded stages, so a resumed run's figures can be read as such
        self.resumed: dict[str, str] = {}
        if self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, stage: str, kind: str) -> Path:
        """The file of a stage's checkpoint: kind "partial" (during the stage) or "done" (its result)."""
        return self.folder / f"{stage}.{kind}.pt"

    def _load(self, path: Path):
        if self.folder is None or not self.resume or not path.exists():
            return None
        try:
            return torch_load_plain(path)
        except pickle.UnpicklingError as e:
            raise EegvizError(f"checkpoint {path} holds objects other than tensors and plain values"
                              f"{unpickler_reason(e)}, which "
                              "could run code when loaded; it was not written by eegviz, so delete it (or the "
                              "checkpoints folder) and train again without it") from None
        except Exception as e:  # truncated or foreign files: torch raises RuntimeError, EOFError, ...
            raise EegvizError(f"checkpoint {path} could not be read ({one_line(e)}); delete it to "
                              "start that stage afresh") from None

    def _save(self, path: Path, payload: dict) -> None:
        if not self.enabled:
            return
        with replacing(path) as tmp:  # a full disk mid-save leaves the previous checkpoint, and no .tmp beside it
            torch.save(payload, tmp)

    def finished(self, stage: str) -> dict | None:
        """The saved result of a completed stage when resuming, else None."""
        return self._load(self.path(stage, "done")) if self.folder else None

    def partial(self, stage: str) -> dict | None:
        return self._load(self.path(stage, "partial")) if self.folder else None

    def due(self, step: int) -> bool:
        return self.enabled and step > 0 and step % self.every == 0

    def save_partial(self, stage: str, payload: dict) -> None:
        if self.enabled:
            self._save(self.path(stage, "partial"), payload)

    def finish(self, stage: str, payload: dict) -> None:
        if self.enabled:  # Checkpoints(None): training without a folder (library use, tests) saves nothing
            self._save(self.path(stage, "done"), payload)
            self.path(stage, "partial").unlink(missing_ok=True)


_ARRAY = "__ndarray__"  # tag of a numpy array stored as {"__ndarray__": tensor, "dtype": name}


def _plain(value):
    """numpy's bit_generator.state with arrays (MT19937's key) as tagged int64 tensors and numpy scalars as
    Python numbers: values torch.load(weights_only=True) accepts. PCG64's state is ints and strings already."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return {_ARRAY: torch.from_numpy(value.astype(np.int64) if value.dtype.kind in "ui" else value.copy()),
                "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _numpy(value):
    """Inverse of _plain()."""
    if isinstance(value, dict):
        if _ARRAY in value:
            return value[_ARRAY].numpy().astype(np.dtype(value["dtype"]))
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numpy(v) for v in value]
    return value


def rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": _plain(rng.bit_generator.state), "torch": torch.get_rng_state()}


def restore_rng(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = _numpy(state["numpy"])
    torch.set_rng_state(state["torch"])
