"""Real-format dataset loaders: tiny files in each exact on-disk format, read back as EEGDatasets in volts."""

import datetime
import io
import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from eegviz.data.eeg_imagenet import load_eeg_imagenet
from eegviz.data.loaders import FORMATS, detect_format, open_dataset
from eegviz.data.things_eeg2 import load_things_eeg2
from eegviz.data.xdf_dataset import load_xdf_dataset
from eegviz.errors import EegvizError
from eegviz.record.xdf_writer import XdfWriter


def _by_image(ds):
    """image id -> the one split it is in (fails if an image sits in two splits)."""
    out = {}
    for i, s in zip(ds.image_ids, ds.split):
        assert out.setdefault(str(i), str(s)) == s, f"image {i} in two splits"
    return out


# ------------------------------------------------------------------------------------------ EEG-ImageNet
WNIDS = ["n02389026", "n09999999"]  # one known synset, one not in the built-in name table
IMAGES = ["n02389026_1", "n02389026_2", "n09999999_1", "n09999999_2"]
LENGTHS = [500, 500, 500, 500, 500, 500, 440, 650]  # entry 6 too short for 460, entry 7 over 600


def _eeg_imagenet(tmp_path, **extra):
    entries = []
    for i, n in enumerate(LENGTHS):
        eeg = torch.arange(n, dtype=torch.float32).repeat(128, 1) + 1000 * i  # value = sample + 1000 * entry
        entries.append({"eeg": eeg, "image": i % 4, "label": (i % 4) // 2, "subject": 1 + i % 2})
    path = tmp_path / "eeg_55_95_std.pth"
    torch.save({"dataset": entries, "labels": WNIDS, "images": IMAGES, **extra}, path)
    splits = tmp_path / "block_splits_by_image_all.pth"
    # indices into the unfiltered list; 7 is filtered out by length, 99 points past the end
    torch.save({"splits": [{"train": [0, 1, 2, 3], "val": [4], "test": [5, 6, 7, 99]}]}, splits)
    return path, splits


def test_eeg_imagenet_crop_units_labels_and_splits(tmp_path, caplog):
    path, splits = _eeg_imagenet(tmp_path)
    with caplog.at_level(logging.WARNING):
        ds = load_eeg_imagenet(path, splits=splits)
    assert ds.eeg.shape == (6, 128, 440) and ds.eeg.dtype == np.float32
    assert ds.sfreq == 1000.0 and ds.tmin == pytest.approx(0.02)
    # samples 20..459 of entry k, in volts (microvolts * 1e-6)
    np.testing.assert_allclose(ds.eeg[1, 5], (np.arange(20, 460) + 1000) * 1e-6, rtol=1e-6)
    assert list(ds.split) == ["train"] * 4 + ["val", "test"]
    assert list(ds.labels) == [0, 0, 1, 1, 0, 0] and list(ds.subjects) == [1, 2, 1, 2, 1, 2]
    assert list(ds.image_ids) == IMAGES + IMAGES[:2]
    assert ds.classes == ["sorrel horse", "n09999999"]
    assert ds.captions["n02389026_2"] == "an image of a sorrel horse"
    assert ds.ch_names[0] == "EEG001" and len(ds.ch_names) == 128
    # the README says what is assumed, since the file does not say: it said nothing of it
    from pathlib import Path

    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert ("EEG-ImageNet's file holds neither channel names nor a sampling rate: its channels are named EEG001, "
            "EEG002, ... and read at 1 kHz, each trial cropped to samples 20-460 (0.02-0.46 s)" in readme)
    log = caplog.text
    assert "skipped 1 trials shorter than 460" in log and "1 longer than 600" in log
    assert "point past the 8 dataset entries" in log and "images appear in both train and test" in log


def test_eeg_imagenet_options_and_fallback_split(tmp_path):
    path, _ = _eeg_imagenet(tmp_path)
    ds = load_eeg_imagenet(path, time_low=0, time_high=500, max_len=None, test_fraction=0.25, val_fraction=0.25)
    assert ds.eeg.shape == (7, 128, 500) and ds.tmin == 0.0  # only the 440-sample trial is dropped
    splits = _by_image(ds)  # without a splits file: whole images, seeded, one of the four each to val and test
    assert sorted(splits.values()) == ["test", "train", "train", "val"]
    again = load_eeg_imagenet(path, time_low=0, time_high=500, max_len=None, test_fraction=0.25, val_fraction=0.25)
    assert list(again.split) == list(ds.split)
    one = load_eeg_imagenet(path, subjects=2, ch_names=[f"A{i}" for i in range(128)])
    assert set(one.subjects) == {2} and len(one.labels) == 3 and one.ch_names[5] == "A5"  # entries 1, 3, 5


def test_eeg_imagenet_subjects_not_in_the_file_are_refused(tmp_path):
    """`--subjects 1,7` on a file of subjects 1 and 2 trained and scored subject 1 alone without a word (and
    `--subjects 7` said only "no trials left"); THINGS-EEG2 refuses such a number, naming the ones there are."""
    path, _ = _eeg_imagenet(tmp_path)
    for chosen in ([1, 7], 7, [7, 9]):
        with pytest.raises(EegvizError) as err:
            load_eeg_imagenet(path, subjects=chosen)
        absent = "7" if chosen != [7, 9] else "7, 9"
        assert str(err.value) == f"subject(s) {absent} not in {path}; available: 1, 2"


def test_eeg_imagenet_evaluated_without_its_training_splits_names_them(tmp_path):
    """A model trained with --splits and evaluated without (a test split drawn by image instead) is refused, as
    it should be; the hint named only the synthetic world's cure (--images, --seed), not the --splits."""
    from eegviz.data.seen_images import check_unseen, write_seen_images

    path, splits = _eeg_imagenet(tmp_path)
    write_seen_images(tmp_path, load_eeg_imagenet(path, splits=splits))  # the model folder's record
    ds = load_eeg_imagenet(path)  # eval without --splits
    with pytest.raises(EegvizError) as err:
        check_unseen(tmp_path, ds.image_ids[ds.subset("test")])
    assert "(with the --splits and --subjects it was trained with: its training.json's 'command'; " in str(err.value)


def test_eeg_imagenet_splits_file_given_as_the_data_is_named_for_it(tmp_path):
    """`--data block_splits_by_image_all.pth --splits eeg_55_95_std.pth`: "not an EEG-ImageNet file: key(s)
    dataset, labels, images missing (has: splits)", with no word that the two were swapped."""
    path, splits = _eeg_imagenet(tmp_path)
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(splits, splits=path)
    assert str(err.value).endswith("(has: splits): it is a splits file; give it as --splits and the EEG file (e.g. "
                                   "eeg_55_95_std.pth) as --data")


def test_eeg_imagenet_a_model_checkpoint_given_as_the_data_is_one_short_line(tmp_path):
    """A state dict (a model's .pth, given as --data by mistake) listed its hundreds of keys in the error line."""
    torch.save({f"encoder.layers.{i}.weight": torch.zeros(1) for i in range(300)}, tmp_path / "model.pth")
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(tmp_path / "model.pth")
    assert str(err.value).endswith("(has: encoder.layers.0.weight, encoder.layers.1.weight, encoder.layers.2.weight, "
                                   "encoder.layers.3.weight, encoder.layers.4.weight, encoder.layers.5.weight, "
                                   "encoder.layers.6.weight, encoder.layers.7.weight and 292 more)")
    assert len(str(err.value)) < 400

def test_eeg_imagenet_trust(tmp_path):
    path, _ = _eeg_imagenet(tmp_path, recorded=datetime.date(2017, 1, 1))  # a pickled non-tensor object
    with pytest.raises(EegvizError, match="trust=True"):
        load_eeg_imagenet(path)
    assert load_eeg_imagenet(path, trust=True).eeg.shape[0] == 6


class _Payload:
    """What a crafted .pth carries: a call of os.system when it is unpickled."""

    def __reduce__(self):
        import os

        return os.system, ("echo unpickled",)


def test_eeg_imagenet_holding_code_is_refused_naming_it(tmp_path):
    """A crafted .pth (a __reduce__ that calls os.system) was refused without a word of what it held, where
    THINGS-EEG2's unpickler names the function it refused."""
    import os

    path, splits = _eeg_imagenet(tmp_path)
    torch.save({"dataset": [_Payload()], "labels": WNIDS, "images": IMAGES}, tmp_path / "crafted.pth")
    torch.save({"splits": [{"train": _Payload(), "val": [], "test": []}]}, tmp_path / "crafted_splits.pth")
    system = f"{os.system.__module__}.system"  # posix.system on Linux
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(tmp_path / "crafted.pth")
    assert f"is not plain tensors/lists/dicts (unsupported GLOBAL {system}): " in str(err.value)
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(path, splits=tmp_path / "crafted_splits.pth")
    assert str(err.value).startswith(f"splits file {tmp_path / 'crafted_splits.pth'} is not plain tensors/lists/"
                                     f"dicts (unsupported GLOBAL {system}): ")

def test_eeg_imagenet_saved_with_pickle_protocol_4_is_named_for_it(tmp_path):
    """torch's safe loader refuses protocol 4 even for plain tensors; eegviz called such a file one holding
    objects that can run code (found by review)."""
    path, _ = _eeg_imagenet(tmp_path)
    torch.save(torch.load(path, weights_only=True), tmp_path / "p4.pth", pickle_protocol=4)
    try:
        torch.load(tmp_path / "p4.pth", weights_only=True)
    except Exception:
        pass
    else:
        pytest.skip("this torch's weights-only loader reads protocol 4")
    with pytest.raises(EegvizError, match="saved with pickle protocol 4 or newer, which torch's safe"):
        load_eeg_imagenet(tmp_path / "p4.pth")
    assert load_eeg_imagenet(tmp_path / "p4.pth", trust=True).eeg.shape[0] == 6


@pytest.mark.parametrize("content, message", [
    ({"labels": WNIDS, "images": IMAGES}, "key.*dataset missing"),
    ({"dataset": [{"image": 0, "label": 0, "subject": 1}], "labels": WNIDS, "images": IMAGES}, "entry 0 lacks eeg"),
    ({"dataset": [{"eeg": torch.zeros(500), "image": 0, "label": 0, "subject": 1}], "labels": WNIDS,
      "images": IMAGES}, r"shape \(500,\).*\(channels, samples\)"),
    ({"dataset": [{"eeg": torch.zeros(128, 500), "image": 0, "label": 0, "subject": 1},
                  {"eeg": torch.zeros(500, 128), "image": 0, "label": 0, "subject": 1}], "labels": WNIDS,
      "images": IMAGES}, "entry 1 has 500 channels"),
    ({"dataset": [{"eeg": torch.zeros(128, 500), "image": 0, "label": 5, "subject": 1}], "labels": WNIDS,
      "images": IMAGES}, "label 5 is outside the 2 labels"),
    # a tensor's repr spans lines: the message was several
    ({"dataset": [{"eeg": torch.zeros(128, 500), "image": torch.zeros(2, 2), "label": 0, "subject": 1}],
      "labels": WNIDS, "images": IMAGES},
     r"entry 0 image must be an integer, got tensor\(\[\[0\., 0\.\], \[0\., 0\.\]\]\)$"),
    # a fractional label was truncated to a class (3.7 -> 3) without a word
    ({"dataset": [{"eeg": torch.zeros(128, 500), "image": 0, "label": torch.tensor(1.5), "subject": 1}],
      "labels": WNIDS, "images": IMAGES}, r"entry 0 label must be an integer, got tensor\(1\.5000\)$"),
])
def test_eeg_imagenet_bad_files(tmp_path, content, message):
    torch.save(content, tmp_path / "bad.pth")
    with pytest.raises(EegvizError, match=message) as err:
        load_eeg_imagenet(tmp_path / "bad.pth")
    assert "\n" not in str(err.value)


def test_eeg_imagenet_saved_samples_by_channels_is_named_for_it(tmp_path):
    """eeg of (500, 128): every trial read as 128 samples, "too short", and the error said only "no trials left"."""
    entries = [{"eeg": torch.zeros(500, 128), "image": i % 4, "label": (i % 4) // 2, "subject": 1} for i in range(4)]
    torch.save({"dataset": entries, "labels": WNIDS, "images": IMAGES}, tmp_path / "t.pth")
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(tmp_path / "t.pth")
    assert str(err.value).endswith("each trial's eeg was read as 500 channels x its samples (shape (channels, "
                                   "samples)): is it saved (samples, channels)? transpose each entry's eeg")
    path, _ = _eeg_imagenet(tmp_path)  # too short the right way round: no such guess
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(path, time_high=700, max_len=None)
    assert str(err.value) == f"{path}: no trials left after the subject and length filters (time_high=700, " \
                             "max_len=None, subjects=None)"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.int16])
def test_eeg_imagenet_eeg_of_any_real_dtype_is_read(tmp_path, dtype):
    """A bfloat16 tensor ended in numpy's TypeError, a traceback."""
    path, _ = _eeg_imagenet(tmp_path)
    raw = torch.load(path, weights_only=True)
    for e in raw["dataset"]:
        e["eeg"] = (e["eeg"] / 1000).to(dtype) if dtype.is_floating_point else e["eeg"].to(dtype)
    torch.save(raw, tmp_path / "cast.pth")
    ds = load_eeg_imagenet(tmp_path / "cast.pth")
    scale = 1e-3 if dtype.is_floating_point else 1.0
    np.testing.assert_allclose(ds.eeg[1, 5, :3], np.array([1020, 1021, 1022]) * scale * 1e-6, rtol=1e-2)


def test_eeg_imagenet_complex_eeg_is_refused(tmp_path):
    """numpy dropped the imaginary part with a warning, and the real part trained."""
    path, _ = _eeg_imagenet(tmp_path)
    raw = torch.load(path, weights_only=True)
    raw["dataset"][2]["eeg"] = raw["dataset"][2]["eeg"].to(torch.complex64)
    torch.save(raw, tmp_path / "complex.pth")
    with pytest.raises(EegvizError, match=r"complex.pth: entry 2 eeg holds complex numbers; EEG samples are real"):
        load_eeg_imagenet(tmp_path / "complex.pth")

@pytest.mark.parametrize("key, value, kind", [("labels", 5, "int"), ("images", None, "NoneType")])
def test_eeg_imagenet_names_must_be_lists(tmp_path, key, value, kind):
    """labels: 5 or images: None used to be a TypeError traceback."""
    path, _ = _eeg_imagenet(tmp_path, **{key: value})
    with pytest.raises(EegvizError, match=f"{path}: '{key}' must be a list of names, not {kind}$"):
        load_eeg_imagenet(path)


def test_eeg_imagenet_nan_epochs_are_refused(tmp_path):
    path, _ = _eeg_imagenet(tmp_path)
    raw = torch.load(path)
    raw["dataset"][3]["eeg"][10, 100] = float("nan")  # inside the 20..460 crop
    raw["dataset"][4]["eeg"][0, 5] = float("inf")  # outside it: never loaded, so harmless
    torch.save(raw, path)
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(path)
    assert str(err.value) == (f"{path}: 1 of 6 epochs hold NaN or infinite values (the first: dataset entry 3); "
                              "repair or drop them before loading")


def test_eeg_imagenet_bad_splits_and_garbage(tmp_path):
    path, splits = _eeg_imagenet(tmp_path)
    with pytest.raises(EegvizError, match="split_num 3 is out of range"):
        load_eeg_imagenet(path, splits=splits, split_num=3)
    torch.save({"splits": [{"train": [0], "test": [1]}]}, tmp_path / "s2.pth")
    with pytest.raises(EegvizError, match="needs keys train, val and test"):
        load_eeg_imagenet(path, splits=tmp_path / "s2.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file at all")
    with pytest.raises(EegvizError, match="junk.pth"):
        load_eeg_imagenet(tmp_path / "junk.pth", trust=True)


# ------------------------------------------------------------------------------------------ THINGS-EEG2
CH17 = ["Pz", "P3", "P7", "O1", "Oz", "O2", "P4", "P8", "P1", "P5", "PO7", "PO3", "POz", "PO4", "PO8", "P2", "P6"]
TIMES = np.round(np.arange(-20, 80) / 100.0, 2)
TRAIN_CONCEPTS = ["00001_aardvark", "00002_ice_cream", "00003_kite", "00004_lamp"]
TEST_CONCEPTS = ["00001_zebra", "00002_air_horn", "00003_yak"]


def _things(tmp_path, subjects=(1, 2), metadata=True, train_shape=(40, 4, 17, 100), test_shape=(3, 5, 17, 100),
            ch_names=CH17, times=TIMES, complex_data=False):
    root = tmp_path / "things"
    for s in subjects:
        d = root / f"sub-{s:02d}"
        d.mkdir(parents=True)
        for part, shape in (("training", train_shape), ("test", test_shape)):
            # value = 10 * subject + repetition, so averaging and units are checkable
            data = np.broadcast_to((10.0 * s + np.arange(shape[1]))[None, :, None, None], shape).astype(np.float64)
            data = data + 1j if complex_data else data
            np.save(d / f"preprocessed_eeg_{part}.npy",
                    {"preprocessed_eeg_data": data, "ch_names": ch_names, "times": times})
    if metadata:
        meta = {"train_img_concepts": [c for c in TRAIN_CONCEPTS for _ in range(10)],
                "train_img_files": [f"{c[6:]}_{k:02d}b.jpg" for c in TRAIN_CONCEPTS for k in range(10)],
                "test_img_concepts": TEST_CONCEPTS, "test_img_files": [f"{c[6:]}_01s.jpg" for c in TEST_CONCEPTS]}
        np.save(root / "image_metadata.npy", meta)
    return root


def test_things_eeg2_trials_units_labels_and_concept_split(tmp_path):
    ds = load_things_eeg2(_things(tmp_path), val_fraction=0.25)
    assert ds.eeg.shape == (2 * (40 * 4 + 3 * 5), 17, 100) and ds.eeg.dtype == np.float32
    assert ds.ch_names == tuple(CH17) and ds.sfreq == 100.0 and ds.tmin == pytest.approx(-0.2)
    assert ds.eeg[0, 0, 0] == pytest.approx(10e-6) and ds.eeg[3, 0, 0] == pytest.approx(13e-6)  # sub 1, reps 0, 3
    assert ds.classes == ["aardvark", "ice cream", "kite", "lamp", "zebra", "air horn", "yak"]
    assert ds.image_ids[0] == "aardvark_00b" and ds.image_ids[4] == "aardvark_01b"
    assert ds.captions["ice_cream_03b"] == "an image of a ice cream"
    test = ds.subset("test")
    assert len(test) == 30 and set(ds.labels[test]) == {4, 5, 6} and set(ds.subjects) == {1, 2}
    # validation holds out whole concepts: one of four, never mixed with train
    split_of = {}
    for y, s in zip(ds.labels, ds.split):
        assert split_of.setdefault(int(y), str(s)) == s
    assert sorted(split_of.values()).count("val") == 1
    _by_image(ds)


def test_things_eeg2_repetitions_are_trials_and_the_test_images_never_train(tmp_path):
    """As the README says: each repetition is one trial (none averaged), a known trial carries its own image and
    caption, and the release's test images are the test split alone."""
    from pathlib import Path

    root = _things(tmp_path)
    path = root / "sub-02" / "preprocessed_eeg_training.npy"
    d = np.load(path, allow_pickle=True).item()
    d["preprocessed_eeg_data"] = d["preprocessed_eeg_data"].copy()
    d["preprocessed_eeg_data"][:, :, 0, 0] = np.arange(40)[:, None] * 10 + np.arange(4)  # 10 * image + repetition
    np.save(path, d)
    ds = load_things_eeg2(root)
    k = np.flatnonzero((ds.subjects == 2) & (ds.eeg[:, 0, 0] == np.float32(132e-6)))  # image 13, repetition 2
    assert len(k) == 1 and ds.image_ids[k[0]] == "ice_cream_03b" and ds.classes[ds.labels[k[0]]] == "ice cream"
    assert ds.captions["ice_cream_03b"] == "an image of a ice cream"
    assert (ds.image_ids == "ice_cream_03b").sum() == 2 * 4  # two subjects x four repetitions
    test_ids = {f"{c[6:]}_01s" for c in TEST_CONCEPTS}
    assert set(ds.image_ids[ds.split == "test"]) == test_ids and not test_ids & set(ds.image_ids[ds.split != "test"])
    assert (ds.split == "test").sum() == 2 * 3 * 5  # every test repetition, none averaged
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "Each of its repetitions is one trial, none averaged (the release's 4 per training image" in readme

def test_things_eeg2_average_subjects_and_no_metadata(tmp_path, caplog):
    root = _things(tmp_path, metadata=False)
    avg = load_things_eeg2(root, average_repetitions=True, subjects=[2])
    assert avg.eeg.shape == (43, 17, 100) and set(avg.subjects) == {2}
    assert avg.eeg[0, 0, 0] == pytest.approx(21.5e-6) and avg.eeg[40, 0, 0] == pytest.approx(22e-6)
    assert avg.image_ids[10] == "train_00010" and avg.labels[10] == 1 and avg.labels[42] == 4 + 2
    assert "no image_metadata.npy" in caplog.text
    with pytest.raises(EegvizError, match=r"subject\(s\) 3 not in .*available: 1, 2"):
        load_things_eeg2(root, subjects=[3])


def test_things_eeg2_a_subject_named_twice_is_read_once(tmp_path):
    """`--subjects 2,2` (or 2,1,2) read subject 2 twice: every one of its trials twice in training and in the test
    split's figures."""
    root = _things(tmp_path, metadata=False)
    once, twice = load_things_eeg2(root, subjects=[2, 1]), load_things_eeg2(root, subjects=[2, 1, 2])
    assert twice.eeg.shape == once.eeg.shape == (2 * 175, 17, 100)
    assert list(twice.subjects) == list(once.subjects) and np.array_equal(twice.eeg, once.eeg)


def test_things_eeg2_two_folders_of_one_subject_are_refused(tmp_path):
    """sub-1 beside sub-01: the later folder in sort order replaced the other without a word (an empty sub-1 even
    dropped subject 1 altogether)."""
    import shutil

    root = _things(tmp_path, metadata=False)
    shutil.copytree(root / "sub-01", root / "sub-1")
    with pytest.raises(EegvizError) as err:
        load_things_eeg2(root)
    assert str(err.value) == f"sub-01 and sub-1 in {root} are both subject 1; keep one"
    shutil.rmtree(root / "sub-1")
    (root / "sub-1").mkdir()
    with pytest.raises(EegvizError, match="are both subject 1"):
        load_things_eeg2(root, subjects=[1])


def test_things_eeg2_a_subject_without_its_training_file_is_named(tmp_path):
    """sub-02 with its test file only (a download cut short) was left out of "every subject" without a word,
    while a subject lacking its test file was refused, naming the file."""
    root = _things(tmp_path, metadata=False)
    missing = root / "sub-02" / "preprocessed_eeg_training.npy"
    missing.unlink()
    with pytest.raises(EegvizError) as err:
        load_things_eeg2(root)
    assert str(err.value) == (f"{missing} does not exist, though the folder holds preprocessed_eeg_test.npy (a "
                              "download cut short?); fetch it, or leave the subject out with --subjects")
    with pytest.raises(EegvizError, match="does not exist, though the folder holds .*; fetch it$"):
        load_things_eeg2(root, subjects=[1, 2])
    assert set(load_things_eeg2(root, subjects=[1]).subjects) == {1}  # left out: the others are read


def test_things_eeg2_bad_files(tmp_path):
    root = _things(tmp_path, subjects=(1,), train_shape=(40, 4, 17, 99))
    with pytest.raises(EegvizError, match=r"shape \(40, 4, 17, 99\)"):
        load_things_eeg2(root)
    np.save(root / "sub-01" / "preprocessed_eeg_training.npy", {"ch_names": CH17, "times": TIMES})
    with pytest.raises(EegvizError, match="lacks key.*preprocessed_eeg_data"):
        load_things_eeg2(root)
    np.save(root / "sub-01" / "preprocessed_eeg_training.npy", np.zeros((40, 4, 17, 100)))
    with pytest.raises(EegvizError, match="must hold a dict"):
        load_things_eeg2(root)
    root2 = _things(tmp_path / "b", subjects=(1,), train_shape=(30, 4, 17, 100))  # metadata lists 40 images
    with pytest.raises(EegvizError, match="lists 40 train files.*EEG has 30"):
        load_things_eeg2(root2)


@pytest.mark.parametrize("layout, message", [
    ({"ch_names": [], "train_shape": (40, 4, 0, 100), "test_shape": (3, 5, 0, 100)},
     "holds no EEG channels \\(ch_names: none\\)"),
    ({"ch_names": ["stim"], "train_shape": (40, 4, 1, 100), "test_shape": (3, 5, 1, 100)},
     "holds no EEG channels \\(ch_names: stim\\)"),
    ({"times": np.zeros(100)}, "'times' must be finite seconds rising from sample to sample; it runs 0 .. 0"),
    ({"times": TIMES[::-1]}, "'times' must be finite seconds rising .* it runs 0.79 .. -0.2"),
    ({"times": np.full(100, np.nan)}, "'times' must be finite seconds rising .* it runs nan .. nan"),
    ({"ch_names": "O1O2Oz"}, "ch_names a list of names"),  # one string: a channel per letter
    ({"times": TIMES * 1e-9}, "a sampling rate of 1e\\+11 Hz"),  # nanoseconds' worth: a rate that overflows
    ({"train_shape": (40, 0, 17, 100)}, "no images or no repetitions"),
    # cast to real without a word of eegviz's (numpy's own ComplexWarning), the imaginary part dropped
    ({"times": TIMES + 0j}, "times holds complex numbers; EEG samples and times are real"),
    ({"complex_data": True}, "preprocessed_eeg_data holds complex numbers; EEG samples and times are real"),
], ids=["no-channels", "only-stim", "times-constant", "times-descending", "times-nan", "ch-names-string",
        "times-tiny-steps", "no-repetitions", "times-complex", "data-complex"])
def test_things_eeg2_crafted_layouts_are_one_line_errors(tmp_path, layout, message):
    """Each used to be a traceback (reshape, division by zero) or, for descending times, a negative rate."""
    with pytest.raises(EegvizError, match=message) as err:
        load_things_eeg2(_things(tmp_path, subjects=(1,), **layout))
    assert "\n" not in str(err.value) and "preprocessed_eeg_training.npy" in str(err.value)


def test_things_eeg2_nan_epochs_are_refused(tmp_path):
    root = _things(tmp_path, subjects=(1,))
    file = root / "sub-01" / "preprocessed_eeg_training.npy"
    d = np.load(file, allow_pickle=True).item()
    d["preprocessed_eeg_data"][2, 1, 5, 50] = np.nan
    d["preprocessed_eeg_data"][7, 0, 0, 0] = np.inf
    np.save(file, d)
    with pytest.raises(EegvizError) as err:
        load_things_eeg2(root)
    assert str(err.value) == (f"{file}: 2 of 160 epochs hold NaN or infinite values (the first: image 2, "
                              "repetition 1); repair or drop them before loading")


def test_things_eeg2_too_large_for_memory_is_one_line(tmp_path, monkeypatch):
    """All subjects of NICE/ATM's 63-channel copy need some 40 GB: where the machine cannot give them, the
    MemoryError was a traceback."""
    root = _things(tmp_path)
    empty = np.empty

    def refuse(shape, *args, **kwargs):
        if isinstance(shape, tuple) and len(shape) == 3 and shape[0] == 2 * 175:  # the trials of both subjects
            raise MemoryError
        return empty(shape, *args, **kwargs)

    monkeypatch.setattr(np, "empty", refuse)
    with pytest.raises(EegvizError) as err:
        load_things_eeg2(root)
    assert str(err.value) == (f"{root}: 2 subject(s) x 175 trials x 17 channels x 100 samples need 0.0 GB, more "
                              "memory than this machine gives; read fewer subjects (--subjects N,...)")


def test_things_eeg2_nice_atm_250hz_variant(tmp_path, caplog):
    """NICE/ATM's Preprocessed_data_250Hz: pickle.dump, 63 channels (+ 'stim' in some copies), data cropped to
    0..1 s while 'times' still spans -0.2..1.0 s."""
    import pickle

    root = tmp_path / "Preprocessed_data_250Hz"
    ch = [f"E{k}" for k in range(63)] + ["stim"]
    times = np.round(np.arange(-50, 250) / 250.0, 3)
    for part, n in (("training", 40), ("test", 3)):
        data = np.zeros((n, 2, 64, 250))
        data[:, :, :, 0] = np.arange(64)  # value = channel index at the first sample
        (root / "sub-01").mkdir(parents=True, exist_ok=True)
        with open(root / "sub-01" / f"preprocessed_eeg_{part}.npy", "wb") as f:
            pickle.dump({"preprocessed_eeg_data": data, "ch_names": ch, "times": times}, f)
    with caplog.at_level(logging.WARNING):
        ds = load_things_eeg2(root)
    assert ds.eeg.shape == (86, 63, 250) and ds.sfreq == 250.0 and ds.tmin == pytest.approx(0.0)
    assert "stim" not in ds.ch_names and ds.eeg[0, 62, 0] == pytest.approx(62e-6)
    assert "'times' has 300 entries for 250 samples" in caplog.text
    # said once, not once for each subject's two files (twenty lines for the ten subjects)
    import shutil

    shutil.copytree(root / "sub-01", root / "sub-02")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert load_things_eeg2(root).eeg.shape == (2 * 86, 63, 250)
    assert caplog.text.count("'times' has 300 entries for 250 samples") == 1
    assert "here and in every file so cropped" in caplog.text


def test_things_eeg2_release_layout_finds_metadata_and_stimuli(tmp_path):
    """The release's tree: project/eeg_dataset/preprocessed_data/sub-XX next to project/image_set/ with the
    metadata and {training,test}_images/<NNNNN_concept>/<file>."""
    from eegviz.data.loaders import open_dataset

    flat = _things(tmp_path / "flat", subjects=(1,))
    project = tmp_path / "project"
    data = project / "eeg_dataset" / "preprocessed_data"
    data.mkdir(parents=True)
    (flat / "sub-01").rename(data / "sub-01")
    (project / "image_set").mkdir()
    (flat / "image_metadata.npy").rename(project / "image_set" / "image_metadata.npy")
    meta = np.load(project / "image_set" / "image_metadata.npy", allow_pickle=True).item()
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(jpeg, "JPEG")  # training's check reads each stimulus' header
    for part in ("train", "test"):
        for c, f in zip(meta[f"{part}_img_concepts"], meta[f"{part}_img_files"]):
            folder = project / "image_set" / ("training_images" if part == "train" else "test_images") / c
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f).write_bytes(jpeg.getvalue())
    ds = load_things_eeg2(data)
    assert ds.classes[:2] == ["aardvark", "ice cream"]  # names from the metadata two levels up
    assert len(ds.image_paths) == 43
    assert ds.image_paths["yak_01s"] == project / "image_set" / "test_images" / "00003_yak" / "yak_01s.jpg"
    moved = tmp_path / "elsewhere"
    (project / "image_set" / "training_images").rename(moved)  # one part's folder given as --images-dir
    got = open_dataset(data, images_dir=str(moved))
    assert len(got.image_paths) == 40 and got.image_paths["kite_03b"] == moved / "00003_kite" / "kite_03b.jpg"
    # training needs the test stimuli too: the folder was given, so "pass --images-dir" was the wrong advice
    from eegviz.data.targets import check_stimuli

    with pytest.raises(EegvizError) as err:
        check_stimuli(got.image_ids, got.image_paths)
    assert str(err.value).startswith("--images-dir has no stimulus image for id 'zebra_01s' and 2 more (40 of the "
                                     "dataset's 43 images found)")
    assert "image_set/, which holds training_images/ and test_images/" in str(err.value)
    check_stimuli(got.image_ids[got.split != "test"], got.image_paths)  # what training alone learns from
    # a stimulus that is no image (an empty file, an error page saved as .jpg) was found only when the stimuli
    # were loaded, after the encoder stage had trained
    got.image_paths["kite_03b"].write_bytes(b"")
    got.image_paths["lamp_07b"].write_text("<html>Not Found</html>")
    with pytest.raises(EegvizError) as err:
        check_stimuli(got.image_ids[got.split != "test"], got.image_paths)
    assert str(err.value).startswith(f"cannot read stimulus image {got.image_paths['kite_03b']} (and 1 more of the "
                                     "40 stimuli): ")
    assert str(err.value).endswith("its content is not a PNG, JPEG or BMP image, whatever its name says (a web "
                                   "download named .jpg is often WebP); convert it to PNG")
    with pytest.raises(EegvizError, match="no THINGS stimuli under"):
        open_dataset(data, images_dir=str(tmp_path))


@pytest.mark.parametrize("layout", ["flat", "concept folders"])
def test_things_eeg2_stimuli_in_a_folder_of_their_own_files(tmp_path, layout):
    """THINGS images resized into one folder (<file>.jpg, or <concept>/<file>.jpg), as --images-dir holds every
    other format's stimuli: refused with "no THINGS stimuli", although image_metadata.npy names each file."""
    root = _things(tmp_path, subjects=(1,))
    meta = np.load(root / "image_metadata.npy", allow_pickle=True).item()
    stimuli = tmp_path / "resized"
    for part in ("train", "test"):
        for c, f in zip(meta[f"{part}_img_concepts"], meta[f"{part}_img_files"]):
            folder = stimuli if layout == "flat" else stimuli / c[6:]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f.replace(".jpg", ".png")).write_bytes(b"")
    (stimuli / "unrelated_01.png").write_bytes(b"")  # a file the metadata does not name: not a stimulus
    ds = open_dataset(root, images_dir=str(stimuli))
    assert len(ds.image_paths) == 43 and "unrelated_01" not in ds.image_paths
    assert ds.image_paths["yak_01s"] == (stimuli if layout == "flat" else stimuli / "yak") / "yak_01s.png"


@pytest.mark.parametrize("given", ["image_set", "image_set/training_images"])
def test_things_eeg2_metadata_is_found_in_the_images_dir(tmp_path, given):
    """The release's image_set/ (image_metadata.npy beside training_images/ and test_images/) kept apart from the
    EEG and given as --images-dir: the metadata there was not looked for, and the command line, which has no
    metadata option, was told to pass one."""
    from eegviz.data.loaders import open_dataset

    flat = _things(tmp_path / "flat", subjects=(1,))
    image_set = tmp_path / "stimuli" / "image_set"
    image_set.mkdir(parents=True)
    (flat / "image_metadata.npy").rename(image_set / "image_metadata.npy")
    meta = np.load(image_set / "image_metadata.npy", allow_pickle=True).item()
    for part in ("train", "test"):
        for c, f in zip(meta[f"{part}_img_concepts"], meta[f"{part}_img_files"]):
            folder = image_set / ("training_images" if part == "train" else "test_images") / c
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f).write_bytes(b"")
    ds = open_dataset(flat, images_dir=str(tmp_path / "stimuli" / given))
    assert ds.classes[:2] == ["aardvark", "ice cream"] and ds.image_ids[0] == "aardvark_00b"
    assert ds.image_paths["kite_03b"].parent.name == "00003_kite"
    assert len(ds.image_paths) == (43 if given == "image_set" else 40)


@pytest.mark.parametrize("part, key, name", [
    ("train", "train_img_files", "OUTSIDE"),  # an absolute path: joined onto the image set, it replaces it
    ("test", "test_img_concepts", "../../elsewhere"),
    ("train", "train_img_files", ".."),
], ids=["absolute-file", "dotdot-concept", "dotdot-file"])
def test_things_eeg2_metadata_names_cannot_point_outside_the_image_set(tmp_path, part, key, name):
    """image_metadata.npy names each stimulus as <concept>/<file> inside the image set; a crafted one pointed the
    stimuli at any image on the disk (read, and drawn into eval's reports, as the dataset's own)."""
    from PIL import Image

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.new("RGB", (8, 8)).save(outside / "secret.png")
    root = _things(tmp_path, subjects=(1,))
    meta = np.load(root / "image_metadata.npy", allow_pickle=True).item()
    meta[key] = list(meta[key])
    meta[key][0] = str(outside / "secret.png") if name == "OUTSIDE" else name
    if key == "test_img_concepts":  # with its file, so that <image set>/../../elsewhere/secret.png exists
        meta["test_img_files"] = ["secret.png"] + list(meta["test_img_files"][1:])
    np.save(root / "image_metadata.npy", meta)
    with pytest.raises(EegvizError, match=f"image metadata .*: {part} concept and file names must be plain names"):
        # the old code found <images_dir>/../../elsewhere/secret.png, i.e. tmp_path/elsewhere/secret.png
        load_things_eeg2(root, images_dir=root / "sub-01" if key == "test_img_concepts" else None)


def test_eeg_imagenet_single_subject_split_file(tmp_path, caplog):
    """block_splits_by_image_single.pth indexes one subject's trials, as the original code and DreamDiffusion
    use it: with subject 2 (entries 1, 3, 5, 7) positions 0..3 mean those entries."""
    path, _ = _eeg_imagenet(tmp_path)
    single = tmp_path / "block_splits_by_image_single.pth"
    torch.save({"splits": [{"train": [0, 1], "val": [2], "test": [3]}]}, single)
    ds = load_eeg_imagenet(path, splits=single, subjects=2)
    entry = np.round(ds.eeg[:, 0, 0] / 1e-6 / 1000).astype(int)  # value = 1000 * entry + sample
    assert list(entry) == [1, 3, 5] and list(ds.split) == ["train", "train", "val"]  # entry 7 is too long
    whole = load_eeg_imagenet(path, splits=single, subjects=2, split_index="dataset")
    assert list(np.round(whole.eeg[:, 0, 0] / 1e-6 / 1000).astype(int)) == [1, 3]  # entries 0..3, subject 2's
    # no subject chosen: its positions were read as entries 0..3 of the whole list, both subjects' first trials
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(path, splits=single)
    assert str(err.value) == ("block_splits_by_image_single.pth indexes one subject's trials (all its indices fall "
                              "within the 4 trials of one subject, and the file holds 2 subjects): choose that "
                              "subject with --subjects, as the original code and DreamDiffusion (subject 4) do")
    everyone = load_eeg_imagenet(path, splits=single, split_index="dataset")  # from Python, asked
    assert len(everyone.labels) == 4 and list(everyone.subjects) == [1, 2, 1, 2]
    with pytest.raises(EegvizError, match="split_index must be"):
        load_eeg_imagenet(path, splits=single, split_index="mine")


def test_eeg_imagenet_single_subject_split_file_over_two_subjects_is_refused(tmp_path):
    """Its positions were laid over both subjects' trials in file order: entries 0..3 (two subjects, images 0..3)
    trained and tested as if they were one subject's, the split no longer image-wise and not the published one."""
    path, _ = _eeg_imagenet(tmp_path)
    single = tmp_path / "block_splits_by_image_single.pth"
    torch.save({"splits": [{"train": [0, 1], "val": [2], "test": [3]}]}, single)
    with pytest.raises(EegvizError) as err:
        load_eeg_imagenet(path, splits=single, subjects=[1, 2])
    assert str(err.value) == ("block_splits_by_image_single.pth indexes one subject's trials (all its indices fall "
                              "within the chosen subjects' 8), but --subjects names 2: choose one subject with it, "
                              "as the original code and DreamDiffusion do")
    forced = load_eeg_imagenet(path, splits=single, subjects=[1, 2], split_index="subjects")  # from Python, asked
    assert list(forced.split) == ["train", "train", "val", "test"]


def test_eeg_imagenet_all_subjects_split_file_with_every_subject_named(tmp_path):
    """block_splits_by_image_all.pth indexes the whole list; with every subject named (`--subjects 1,2`, as a
    paper's script lists all six) its indices fit the chosen trials, and it was refused as a single-subject file."""
    path, splits = _eeg_imagenet(tmp_path)
    whole = torch.load(splits)["splits"][0]
    assert max(max(whole[k]) for k in ("train", "val", "test") if whole[k]) >= 4  # past one subject's 4 trials
    named, plain = load_eeg_imagenet(path, splits=splits, subjects=[1, 2]), load_eeg_imagenet(path, splits=splits)
    assert np.array_equal(named.eeg, plain.eeg) and list(named.split) == list(plain.split)
    assert list(named.split) == ["train"] * 4 + ["val", "test"]
    # one subject of two, the file's indices past its trials: the whole list, as before
    one = load_eeg_imagenet(path, splits=splits, subjects=[2])
    assert list(np.round(one.eeg[:, 0, 0] / 1e-6 / 1000).astype(int)) == [1, 3, 5]


# ------------------------------------------------------------------------------------------ XDF sessions
FS = 250.0
T0 = 50.0


def _images(root, flat=False):
    ids = [f"{c}_{k:04d}" for c in ("circle", "square", "star") for k in range(4)]
    for i in ids:
        folder = root if flat else root / i.rsplit("_", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(b"")
    return ids


def _record(path, payloads, seconds=12.0, onset=0.5, step=0.5, srate=FS, nan_at=(), ch_names=("O1", "Oz", "O2", "Pz"),
            flat_s=0.0, offset=0.0):
    """4 channels in microvolts whose value is the sample index (+ offset; 0 for the first `flat_s` seconds, NaN at
    samples `nan_at`), markers on the sample grid; `srate` is the stream's declared rate only, the samples are FS
    apart."""
    n = int(seconds * FS)
    ts = T0 + np.arange(n) / FS
    data = np.repeat(np.arange(n, dtype=np.float32)[:, None], 4, axis=1) + np.float32(offset)
    data[:int(flat_s * FS)] = 0
    data[list(nan_at)] = np.nan
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", 4, srate, "float32", ch_names=list(ch_names), unit="microvolts")
        mk = w.add_stream("stim", "Markers", 1, 0.0, "string")
        for a in range(0, n, 250):
            w.write_samples(eeg, data[a:a + 250], ts[a:a + 250])
        times = T0 + onset + step * np.arange(len(payloads))
        w.write_samples(mk, list(payloads), times)
    return times


def test_xdf_epochs_labels_skips_and_image_split(tmp_path, caplog):
    images = tmp_path / "images"
    ids = _images(images)
    (images / "captions.json").write_text(json.dumps({"star_0002": "a red star on grey"}))
    payloads = ids + ids[:6] + ["nothing_9", "stim/circle_0001.png"]  # one unknown id, one path-like payload
    times = _record(tmp_path / "sub-03_ses-01.xdf", payloads + ["square_0000"], seconds=10.55)  # last runs out
    with caplog.at_level(logging.WARNING):
        ds = load_xdf_dataset(tmp_path / "sub-03_ses-01.xdf", images, tmin=-0.1, tmax=0.5, seed=1)
    assert ds.eeg.shape == (19, 4, 150) and ds.sfreq == FS and ds.tmin == pytest.approx(-0.1)
    assert ds.ch_names == ("O1", "Oz", "O2", "Pz") and set(ds.subjects) == {3}
    first = round((times[0] - 0.1 - T0) * FS)  # the window starts at the marker + tmin, on the sample grid
    np.testing.assert_allclose(ds.eeg[0, 2], (first + np.arange(150)) * 1e-6, rtol=1e-6)
    assert ds.classes == ["circle", "square", "star"]
    assert list(ds.labels[:12]) == [0] * 4 + [1] * 4 + [2] * 4 and ds.image_ids[-1] == "circle_0001"
    assert ds.captions["star_0002"] == "a red star on grey" and ds.captions["circle_0000"] == "an image of a circle"
    splits = _by_image(ds)  # repeats of one image share its split
    assert sorted(splits.values()).count("test") == 1 and sorted(splits.values()).count("val") == 1
    assert "skipped 1 marker naming no image" in caplog.text and "'nothing_9'" in caplog.text
    assert "skipped 1 epochs running past the recording" in caplog.text


def test_xdf_captions_that_name_no_image_or_images_without_one_are_said(tmp_path, caplog):
    """captions.json with a typo ('star_002' for star_0002) and without a caption for most recorded images: those
    images were captioned "an image of a <class>" in silence, and --caption rich trained on that."""
    images = tmp_path / "images"
    ids = _images(images)
    (images / "captions.json").write_text(json.dumps({"star_002": "a red star on grey", "circle_0000": "a circle"}))
    _record(tmp_path / "s.xdf", ids, seconds=8.0)
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        ds = load_xdf_dataset(tmp_path / "s.xdf", images)
    assert ds.captions["star_0002"] == "an image of a star" and ds.captions["circle_0000"] == "a circle"
    assert "captions.json names 1 image id(s) that no image in" in caplog.text and "'star_002'" in caplog.text
    assert "11 of the 12 recorded images have no caption in" in caplog.text
    caplog.clear()
    (images / "captions.json").write_text(json.dumps({i: f"caption {i}" for i in ids}))
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        load_xdf_dataset(tmp_path / "s.xdf", images)
    assert "caption" not in caplog.text  # a folder whose captions.json matches its images: nothing said


def test_xdf_a_flat_folder_whose_every_image_is_its_own_class_is_said(tmp_path, caplog):
    """cat1.png, cat2.png, dog1.png ... in one folder: no '_', so each image is a class of its own, and validation
    and test hold classes never trained on; training reported 1-way zero-shot scores of 1.000 without a word."""
    images = tmp_path / "flat"
    images.mkdir()
    ids = [f"{c}{k}" for c in ("cat", "dog") for k in range(3)]
    for i in ids:
        (images / f"{i}.png").write_bytes(b"")
    _record(tmp_path / "s.xdf", ids * 2, seconds=8.0)
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        ds = load_xdf_dataset(tmp_path / "s.xdf", images)
    assert ds.classes == ids
    assert "each of the 6 classes in" in caplog.text and "'cat0' -> 'cat0'" in caplog.text
    assert "put the images in one subfolder per class" in caplog.text
    caplog.clear()
    for i in ids:  # moved into class folders: the same markers, two classes of three images, nothing said
        (images / i[:3]).mkdir(exist_ok=True)
        (images / f"{i}.png").rename(images / i[:3] / f"{i}.png")
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        ds = load_xdf_dataset(tmp_path / "s.xdf", images)
    assert ds.classes == ["cat", "dog"] and "holds one image" not in caplog.text


def test_xdf_class_folders_of_one_recorded_image_each_are_not_told_to_use_class_folders(tmp_path, caplog):
    """Images already in one subfolder per class, one of each recorded (`eegviz present --write-demo-folder
    --per-class 1`): the warning told the user to "put the images in one subfolder per class", as they had. It
    names the folders and asks for several images of each class instead."""
    images = tmp_path / "stimuli"
    ids = ["cat_000", "dog_000", "fox_000"]
    for i in ids:
        (images / i[:3]).mkdir(parents=True)
        (images / i[:3] / f"{i}.png").write_bytes(b"")
    _record(tmp_path / "s.xdf", ids * 2, seconds=8.0)
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        ds = load_xdf_dataset(tmp_path / "s.xdf", images)
    assert ds.classes == ["cat", "dog", "fox"]
    assert "each of the 3 classes in" in caplog.text and "'cat_000' in cat/" in caplog.text
    assert "subfolder per class" not in caplog.text and "several images of each class" in caplog.text


def test_xdf_marker_ids_with_a_c_strings_trailing_nul_are_trained_on(tmp_path):
    """A C or MATLAB presenter's "circle_0000\\0" (a fixed-size buffer sent whole) names circle_0000; the NUL
    was kept, so every such marker named no image and the recording trained on nothing."""
    images = tmp_path / "images"
    ids = _images(images)
    _record(tmp_path / "s.xdf", [i + "\0" for i in ids], seconds=8.0)
    ds = load_xdf_dataset(tmp_path / "s.xdf", images, val_fraction=0.0, test_fraction=0.0)
    assert sorted(ds.image_ids) == sorted(ids)


def test_xdf_flat_folder_two_files_and_errors(tmp_path, caplog):
    images = tmp_path / "flat"
    ids = _images(images, flat=True)
    (tmp_path / "rec").mkdir()
    _record(tmp_path / "rec" / "a.xdf", ids[:6], seconds=4.0)
    # a second `eegviz record` into the same --out writes session-002/session.xdf: it is read too
    (tmp_path / "rec" / "session-002").mkdir()
    _record(tmp_path / "rec" / "session-002" / "session.xdf", ids[6:], seconds=4.0)
    # a replay's copy of a.xdf saved into the same folder (the same EEG samples): read once, with a warning
    (tmp_path / "rec" / "session-003").mkdir()
    (tmp_path / "rec" / "session-003" / "session.xdf").write_bytes((tmp_path / "rec" / "a.xdf").read_bytes())
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        ds = load_xdf_dataset(tmp_path / "rec", images, val_fraction=0.0, test_fraction=0.0)
    assert "holds the same EEG samples as" in caplog.text
    assert len(ds.labels) == 12 and ds.classes == ["circle", "square", "star"] and set(ds.split) == {"train"}
    assert set(ds.subjects) == {0}
    with pytest.raises(EegvizError, match="images folder .* does not exist"):
        load_xdf_dataset(tmp_path / "rec", tmp_path / "nope")
    with pytest.raises(EegvizError, match="no epochs"):
        load_xdf_dataset(tmp_path / "rec", _images_only(tmp_path / "other"))
    with pytest.raises(EegvizError, match="fractions"):
        load_xdf_dataset(tmp_path / "rec", images, val_fraction=0.6, test_fraction=0.5)


@pytest.mark.parametrize("markers", [None, "stim"])
def test_xdf_recordings_without_markers_say_so(tmp_path, markers):
    """The EEG recorded without the presenter's stream (`eegviz record --streams AMP`, or a marker stream that stayed
    empty): the line said "none of the markers names an image in IMAGES", sending the user to the image folder."""
    images = tmp_path / "images"
    _images(images)
    ts = T0 + np.arange(1000) / FS
    with XdfWriter(tmp_path / "s.xdf") as w:
        eeg = w.add_stream("amp", "EEG", 4, FS, "float32", ch_names=["O1", "Oz", "O2", "Pz"], unit="microvolts")
        if markers:
            w.add_stream(markers, "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.zeros((1000, 4), np.float32), ts)
    with pytest.raises(EegvizError) as err:
        load_xdf_dataset(tmp_path / "s.xdf", images, marker_stream=markers)
    which = "the marker stream 'stim' holds no markers in" if markers else "no markers in"
    assert str(err.value) == (f"no epochs: {which} the recordings ({tmp_path / 's.xdf'}); record the presenter's "
                              "marker stream with the EEG (`eegviz record` takes every stream; with --streams, name "
                              "it too)")


@pytest.mark.parametrize("second, difference", [
    ({"ch_names": ("Oz", "O1", "O2", "Pz")}, "the EEG stream's channels are in another order: channel 1 is 'Oz', "
                                             "'O1'"),
    ({"ch_names": ("O1", "Oz", "O2", "Cz")}, "the EEG stream's channels are named otherwise: channel 4 is 'Cz', "
                                             "'Pz'"),
], ids=["order", "names"])
def test_xdf_recordings_of_another_layout_say_what_differs(tmp_path, second, difference):
    """Channels in another order gave "(4 ch, 250.0 Hz) differ from the first recording (4 ch, 250.0 Hz)": the
    same numbers twice, and no name of the file they differed from."""
    images = tmp_path / "images"
    ids = _images(images)
    (tmp_path / "rec").mkdir()
    _record(tmp_path / "rec" / "a.xdf", ids[:6], seconds=4.0)
    _record(tmp_path / "rec" / "b.xdf", ids[6:], seconds=4.0, **second)
    with pytest.raises(EegvizError) as err:
        load_xdf_dataset(tmp_path / "rec", images)
    assert str(err.value) == (f"{tmp_path / 'rec' / 'b.xdf'}: {difference} in {tmp_path / 'rec' / 'a.xdf'}: every "
                              "recording must have the EEG stream's channels in one order and one sampling rate; "
                              "load them separately")
    from eegviz.data.xdf_dataset import _layout_difference

    assert _layout_difference((["O1"], 500.0), (["O1"], 250.0)) == "the EEG is sampled at 500 Hz, at 250 Hz"
    assert _layout_difference((["O1"], 250.0), (["O1", "O2"], 250.0)) == "the EEG stream has 1 channels, 2"
    assert "differ from those" in _layout_difference((("O1",), 250.0), (["O1"], 250.0))  # no StopIteration


def test_xdf_two_sessions_with_a_flat_start_are_not_taken_for_copies(tmp_path, caplog):
    """Two sessions of one presenter order (its --seed defaults to 0) whose EEG both begins with over 10 s of an
    amplifier's zeros: their first seconds were the same samples, and the second session was dropped as a
    replay's copy of the first."""
    images = tmp_path / "images"
    ids = _images(images)
    (tmp_path / "rec" / "session-002").mkdir(parents=True)
    _record(tmp_path / "rec" / "session.xdf", ids, seconds=14.0, onset=11.0, step=0.2, flat_s=10.5)
    _record(tmp_path / "rec" / "session-002" / "session.xdf", ids, seconds=14.0, onset=11.0, step=0.2, flat_s=10.5,
            offset=5000.0)
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        ds = load_xdf_dataset(tmp_path / "rec", images, val_fraction=0.0, test_fraction=0.0)
    assert "a replay's copy" not in caplog.text
    assert len(ds.labels) == 2 * len(ids) and sorted(set(ds.blocks)) == [0, 1]
    # a copy of one of them is still read once
    (tmp_path / "rec" / "session-003").mkdir()
    (tmp_path / "rec" / "session-003" / "session.xdf").write_bytes((tmp_path / "rec" / "session.xdf").read_bytes())
    with caplog.at_level(logging.WARNING, logger="eegviz.data.xdf_dataset"):
        assert len(load_xdf_dataset(tmp_path / "rec", images).labels) == 2 * len(ids)
    assert "a replay's copy" in caplog.text


def test_xdf_hidden_files_beside_the_recordings_are_left_out(tmp_path):
    """A folder copied from a Mac onto an exFAT drive holds '._session.xdf' (AppleDouble) beside each recording:
    the first of them refused the whole dataset as "not an XDF file"."""
    images = tmp_path / "images"
    ids = _images(images)
    (tmp_path / "rec" / ".Trash-1000").mkdir(parents=True)
    _record(tmp_path / "rec" / "session.xdf", ids, seconds=10.0)
    (tmp_path / "rec" / "._session.xdf").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X" + bytes(4000))
    (tmp_path / "rec" / ".Trash-1000" / "old.xdf").write_bytes(b"XDF:")  # a deleted recording
    ds = open_dataset(tmp_path / "rec", images_dir=str(images))
    assert len(ds.labels) == len(ids) and set(ds.blocks) == {0}


def test_xdf_files_in_a_folder_are_found_whatever_the_case_of_their_extension(tmp_path):
    """A recording renamed S02.XDF was read when given alone but skipped in a folder ("*.xdf" globbed), its
    trials missing from training without a word, or the folder refused as no dataset when it was the only one."""
    from eegviz.data.loaders import detect_format

    images = tmp_path / "images"
    ids = _images(images)
    (tmp_path / "rec").mkdir()
    _record(tmp_path / "rec" / "S02.XDF", ids[:6], seconds=4.0)
    assert detect_format(tmp_path / "rec") == "xdf"
    _record(tmp_path / "rec" / "s03.xdf", ids[6:], seconds=4.0)
    ds = load_xdf_dataset(tmp_path / "rec", images, val_fraction=0.0, test_fraction=0.0)
    assert len(ds.labels) == 12


def test_xdf_bids_subject_labels_that_are_not_numbers_stay_apart(tmp_path):
    """BIDS subject labels are alphanumeric: sub-P01 and sub-P02 were both read as subject 0 (one person), so the
    leave-one-subject-out control had one subject and their trials of an image counted as one subject's repeats."""
    images = tmp_path / "images"
    ids = _images(images)
    for k, sub in enumerate(("sub-P02", "sub-03", "sub-P01")):
        folder = tmp_path / "bids" / sub / "ses-1" / "eeg"
        folder.mkdir(parents=True)
        _record(folder / f"{sub}_ses-1_task-images_eeg.xdf", ids[4 * k:4 * k + 4], seconds=4.0)
    ds = load_xdf_dataset(tmp_path / "bids", images, val_fraction=0.0, test_fraction=0.0)
    by_image = {str(i): int(s) for i, s in zip(ds.image_ids, ds.subjects)}
    assert by_image[ids[4]] == 3  # a number stays that number
    assert (by_image[ids[8]], by_image[ids[0]]) == (4, 5)  # P01, P02: after it, in label order
    assert len(set(ds.subjects)) == 3


@pytest.mark.parametrize("srate", [float("nan"), float("inf")])
def test_xdf_without_a_usable_sampling_rate(tmp_path, srate):
    """nominal_srate is text in the file; nan or inf used to fail as a ValueError/OverflowError traceback."""
    ids = _images(tmp_path / "images")
    _record(tmp_path / "s.xdf", ids, seconds=7.0, srate=srate)
    with pytest.raises(EegvizError, match=f"s.xdf: EEG stream 'amp' has no usable sampling rate \\({srate} Hz\\)"):
        load_xdf_dataset(tmp_path / "s.xdf", tmp_path / "images")


def test_xdf_epochs_holding_nan_are_skipped_and_counted(tmp_path, caplog):
    """eegviz's own session.xdf keeps an amplifier dropout's NaN samples (the live path skips their epochs): a
    recording with one is skipped the same way, epoch by epoch, with a count, not refused whole (nor trained on)."""
    import logging

    ids = _images(tmp_path / "images")
    (tmp_path / "rec").mkdir()
    _record(tmp_path / "rec" / "a.xdf", ids[:6], seconds=4.0)
    _record(tmp_path / "rec" / "b.xdf", ids[6:], seconds=4.0, nan_at=[262])  # 1.048 s: markers 0.5 and 1 s
    with caplog.at_level(logging.WARNING):
        ds = load_xdf_dataset(tmp_path / "rec", tmp_path / "images")
    assert len(ds.eeg) == 10 and np.isfinite(ds.eeg).all()
    assert ids[6] not in set(ds.image_ids) and ids[7] not in set(ds.image_ids)
    assert "2 holding NaN/inf samples" in caplog.text


def _record_stamps(path, ids, stamps, marks, numbers=None):
    """Like _record, with the EEG stamps given (the sender's, jitter and all), a marker at the time of the
    sender's sample marks[k], and each sample's value its number (numbers: the ones sent, where some were lost)."""
    numbers = np.arange(len(stamps)) if numbers is None else numbers
    data = np.repeat(np.asarray(numbers, dtype=np.float32)[:, None], 4, axis=1)
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", 4, FS, "float32", ch_names=["O1", "Oz", "O2", "Pz"], unit="microvolts")
        mk = w.add_stream("stim", "Markers", 1, 0.0, "string")
        for a in range(0, len(stamps), 10):
            w.write_samples(eeg, data[a:a + 10], stamps[a:a + 10])
        w.write_samples(mk, list(ids), T0 + np.asarray(marks) / FS)


def test_xdf_epochs_are_cut_in_dejittered_stamps_as_a_replay_cuts_them(tmp_path):
    """An LSL sender stamps its chunks a few ms early or late (sd 2 ms here, chunks of 10): training data used to be
    cut on those raw stamps, a sample off the replay's (and the live session's) dejittered ones for a third of
    the markers. Every window now starts on the marker's own sample, as the replay's does."""
    from eegviz.sources.xdf import XdfReplaySource

    ids = _images(tmp_path / "images") * 3
    n = int(40 * FS)
    rng = np.random.default_rng(0)
    stamps = T0 + np.arange(n) / FS + np.repeat(rng.normal(0, 0.002, n // 10 + 1), 10)[:n]
    marks = 250 + 200 * np.arange(len(ids))  # markers on the sample grid of the sender's steady clock
    _record_stamps(tmp_path / "a.xdf", ids, stamps, marks)
    ds = load_xdf_dataset(tmp_path / "a.xdf", tmp_path / "images", tmin=-0.1, tmax=0.5, val_fraction=0.0,
                          test_fraction=0.0)
    assert len(ds.eeg) == len(ids)
    starts = np.rint(ds.eeg[:, 0, 0] * 1e6).astype(int)  # the sample number each window starts at
    np.testing.assert_array_equal(starts, marks - 25)
    from eegviz.stream.epocher import find_window  # the Epocher's rule

    replay = XdfReplaySource(tmp_path / "a.xdf", speed=0)
    replay.open()
    replay.start()
    smooth = replay._replay.smooth  # the stamps the replay's chunks carry, which its Epocher cuts in
    replay.stop()
    assert [find_window(smooth, T0 + m / FS - 0.1, 150, FS)[0] for m in marks] == list(marks - 25)


def test_xdf_epoch_with_two_samples_lost_inside_is_a_gap(tmp_path, caplog):
    """Two samples lost 0.2 s into a window: skipped as spanning a gap (the old span rule took it, with every
    sample after the hole 8 ms early), the others kept."""
    ids = _images(tmp_path / "images")[:4]
    n = int(6 * FS)
    keep = np.ones(n, bool)
    marks = np.array([250, 500, 750, 1000])
    keep[550:552] = False
    _record_stamps(tmp_path / "a.xdf", ids, (T0 + np.arange(n) / FS)[keep], marks, np.flatnonzero(keep))
    with caplog.at_level(logging.WARNING):
        ds = load_xdf_dataset(tmp_path / "a.xdf", tmp_path / "images", tmin=-0.1, tmax=0.5, val_fraction=0.0,
                              test_fraction=0.0)
    assert list(ds.image_ids) == [ids[0], ids[2], ids[3]]
    np.testing.assert_array_equal(np.rint(ds.eeg[:, 0, 0] * 1e6).astype(int), [225, 725, 975])
    assert "1 spanning a gap" in caplog.text


def _lab_session(path, ids, seconds=8.0):
    """An amplifier that sends its own trigger stream ('S  1'..., the EEG sender's) beside the presenter's image
    ids, both at every onset: a recording of every stream, as the README's lab workflow makes it."""
    n = int(seconds * FS)
    ts = T0 + np.arange(n) / FS
    times = T0 + 0.5 + 0.5 * np.arange(len(ids))
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", 4, FS, "float32", source_id="amp-7", ch_names=["O1", "Oz", "O2", "Pz"],
                           unit="microvolts")
        trig = w.add_stream("amp-Markers", "Markers", 1, 0.0, "string", source_id="amp-7-markers")
        pres = w.add_stream("eegviz-presenter", "Markers", 1, 0.0, "string", source_id="pres-1")
        w.write_samples(eeg, np.repeat(np.arange(n, dtype=np.float32)[:, None], 4, axis=1), ts)
        w.write_samples(trig, [f"S  {k % 5 + 1}" for k in range(len(ids))], times)
        w.write_samples(pres, list(ids), times)


def test_xdf_training_reads_the_presenters_markers_beside_the_amplifiers_triggers(tmp_path, caplog):
    """The documented lab workflow records the amplifier's trigger stream too; training decoded it (the EEG
    sender's) and ended in 'no epochs', with the presenter's image ids unused and nothing on the command line
    to choose them (review 2, finding 1). Now the stream naming the folder's images is read, or the one named."""
    ids = _images(tmp_path / "images")
    _lab_session(tmp_path / "rec" / "sub-02" / "session.xdf", ids)
    with caplog.at_level(logging.WARNING):
        ds = load_xdf_dataset(tmp_path / "rec", tmp_path / "images", val_fraction=0.0, test_fraction=0.0)
    assert list(ds.image_ids) == ids and "decoding 'eegviz-presenter'" in caplog.text
    assert "not used: 'amp-Markers' (no images)" in caplog.text and "naming no image" not in caplog.text
    named = open_dataset(tmp_path / "rec", images_dir=tmp_path / "images", marker_stream="eegviz-presenter",
                         eeg_stream="amp")
    assert list(named.image_ids) == ids
    with pytest.raises(EegvizError, match="no epochs"):  # the triggers, named, name no image
        open_dataset(tmp_path / "rec", images_dir=tmp_path / "images", marker_stream="amp-Markers")
    # the EEG is not offered as a marker stream ("available: amp, amp-Markers, ...")
    with pytest.raises(EegvizError, match=r"no marker stream named 'presenter' in .*; its marker streams: amp-Markers, "
                                          r"eegviz-presenter \(other streams: amp\)$"):
        open_dataset(tmp_path / "rec", images_dir=tmp_path / "images", marker_stream="presenter")
    with pytest.raises(EegvizError, match="no stream named 'eeg'"):
        open_dataset(tmp_path / "rec", images_dir=tmp_path / "images", eeg_stream="eeg")


def test_stream_options_of_a_dataset_without_streams_are_refused(tmp_path):
    """--markers/--stream given for a dataset that has no streams would be ignored while the user thinks the
    named stream was read (replay refuses them for a file MNE reads the same way)."""
    from eegviz.data.synthetic import simulate_dataset

    synth = simulate_dataset(tmp_path / "synth", subjects=1, n_per_class=1)
    with pytest.raises(EegvizError, match=r"^--markers pick streams inside XDF recordings; .* is a synthetic "):
        open_dataset(synth, marker_stream="eegviz-presenter")
    with pytest.raises(EegvizError, match=r"^--stream and --markers pick streams"):
        open_dataset(synth, eeg_stream="amp", marker_stream="eegviz-presenter")


def test_subjects_and_splits_of_a_dataset_that_does_not_read_them_are_refused(tmp_path):
    """--subjects for own XDF recordings (or a synthetic dataset) and --splits for THINGS-EEG2 were dropped with a
    warning: the run trained and scored every subject, or the format's own split, while the user took the figures
    for the subject or split file named."""
    from eegviz.data.synthetic import simulate_dataset

    images = tmp_path / "images"
    (tmp_path / "sub-02").mkdir()
    _record(tmp_path / "sub-02" / "s.xdf", _images(images), seconds=7.0)
    with pytest.raises(EegvizError) as err:
        open_dataset(tmp_path / "sub-02", images_dir=images, subjects=[3])
    assert str(err.value).startswith(f"--subjects is not read for {tmp_path / 'sub-02'}, an xdf dataset (--subjects "
                                     "is read for eeg-imagenet and things-eeg2 datasets, --splits for eeg-imagenet "
                                     "ones); leave it out")  # it read "(they are read --subjects for ...)"
    synth = simulate_dataset(tmp_path / "synth", subjects=1, n_per_class=1)
    with pytest.raises(EegvizError, match=r"^--subjects and --splits are not read for .*synth, a synthetic dataset"):
        open_dataset(synth, subjects=[1], splits="block_splits_by_image_all.pth")
    things = _things(tmp_path)
    with pytest.raises(EegvizError, match=r"^--splits is not read for .*things, a things-eeg2 dataset"):
        open_dataset(things, splits="block_splits_by_image_all.pth")
    assert open_dataset(things, subjects=[2]).eeg.shape[0] == 175  # where it is read, it still is


def _images_only(root):
    root.mkdir()
    (root / "unrelated_1.png").write_bytes(b"")
    return root


# ------------------------------------------------------------------------------------------ open_dataset
def test_open_dataset_dispatches_every_format(tmp_path):
    from eegviz.data.synthetic import simulate_dataset

    synth = simulate_dataset(tmp_path / "synth", subjects=1, n_per_class=2)
    assert detect_format(synth) == "synthetic" and open_dataset(synth).eeg.shape[0] == 80
    pth, splits = _eeg_imagenet(tmp_path)
    assert open_dataset(pth, splits=str(splits), split_num=0).eeg.shape == (6, 128, 440)
    assert open_dataset(_things(tmp_path), average_repetitions=True).eeg.shape == (86, 17, 100)
    images = tmp_path / "images"
    ids = _images(images)
    _record(tmp_path / "s.xdf", ids, seconds=7.0)
    assert open_dataset(tmp_path / "s.xdf", images_dir=images, splits=None).eeg.shape == (12, 4, 175)
    assert [detect_format(p) for p in (synth, pth, tmp_path / "things", tmp_path / "s.xdf")] == FORMATS


def test_open_dataset_errors(tmp_path, caplog):
    with pytest.raises(EegvizError, match="does not exist"):
        open_dataset(tmp_path / "missing")
    # one THINGS-EEG2 subject's folder, as one would give it to train on that subject: the generic line said
    # only what a THINGS-EEG2 folder holds
    sub = _things(tmp_path / "t", subjects=(3,)) / "sub-03"
    with pytest.raises(EegvizError) as err:
        open_dataset(sub)
    assert str(err.value) == (f"{sub} is one THINGS-EEG2 subject's folder; give the folder that holds the sub-XX "
                              f"folders ({sub.parent}) as --data, with --subjects to read only some")
    # the release's tree from its top (eeg_dataset/preprocessed_data/sub-XX), one subject's file, and the raw EEG:
    # each got the generic line, which names no folder to give
    project = tmp_path / "project"
    (project / "eeg_dataset").mkdir(parents=True)
    sub.parent.rename(project / "eeg_dataset" / "preprocessed_data")
    data = project / "eeg_dataset" / "preprocessed_data"
    for given in (project, project / "eeg_dataset"):
        with pytest.raises(EegvizError) as err:
            open_dataset(given)
        assert str(err.value) == (f"{given} holds a THINGS-EEG2 preprocessed folder further down; give that folder "
                                  f"({data}, which holds the sub-XX folders) as --data")
    with pytest.raises(EegvizError) as err:
        open_dataset(data / "sub-03" / "preprocessed_eeg_test.npy")
    assert str(err.value) == (f"{data / 'sub-03' / 'preprocessed_eeg_test.npy'} is one file of a THINGS-EEG2 "
                              f"subject; give the folder that holds the sub-XX folders ({data}) as --data, with "
                              "--subjects to read only some")
    raw = tmp_path / "raw_data" / "sub-01" / "ses-01"
    raw.mkdir(parents=True)
    np.save(raw / "raw_eeg_training.npy", {"raw_eeg_data": np.zeros((2, 10))})
    with pytest.raises(EegvizError, match=r"holds THINGS-EEG2's raw EEG \(sub-XX/ses-YY/raw_eeg_\*.npy\), which "
                                          "eegviz does not read; give the preprocessed release's folder"):
        open_dataset(tmp_path / "raw_data")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EegvizError, match="is not a dataset eegviz can read.*dataset.json"):
        open_dataset(tmp_path / "notes.txt")
    _record(tmp_path / "s.xdf", ["a_1"], seconds=2.0)
    with pytest.raises(EegvizError, match="images-dir"):
        open_dataset(tmp_path / "s.xdf")
    with pytest.raises(EegvizError, match="images-dir"):
        open_dataset(tmp_path)  # a folder of .xdf files
    pth, _ = _eeg_imagenet(tmp_path)
    with pytest.raises(EegvizError, match="unknown dataset option.*splitz"):
        open_dataset(pth, splitz="x.pth")
    with caplog.at_level(logging.WARNING):
        assert open_dataset(pth, average_repetitions=True).eeg.shape[0] == 6
    assert "ignoring option(s) average_repetitions" in caplog.text
    with pytest.raises(EegvizError, match="no images"):
        open_dataset(pth, images_dir=str(tmp_path))


def test_check_trainable_says_why_there_are_no_validation_trials(tmp_path):
    """A split file with an empty 'val' over four images: the message used to blame too few images, and ended
    in a literal '{hint}'."""
    from eegviz.data.loaders import check_trainable

    path, _ = _eeg_imagenet(tmp_path)
    torch.save({"splits": [{"train": [0, 1, 2, 3], "val": [], "test": [4, 5]}]}, tmp_path / "no_val.pth")
    ds = load_eeg_imagenet(path, splits=tmp_path / "no_val.pth")
    with pytest.raises(EegvizError) as err:
        check_trainable(ds, path)
    assert str(err.value) == (f"{path} gives no validation trials (4 train, 2 test): its split assigns none to "
                              "validation (a split file with an empty 'val', a validation fraction of 0, or too few "
                              "THINGS-EEG2 concepts to hold one out); training keeps the epoch that scores best on "
                              "validation")


def test_check_trainable_a_class_whose_few_images_were_all_held_out_is_named(tmp_path):
    """Four circles and one square recorded: the square is held out whole (val or test), so training sees one
    class. The line said to "record markers for images of at least two classes", which the lab had done; it now
    says that the split took the other class's images and that each class needs several."""
    from eegviz.data.loaders import check_trainable

    images = tmp_path / "images"
    ids = _images(images)  # circle, square, star x 4
    shown = [i for i in ids if i.startswith("circle")] + ["square_0000"]
    _record(tmp_path / "s.xdf", shown * 2, seconds=8.0)
    ds = load_xdf_dataset(tmp_path / "s.xdf", images)
    assert ds.classes == ["circle", "square"] and set(ds.split[ds.image_ids == "square_0000"]) <= {"val", "test"}
    with pytest.raises(EegvizError) as err:
        check_trainable(ds, tmp_path / "s.xdf")
    assert str(err.value) == (f"{tmp_path / 's.xdf'}: its 10 trials show 2 classes, but the training split has only "
                              "one ('circle'): whole images are held out for validation and test, and every image of "
                              "'square' went there (5 distinct images); each class needs several images, three or "
                              "more")


def test_images_dir_gives_every_format_its_stimuli(tmp_path):
    from PIL import Image

    from eegviz.data.targets import stimulus_targets

    pth, _ = _eeg_imagenet(tmp_path)
    images = tmp_path / "imagenet"
    images.mkdir()
    for k, name in enumerate(IMAGES):  # ImageNet-style JPEGs of a non-square size
        Image.new("RGB", (80, 60), (60 * k, 255 - 60 * k, 10)).save(images / f"{name}.JPEG")
    ds = open_dataset(pth, images_dir=str(images))
    assert set(ds.image_paths) == set(IMAGES)
    t, masks = stimulus_targets(ds.image_ids, 16, ds.image_paths)
    assert t.shape == (len(ds.image_ids), 3, 16, 16) and masks.shape == (len(ds.image_ids), 1, 16, 16)
    k = IMAGES.index(str(ds.image_ids[0]))
    np.testing.assert_allclose(t[0, :, 8, 8], np.array([60 * k, 255 - 60 * k, 10]) / 255, atol=1 / 255)
    with pytest.raises(EegvizError, match="no stimulus image for id .*--images-dir"):
        stimulus_targets(ds.image_ids, 16)  # real ids without the folder


def test_images_dir_help_says_every_real_dataset_needs_it_for_training():
    """--help said "stimulus images for XDF-session datasets", but training on EEG-ImageNet (or THINGS-EEG2 kept
    apart from its image_set/) is refused without them: the pixel branch learns from every dataset's stimuli."""
    import argparse

    from eegviz.data.options import add_dataset_arguments

    parser = argparse.ArgumentParser()
    add_dataset_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert ("needed for XDF-session datasets, and by training on any dataset that is not synthetic" in text
            and "THINGS-EEG2: the release's image_set/" in text)
    # a single-subject split file without --subjects is refused: the help said only what one chosen does
    assert ("EEG-ImageNet's single-subject split file (block_splits_by_image_single.pth) needs one, whose trials it "
            "indexes" in text.replace("- ", "-"))  # argparse wraps lines after a hyphen


@pytest.mark.parametrize("name", ["rec_raw.fif", "rec.EDF", "rec.bdf", "rec.vhdr", "rec.set", "rec_raw.fif.gz"])
def test_a_recording_replay_reads_says_how_to_train_on_it(tmp_path, name):
    """A lab's FIF, EDF, BrainVision or EEGLAB recording given to train was "not a dataset eegviz can read
    (expected ...)", though replay reads it and records what it replays as the XDF train reads: the line says so."""
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(EegvizError) as e:
        open_dataset(tmp_path / name)
    assert "is a recording eegviz replays (through MNE) but does not train on" in str(e.value)
    assert f"`eegviz replay {tmp_path / name} --headless --speed 0 --out DIR` records it as DIR/session.xdf" in str(
        e.value)
    assert "where its stimuli are trigger codes, add --event-ids FILE" in str(e.value)  # a BDF's Status channel


def test_eeg_imagenet_of_zhu_et_al_is_named_not_called_a_broken_file(tmp_path):
    """The 2024 dataset also called EEG-ImageNet (EEG-ImageNet_1.pth: trials of eeg_data, granularity, a WordNet id
    as label) was refused as "dataset entry 0 lacks eeg", as if the file were damaged."""
    entry = {"eeg_data": torch.zeros(62, 500), "granularity": "coarse", "subject": 0, "label": WNIDS[0],
             "image": IMAGES[0] + ".JPEG"}
    torch.save({"dataset": [entry], "labels": WNIDS, "images": [i + ".JPEG" for i in IMAGES]},
               tmp_path / "EEG-ImageNet_1.pth")
    with pytest.raises(EegvizError) as err:
        open_dataset(tmp_path / "EEG-ImageNet_1.pth")
    assert str(err.value).startswith(f"{tmp_path / 'EEG-ImageNet_1.pth'} is the EEG-ImageNet of Zhu et al. (2024; ")
    assert "eeg_55_95_std.pth" in str(err.value) and "lacks" not in str(err.value)


def test_things_eeg2_folder_that_is_not_there_is_one_line(tmp_path):
    """load_things_eeg2 listed the folder first: a missing one (or a file) was a FileNotFoundError traceback."""
    for root in (tmp_path / "absent", _things(tmp_path, subjects=(1,)) / "image_metadata.npy"):
        with pytest.raises(EegvizError) as err:
            load_things_eeg2(root)
        assert str(err.value) == (f"THINGS-EEG2 folder {root} does not exist or is not a folder; give the folder "
                                  "that holds the sub-XX folders")


def test_a_folder_of_sessions_is_read_in_the_order_they_were_numbered(tmp_path):
    """`eegviz record` numbers a folder's sessions session-002 ... session-999, session-1000: read in text order,
    session-1000 came before session-101 (and run-10 before run-9), so its trials and recording block were another
    session's. Numbers in a path are compared as numbers now; the name breaks a tie."""
    from eegviz.data.xdf_dataset import _xdf_files

    names = ["session-99/session.xdf", "session-101/session.xdf", "session-1000/session.xdf", "session-1000/b.xdf",
             "sub-2/run-9.xdf", "sub-2/run-10.xdf", "sub-10/run-1.xdf", "session-01/session.xdf",
             "session-1/session.xdf"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"XDF:")
    assert [f.relative_to(tmp_path).as_posix() for f in _xdf_files(tmp_path)] == [
        "session-01/session.xdf", "session-1/session.xdf", "session-99/session.xdf", "session-101/session.xdf",
        "session-1000/b.xdf", "session-1000/session.xdf", "sub-2/run-9.xdf", "sub-2/run-10.xdf", "sub-10/run-1.xdf"]
