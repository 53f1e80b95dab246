"""The synthetic-world dataset: simulated single-trial EEG for procedural stimuli, split by image.

`simulate_dataset` writes DIR/dataset.json + DIR/eeg.npy (+ meta.npz). Images are not stored: every stimulus
is rendered again from its id, deterministically. Split is by image (80/10/10 per class, as in NeuroImagen's
image-wise split), so no test image was ever seen in training, by any subject.

Recording blocks. Every trial belongs to a block (a run recorded in one go). In the default rapid design a
subject sees the images in random order, cut into runs of BLOCK_TRIALS, so every block mixes classes; in the
block design (EEG-ImageNet's) all images of a class are one block. Real electrodes drift within a block (gel
drying, sweat), modelled as a per-block, per-electrode linear slope of `drift_uv_per_s`. With the block design
such drift is a class signal that has nothing to do with vision (Li et al. 2020); `eegviz eval` runs the
controls that expose it. Block order, drift and the signal scale use their own random streams, so the default
dataset (rapid, no drift, signal 1) is sample-for-sample the one the shipped model was trained on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from eegviz.checks import check_memory
from eegviz.data.dataset import EEGDataset, check_finite
from eegviz.errors import EegvizError, one_line

log = logging.getLogger(__name__)


BLOCK_TRIALS = 100  # trials per run in the rapid design
DESIGNS = ("rapid", "block")


def assign_blocks(labels: np.ndarray, design: str, rng: np.random.Generator, first: int = 0) -> np.ndarray:
    """Block id per trial of one subject (trials in stimulus-set order), and the within-block position is
    implied by the order the design presents them in."""
    if design == "block":
        return first + np.asarray(labels)  # one block per class
    order = rng.permutation(len(labels))  # presentation order
    blocks = np.empty(len(labels), dtype=np.int64)
    blocks[order] = first + np.arange(len(labels)) // BLOCK_TRIALS
    return blocks


def add_drift(eeg: np.ndarray, blocks: np.ndarray, sfreq: float, tmin: float, uv_per_s: float,
              rng: np.random.Generator) -> None:
    """In place: each block gets its own per-electrode linear drift (slope ~ N(0, uv_per_s) uV/s) plus an
    offset, as electrode potentials wander during a run."""
    t = tmin + np.arange(eeg.shape[-1]) / sfreq
    for b in np.unique(blocks):
        slope = rng.normal(0, uv_per_s * 1e-6, eeg.shape[1])
        offset = rng.normal(0, 20e-6, eeg.shape[1])
        eeg[blocks == b] += (offset[:, None] + slope[:, None] * t[None, :]).astype(eeg.dtype)


def trial_count(n_per_class: int, n_classes: int, cfg) -> int:
    """len(trial_list(...)[0]) without drawing the stimuli."""
    from eegviz.world.stimuli import test_images_per_class

    n_test = min(test_images_per_class(n_per_class), n_per_class)
    return n_classes * (n_test * cfg.repeats + (n_per_class - n_test) * cfg.train_repeats)


def trial_list(specs, n_per_class: int, cfg) -> tuple[list, list[str]]:
    """The presentation list of one subject (stimulus-set order, an image's repetitions next to each other)
    and each trial's split: test images are shown cfg.repeats times, train and val images cfg.train_repeats
    times (THINGS-EEG2's design: many repetitions of few test images). Defaults: each image once."""
    from eegviz.world.stimuli import image_split

    trials, split = [], []
    for spec in specs:
        sp = image_split(int(spec.image_id.split("_")[1]), n_per_class)
        reps = cfg.repeats if sp == "test" else cfg.train_repeats
        trials.extend([spec] * reps)
        split.extend([sp] * reps)
    return trials, split


SIM_CHANNELS = 128  # the simulator's cap (biosemi128)


SIMULATE_FIX = "fewer --repeats, --images or --subjects"  # the options of `eegviz simulate` that size a dataset


def check_fits_in_memory(n_trials: int, sfreq: float, seconds: float, fix: str = SIMULATE_FIX) -> None:
    """Refuse, before anything is written, a dataset the simulator cannot hold: it keeps every epoch as float32
    and as the stored float16 at once (--repeats 100000 asked for 209 GiB and ended in a MemoryError traceback).
    `fix` names the options of the command that asked, which differ (a sweep has no --repeats)."""
    check_memory(n_trials * SIM_CHANNELS * round(seconds * sfreq) * (4 + 4 + 2), f"{n_trials} simulated trials", fix)


def check_simulation_size(subjects: int, n_per_class: int, config=None, sfreq: float = 250.0, tmin: float = -0.1,
                          tmax: float = 0.6, fix: str = SIMULATE_FIX) -> None:
    """check_fits_in_memory for simulate_dataset's arguments, from the counts alone: drawing the stimulus set
    itself took 40 s for --images 20000 and never ended for more, so nothing is drawn (or written) first."""
    from eegviz.world.sim_config import DEMO
    from eegviz.world.stimuli import CLASSES

    check_fits_in_memory(subjects * trial_count(n_per_class, len(CLASSES), config or DEMO), sfreq, tmax - tmin, fix)


def simulate_dataset(out: Path, subjects: int = 2, n_per_class: int = 50, seed: int = 0,
                     sfreq: float = 250.0, tmin: float = -0.1, tmax: float = 0.6, design: str = "rapid",
                     drift_uv_per_s: float = 0.0, signal: float = 1.0, config=None) -> Path:
    """Write a dataset. `signal` scales the stimulus-evoked response (0: EEG carries no stimulus information,
    which is how the confound controls are checked). `config` (eegviz.world.sim_config.SimConfig; default the
    demo preset) sets the simulator's knobs; dataset.json records them under "sim" with the measured
    class-discriminative SNR ("class_snr_db", per subject in "class_snr_db_per_subject") and artefact counts.
    Artefacts and confounds draw from their own random streams, so they never change the rest."""
    from eegviz.world.artefacts import add_artefacts, add_block_confounds
    from eegviz.world.eeg_sim import EEGSimulator, SnrMeter
    from eegviz.world.sim_config import DEMO
    from eegviz.world.stimuli import CLASSES, stimulus_set

    from eegviz.paths import claim_new_output

    cfg = (config or DEMO).check()
    if design not in DESIGNS:
        raise EegvizError(f"unknown design '{design}'; choose one of {', '.join(DESIGNS)}")
    out = Path(out)
    check_simulation_size(subjects, n_per_class, cfg, sfreq, tmin, tmax)
    specs = stimulus_set(n_per_class, seed=seed)
    trials, trial_split = trial_list(specs, n_per_class, cfg)
    claim_new_output(out, "--out", "a simulated dataset")  # makes the folder (exclusively) when it is new
    eeg, labels, ids, subj, split, blocks = [], [], [], [], [], []
    snr, gains, counts = [], [], {"blinks": 0, "emg_bursts": 0}
    for s in range(subjects):
        sim = EEGSimulator(subject=s, sfreq=sfreq, seed=seed, config=cfg)
        rng = np.random.default_rng([seed, s])
        if signal != 1.0:
            sim.SOURCE_SCALE = EEGSimulator.SOURCE_SCALE * signal
        if cfg.class_snr_db is not None:
            gains.append(sim.calibrate_class_snr(cfg.class_snr_db, trials, np.random.default_rng([seed, s, 97])))
            if (short := sim.below_class_snr_floor(cfg.class_snr_db)) and s == 0:
                # it was made at the floor without a word (dataset.json's measured value the only trace): a
                # sweep's levels below it all came out as one point
                log.warning("%s; simulating at that floor (dataset.json records the measured class SNR)", short)
        meter = SnrMeter(sim.window_samples())
        x = sim.epochs(trials, tmin=tmin, tmax=tmax, rng=rng, meter=meter).astype(np.float32)
        snr.append(meter.snr_db())
        b = assign_blocks(np.array([sp.class_idx for sp in trials]), design,
                          np.random.default_rng([seed, s, 99]), first=max(blocks) + 1 if blocks else 0)
        for k, v in add_artefacts(x, cfg, sim.ch_names, sfreq, np.random.default_rng([seed, s, 96])).items():
            counts[k] += v
        if cfg.block_alpha or cfg.block_line_uv:
            occ = sim.gain[:, sim.idx["lo_L"]] + sim.gain[:, sim.idx["lo_R"]]
            add_block_confounds(x, b, cfg, occ, sim.alpha_freq, sfreq, np.random.default_rng([seed, s, 95]))
        if drift_uv_per_s:
            add_drift(x, b, sfreq, tmin, drift_uv_per_s, np.random.default_rng([seed, s, 98]))
        eeg.append(x)
        blocks.extend(b.tolist())
        labels.extend(sp.class_idx for sp in trials)
        ids.extend(sp.image_id for sp in trials)
        subj.extend([s] * len(trials))
        split.extend(trial_split)
    data = np.concatenate(eeg)
    with np.errstate(over="ignore"):
        stored = (data * 1e6).astype(np.float16)  # microvolts fit float16 comfortably
    if not np.isfinite(stored).all():
        # the amplitudes this call raised first: `--drift 1e9` was told to lower options it had not given
        given = [opt for opt, raised in (("--drift", drift_uv_per_s != 0), ("--signal", signal > 1.0)) if raised]
        raise EegvizError(f"the simulated EEG reaches {np.abs(data).max() * 1e6:.3g} uV, beyond what the dataset "
                          "stores (float16 microvolts, 65504); lower the simulator's amplitudes ("
                          f"{', '.join(given + ['--class-snr-db', '--line-uv', '--block-line-uv'])})")
    np.save(out / "eeg.npy", stored)
    np.savez(out / "meta.npz", labels=np.array(labels), image_ids=np.array(ids), subjects=np.array(subj),
             split=np.array(split), blocks=np.array(blocks, dtype=np.int64))
    meta = {"format": "eegviz-synthetic-1", "ch_names": list(sim.ch_names), "sfreq": sfreq, "tmin": tmin,
            "tmax": tmax, "classes": list(CLASSES), "subjects": subjects, "n_per_class": n_per_class, "seed": seed,
            "design": design, "drift_uv_per_s": drift_uv_per_s, "signal": signal,
            "sim": cfg.as_dict(), "class_snr_db": float(np.mean(snr)), "class_snr_db_per_subject": snr,
            "class_gain_per_subject": gains or None, "artefacts": counts,
            "unit": "microvolts", "captions": {sp.image_id: sp.caption for sp in specs}}
    (out / "dataset.json").write_text(json.dumps(meta, indent=1))
    return out


REDO = "simulate it again with `eegviz simulate`"


def _names(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _number(v) -> bool:
    """A JSON number that is a finite float: json reads NaN, 1e999 (inf) and 400-digit integers too. Python
    compares ints with floats exactly, so the range test never overflows, and NaN fails it."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and -1e308 < v < 1e308


# dataset.json key -> (check, what it must be). Only what loading uses; the rest ("sim", ...) is a record.
META_FIELDS = {"ch_names": (_names, "a list of channel names"),
               "sfreq": (lambda v: _number(v) and v > 0, "a positive number (Hz)"),
               "tmin": (_number, "a number (s)"),
               "classes": (_names, "a list of class names"),
               "captions": (lambda v: isinstance(v, dict) and all(isinstance(c, str) for c in v.values()),
                            "an object of image id: caption")}
# meta.npz array -> numpy dtype kinds it may have; one entry per trial of eeg.npy. "blocks" (ints) is optional.
META_ARRAYS = {"labels": "iu", "image_ids": "U", "subjects": "iu", "split": "U"}


def _read(path: Path, name: str, load):
    """load(path / name). The files are the user's to copy and edit, and a truncated or foreign one fails
    inside json/numpy/zipfile in many ways; each becomes one line naming the file instead of a traceback."""
    file = path / name
    if not file.is_file():
        raise EegvizError(f"dataset {path} lacks {name}; the folder is incomplete, {REDO}")
    try:
        return load(file)
    except Exception as e:  # JSONDecodeError, UnicodeDecodeError, BadZipFile, EOFError, ValueError, OSError, ...
        # numpy says "pickled (object) data" for random bytes too, and advises unpickling: never done here
        why = "not numpy arrays; pickled objects are never loaded" if "allow_pickle" in str(e) else one_line(e)
        raise EegvizError(f"{file} is damaged or not written by eegviz ({why}); {REDO}") from None


def _npy_array(file: Path) -> np.ndarray:
    """The array in a .npy, memory-mapped: a header that promises more data than the file holds fails here,
    before numpy allocates that much."""
    a = np.load(file, mmap_mode="r", allow_pickle=False)
    if not isinstance(a, np.ndarray):
        a.close()
        raise ValueError("a .npz archive, not one .npy array")
    return a


def _npz_arrays(file: Path) -> dict[str, np.ndarray]:
    """Every array of a .npz, read now: NpzFile reads (and fails) lazily, member by member."""
    z = np.load(file, allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError("one .npy array, not a .npz archive")
    with z:
        return {k: z[k] for k in z.files}


def load_dataset(path: Path) -> EEGDataset:
    """The dataset simulate_dataset wrote at `path`, every file checked against the others (trial counts,
    channels, classes, captions), so a damaged folder is one EegvizError here, not an IndexError in training."""
    path = Path(path)
    if not (path / "dataset.json").exists():
        raise EegvizError(f"{path} is not an eegviz dataset (dataset.json missing); create one with `eegviz simulate`")
    meta_file, npz_file, eeg_file = path / "dataset.json", path / "meta.npz", path / "eeg.npy"
    meta = _read(path, "dataset.json", lambda f: json.loads(f.read_text(encoding="utf-8")))
    if not isinstance(meta, dict):
        raise EegvizError(f"{meta_file} must hold a JSON object, not a {type(meta).__name__}; {REDO}")
    for key, (ok, what) in META_FIELDS.items():
        if key not in meta:
            raise EegvizError(f"{meta_file} lacks {key!r} ({what}); {REDO}")
        if not ok(meta[key]):
            raise EegvizError(f"{meta_file}: {key!r} must be {what}, not {json.dumps(meta[key])[:40]}")
    arrays = _read(path, "meta.npz", _npz_arrays)
    missing = [k for k in META_ARRAYS if k not in arrays]
    if missing:
        raise EegvizError(f"{npz_file} lacks {', '.join(missing)}; {REDO}")
    eeg = _read(path, "eeg.npy", _npy_array)
    if eeg.ndim != 3 or eeg.dtype.kind not in "fiu":
        raise EegvizError(f"{eeg_file} holds {eeg.dtype} of shape {eeg.shape}; expected numbers shaped "
                          f"(trials, channels, samples); {REDO}")
    if eeg.shape[1] != len(meta["ch_names"]):
        raise EegvizError(f"{eeg_file} has {eeg.shape[1]} channels but {meta_file} names {len(meta['ch_names'])}")
    for name, kinds in {**META_ARRAYS, **({"blocks": "iu"} if "blocks" in arrays else {})}.items():
        a = arrays[name]
        if a.shape != (len(eeg),) or a.dtype.kind not in kinds:
            raise EegvizError(f"{npz_file}: '{name}' holds {a.dtype} of shape {a.shape}; expected {len(eeg)} "
                              f"{'integers' if kinds == 'iu' else 'strings'}, one per trial of {eeg_file.name}")
    labels, classes = arrays["labels"], meta["classes"]
    if ((labels < 0) | (labels >= len(classes))).any():
        raise EegvizError(f"{npz_file}: labels run {labels.min()}..{labels.max()} but {meta_file} has "
                          f"{len(classes)} classes")
    unknown = sorted(set(arrays["split"].tolist()) - {"train", "val", "test"})
    if unknown:
        raise EegvizError(f"{npz_file}: split holds {unknown[0]!r}; each trial's split is train, val or test")
    uncaptioned = sorted(set(arrays["image_ids"].tolist()) - set(meta["captions"]))
    if uncaptioned:
        raise EegvizError(f"{meta_file}: 'captions' lacks image {uncaptioned[0]!r} "
                          f"({len(uncaptioned)} image(s) of {npz_file.name} have none)")
    volts = eeg.astype(np.float32) * 1e-6
    check_finite(volts, str(eeg_file))
    try:
        return EEGDataset(eeg=volts, labels=labels, image_ids=arrays["image_ids"],
                          subjects=arrays["subjects"], split=arrays["split"], ch_names=tuple(meta["ch_names"]),
                          sfreq=float(meta["sfreq"]), tmin=float(meta["tmin"]), classes=list(classes),
                          captions=meta["captions"], blocks=arrays.get("blocks"))
    except EegvizError as e:
        raise EegvizError(f"{meta_file}: {e}") from None
