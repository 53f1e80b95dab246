"""The synthetic-world dataset: simulated single-trial EEG for procedural stimuli, split by image.

`simulate_dataset` writes DIR/dataset.json + DIR/eeg.npy (+ meta.npz). Images are not stored: every stimulus
is rendered again from its id, deterministically. Split is by image (80/10/10 per class, as in NeuroImagen's
image-wise split), so no test image was ever seen in training, by any subject.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError


@dataclass
class EEGDataset:
    eeg: np.ndarray  # (N, n_ch, n_times) float32 volts
    labels: np.ndarray  # (N,) int
    image_ids: np.ndarray  # (N,) str
    subjects: np.ndarray  # (N,) int
    split: np.ndarray  # (N,) str: train / val / test
    ch_names: tuple[str, ...]
    sfreq: float
    tmin: float
    classes: list[str]
    captions: dict[str, str]  # image id -> rich caption

    def subset(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.split == name)


def simulate_dataset(out: Path, subjects: int = 2, n_per_class: int = 50, seed: int = 0,
                     sfreq: float = 250.0, tmin: float = -0.1, tmax: float = 0.6) -> Path:
    from eegviz.world.eeg_sim import EEGSimulator
    from eegviz.world.stimuli import CLASSES, stimulus_set

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = stimulus_set(n_per_class, seed=seed)
    n_test = max(1, n_per_class // 10)
    eeg, labels, ids, subj, split = [], [], [], [], []
    for s in range(subjects):
        sim = EEGSimulator(subject=s, sfreq=sfreq, seed=seed)
        rng = np.random.default_rng([seed, s])
        eeg.append(sim.epochs(specs, tmin=tmin, tmax=tmax, rng=rng).astype(np.float32))
        for spec in specs:
            k = int(spec.image_id.split("_")[1])
            labels.append(spec.class_idx)
            ids.append(spec.image_id)
            subj.append(s)
            split.append("test" if k >= n_per_class - n_test else "val" if k >= n_per_class - 2 * n_test else "train")
    data = np.concatenate(eeg)
    np.save(out / "eeg.npy", (data * 1e6).astype(np.float16))  # microvolts fit float16 comfortably
    np.savez(out / "meta.npz", labels=np.array(labels), image_ids=np.array(ids), subjects=np.array(subj),
             split=np.array(split))
    meta = {"format": "eegviz-synthetic-1", "ch_names": list(sim.ch_names), "sfreq": sfreq, "tmin": tmin,
            "tmax": tmax, "classes": list(CLASSES), "subjects": subjects, "n_per_class": n_per_class, "seed": seed,
            "unit": "microvolts", "captions": {sp.image_id: sp.caption for sp in specs}}
    (out / "dataset.json").write_text(json.dumps(meta, indent=1))
    return out


def load_dataset(path: Path) -> EEGDataset:
    path = Path(path)
    if not (path / "dataset.json").exists():
        raise EegvizError(f"{path} is not an eegviz dataset (dataset.json missing); create one with `eegviz simulate`")
    meta = json.loads((path / "dataset.json").read_text())
    m = np.load(path / "meta.npz")
    eeg = np.load(path / "eeg.npy").astype(np.float32) * 1e-6
    return EEGDataset(eeg=eeg, labels=m["labels"], image_ids=m["image_ids"], subjects=m["subjects"],
                      split=m["split"], ch_names=tuple(meta["ch_names"]), sfreq=float(meta["sfreq"]),
                      tmin=float(meta["tmin"]), classes=list(meta["classes"]), captions=meta["captions"])
