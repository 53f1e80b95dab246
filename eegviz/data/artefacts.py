"""A dataset without its artefact epochs (`eegviz train|eval --reject-uv UV`), judged as a session judges live ones.

Why: a lab that records its own training data (the presenter, blinks in a tenth of the trials) trained on the blink
epochs and was scored on them, while a live session with --reject-uv skips them: the decoder learnt, and its
figures counted, epochs it never decodes live, and the live threshold had no figure behind it. So train and eval
drop the same epochs by the same rule (eegviz.stream.reject.rejected_epochs: the epoch prepared with the model's
own spec, peak to peak on any channel over UV microvolts) from every split, and say how many.

The one place both commands go through after open_dataset: train with the spec it is about to train
(eegviz.train.decoder.decoder_spec), eval (and the evaluation that ends a training run) with the model's saved one,
which is the same spec, so the two drop the same epochs. Without a threshold the dataset is returned as it is, the
same object: training data stays byte for byte what it was before the option existed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from eegviz.data.dataset import EEGDataset
from eegviz.errors import EegvizError
from eegviz.stream.reject import OPTION, rejected_epochs

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def drop_artefacts(ds: EEGDataset, spec, reject_uv: float | None, where) -> tuple[EEGDataset, dict | None]:
    """`ds` without the epochs over `reject_uv` (None: `ds` itself and None), and the record training.json,
    metrics.json and the model card keep: the threshold, and per split the epochs it had and how many were dropped.

    Refused in one line (EegvizError), naming the split and its count: a threshold that drops every epoch of a
    split that had some (nothing to train, choose or score on), or every training epoch of a class (the decoder
    could not learn it, and would still be scored on it). `where` names the data in those lines."""
    if reject_uv is None:
        return ds, None
    rejected, worst = rejected_epochs(ds.eeg, spec, reject_uv)
    split = np.asarray(ds.split).astype(str)
    record = {"reject_uv": float(reject_uv), "epochs": {}, "dropped": {}}
    for name in SPLITS:
        here = split == name
        n, dropped = int(here.sum()), int((rejected & here).sum())
        record["epochs"][name], record["dropped"][name] = n, dropped
        if n and dropped == n:
            least = float(worst[here].min())
            raise EegvizError(f"{OPTION} {reject_uv:g} would drop every one of the {n} {name} epochs of {where} (the "
                              f"smallest peak to peak among them is {least:.0f} uV); raise it, or leave it out to "
                              "keep every epoch")
    _check_classes(ds, rejected, split, reject_uv, where)
    if rejected.any():
        log.info("%s %g: %s dropped as artefacts", OPTION, reject_uv,
                 ", ".join(f"{record['dropped'][k]} of {record['epochs'][k]} {k}" for k in SPLITS))
        ds = _without(ds, rejected)
    return ds, record


def _check_classes(ds: EEGDataset, rejected: np.ndarray, split: np.ndarray, reject_uv: float, where) -> None:
    """Every class that has training epochs keeps one (a class with none is the format's own split's business)."""
    train = split == "train"
    labels = np.asarray(ds.labels)
    for c in np.unique(labels[train]):
        mine = train & (labels == c)
        if rejected[mine].all():
            raise EegvizError(f"{OPTION} {reject_uv:g} would drop every one of the {int(mine.sum())} train epochs of "
                              f"class {str(ds.classes[int(c)])!r} in {where}, so the decoder could not learn it; "
                              "raise it, or leave it out to keep every epoch")


def _without(ds: EEGDataset, rejected: np.ndarray) -> EEGDataset:
    """ds with the rejected trials left out of every per-trial array, the rest (classes, captions, stimuli) kept."""
    keep = np.flatnonzero(~rejected)
    return dataclasses.replace(ds, eeg=ds.eeg[keep], labels=ds.labels[keep], image_ids=ds.image_ids[keep],
                               subjects=ds.subjects[keep], split=ds.split[keep],
                               blocks=None if ds.blocks is None else ds.blocks[keep])


def dropped_words(record: dict | None) -> str | None:
    """The model card's line, None where no threshold was set: "--reject-uv 150: 3 of 120 train, 0 of 20 val,
    1 of 20 test epochs dropped as artefacts"."""
    if not record:
        return None
    return (f"{OPTION} {record['reject_uv']:g}: " + ", ".join(f"{record['dropped'][k]} of {record['epochs'][k]} {k}"
                                                              for k in SPLITS) + " epochs dropped as artefacts")


def trained_reject_uv(model) -> float | None:
    """The --reject-uv a finished model was trained with (its training.json), None without one or where unreadable:
    an evaluation is on the epochs the model's own evaluation kept only under the same threshold."""
    try:
        value = json.loads((Path(model) / "training.json").read_text()).get("reject_uv")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
