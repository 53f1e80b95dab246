"""write_stimulus_folder: synthetic-world stimuli in class folders with captions, readable by find_images."""

import json

import pytest
from PySide6 import QtCore, QtGui

from eegviz.app.presenter.stimulus_folder import write_stimulus_folder
from eegviz.data.images import find_images
from eegviz.errors import EegvizError


def test_write_stimulus_folder(tmp_path):
    paths = write_stimulus_folder(tmp_path, n_per_class=2, size=32, classes=["star", "ring"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == [
        "ring/ring_000.png", "ring/ring_001.png", "star/star_000.png", "star/star_001.png"]
    captions = json.loads((tmp_path / "captions.json").read_text())
    assert set(captions) == {"star_000", "star_001", "ring_000", "ring_001"} and "star" in captions["star_000"]
    assert QtGui.QImage(str(paths[0])).size() == QtCore.QSize(32, 32)
    assert {(i.image_id, i.class_name) for i in find_images(tmp_path)} == {
        ("star_000", "star"), ("star_001", "star"), ("ring_000", "ring"), ("ring_001", "ring")}
    with pytest.raises(EegvizError, match="unknown stimulus class"):
        write_stimulus_folder(tmp_path, classes=["unicorn"])


def test_a_folder_the_disk_cannot_hold_is_refused_before_the_first_image(tmp_path, monkeypatch, capsys):
    """--per-class 10^8 rendered for minutes before anything said no; now the disk's free space is compared
    with the folder's least size first (here a disk with 100 KiB free against 40 x 50 stimuli)."""
    import shutil

    from eegviz.cli import main

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 30, (1 << 30) - 102400,
                                                                                     102400))
    out = tmp_path / "stimuli"
    assert main(["present", "--write-demo-folder", str(out), "--per-class", "50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2000 stimuli at 256 px would take at least" in err and "fewer --per-class" in err
    assert not out.exists()
    monkeypatch.undo()
    assert main(["present", "--write-demo-folder", str(out), "--per-class", "100000000000"]) == 2
    assert "GiB free on" in capsys.readouterr().err and not out.exists()


def test_write_stimulus_folder_refuses_a_non_empty_folder(tmp_path):
    """An existing stimulus folder (its captions.json, its PNGs) is never overwritten; an empty one is fine."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "captions.json").write_text('{"mine": "an earlier caption"}')
    with pytest.raises(EegvizError, match="already holds files"):
        write_stimulus_folder(tmp_path / "old", n_per_class=1, size=16, classes=["star"])
    assert (tmp_path / "old" / "captions.json").read_text() == '{"mine": "an earlier caption"}'
    assert list((tmp_path / "old").iterdir()) == [tmp_path / "old" / "captions.json"]
    (tmp_path / "empty").mkdir()
    assert len(write_stimulus_folder(tmp_path / "empty", n_per_class=1, size=16, classes=["star"])) == 1
