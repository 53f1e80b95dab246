"""load_dataset on damaged synthetic datasets: every broken, missing or inconsistent file is one EegvizError line
that names the file, never a JSON/numpy traceback, and no file's content is ever unpickled."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest
from numpy.lib import format as npy_format

from eegviz.data.synthetic import load_dataset, simulate_dataset
from eegviz.errors import EegvizError


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("synth") / "d", subjects=1, n_per_class=1)  # 40 trials


@pytest.fixture
def ds(valid, tmp_path):
    """A fresh copy of the valid dataset for a test to damage."""
    return shutil.copytree(valid, tmp_path / "d")


def _error(path) -> str:
    with pytest.raises(EegvizError) as e:
        load_dataset(path)
    msg = str(e.value)
    assert "\n" not in msg and "allow_pickle" not in msg  # one line, and never numpy's advice to unpickle
    return msg


def _edit_json(ds, **changes):
    meta = json.loads((ds / "dataset.json").read_text())
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del meta[key]
    (ds / "dataset.json").write_text(json.dumps(meta))


def _edit_npz(ds, drop=(), **changes):
    with np.load(ds / "meta.npz") as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    np.savez(ds / "meta.npz", **{**arrays, **changes})


def test_a_valid_dataset_loads_as_written(valid):
    d = load_dataset(valid)
    raw = np.load(valid / "eeg.npy")
    assert d.eeg.dtype == np.float32 and np.allclose(d.eeg, raw.astype(np.float32) * 1e-6)
    assert d.eeg.shape[:2] == (40, len(d.ch_names)) and len(d.labels) == len(d.split) == len(d.blocks) == 40
    assert d.sfreq == 250.0 and len(d.classes) == 40 and set(map(str, d.image_ids)) <= set(d.captions)


@pytest.mark.parametrize("content, needle", [
    (b"", "dataset.json is damaged or not written by eegviz (JSONDecodeError"),
    (b"{not json", "dataset.json is damaged or not written by eegviz (JSONDecodeError"),
    (b'{"ch_names": "\xff"}', "dataset.json is damaged or not written by eegviz (UnicodeDecodeError"),
    (b"[1, 2]", "dataset.json must hold a JSON object, not a list"),
])
def test_unreadable_dataset_json(ds, content, needle):
    (ds / "dataset.json").write_bytes(content)
    assert f"{ds / 'dataset.json'}" in _error(ds) and needle in _error(ds)


@pytest.mark.parametrize("changes, needle", [
    ({"ch_names": None}, "dataset.json lacks 'ch_names' (a list of channel names)"),
    ({"captions": None}, "dataset.json lacks 'captions'"),
    ({"sfreq": "fast"}, "dataset.json: 'sfreq' must be a positive number (Hz), not \"fast\""),
    ({"sfreq": 0}, "'sfreq' must be a positive number"),
    ({"sfreq": float("nan")}, "'sfreq' must be a positive number (Hz), not NaN"),
    ({"tmin": 10**400}, "'tmin' must be a number (s), not 1000"),  # float() of it would overflow
    ({"tmin": True}, "'tmin' must be a number (s), not true"),
    ({"classes": [1, 2]}, "'classes' must be a list of class names, not [1, 2]"),
    ({"ch_names": ["Fz"]}, "eeg.npy has 128 channels but"),
])
def test_bad_fields_of_dataset_json(ds, changes, needle):
    _edit_json(ds, **changes)
    msg = _error(ds)
    assert needle in msg and str(ds) in msg


@pytest.mark.parametrize("name", ["meta.npz", "eeg.npy"])
def test_a_missing_file(ds, name):
    (ds / name).unlink()
    want = f"dataset {ds} lacks {name}; the folder is incomplete, simulate it again with `eegviz simulate`"
    assert _error(ds) == want


@pytest.mark.parametrize("name", ["meta.npz", "eeg.npy"])
def test_garbage_and_truncated_arrays(ds, name):
    good = (ds / name).read_bytes()
    for damaged in (b"\x00garbage" * 50, good[: len(good) // 2], good[:10], b""):
        (ds / name).write_bytes(damaged)
        assert f"{ds / name} is damaged or not written by eegviz (" in _error(ds)


def test_a_pickle_in_eeg_npy_never_runs(ds, tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return pathlib.Path.touch, (marker,)

    np.save(ds / "eeg.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    msg = _error(ds)
    assert "eeg.npy is damaged or not written by eegviz (" in msg and "objects" in msg
    _edit_npz(ds, split=np.array([Payload()] * 40, dtype=object))  # np.savez pickles object arrays
    assert "meta.npz is damaged or not written by eegviz (not numpy arrays; pickled objects are never loaded)" \
        in _error(ds)
    assert not marker.exists()


def test_a_header_promising_terabytes_fails_without_allocating(ds):
    with open(ds / "eeg.npy", "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": "<f2", "fortran_order": False, "shape": (10**9, 128, 10**4)})
        f.write(b"\0" * 64)
    assert "eeg.npy is damaged" in _error(ds)


def test_swapped_file_kinds(ds, valid):
    shutil.copy(ds / "meta.npz", ds / "eeg.npy")
    assert "eeg.npy is damaged or not written by eegviz (ValueError: a .npz archive" in _error(ds)
    shutil.copy(valid / "eeg.npy", ds / "eeg.npy")
    with open(ds / "meta.npz", "wb") as f:  # a file object: np.save would add .npy to the name
        np.save(f, np.zeros(3))
    assert "meta.npz is damaged or not written by eegviz (ValueError: one .npy array" in _error(ds)


def test_eeg_of_the_wrong_shape_or_kind(ds):
    np.save(ds / "eeg.npy", np.zeros((40, 128)))
    assert "eeg.npy holds float64 of shape (40, 128); expected numbers shaped (trials, channels, samples)" \
        in _error(ds)
    np.save(ds / "eeg.npy", np.full((40, 128, 4), "x"))
    assert "eeg.npy holds <U1 of shape (40, 128, 4)" in _error(ds)


def test_meta_npz_lacking_arrays(ds):
    _edit_npz(ds, drop=("split", "image_ids"))
    assert _error(ds) == f"{ds / 'meta.npz'} lacks image_ids, split; simulate it again with `eegviz simulate`"


def test_trial_counts_must_agree(ds):
    raw = np.load(ds / "eeg.npy")
    np.save(ds / "eeg.npy", raw[:39])
    assert f"{ds / 'meta.npz'}: 'labels' holds int64 of shape (40,); expected 39 integers, one per trial of eeg.npy" \
        in _error(ds)


@pytest.mark.parametrize("changes, needle", [
    ({"subjects": np.zeros(40)}, "'subjects' holds float64 of shape (40,); expected 40 integers"),
    ({"blocks": np.zeros(3, dtype=int)}, "'blocks' holds int64 of shape (3,); expected 40 integers"),
    ({"image_ids": np.arange(40)}, "'image_ids' holds int64 of shape (40,); expected 40 strings"),
    ({"labels": np.arange(40) + 1}, "meta.npz: labels run 1..40 but"),
    ({"labels": np.arange(40) - 1}, "meta.npz: labels run -1..38 but"),
    ({"split": np.array(["train"] * 39 + ["Test"])}, "meta.npz: split holds 'Test'; each trial's split is train, "
                                                     "val or test"),
    ({"image_ids": np.array(["nope_1"] * 40)}, "dataset.json: 'captions' lacks image 'nope_1' (1 image(s) of "
                                               "meta.npz have none)"),
])
def test_meta_npz_inconsistent_with_the_rest(ds, changes, needle):
    _edit_npz(ds, **changes)
    assert needle in _error(ds)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_epochs_are_refused(ds, bad):
    """A NaN epoch used to load: training then ran on it and eval wrote null metrics with exit code 0."""
    raw = np.load(ds / "eeg.npy")
    raw[[3, 7], 5, 10] = bad
    np.save(ds / "eeg.npy", raw)
    assert _error(ds) == (f"{ds / 'eeg.npy'}: 2 of 40 epochs hold NaN or infinite values (the first: epoch 3); "
                          "repair or drop them before loading")


def test_a_tmin_in_milliseconds_is_refused_when_loading(ds):
    """tmin -200 (milliseconds) trained through every stage and then failed as a "damaged" model folder."""
    _edit_json(ds, tmin=-200)
    assert _error(ds) == (f"{ds / 'dataset.json'}: the epochs' start tmin -200 is not seconds from the stimulus "
                          "onset (within +-10 s; was it given in milliseconds?)")


def test_a_simulation_beyond_float16_names_the_amplitude_that_was_raised(tmp_path):
    """`simulate --drift 1e9` overflows the stored float16 microvolts: the refusal named --class-snr-db, --line-uv
    and --block-line-uv, none of which was given, and not --drift."""
    with pytest.raises(EegvizError, match=r"beyond what the dataset stores.*\(--drift, --class-snr-db"):
        simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3, drift_uv_per_s=1e9, design="block")
