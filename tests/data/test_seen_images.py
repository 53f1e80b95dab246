"""A model's record of the images it trained and chose on (eegviz.data.seen_images)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from eegviz.data.seen_images import FILE, add_seen_images, read_seen_images


def _ds(ids, roles):
    ids, roles = np.asarray(ids), np.asarray(roles)
    return SimpleNamespace(image_ids=ids, subset=lambda role: np.flatnonzero(roles == role))


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
