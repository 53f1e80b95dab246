"""THINGS-EEG2 (Gifford et al. 2022), the preprocessed release: ROOT/sub-XX/preprocessed_eeg_{training,test}.npy.

Each file is a pickled dict (np.save of a dict) with 'preprocessed_eeg_data' (images, repetitions, 17 channels,
100 samples), 'ch_names' (17 occipital and parietal channels) and 'times' (-0.2..0.79 s at 100 Hz). Training: 1654 concepts x 10 images, 4 repetitions;
test: 200 other concepts x 1 image, 80 repetitions. Concept and file names come from image_metadata.npy (given
as `metadata`, or found in `images_dir` or the folder above it, in ROOT, in an image_set/ folder in ROOT or up to two levels above it - the release's
own layout puts preprocessed_data/ and image_set/ side by side - or ATM's images_set/); without it images get
numeric ids and concepts numeric names. The stimulus files are found from the metadata, as
<image_set>/{training,test}_images/<NNNNN_concept>/<file> next to the metadata or under `images_dir`, or, in an
`images_dir` without that layout, as the files it names (any image extension), flat or in one folder per concept.

Also read: the 63-channel 250 Hz variant that NICE-EEG and ATM use (pickle.dump of the same dict, -0.2..1.0 s
epochs whose DATA were cropped to 0..1 s while 'times' was saved uncropped: the last samples of 'times' are
the ones that match), and copies that carry a trailing 'stim' channel (dropped).

Reading: pickled files can run code when unpickled, so they are read with eegviz.data.safe_pickle, which
rebuilds numpy arrays, dicts, lists, strings and numbers only and refuses anything else with a one-line error;
trust=True (a library option, like EEG-ImageNet's) unpickles with numpy/pickle as they are, for files from a
source you trust that hold more.

Splits: the release's test images are the test split. Validation holds out whole training concepts (seeded),
so no validation concept was seen in training, mirroring the zero-shot test set.

Units: the release is baseline-corrected and multivariate-noise-normalised, so values are unitless z-like
numbers of microvolt magnitude; they are scaled by `scale` (1e-6) into nominal volts like every other dataset.
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from eegviz.data.safe_pickle import load_pickled
from eegviz.data.dataset import EEGDataset, check_finite
from eegviz.errors import EegvizError, one_line

log = logging.getLogger(__name__)

PARTS = ("training", "test")
META_KEYS = ("train_img_concepts", "train_img_files", "test_img_concepts", "test_img_files")
IMAGES_PER_CONCEPT = 10


def _read_dict(path: Path, what: str, trust: bool = False) -> dict:
    """The dict in a .npy (np.save) or pickle (NICE/ATM) file, unpickled without running code unless `trust`."""
    if trust:
        if not path.is_file():
            raise EegvizError(f"{what} {path} does not exist")
        try:
            obj = np.load(path, allow_pickle=True, encoding="latin1")
        except Exception:  # not a .npy file: the NICE/ATM variant is a plain pickle
            try:
                with open(path, "rb") as f:
                    obj = pickle.load(f, encoding="latin1")
            except Exception as e:
                raise EegvizError(f"{what} {path} could not be read ({one_line(e)})") from None
    else:
        obj = load_pickled(path, what)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        desc = f"an array of shape {obj.shape}" if isinstance(obj, np.ndarray) else type(obj).__name__
        raise EegvizError(f"{what} {path} must hold a dict saved with np.save; it holds {desc}")
    return obj


def _read_part(path: Path, trust: bool = False, cropped: set | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(data (images, reps, ch, t) float32, ch_names, times) of one preprocessed file, shapes checked. `cropped`:
    the (entries, samples) of NICE/ATM crops already warned about, so that ten subjects' twenty files say it once."""
    d = _read_dict(path, "THINGS-EEG2 file", trust)
    missing = [k for k in ("preprocessed_eeg_data", "ch_names", "times") if k not in d]
    if missing:
        raise EegvizError(f"{path} lacks key(s) {', '.join(missing)}; is it a THINGS-EEG2 preprocessed file?")
    try:
        if isinstance(d["ch_names"], (str, bytes)):  # iterated, a string would be one channel per letter
            raise TypeError
        # numpy casts complex values to real by dropping the imaginary part, with a warning of its own (refused, as
        # EEG-ImageNet's loader refuses them: EEG samples and times are real)
        complex_key = next((k for k in ("preprocessed_eeg_data", "times") if np.iscomplexobj(d[k])), None)
        if complex_key is not None:
            raise EegvizError(f"{path}: {complex_key} holds complex numbers; EEG samples and times are real")
        data = np.asarray(d["preprocessed_eeg_data"], dtype=np.float32)
        ch, times = [str(c) for c in d["ch_names"]], np.asarray(d["times"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise EegvizError(f"{path}: preprocessed_eeg_data and times must be numeric arrays and ch_names a list "
                          "of names") from None
    if (data.ndim == 4 and data.shape[2] == len(ch) and 2 <= data.shape[3] < len(times)
            and abs(times[-data.shape[3]]) < 1e-6):  # NICE's crop starts exactly at stimulus onset
        if cropped is None or (len(times), data.shape[3]) not in cropped:
            log.warning("%s: 'times' has %d entries for %d samples (NICE/ATM crop the data, not the times); "
                        "using its last %d%s", path, len(times), data.shape[3], data.shape[3],
                        "" if cropped is None else ", here and in every file so cropped")
        if cropped is not None:
            cropped.add((len(times), data.shape[3]))
        times = times[-data.shape[3]:]
    if data.ndim != 4 or data.shape[2] != len(ch) or data.shape[3] != len(times) or len(times) < 2:
        raise EegvizError(f"{path}: preprocessed_eeg_data has shape {data.shape}; expected (images, repetitions, "
                          f"{len(ch)} channels, {len(times)} times) to match ch_names and times")
    steps = np.diff(times)
    if not (np.isfinite(times).all() and (steps > 0).all()):  # the sampling rate is read from its steps
        raise EegvizError(f"{path}: 'times' must be finite seconds rising from sample to sample; it runs "
                          f"{times[0]:g} .. {times[-1]:g}")
    if not 1e-5 <= float(np.median(steps)) <= 1.0:  # 1 Hz .. 100 kHz: anything else is not EEG sampling
        raise EegvizError(f"{path}: 'times' steps by {float(np.median(steps)):g} s, a sampling rate of "
                          f"{1 / float(np.median(steps)):g} Hz; expected seconds at an EEG rate (THINGS-EEG2: 100 Hz)")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise EegvizError(f"{path}: preprocessed_eeg_data has shape {data.shape}: no images or no repetitions")
    eeg = [k for k, c in enumerate(ch) if c.lower() != "stim"]
    if not eeg:
        raise EegvizError(f"{path} holds no EEG channels (ch_names: {', '.join(ch) or 'none'})")
    if len(eeg) < len(ch):
        data, ch = data[:, :, eeg], [ch[k] for k in eeg]
    check_finite(data, str(path), lambda i: f"image {i[0]}, repetition {i[1]}")
    return data.astype(np.float32, copy=False), ch, times


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b)


def _subject_dirs(root: Path, subjects: Iterable[int] | None) -> list[tuple[int, Path]]:
    if not root.is_dir():  # listed below: a FileNotFoundError traceback from Python, where every other loader says it
        raise EegvizError(f"THINGS-EEG2 folder {root} does not exist or is not a folder; give the folder that holds "
                          "the sub-XX folders")
    numbered: dict[int, Path] = {}
    for p in sorted(root.iterdir()):
        if not (m := re.fullmatch(r"sub-(\d+)", p.name)):
            continue
        # sub-1 beside sub-01 (one copied in by hand) was one subject to a dict keyed by number: the later folder
        # silently replaced the earlier, so which one trained depended on sort order
        if (n := int(m.group(1))) in numbered:
            raise EegvizError(f"{numbered[n].name} and {p.name} in {root} are both subject {n}; keep one")
        numbered[n] = p
    found = {n: p for n, p in numbered.items() if (p / "preprocessed_eeg_training.npy").is_file()}
    # a subject folder with the test file only (a download cut short) was left out of "every subject" without a
    # word, while one lacking the test file was refused, naming it
    partial = {n: p for n, p in numbered.items() if n not in found and (p / "preprocessed_eeg_test.npy").is_file()}
    if not found:
        raise EegvizError(f"no sub-XX/preprocessed_eeg_training.npy under {root}")
    wanted = (None if subjects is None else [int(subjects)] if np.isscalar(subjects)
              else list(dict.fromkeys(int(s) for s in subjects)))
    cut = [p for n, p in partial.items() if wanted is None or n in wanted]
    if cut:
        raise EegvizError(f"{cut[0] / 'preprocessed_eeg_training.npy'} does not exist, though the folder holds "
                          "preprocessed_eeg_test.npy (a download cut short?); fetch it"
                          + (", or leave the subject out with --subjects" if wanted is None else ""))
    if wanted is None:
        return sorted(found.items())
    # each once (as EEG-ImageNet's subjects=): `--subjects 1,1` read subject 1 twice, every trial doubled in
    # training and in the test figures (found by review)
    absent = [s for s in wanted if s not in found]
    if absent:
        raise EegvizError(f"subject(s) {', '.join(map(str, absent))} not in {root}; available: "
                          f"{', '.join(map(str, sorted(found)))}")
    return [(s, found[s]) for s in wanted]


def _metadata_path(root: Path, metadata: str | Path | None, images_dir: str | Path | None = None) -> Path | None:
    if metadata is not None:
        if not Path(metadata).is_file():
            raise EegvizError(f"image metadata file {metadata} does not exist")
        return Path(metadata)
    # the stimulus folder first: the release's image_set/ holds image_metadata.npy beside training_images/ and
    # test_images/, and --images-dir (image_set/, or one part's folder in it) was not searched, so a command-line
    # user, who has no metadata= option, was told to pass one when the data lay apart from it (found by review)
    given = [Path(images_dir), Path(images_dir).parent] if images_dir is not None else []
    places = [*given, root,
              *(d / name for d in (root, root.parent, root.parent.parent) for name in ("image_set", "images_set"))]
    return next((d / "image_metadata.npy" for d in places if (d / "image_metadata.npy").is_file()), None)


def _image_names(root: Path, metadata: str | Path | None, n_train: int, n_test: int, trust: bool = False,
                 images_dir: str | Path | None = None):
    """(train ids, train concepts, test ids, test concepts, {id: file} of the stimuli found on disk), from
    image_metadata.npy when there is one."""
    path = _metadata_path(root, metadata, images_dir)
    if path is None:
        log.warning("%s: no image_metadata.npy; images get numeric ids and concepts numeric names", root)
        return ([f"train_{i:05d}" for i in range(n_train)],
                [f"concept_{i // IMAGES_PER_CONCEPT:04d}" for i in range(n_train)],
                [f"test_{i:03d}" for i in range(n_test)], [f"test_concept_{i:03d}" for i in range(n_test)], {})
    meta = _read_dict(path, "image metadata", trust)
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise EegvizError(f"image metadata {path} lacks key(s) {', '.join(missing)}")
    out, files_of = [], []
    for part, n in (("train", n_train), ("test", n_test)):
        try:
            files = [str(x) for x in meta[f"{part}_img_files"]]
            concepts = [str(x) for x in meta[f"{part}_img_concepts"]]
        except TypeError:
            raise EegvizError(f"image metadata {path}: {part}_img_files and {part}_img_concepts must be lists of "
                              "names") from None
        if len(files) != n or len(concepts) != n:
            raise EegvizError(f"image metadata {path} lists {len(files)} {part} files and {len(concepts)} concepts, "
                              f"but the EEG has {n} {part} images")
        # each is one name inside the image set (<part>_images/<concept>/<file>): an absolute file name or a
        # '../' concept joined onto the folder picked any image on the disk as a stimulus (found by review)
        bad = next((x for x in concepts + files if x in ("", ".", "..") or Path(x).name != x), None)
        if bad is not None:
            raise EegvizError(f"image metadata {path}: {part} concept and file names must be plain names inside "
                              f"the image set, not {bad!r}")
        out += [[Path(f).stem for f in files], [re.sub(r"^\d+_", "", c) for c in concepts]]
        files_of.append((part, concepts, files))
    return (*out, {"dir": path.parent, "parts": files_of})


def _stimulus_files(found: dict, images_dir: str | Path | None) -> dict[str, Path] | None:
    """id -> stimulus file, looked up where the release keeps them: <dir>/{training,test}_images/<concept>/<file>
    (dir = `images_dir` or the metadata's folder), or <images_dir>/<concept>/<file> for one part's folder; else the
    images of `images_dir` (eegviz.data.images.find_images) whose stem is a file the metadata names."""
    if not found:
        if images_dir is not None:
            raise EegvizError(f"THINGS-EEG2 stimuli are named by image_metadata.npy, which is neither in "
                              f"--images-dir {images_dir} nor the folder above it nor beside the EEG (the "
                              "release's image_set/ holds it); from Python, pass its path as metadata=")
        return None
    base = Path(images_dir) if images_dir is not None else found["dir"]
    if images_dir is not None and not base.is_dir():
        raise EegvizError(f"--images-dir {base} does not exist or is not a folder.")
    paths = {}
    for part, concepts, files in found["parts"]:
        folder = "training_images" if part == "train" else "test_images"
        for c, f in zip(concepts, files):
            for cand in (base / folder / c / f, base / c / f):
                if cand.is_file():
                    paths[Path(f).stem] = cand
                    break
    if images_dir is not None and not paths:
        # a stimulus folder as every other format takes it (<file stem>.jpg, flat or in one folder per class):
        # THINGS images resized into one folder were refused, although the metadata names each file
        from eegviz.data.images import find_images

        wanted = {Path(f).stem for _, _, files in found["parts"] for f in files}
        try:
            paths = {img.image_id: img.path for img in find_images(base, "--images-dir") if img.image_id in wanted}
        except EegvizError:  # no images at all, or two of one name: not a stimulus folder either way
            paths = {}
    if images_dir is not None and not paths:
        raise EegvizError(f"no THINGS stimuli under {base}: expected training_images/<NNNNN_concept>/<file> "
                          "(the image_set folder of the release), or the files image_metadata.npy names, by "
                          "themselves or in one folder per concept")
    return paths or None


def load_things_eeg2(root: str | Path, subjects: int | Iterable[int] | None = None,
                     average_repetitions: bool = False, val_fraction: float = 0.1, seed: int = 0,
                     scale: float = 1e-6, metadata: str | Path | None = None,
                     images_dir: str | Path | None = None, trust: bool = False) -> EEGDataset:
    """Read THINGS-EEG2 preprocessed data into an EEGDataset in (nominal) volts.

    One trial per repetition by default; average_repetitions=True gives one averaged trial per image and
    subject (far cleaner ERPs, the usual choice for test-set evaluation). trust=True unpickles the files without
    the allow-list (module docstring): only for files from a source you trust.
    """
    from eegviz.data.dataset import check_fractions, split_groups

    root = Path(root)
    check_fractions(val_fraction, 0.0)
    subs = _subject_dirs(root, subjects)
    eeg = None
    ids, labels, subj, split = [], [], [], []
    ref: tuple[list[str], np.ndarray, tuple, tuple] | None = None
    names = classes = group = None
    pos = 0
    cropped: set = set()
    for n_sub, (s, folder) in enumerate(subs):
        parts = [_read_part(folder / f"preprocessed_eeg_{p}.npy", trust, cropped) for p in PARTS]
        (train_eeg, ch, times), (test_eeg, ch_te, times_te) = parts
        shapes = (train_eeg.shape, test_eeg.shape)
        if ch_te != ch or not _same(times_te, times):
            raise EegvizError(f"{folder}: training and test files have different channels or times")
        if ref is None:
            ref = (ch, times, shapes)
            names = _image_names(root, metadata, train_eeg.shape[0], test_eeg.shape[0], trust, images_dir)
            image_paths = _stimulus_files(names[4], images_dir)
            classes = list(dict.fromkeys(names[1] + names[3]))  # concepts in order, each once
            group = split_groups(names[1], val_fraction, 0.0, seed)
            per = [x.shape[0] * (1 if average_repetitions else x.shape[1]) for x in (train_eeg, test_eeg)]
            n_bytes = sum(per) * len(subs) * len(ch) * len(times) * 4
            if n_bytes > 8e9:
                log.warning("THINGS-EEG2: %d subjects x %d trials x %d channels x %d samples need %.0f GB in memory; "
                            "select subjects= or average_repetitions=True for less", len(subs), sum(per), len(ch),
                            len(times), n_bytes / 1e9)
            try:
                eeg = np.empty((sum(per) * len(subs), len(ch), len(times)), dtype=np.float32)
            except MemoryError:  # NICE/ATM's 63-channel copies of all ten subjects: some 40 GB, a traceback
                raise EegvizError(f"{root}: {len(subs)} subject(s) x {sum(per)} trials x {len(ch)} channels x "
                                  f"{len(times)} samples need {n_bytes / 1e9:.1f} GB, more memory than this machine "
                                  "gives; read fewer subjects (--subjects N,...)") from None
        elif ch != ref[0] or not _same(times, ref[1]) or shapes != ref[2]:
            raise EegvizError(f"{folder}: shapes, channels or times differ from {subs[0][1].name} "
                              f"({shapes} vs {ref[2]}); all subjects must share one layout")
        cls = {c: k for k, c in enumerate(classes)}
        parts_in_order = ((train_eeg, names[0], names[1], False), (test_eeg, names[2], names[3], True))
        for x, part_ids, concepts, is_test in parts_in_order:
            reps = 1 if average_repetitions else x.shape[1]
            block = x.mean(axis=1) if average_repetitions else x.reshape(-1, *x.shape[2:])
            eeg[pos:pos + len(block)] = block
            pos += len(block)
            img = np.repeat(np.arange(x.shape[0]), reps)
            ids += [part_ids[i] for i in img]
            labels += [cls[concepts[i]] for i in img]
            split += ["test" if is_test else group[concepts[i]] for i in img]
            subj += [s] * len(img)
        del parts, train_eeg, test_eeg
    eeg *= np.float32(scale)
    ch, times, _ = ref
    captions = {i: f"an image of a {c.replace('_', ' ')}"
                for i, c in zip(names[0] + names[2], names[1] + names[3])}
    return EEGDataset(
        eeg=eeg, labels=np.array(labels, dtype=np.int64), image_ids=np.array(ids), subjects=np.array(subj),
        split=np.array(split), ch_names=tuple(ch), sfreq=round(1.0 / float(np.median(np.diff(times))), 6),
        tmin=float(times[0]), classes=[c.replace("_", " ") for c in classes], captions=captions,
        image_paths=image_paths,
    )
