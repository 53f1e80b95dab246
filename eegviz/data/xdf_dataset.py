"""The user's own recordings: XDF files (from `eegviz record` or LabRecorder) plus the folder of shown images.

Each marker payload is the id of the image shown at that instant, as `eegviz present` sends it; the image
folder is laid out as `eegviz present` reads it: IMAGES/<id>.png (class = id up to its last '_') or
IMAGES/<class>/<id>.png, with an optional IMAGES/captions.json (id -> caption). One epoch is cut per marker,
the same way the live Epocher cuts it (eegviz.stream.epocher.find_window: round((tmax - tmin) * sfreq) samples
from the one nearest marker + tmin, none with a hole), in the stamps a replay of the file cuts in (dejittered
as eegviz.sources.replay does), so training data and live epochs line up sample for sample.

Subjects are read from a BIDS-style "sub-<label>" in the file path (sub-03: 3; an alphanumeric label such as sub-P01
gets a number of its own), else 0: own recordings are usually one person.
The split is by image (stratified by class, seeded), never by trial, so repeats of a test image never train.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from eegviz.data.images import find_images
from eegviz.data.dataset import EEGDataset, check_fractions, split_groups
from eegviz.errors import EegvizError
from eegviz.messages import stimulus_id
from eegviz.sources.xdf_chunks import xdf_files_in
from eegviz.stream.dejitter import dejitter_recording
from eegviz.stream.epocher import GAP, find_window
from eegviz.words import counted

log = logging.getLogger(__name__)

def _captions(root: Path) -> dict[str, str]:
    path = root / "captions.json"
    if not path.is_file():
        return {}
    try:
        caps = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EegvizError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(caps, dict) or not all(isinstance(v, str) for v in caps.values()):
        raise EegvizError(f"{path} must be a JSON object mapping image id to caption text")
    return {str(k): v for k, v in caps.items()}


def _check_captions(caps: dict[str, str], root: Path, in_folder: set[str], recorded: set[str]) -> None:
    """Warn where captions.json and the images part: an id it names that no image has (a typo, a renamed file), and
    recorded images it has no caption for. Either way such an image was captioned "an image of a <class>" in
    silence, and `--caption rich` trained on that instead of the caption the user wrote."""
    if not caps:
        return
    stray = sorted(set(caps) - in_folder)
    if stray:
        log.warning("%s names %d image id(s) that no image in %s has (e.g. %s); their captions are not used",
                    root / "captions.json", len(stray), root, ", ".join(f"'{i}'" for i in stray[:3]))
    missing = sorted(recorded - set(caps))
    if missing:
        log.warning("%d of the %d recorded images have no caption in %s (e.g. %s); they are captioned 'an image of "
                    "a <class>'", len(missing), len(recorded), root / "captions.json",
                    ", ".join(f"'{i}'" for i in missing[:3]))


def _xdf_files(xdf_paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The recordings: files as given, and every .xdf (.xdfz, .xdf.gz) under a folder, subfolders included
    (`eegviz record` puts a second session into the same --out as session-002/session.xdf; BIDS puts them under
    sub-NN/ses-NN/eeg/), except hidden files and folders ('.' names)."""
    paths = [xdf_paths] if isinstance(xdf_paths, (str, Path)) else list(xdf_paths)
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        # hidden ones left out, as the stimulus folder's are: a folder copied from a Mac onto an exFAT/FAT drive or
        # a network share holds a '._session.xdf' (the resource fork) beside each recording, and the first of them
        # refused the whole dataset as "not an XDF file"
        found = (f for f in xdf_files_in(p) if not any(n.startswith(".") for n in f.relative_to(p).parts))
        files += sorted(found, key=lambda f: _numeric_order(f.relative_to(p)))
    if not files:
        raise EegvizError(f"no .xdf (or compressed .xdfz) files in "
                          f"{', '.join(map(str, paths)) or '(nothing given)'}")
    return files


def _numeric_order(path: Path) -> tuple:
    """The sort key that reads a folder's recordings in the order they were made: the numbers in each part of the
    path compared as numbers, so session-101 comes before session-1000 (`eegviz record` numbers a folder's sessions
    session-002, ... session-1000 once past 999; a lab's own run-9 / run-10). Text order read session-1000 first,
    and the trials, their recording blocks (one per file) and the log's list came in that order. The path itself
    breaks ties (session-01 and session-1)."""
    parts = tuple(tuple(int(t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", part))) for part in path.parts)
    return parts, str(path)


def _subjects(files: list[Path]) -> dict[Path, int]:
    """Each recording's subject number, from the last BIDS "sub-<label>" in its path (0 without one): the label's
    number where it is one (sub-01 -> 1), else a number of its own after the numeric ones, in sorted label order.

    BIDS labels are alphanumeric (sub-P01, sub-pilot): read as digits only, every such subject became subject 0,
    so several people's recordings were one subject: no leave-one-subject-out control, and their trials of one
    image averaged together as one subject's repetitions (found by review).
    """
    labels = {f: (re.findall(r"sub-([A-Za-z0-9]+)", str(f)) or [None])[-1] for f in files}
    numeric = {lab: int(lab) for lab in labels.values() if lab is not None and lab.isdigit()}
    others = sorted({lab for lab in labels.values() if lab is not None and lab not in numeric})
    first = max(numeric.values(), default=0) + 1
    number = {**numeric, **{lab: first + k for k, lab in enumerate(others)}}
    if others:
        log.info("subjects numbered from their labels: %s",
                 ", ".join(f"sub-{lab} -> {number[lab]}" for lab in others))
    return {f: 0 if lab is None else number[lab] for f, lab in labels.items()}


def _first_change(data: np.ndarray, chunk: int = 65536) -> int:
    """The first sample (row) of `data` that differs from sample 0 (NaN counts as differing), 0 when none does;
    scanned a chunk at a time so that a long flat recording costs no mask as large as itself."""
    for a in range(0, len(data), chunk):
        rows = np.flatnonzero((data[a:a + chunk] != data[:1]).any(axis=1))
        if len(rows):
            return a + int(rows[0])
    return 0


def _layout_difference(sig: tuple, ref: tuple) -> str:
    """What differs between two recordings' (channel names, sampling rate), in words, the first one's last: the
    counts alone said "(4 ch, 250.0 Hz) differ from the first recording (4 ch, 250.0 Hz)" for channels in
    another order or under other names."""
    (names, rate), (ref_names, ref_rate) = sig, ref
    if rate != ref_rate:
        return f"the EEG is sampled at {rate:g} Hz, at {ref_rate:g} Hz"
    if len(names) != len(ref_names):
        return f"the EEG stream has {len(names)} channels, {len(ref_names)}"
    k = next((k for k, (a, b) in enumerate(zip(names, ref_names)) if a != b), None)
    if k is None:  # the same names held in another kind of sequence
        return f"the EEG stream's channels ({', '.join(map(str, names))}) differ from those"
    how = "in another order" if sorted(names) == sorted(ref_names) else "named otherwise"
    return f"the EEG stream's channels are {how}: channel {k + 1} is '{names[k]}', '{ref_names[k]}'"


def load_xdf_dataset(xdf_paths: str | Path | Iterable[str | Path], images_dir: str | Path,
                     tmin: float = -0.1, tmax: float = 0.6, eeg_stream: str | None = None,
                     marker_stream: str | None = None, val_fraction: float = 0.1, test_fraction: float = 0.1,
                     seed: int = 0) -> EEGDataset:
    """Epochs around every image marker in the recordings, in volts, with labels from the image folder.

    eeg_stream / marker_stream (`eegviz train|eval --stream/--markers`): the streams to read by name in every
    file. Without marker_stream, each file's string stream whose markers name the most images of the folder
    is read (a recording holds the amplifier's triggers, a simulator's markers beside the presenter's).

    Markers naming no image (also tried: the file stem of a path-like payload) are skipped and counted, as are
    epochs that run past either end of the recording or span a gap in it.
    """
    from eegviz.sources.xdf import load_xdf_session

    if not tmax > tmin:
        raise EegvizError(f"need tmax > tmin, got tmin={tmin} and tmax={tmax}")
    check_fractions(val_fraction, test_fraction)
    root = Path(images_dir)
    images = find_images(root, what="images folder")  # top-level files: class = id prefix; subfolder: its name
    cls_of = {img.image_id: img.class_name for img in images}

    def names_image(payload: str) -> str | None:
        """The image id a marker names (its text, else the file stem of a path-like one), None for none: also how
        a recording with several marker streams picks the one to train on (the presenter's, not the amplifier's
        triggers) where marker_stream does not name it (eegviz.sources.xdf._choose_markers)."""
        payload = stimulus_id(payload)
        image_id = payload if payload in cls_of else Path(payload.replace("\\", "/")).stem
        return image_id if image_id in cls_of else None

    epochs, ids, subj, blocks = [], [], [], []  # block = the recording file (one run)
    ref = ref_path = None
    unknown: dict[str, int] = {}
    outside = gaps = nan = n_markers = 0
    files = _xdf_files(xdf_paths)
    subject_of = _subjects(files)
    log.info("reading %d recording(s): %s", len(files), ", ".join(map(str, files)))
    first_seconds: dict[bytes, Path] = {}
    for file_no, path in enumerate(files):
        s = load_xdf_session(path, eeg_stream, marker_stream, names_image=names_image)
        sig = (s.info.ch_names, s.info.sfreq)
        if not (np.isfinite(s.info.sfreq) and s.info.sfreq > 0):  # nominal_srate is text in the file: nan, inf...
            raise EegvizError(f"{path}: EEG stream '{s.info.name}' has no usable sampling rate ({s.info.sfreq:g} "
                              "Hz); cannot cut epochs")
        # a folder may hold a replay's copy of a recording (`eegviz replay X --out` into it writes the same EEG
        # samples and image ids again as session-00N/session.xdf): its epochs would count twice, so a recording
        # whose first seconds of EEG are sample for sample another's, with the same image ids in the same order,
        # is read once. The seconds are taken from where the EEG first changes: an amplifier's warm-up zeros (or a
        # flat start before acquisition) at the head of two sessions of one presenter order (its --seed defaults to
        # 0) made them "the same samples", and the second session was dropped
        if len(s.data):
            start = _first_change(s.data)
            h = hashlib.sha256(np.ascontiguousarray(s.data[start:start + max(1, int(10 * s.info.sfreq))]).tobytes())
            h.update("\n".join(m.payload for m in s.markers).encode("utf-8", "replace"))
            key = h.digest()
            if key in first_seconds:
                log.warning("%s holds the same EEG samples as %s (a replay's copy?): read once", path,
                            first_seconds[key])
                continue
            first_seconds[key] = path
        if ref is None:
            ref, ref_path = sig, path
        elif sig != ref:
            raise EegvizError(f"{path}: {_layout_difference(sig, ref)} in {ref_path}: every recording must have the "
                              "EEG stream's channels in one order and one sampling rate; load them separately")
        sf = s.info.sfreq
        # cut in the stamps a replay and the live session cut in (dejittered), not the sender's raw ones: with
        # chunk jitter of a few ms the raw stamps put a third of the markers a sample off the replay's epochs
        ts = dejitter_recording(s.timestamps, sf) if len(s.timestamps) else s.timestamps
        n = int(round((tmax - tmin) * sf))
        n_markers += len(s.markers)
        for m in s.markers:
            image_id = names_image(m.payload)
            if image_id is None:
                payload = stimulus_id(m.payload)
                unknown[payload] = unknown.get(payload, 0) + 1
                continue
            start, why = find_window(ts, m.timestamp + tmin, n, sf)  # the Epocher's rule, shared
            if start is None:
                if why == GAP:
                    gaps += 1
                else:
                    outside += 1
                continue
            window = s.data[start:start + n]
            if not np.isfinite(window).all():
                # an amplifier dropout: eegviz's own session.xdf keeps NaN samples (the live path skips their
                # epochs), so a recording with one is skipped here the same way, not refused whole
                nan += 1
                continue
            epochs.append(window.T)
            ids.append(image_id)
            subj.append(subject_of[path])
            blocks.append(file_no)
    if unknown:
        some = ", ".join(f"'{k}'" for k in list(unknown)[:5])
        log.warning("skipped %s naming no image in %s (%d distinct, e.g. %s)", counted(sum(unknown.values()), "marker"),
                    root, len(unknown), some)
    if outside or gaps or nan:
        log.warning("skipped %d epochs running past the recording, %d spanning a gap and %d holding NaN/inf samples",
                    outside, gaps, nan)
    if not epochs and not n_markers:
        # said apart: "none of the markers names an image" sent a user whose recording holds none (the presenter's
        # stream left out of `eegviz record --streams`, or started after the recording) to look at the image folder
        which = f"the marker stream '{marker_stream}' holds no markers in" if marker_stream else "no markers in"
        raise EegvizError(f"no epochs: {which} the recordings ({', '.join(map(str, files[:3]))}"
                          f"{' ...' if len(files) > 3 else ''}); record the presenter's marker stream with the EEG "
                          "(`eegviz record` takes every stream; with --streams, name it too)")
    if not epochs:
        raise EegvizError(f"no epochs: none of the markers in the recordings names an image in {root} "
                          f"with a complete EEG window")
    classes = sorted({cls_of[i] for i in ids})
    if len(classes) > 1 and len(classes) == len(set(ids)):
        # cat1.png, cat2.png ... in a flat folder: each its own class (no '_' in the ids). The split holds whole
        # images out, so no validation or test image's class was ever trained on, and training and its model card
        # reported "1-way" zero-shot scores of 1.000 without a word on why
        # Images already in class folders (`present --write-demo-folder --per-class 1`, or one image of each
        # class recorded) were told to "put the images in one subfolder per class", which they were: there the
        # remedy is more images of each class, not another layout
        in_folders = {img.image_id for img in images if img.path.parent != root}
        if set(ids) <= in_folders:
            log.warning("each of the %d classes in %s has one recorded image (its class folder's, e.g. %s), so the "
                        "validation and test images' classes are never trained on and their scores are zero-shot; "
                        "to train classes, present and record several images of each class", len(classes), root,
                        ", ".join(f"'{i}' in {cls_of[i]}/" for i in sorted(set(ids))[:2]))
        else:
            log.warning("each of the %d classes in %s holds one image (in a flat folder an image's class is its id "
                        "up to the last '_', e.g. %s), so the validation and test images' classes are never trained "
                        "on and their scores are zero-shot; to train classes, put the images in one subfolder per "
                        "class (the recorded markers still name them)", len(classes), root,
                        ", ".join(f"'{i}' -> '{cls_of[i]}'" for i in sorted(set(ids))[:2]))
    label = {c: k for k, c in enumerate(classes)}
    group = split_groups(ids, val_fraction, test_fraction, seed, strata=[cls_of[i] for i in ids])
    caps = _captions(root)
    _check_captions(caps, root, set(cls_of), set(ids))
    return EEGDataset(
        eeg=np.stack(epochs).astype(np.float32, copy=False),
        labels=np.array([label[cls_of[i]] for i in ids], dtype=np.int64), image_ids=np.array(ids),
        subjects=np.array(subj, dtype=np.int64), split=np.array([group[i] for i in ids]),
        ch_names=tuple(ref[0]), sfreq=float(ref[1]), tmin=float(tmin), classes=classes,
        captions={i: caps.get(i, f"an image of a {cls_of[i]}") for i in sorted(set(ids))},
        blocks=np.array(blocks, dtype=np.int64), image_paths={img.image_id: img.path for img in images},
    )
