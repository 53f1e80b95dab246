"""EEG-ImageNet as released by Spampinato et al. (CVPR 2017, "EEG-CVPR40") and used by NeuroImagen.

One torch file (e.g. eeg_55_95_std.pth) holds {"dataset": [{"eeg": (128, ~500) tensor at 1 kHz, "image": index
into "images", "label": index into "labels", "subject": int}, ...], "labels": 40 WordNet ids, "images": image
names such as "n02389026_3255"}. A second file (e.g. block_splits_by_image_all.pth) holds {"splits": [{"train":
[...], "val": [...], "test": [...]}, ...]} of indices into "dataset". The 2024 dataset of the same name (Zhu et
al., EEG-ImageNet_1.pth: trials with "eeg_data" and "granularity") is another layout and is refused, naming it.

What the original code does, and is kept here so published splits and numbers stay comparable: trials are
cropped to samples 20..460 (time_low/time_high), and only trials of 450..600 samples are used (here: at least
time_high, which is the same on the released files, whose shortest trial has 491 samples); the length filter
never renumbers the list the split files index. Each trial starts at stimulus onset, so tmin = time_low / 1000 s.

Which list the split indices point into: block_splits_by_image_all.pth indexes the whole "dataset" list
(11965 trials); block_splits_by_image_single.pth (1000 indices, as used by DreamDiffusion with subject 4)
indexes ONE subject's trials, because the original code filters by subject before applying the split.
`split_index="auto"` takes the subject's list when subjects are selected and every index fits inside it
(the all-subjects file's indices only do when every subject is selected), else the whole list; "dataset" and
"subjects" force one. A file whose indices all fit inside one subject's trials is refused in "auto" over several
subjects, selected or (no subjects given) in the file: it indexes one subject's trials.

Not in the file, hence assumed: the values are treated as microvolts (scale=1e-6 V per unit; the released data
are band-passed and standardised, so the absolute scale is nominal), and channel names are unknown, so they are
EEG001..EEG128. Mapping these channels to a live headset by name will therefore not work unless `ch_names`
gives the real montage (128-channel actiCAP) in the stored order.

Design: each subject saw the 50 images of a class in one block, so block = (subject, class) and class is
confounded with recording time (Li et al., IEEE TPAMI 2020). The loader records that as `blocks`; the eval
controls then report that no split keeps blocks apart while keeping every class in training, and decoding
should be judged with the high-pass control instead.
"""

from __future__ import annotations

import logging
import pickle
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from eegviz.data.dataset import EEGDataset, check_finite
from eegviz.errors import EegvizError, one_line

log = logging.getLogger(__name__)

SFREQ = 1000.0
SPLIT_NAMES = ("train", "val", "test")

# The 40 ImageNet synsets of EEG-CVPR40, with the ImageNet class names (shortened where the full one is a list).
WORDNET_NAMES = {
    "n02106662": "German shepherd", "n02124075": "Egyptian cat", "n02281787": "lycaenid butterfly",
    "n02389026": "sorrel horse", "n02492035": "capuchin monkey", "n02504458": "African elephant",
    "n02510455": "giant panda", "n02607072": "anemone fish", "n02690373": "airliner", "n02906734": "broom",
    "n02951358": "canoe", "n02992529": "cellular telephone", "n03063599": "coffee mug",
    "n03100240": "convertible", "n03180011": "desktop computer", "n03197337": "digital watch",
    "n03272010": "electric guitar", "n03272562": "electric locomotive", "n03297495": "espresso maker",
    "n03376595": "folding chair", "n03445777": "golf ball", "n03452741": "grand piano",
    "n03584829": "clothes iron", "n03590841": "jack-o'-lantern", "n03709823": "mailbag",
    "n03773504": "missile", "n03775071": "mitten", "n03792782": "mountain bike", "n03792972": "mountain tent",
    "n03877472": "pajama", "n03888257": "parachute", "n03982430": "pool table", "n04044716": "radio telescope",
    "n04069434": "reflex camera", "n04086273": "revolver", "n04120489": "running shoe", "n07753592": "banana",
    "n07873807": "pizza", "n11939491": "daisy", "n13054560": "bolete mushroom",
}


def _torch_load(path: Path, trust: bool, what: str) -> object:
    """torch.load that only unpickles arbitrary objects when the caller trusts the file.

    The released files hold only dicts, lists, ints, strings and tensors, which weights_only=True accepts; a
    file needing more could run code when unpickled, so that takes an explicit trust=True.
    """
    import torch

    from eegviz.modelio import torch_load_plain, unpickler_reason

    if not path.is_file():
        raise EegvizError(f"{what} {path} does not exist; check the path")
    try:
        return torch_load_plain(path)
    except pickle.UnpicklingError as e:
        if not trust and "Unsupported operand 149" in str(e):  # FRAME: pickle protocol 4 or newer
            raise EegvizError(f"{what} {path} was saved with pickle protocol 4 or newer, which torch's safe "
                              "(weights-only) loader cannot read even when it holds only tensors; save it again "
                              "with torch.save's default protocol (or, if you trust its source, load it from "
                              "Python: load_eeg_imagenet(..., trust=True))") from None
        if not trust:
            raise EegvizError(f"{what} {path} is not plain tensors/lists/dicts{unpickler_reason(e)}: either it is not "
                              "a torch file, or it holds pickled objects that can run code (eegviz's command line "
                              "never unpickles those; from Python, if you trust its source: "
                              "load_eeg_imagenet(..., trust=True))") from None
    except Exception as e:  # torch raises RuntimeError/EOFError/... for files that are not torch files
        raise EegvizError(f"{what} {path} could not be read by torch.load ({one_line(e)})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise EegvizError(f"{what} {path} could not be read by torch.load ({one_line(e)})") from None


def _int(value: object, where: str) -> int:
    """An entry's index (label, image, subject) as an int, or a one-line EegvizError naming `where`.

    A whole number stored as a float (3.0, a float tensor) is taken; 3.7 is refused: int() truncated it to 3,
    so a label of 3.7 silently became class 3."""
    try:
        number = float(value)
        whole = int(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        whole = None
    if whole is None or number != whole:
        # whitespace collapsed: a tensor's repr spans lines, and the error must stay one line
        raise EegvizError(f"{where} must be an integer, got {' '.join(repr(value).split()):.40}") from None
    return whole


def _samples(x: object, where: str) -> np.ndarray:
    """A trial's samples (a tensor, or with trust=True an array) as float32, or EegvizError naming `where`.

    numpy cannot take a bfloat16 tensor (a TypeError, shown as a traceback), and takes a complex one by dropping
    its imaginary part with a warning: both once went through np.asarray as they were."""
    is_complex = x.is_complex() if hasattr(x, "is_complex") else np.iscomplexobj(x)
    if is_complex:
        raise EegvizError(f"{where} holds complex numbers; EEG samples are real")
    if hasattr(x, "is_floating_point") and x.is_floating_point():
        x = x.float()  # bfloat16 and half, which numpy has no conversion for or converts slowly
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise EegvizError(f"{where} is not numbers ({type(x).__name__} of {getattr(x, 'dtype', '?')})") from None


def _names(raw: dict, key: str, path: Path) -> list[str]:
    """raw[key] as a list of names ("labels": WordNet ids, "images": image names), which entries index."""
    value = raw[key]
    if not (isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1)):
        raise EegvizError(f"{path}: '{key}' must be a list of names, not {type(value).__name__}")
    return [str(x) for x in value]


def _indices(value: object, where: str) -> np.ndarray:
    try:
        idx = np.asarray(value).reshape(-1)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise ValueError
        return idx.astype(np.int64)
    except (ValueError, TypeError):
        raise EegvizError(f"{where} must be a list of integer trial indices") from None


def read_splits(path: str | Path, split_num: int, n_entries: int, trust: bool = False) -> dict[int, str]:
    """Trial index -> train/val/test from a splits file; a trial listed twice goes to the later of train < val < test.

    That priority keeps a doubly-listed trial out of training. Indices past the dataset's end are dropped with
    a warning (DreamDiffusion drops them too; the original code would fail on them).
    """
    path = Path(path)
    raw = _torch_load(path, trust, "splits file")
    if not isinstance(raw, dict) or not isinstance(raw.get("splits"), (list, tuple)):
        raise EegvizError(f"splits file {path} must hold "
                          "{'splits': [{'train': [...], 'val': [...], 'test': [...]}, ...]}")
    all_splits = raw["splits"]
    if not 0 <= split_num < len(all_splits):
        raise EegvizError(f"split_num {split_num} is out of range: {path} holds {len(all_splits)} split(s)")
    chosen = all_splits[split_num]
    if not isinstance(chosen, dict) or any(k not in chosen for k in SPLIT_NAMES):
        have = sorted(chosen) if isinstance(chosen, dict) else type(chosen).__name__
        raise EegvizError(f"split {split_num} in {path} needs keys train, val and test; it has {have}")
    out: dict[int, str] = {}
    dup = beyond = 0
    for name in SPLIT_NAMES:
        idx = _indices(chosen[name], f"split {split_num} '{name}' in {path}")
        if (idx < 0).any():
            raise EegvizError(f"split {split_num} '{name}' in {path} holds negative indices")
        beyond += int((idx >= n_entries).sum())
        for i in idx[idx < n_entries].tolist():
            dup += i in out
            out[i] = name
    if beyond:
        log.warning("%s: %d split indices point past the %d dataset entries; dropped", path.name, beyond, n_entries)
    if dup:
        log.warning("%s: %d trials are listed in more than one split; each kept in the last of train/val/test",
                    path.name, dup)
    return out


def _split_of_trials(where: dict[int, str], of_subjects: list[int], subset: bool, split_index: str,
                     name: str, n_subjects: int = 1, largest: int | None = None) -> dict[int, str]:
    """Split indices -> dataset entries: as they are, or as positions in the selected subjects' trials.
    `largest`: the most trials one selected subject has (default: all of of_subjects)."""
    fits = bool(where) and max(where) < len(of_subjects)
    one = len(of_subjects) if largest is None else largest
    if split_index == "auto" and not subset and n_subjects > 1 and where and max(where) < one:
        # block_splits_by_image_single.pth without --subjects: its positions in one subject's trials were read as
        # entries of the whole list, a split over every subject's first trials that was not image-wise, trained
        # and tested on with two warnings (found by review)
        raise EegvizError(f"{name} indexes one subject's trials (all its indices fall within the {one} trials of "
                          f"one subject, and the file holds {n_subjects} subjects): choose that subject with "
                          "--subjects, as the original code and DreamDiffusion (subject 4) do")
    if split_index == "dataset" or (split_index == "auto" and not (subset and fits)):
        return where
    # several subjects: a file whose indices reach past any one subject's trials is the all-subjects file. With
    # every subject named (`--subjects 1,2,3,4,5,6`) its indices fit the chosen trials, which are then the whole
    # list, and block_splits_by_image_all.pth was refused as a single-subject file (found by review)
    if split_index == "auto" and n_subjects > 1 and max(where) >= one:
        return where
    if split_index == "auto" and n_subjects > 1:
        # a single-subject file's positions laid over several subjects' trials in file order: a meaningless
        # split that puts one image's trials in train and test (the original code takes one subject)
        raise EegvizError(f"{name} indexes one subject's trials (all its indices fall within the chosen subjects' "
                          f"{len(of_subjects)}), but --subjects names {n_subjects}: choose one subject with it, as "
                          "the original code and DreamDiffusion do")
    if not fits:
        log.warning("%s: %d split indices point past the selected subjects' %d trials; dropped", name,
                    sum(i >= len(of_subjects) for i in where), len(of_subjects))
    log.info("%s indexes the selected subjects' %d trials (a single-subject split file)", name, len(of_subjects))
    return {of_subjects[i]: sp for i, sp in where.items() if i < len(of_subjects)}


def load_eeg_imagenet(path: str | Path, splits: str | Path | None = None, split_num: int = 0,
                      time_low: int = 20, time_high: int = 460, max_len: int | None = 600, scale: float = 1e-6,
                      subjects: int | Iterable[int] | None = None, ch_names: Iterable[str] | None = None,
                      trust: bool = False, val_fraction: float = 0.1, test_fraction: float = 0.1,
                      seed: int = 0, split_index: str = "auto") -> EEGDataset:
    """Read an EEG-ImageNet .pth (and its splits file) into an EEGDataset in volts.

    Without a splits file, images (not trials) are split seeded, stratified by class, by val/test_fraction.
    `subjects` keeps only those subject numbers; `max_len=None` keeps over-long trials too; `split_index`
    says which list the split file indexes (module docstring).
    """
    from eegviz.data.dataset import split_groups

    path = Path(path)
    if not 0 <= time_low < time_high:
        raise EegvizError(f"need 0 <= time_low < time_high, got {time_low} and {time_high}")
    raw = _torch_load(path, trust, "EEG-ImageNet file")
    missing = [k for k in ("dataset", "labels", "images") if not isinstance(raw, dict) or k not in raw]
    if missing:
        # the first few keys: a model's state dict given as --data (a checkpoint .pth) has hundreds, and every
        # one was listed, a line of thousands of characters
        keys = [str(k) for k in raw] if isinstance(raw, dict) else []
        have = (", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "") if keys
                else "no keys" if isinstance(raw, dict) else type(raw).__name__)
        # block_splits_by_image_*.pth given as the data (the two files swapped on the command line)
        swapped = (": it is a splits file; give it as --splits and the EEG file (e.g. eeg_55_95_std.pth) as --data"
                   if isinstance(raw, dict) and "splits" in raw else "")
        raise EegvizError(f"{path} is not an EEG-ImageNet file: key(s) {', '.join(missing)} missing (has: {have})"
                          f"{swapped}")
    entries, wnids, images = raw["dataset"], _names(raw, "labels", path), _names(raw, "images", path)
    if not isinstance(entries, (list, tuple)) or not entries:
        raise EegvizError(f"{path}: 'dataset' must be a non-empty list of trials")
    wanted = None if subjects is None else {int(subjects)} if np.isscalar(subjects) else {int(s) for s in subjects}

    if split_index not in ("auto", "dataset", "subjects"):
        raise EegvizError(f"split_index must be auto, dataset or subjects, not {split_index!r}")
    keep: list[int] = []
    of_subjects: list[int] = []  # the selected subjects' trials before the length filter, in file order
    present: set[int] = set()  # every subject number in the file
    n_ch, short, long_ = None, 0, 0
    for i, e in enumerate(entries):
        lacks = [k for k in ("eeg", "image", "label", "subject") if not isinstance(e, dict) or k not in e]
        if lacks and isinstance(e, dict) and "eeg_data" in e:
            # the 2024 dataset of the same name (Zhu et al., EEG-ImageNet_1.pth / _2.pth: 'eeg_data', 'granularity',
            # labels as WordNet ids): told only "lacks eeg", a user renamed keys and met the next refusal
            raise EegvizError(f"{path} is the EEG-ImageNet of Zhu et al. (2024; its trials hold eeg_data and "
                              "granularity), which eegviz does not read; its eeg-imagenet format is Spampinato et "
                              "al.'s EEG-CVPR40 file (eeg_55_95_std.pth, trials holding eeg, image, label, subject)")
        if lacks:
            raise EegvizError(f"{path}: dataset entry {i} lacks {', '.join(lacks)} "
                              "(each needs eeg, image, label, subject)")
        shape = tuple(getattr(e["eeg"], "shape", ()))
        if len(shape) != 2:
            raise EegvizError(f"{path}: entry {i} eeg has shape {shape}; expected (channels, samples)")
        if n_ch is None:
            n_ch = shape[0]
        elif shape[0] != n_ch:
            raise EegvizError(f"{path}: entry {i} has {shape[0]} channels but entry 0 has {n_ch}; "
                              "eeg must be (channels, samples) in every entry")
        label, image, subject = (_int(e[k], f"{path}: entry {i} {k}") for k in ("label", "image", "subject"))
        if not 0 <= label < len(wnids):
            raise EegvizError(f"{path}: entry {i} label {label} is outside the {len(wnids)} labels")
        if not 0 <= image < len(images):
            raise EegvizError(f"{path}: entry {i} image {image} is outside the {len(images)} images")
        present.add(subject)
        if wanted is not None and subject not in wanted:
            continue
        of_subjects.append(i)
        if shape[1] < time_high:
            short += 1
        elif max_len is not None and shape[1] > max_len:
            long_ += 1
        else:
            keep.append(i)
    # as THINGS-EEG2's subjects=: a number the file does not hold is refused, naming the ones it does; `--subjects
    # 4,7` trained and scored subject 4 alone without a word, and `--subjects 7` said only "no trials left"
    absent = sorted(wanted - present) if wanted is not None else []
    if absent:
        raise EegvizError(f"subject(s) {', '.join(map(str, absent))} not in {path}; available: "
                          f"{', '.join(map(str, sorted(present)))}")
    if short or long_:
        log.warning("%s: skipped %d trials shorter than %d samples and %d longer than %s", path.name, short,
                    time_high, long_, max_len)
    if not keep:
        # a file saved (samples, channels): every trial "too short", and nothing said which axis was read as time
        flipped = (f"; each trial's eeg was read as {n_ch} channels x its samples (shape (channels, samples)): is it "
                   "saved (samples, channels)? transpose each entry's eeg" if short and n_ch >= time_high else "")
        raise EegvizError(f"{path}: no trials left after the subject and length filters "
                          f"(time_high={time_high}, max_len={max_len}, subjects={subjects}){flipped}")

    ids = np.array([images[int(entries[i]["image"])] for i in keep])
    labels = np.array([int(entries[i]["label"]) for i in keep], dtype=np.int64)
    if splits is not None:
        per_subject = Counter(_int(entries[i]["subject"], "subject") for i in of_subjects)
        where = _split_of_trials(read_splits(splits, split_num, len(entries), trust), of_subjects,
                                 wanted is not None, split_index, Path(splits).name,
                                 len(wanted) if wanted is not None else len(present), max(per_subject.values()))
        listed = [k for k, i in enumerate(keep) if i in where]
        if len(listed) < len(keep):
            log.warning("%s: %d of %d trials are in no split of %s; dropped", path.name, len(keep) - len(listed),
                        len(keep), Path(splits).name)
        if not listed:
            raise EegvizError(f"split {split_num} of {splits} names none of the {len(keep)} usable trials of {path}")
        split = np.array([where[keep[k]] for k in listed])
        keep, ids, labels = [keep[k] for k in listed], ids[listed], labels[listed]
        shared = set(ids[split == "train"]) & set(ids[split == "test"])
        if shared:
            log.warning("%s: %d images appear in both train and test (the split is not image-wise)",
                        Path(splits).name, len(shared))
    else:
        group = split_groups(list(ids), val_fraction, test_fraction, seed, strata=list(labels))
        split = np.array([group[i] for i in ids])

    n_t = time_high - time_low
    eeg = np.empty((len(keep), n_ch, n_t), dtype=np.float32)
    for k, i in enumerate(keep):
        eeg[k] = _samples(entries[i]["eeg"][:, time_low:time_high], f"{path}: entry {i} eeg")
    eeg *= np.float32(scale)
    check_finite(eeg, str(path), lambda k: f"dataset entry {keep[k[0]]}")
    names = tuple(ch_names) if ch_names is not None else tuple(f"EEG{c + 1:03d}" for c in range(n_ch))
    if len(names) != n_ch:
        raise EegvizError(f"{len(names)} channel names given for {n_ch} channels in {path}")
    classes = [WORDNET_NAMES.get(w, w) for w in wnids]
    return EEGDataset(
        eeg=eeg, labels=labels, image_ids=ids,
        subjects=np.array([int(entries[i]["subject"]) for i in keep], dtype=np.int64), split=split,
        ch_names=names, sfreq=SFREQ, tmin=time_low / SFREQ, classes=classes,
        captions={str(i): f"an image of a {classes[y]}" for i, y in zip(ids, labels)},
        blocks=np.array([int(entries[i]["subject"]) for i in keep], dtype=np.int64) * len(classes) + labels,
    )
