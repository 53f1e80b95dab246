"""A model's record of the images it trained and chose on (eegviz.data.seen_images)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from eegviz.data.seen_images import (FILE, add_seen_images, model_world_seeds, new_subjects_line, other_world_line,
                                     read_seen_images,
                                     read_trained_subjects, write_seen_images)


def _ds(ids, roles, subjects=None):
    ids, roles = np.asarray(ids), np.asarray(roles)
    return SimpleNamespace(image_ids=ids, subset=lambda role: np.flatnonzero(roles == role),
                           **({} if subjects is None else {"subjects": np.asarray(subjects)}))


def test_adding_images_that_fails_mid_write_keeps_the_old_record(tmp_path, full_disk):
    """add_seen_images rewrites an existing record (a refit part saw more images); a full disk mid-write used to
    leave it cut short, and eval could then no longer tell which test images the model had seen."""
    (tmp_path / FILE).write_text(json.dumps({"train": ["a"], "val": ["b"]}))
    with full_disk(), pytest.raises(OSError, match="No space"):
        add_seen_images(tmp_path, _ds(["c", "d"], ["train", "val"]))
    assert read_seen_images(tmp_path) == {"train": {"a"}, "val": {"b"}}
    assert [p.name for p in tmp_path.iterdir()] == [FILE]
    assert add_seen_images(tmp_path, _ds(["c", "d", "e"], ["train", "val", "test"]))
    assert read_seen_images(tmp_path) == {"train": {"a", "c"}, "val": {"b", "d"}}


def test_the_training_subjects_are_kept_and_test_subjects_beyond_them_named(tmp_path):
    """THINGS-EEG2's test images are the same for every subject: a model of subject 1 scored on subjects 1 and 3
    passed the image check, its figures half decoding of a person it never learnt from, said nowhere."""
    write_seen_images(tmp_path, _ds(["a", "b", "c", "d"], ["train", "train", "val", "test"], [1, 1, 2, 3]))
    assert read_trained_subjects(tmp_path) == {1}  # the training trials' subjects only
    assert new_subjects_line(tmp_path, [1, 1, 1]) is None
    new, line = new_subjects_line(tmp_path, [1, 3, 3, 4])
    assert new == [3, 4]
    assert line == ("3 of this dataset's 4 test trials are of subject(s) 3, 4, whom the model never learnt from (it "
                    f"learnt from subject(s) 1: {tmp_path / FILE}): their figures measure decoding across people, "
                    "not within the subjects it was trained on")  # --subjects offered only where a format reads it
    assert add_seen_images(tmp_path, _ds(["e"], ["train"], [3]))  # a refit on subject 3 learnt from it too
    assert read_trained_subjects(tmp_path) == {1, 3}
    (tmp_path / FILE).write_text(json.dumps({"train": ["a"], "val": []}))  # a record made before subjects were kept
    assert read_trained_subjects(tmp_path) is None and new_subjects_line(tmp_path, [5]) is None
    assert add_seen_images(tmp_path, _ds(["e"], ["train"], [3])) and read_trained_subjects(tmp_path) is None


def test_images_of_another_synthetic_worlds_seed_are_named(tmp_path):
    """`eegviz simulate --seed 2` is another world (each seed draws its own class responses): the shipped model,
    which learnt seed 0's, scored it at chance (top-1 0.025 of 40 classes) without a word, as if it had failed."""
    write_seen_images(tmp_path, _ds(["cup_001", "cup_002", "tree_003"], ["train", "train", "val"], [0, 0, 0]))
    assert other_world_line(tmp_path, ["cup_004", "tree_005"]) is None  # new images of the world it learnt
    new, line = other_world_line(tmp_path, ["cup_003_s2", "tree_004_s2", "cup_005_s7"])
    assert new == [2, 7] and "synthetic world of seed 2, 7" in line and "learnt the world of seed 0" in line
    assert "`eegviz simulate --seed 0`" in line
    assert other_world_line(tmp_path, ["photo_001", "cup_003_s2"]) is None  # a lab's images have no world seed
    write_seen_images(tmp_path, _ds(["photo_001"], ["train"], [0]))
    assert other_world_line(tmp_path, ["cup_003_s2"]) is None  # nor a lab's model


def test_a_session_without_a_model_folder_or_with_a_damaged_record_knows_no_world(tmp_path):
    """A session compares its markers' worlds with the model's (eegviz.pipeline); a model without a folder (built
    in memory) failed its start with "expected str ... not NoneType", and a damaged record must not end it."""
    assert model_world_seeds(None) is None
    (tmp_path / FILE).write_text(json.dumps({"train": "cup_001"}))
    assert model_world_seeds(tmp_path) is None
    write_seen_images(tmp_path, _ds(["cup_001_s3"], ["train"], [0]))
    assert model_world_seeds(tmp_path) == {3}
