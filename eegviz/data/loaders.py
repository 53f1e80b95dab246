"""open_dataset(): one entry point for every dataset format eegviz reads, chosen from what the path looks like.

The format modules are imported only once a format is detected, so reading a THINGS-EEG2 folder never pulls in
torch and reading a .pth never pulls in pyxdf. Options a format does not take are dropped with a warning (the
CLI passes --images-dir whatever the format), but an option no format knows is an error: that is a typo, and
silently ignoring it would train on the wrong data. So are --subjects and --splits for a format that does not
read them (CHOOSE_TRIALS): they choose which trials train and which are the test.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from eegviz.data.dataset import EEGDataset
from eegviz.errors import EegvizError
from eegviz.messages import ch_name_problem
from eegviz.sources.xdf_chunks import is_xdf_name, xdf_files_in

log = logging.getLogger(__name__)

FORMATS = ["synthetic", "eeg-imagenet", "things-eeg2", "xdf"]
FORMAT_HELP = {
    "synthetic": "a folder with dataset.json (`eegviz simulate --out`)",
    "eeg-imagenet": "an EEG-ImageNet / EEG-CVPR40 .pth file (optionally --splits FILE.pth)",
    "things-eeg2": "a THINGS-EEG2 preprocessed folder with sub-XX/preprocessed_eeg_training.npy",
    "xdf": "an .xdf (or compressed .xdfz) recording or a folder of them (needs --images-dir)",
}


# recordings `eegviz replay` reads through MNE (eegviz.sources.mne_file), by suffix; train reads their XDF copy
MNE_RECORDINGS = (".fif", ".edf", ".bdf", ".gdf", ".vhdr", ".set", ".cnt", ".mff")


# the command-line flag of each dataset option (`eegviz train|eval`), for messages and the command a model card
# records; the XDF loader's stream names are replay's and live's --stream/--markers
DATA_FLAGS = {"images_dir": "--images-dir", "splits": "--splits", "subjects": "--subjects",
              "eeg_stream": "--stream", "marker_stream": "--markers"}
XDF_ONLY = ("eeg_stream", "marker_stream")
CHOOSE_TRIALS = ("subjects", "splits")  # options that pick which trials are read or tested, where a format takes them


def detect_format(path: str | Path) -> str:
    """The short name (one of FORMATS) of the dataset at `path`, judged from names only, never from contents."""
    p = Path(path)
    if not p.exists():
        raise EegvizError(f"dataset {p} does not exist; check the path")
    if p.is_dir():
        if (p / "dataset.json").is_file():
            return "synthetic"
        if any(p.glob("sub-*/preprocessed_eeg_training.npy")):
            return "things-eeg2"
        if next(xdf_files_in(p), None) is not None:  # eegviz.data.xdf_dataset reads subfolders too
            return "xdf"
        if (p / "preprocessed_eeg_training.npy").is_file():  # one subject's folder, to train on that subject
            raise EegvizError(f"{p} is one THINGS-EEG2 subject's folder; give the folder that holds the sub-XX "
                              f"folders ({p.parent}) as --data, with --subjects to read only some")
        # the release's tree given from its top (the download's root, or eeg_dataset/), and its raw EEG: the
        # generic line below named neither the folder to give nor that raw data is not read
        inner = next((f.parent.parent for pattern in ("*/sub-*/preprocessed_eeg_training.npy",
                                                      "*/*/sub-*/preprocessed_eeg_training.npy")
                      for f in p.glob(pattern)), None)
        if inner is not None:
            raise EegvizError(f"{p} holds a THINGS-EEG2 preprocessed folder further down; give that folder ({inner}, "
                              "which holds the sub-XX folders) as --data")
        if any(p.glob("sub-*/ses-*/raw_eeg_training.npy")):
            raise EegvizError(f"{p} holds THINGS-EEG2's raw EEG (sub-XX/ses-YY/raw_eeg_*.npy), which eegviz does not "
                              "read; give the preprocessed release's folder (preprocessed_data/, with "
                              "sub-XX/preprocessed_eeg_training.npy) as --data")
    elif p.name in ("preprocessed_eeg_training.npy", "preprocessed_eeg_test.npy"):  # one of a subject's files
        raise EegvizError(f"{p} is one file of a THINGS-EEG2 subject; give the folder that holds the sub-XX folders "
                          f"({p.parent.parent}) as --data, with --subjects to read only some")
    elif p.suffix.lower() in (".pth", ".pt"):
        return "eeg-imagenet"
    elif is_xdf_name(p):
        return "xdf"
    elif p.suffix.lower() in MNE_RECORDINGS or p.name.lower().endswith(".fif.gz"):
        # a lab's FIF or EDF was "not a dataset eegviz can read (expected ...)", though replay reads it and records
        # what it replays as the XDF that train reads; a BDF whose stimuli are only on its Status channel needs
        # --event-ids there, which the line did not say (replay then refused it)
        raise EegvizError(f"{p} is a recording eegviz replays (through MNE) but does not train on; `eegviz replay "
                          f"{p} --headless --speed 0 --out DIR` records it as DIR/session.xdf, its annotations as "
                          "markers (where its stimuli are trigger codes, add --event-ids FILE: the code of each image "
                          "or the presentation log), which train reads (with --images-dir)")
    expected = "; ".join(FORMAT_HELP.values())
    raise EegvizError(f"{p} is not a dataset eegviz can read (expected {expected})")


def _loader(fmt: str) -> Callable[..., EEGDataset]:
    if fmt == "synthetic":
        from eegviz.data.synthetic import load_dataset

        return load_dataset
    if fmt == "eeg-imagenet":
        from eegviz.data.eeg_imagenet import load_eeg_imagenet

        return load_eeg_imagenet
    if fmt == "things-eeg2":
        from eegviz.data.things_eeg2 import load_things_eeg2

        return load_things_eeg2
    from eegviz.data.xdf_dataset import load_xdf_dataset

    return load_xdf_dataset


def _options(fn: Callable) -> set[str]:
    """Keyword options of a loader: every parameter after the first (the path)."""
    return set(list(inspect.signature(fn).parameters)[1:])


def open_dataset(path: str | Path, **opts) -> EEGDataset:
    """Load the dataset at `path` in whatever format it is; options given as None count as not given."""
    fmt = detect_format(path)
    fn = _loader(fmt)
    opts = {k: v for k, v in opts.items() if v is not None}
    accepted = _options(fn)
    known = set().union(*(_options(_loader(f)) for f in FORMATS))
    unknown = sorted(set(opts) - known)
    if unknown:
        raise EegvizError(f"unknown dataset option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    given = [DATA_FLAGS[k] for k in XDF_ONLY if k in opts]
    if given and fmt != "xdf":  # as replay refuses them for a file MNE reads: ignored, a user would think the
        # named stream was used
        raise EegvizError(f"{' and '.join(given)} pick streams inside XDF recordings; {path} is a {fmt} dataset, "
                          "which has none: leave them out")
    # --subjects and --splits decide which trials train and which are the test: dropped with a warning, the run
    # trained or scored every subject / the format's own split while the user took it for the ones named (found
    # by review); a library option such as average_repetitions is still only warned about
    chooses = [DATA_FLAGS[k] for k in CHOOSE_TRIALS if k in opts and k not in accepted]
    if chooses:
        takes = [f"{DATA_FLAGS[k]} {'is read ' if not i else ''}for "
                 f"{' and '.join(f for f in FORMATS if k in _options(_loader(f)))} {'datasets' if not i else 'ones'}"
                 for i, k in enumerate(CHOOSE_TRIALS)]  # "--subjects is read for A and B datasets, --splits for A ones"
        article = "an" if fmt[0] in "aeiox" else "a"  # an xdf, an eeg-imagenet
        raise EegvizError(f"{' and '.join(chooses)} {'is' if len(chooses) == 1 else 'are'} not read for {path}, "
                          f"{article} {fmt} dataset ({', '.join(takes)}); leave "
                          f"{'it' if len(chooses) == 1 else 'them'} out, or, for one subject's recordings, give "
                          "their own file or folder as --data")
    ignored = sorted(set(opts) - accepted - {"images_dir"})
    if ignored:
        log.warning("%s is a %s dataset; ignoring option(s) %s", path, fmt, ", ".join(ignored))
    if fmt == "xdf" and "images_dir" not in opts:
        raise EegvizError(f"{path} holds XDF recordings; pass the stimulus folder too (--images-dir / images_dir=)")
    ds = fn(path, **{k: v for k, v in opts.items() if k in accepted})
    if "images_dir" in opts and ds.image_paths is None:  # every format (XDF's loader already scanned the folder):
        # the stimuli the pixel branch learns from and is scored against
        from eegviz.data.images import find_images

        ds.image_paths = {img.image_id: img.path for img in find_images(opts["images_dir"], "--images-dir")}
    return ds


TRAIN_SFREQ = (50.0, 100_000.0)  # Hz: a 20 ms bin holds a sample at least; amplifiers top out near 20 kHz
MIN_EPOCH_MS = 100  # the shortest epoch a decoder is trained on (the shipped ones: 700 ms; THINGS-EEG2: 1000)


def check_trainable(ds: EEGDataset, path: str | Path) -> None:
    """Raise EegvizError unless `ds` can train a decoder: two classes or more in its train split, and validation
    trials to pick the best epoch with.

    The triplet encoder needs a second class to push away from, and the stage keeps the epoch that scores best
    on validation; without either, training would run for minutes and then fail deep inside (or save nothing).
    Own XDF recordings are the usual way to get here: a few markers, or an image folder whose ids all share one
    class prefix.
    """
    train_idx, val_idx = ds.subset("train"), ds.subset("val")
    in_train = sorted({ds.classes[int(y)] for y in ds.labels[train_idx]})
    hint = ("; the class of an image is its id up to the last '_' (or its subfolder) in the images folder, so "
            "record markers for images of at least two classes" if detect_format(path) == "xdf" else "")
    n_img = len(set(map(str, ds.image_ids)))
    if not in_train:
        more = ": with eegviz simulate, --images 3 or more" if detect_format(path) == "synthetic" else ""
        raise EegvizError(f"{path}: the training split of its {len(ds.labels)} trials is empty ({n_img} distinct "
                          f"images; whole images are held out for validation and test, so each class needs "
                          f"several{more}){hint}")
    if len(in_train) < 2 and len(ds.classes) >= 2:
        # the data has the classes, the split took them: "record markers for images of at least two classes" told
        # a lab that had recorded two classes x a few images to record what it had recorded
        held = [c for c in ds.classes if c not in in_train]
        raise EegvizError(f"{path}: its {len(ds.labels)} trials show {len(ds.classes)} classes, but the training "
                          f"split has only one ({in_train[0]!r}): whole images are held out for validation and test, "
                          f"and every image of {', '.join(map(repr, held[:3]))}{' ...' if len(held) > 3 else ''} "
                          f"went there ({n_img} distinct images); each class needs several images, three or more")
    if len(in_train) < 2:
        have = f"only one class ({in_train[0]!r})"
        raise EegvizError(f"{path}: the training split of its {len(ds.labels)} trials has {have}; training needs "
                          f"at least two classes{hint}")
    if len(val_idx) == 0:  # with three images or more, too few images is not why
        cause = (f"its {n_img} distinct images are too few to hold any out (whole images are held out, so at least "
                 "three are needed)" if n_img < 3 else "its split assigns none to validation (a split file with an "
                 "empty 'val', a validation fraction of 0, or too few THINGS-EEG2 concepts to hold one out)")
        raise EegvizError(f"{path} gives no validation trials ({len(train_idx)} train, {len(ds.subset('test'))} "
                          f"test): {cause}; training keeps the epoch that scores best on validation")
    # the model finds each channel by name (eegviz.stream.montage): a doubled or blank one trained a model that
    # its own load then refused, after training (found by review)
    problem = ch_name_problem(ds.ch_names, ds.eeg.shape[1])
    if problem:
        raise EegvizError(f"{path}: its channel names cannot be a model's ({problem}); a model finds each channel "
                          "by its name, so every channel needs its own")
    # the time grid: the decoder reads 20 ms bins, so a rate under 50 Hz leaves bins empty, and an epoch of a
    # sample or two gives the convolutions nothing to slide over (each failed in torch, after the output folder
    # was claimed; found by review)
    n_times = ds.eeg.shape[-1]
    if not (np.isfinite(ds.sfreq) and TRAIN_SFREQ[0] <= ds.sfreq <= TRAIN_SFREQ[1]):
        raise EegvizError(f"{path}: its sampling rate, {ds.sfreq:g} Hz, is not one eegviz trains at "
                          f"({TRAIN_SFREQ[0]:g}-{TRAIN_SFREQ[1]:g} Hz: the decoder reads 20 ms bins)")
    if n_times * 1000 / ds.sfreq < MIN_EPOCH_MS:
        raise EegvizError(f"{path}: its epochs hold {n_times} samples ({n_times * 1000 / ds.sfreq:.0f} ms) "
                          f"at {ds.sfreq:g} Hz; the decoder needs at least {MIN_EPOCH_MS} ms")
