"""EEGDataset, the in-memory form every dataset format loads into, and the image-wise split they share.

Format modules (synthetic, eeg_imagenet, things_eeg2, xdf_dataset) import from here; loaders.py imports the
formats. Nothing here imports a format, so the arrows point one way: loaders -> formats -> dataset.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable, Sequence

import numpy as np

from eegviz.errors import EegvizError


MAX_TMIN_S = 10.0  # how far from the stimulus onset an epoch may start


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
    blocks: np.ndarray | None = None  # (N,) int recording block/run per trial; None when the format lacks it
    image_paths: dict[str, Path] | None = None  # image id -> stimulus file (--images-dir); synthetic ones render

    def __post_init__(self):
        # an epoch starts within seconds of its stimulus: a tmin of -200 is milliseconds, which trained through
        # every stage and then failed as a "damaged" model folder (its baseline window out of range)
        if not (np.isfinite(self.tmin) and abs(self.tmin) <= MAX_TMIN_S):
            raise EegvizError(f"the epochs' start tmin {self.tmin:g} is not seconds from the stimulus onset (within "
                              f"+-{MAX_TMIN_S:g} s; was it given in milliseconds?)")

    def subset(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.split == name)


def check_finite(eeg: np.ndarray, where: str,
                 epoch: Callable[[tuple[int, ...]], str] = lambda i: f"epoch {i[0]}") -> None:
    """Raise EegvizError if any epoch of `eeg` (..., channels, samples) holds NaN or +-inf; `where` names the
    file, `epoch(index)` the first such epoch (index: its position on the leading axes).

    Every loader calls this: one such sample turns every loss and score it reaches into NaN, so training
    would run on to a NaN model and eval would write null metrics, both without a word. Per-epoch min and max
    find them (both propagate NaN, and an infinity is its own extreme) in a pass each, with no mask as large
    as the data.
    """
    if eeg.size == 0:
        return
    bad = ~(np.isfinite(eeg.min(axis=(-2, -1))) & np.isfinite(eeg.max(axis=(-2, -1))))
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise EegvizError(f"{where}: {int(bad.sum())} of {bad.size} epochs hold NaN or infinite values (the first: "
                          f"{epoch(first)}); repair or drop them before loading")


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise EegvizError(f"val and test fractions must be >= 0 and sum to < 1, got {val_fraction} and {test_fraction}")


def split_groups(groups: Sequence[Hashable], val_fraction: float, test_fraction: float, seed: int = 0,
                 strata: Sequence[Hashable] | None = None) -> dict:
    """Assign each distinct group (an image, a concept) wholly to train, val or test; returns group -> split.

    Splitting by group rather than by trial is what keeps every test image unseen in training. Groups are
    drawn round-robin over the strata (classes) in a seeded order, so val and test cover the classes evenly
    even when each class has only a few images. Rounded counts, but at least one val/test group whenever
    its fraction is > 0 and there are at least three groups, and always at least one train group.
    """
    check_fractions(val_fraction, test_fraction)
    stratum = dict(zip(groups, strata)) if strata is not None else {}
    by = defaultdict(list)
    for g in sorted(set(groups), key=str):
        by[stratum.get(g)].append(g)
    rng = np.random.default_rng(seed)
    keys = sorted(by, key=str)
    queues = [[by[keys[i]][j] for j in rng.permutation(len(by[keys[i]]))] for i in rng.permutation(len(keys))]
    order = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    n = len(order)

    def count(frac: float) -> int:
        return max(1, round(frac * n)) if frac > 0 and n >= 3 else round(frac * n)

    n_test = min(count(test_fraction), max(0, n - 1))
    n_val = min(count(val_fraction), max(0, n - 1 - n_test))
    return {g: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, g in enumerate(order)}
