"""A model's record of the images it trained and chose on (eegviz.data.seen_images)."""

import errno
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from eegviz.data.seen_images import FILE, add_seen_images, read_seen_images


def _ds(ids, roles):
    ids, roles = np.asarray(ids), np.asarray(roles)
    return SimpleNamespace(image_ids=ids, subset=lambda role: np.flatnonzero(roles == role))


def test_adding_images_that_fails_mid_write_keeps_the_old_record(tmp_path, monkeypatch):
    """add_seen_images rewrites an existing record (a refit part saw more images); a full disk mid-write used to
    leave it cut short, and eval could then no longer tell which test images the model had seen."""
    (tmp_path / FILE).write_text(json.dumps({"train": ["a"], "val": ["b"]}))
    real_write = Path.write_text

    def disk_full(self, data, *a, **k):
        real_write(self, data[:5], *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError):
        add_seen_images(tmp_path, _ds(["c", "d"], ["train", "val"]))
    monkeypatch.undo()
    assert read_seen_images(tmp_path) == {"train": {"a"}, "val": {"b"}}
    assert [p.name for p in tmp_path.iterdir()] == [FILE]
    assert add_seen_images(tmp_path, _ds(["c", "d", "e"], ["train", "val", "test"]))
    assert read_seen_images(tmp_path) == {"train": {"a", "c"}, "val": {"b", "d"}}
