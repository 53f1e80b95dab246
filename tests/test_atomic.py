"""Files written whole or not at all (eegviz.atomic): the old file survives a failed write, no partial is left,
and the error names the file the user knows."""

import errno
import json

import pytest

from eegviz.atomic import replacing, write_json_atomic


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(path) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_full_disk_names_the_file_not_its_temporary(tmp_path):
    path = tmp_path / "sheet.png"
    with pytest.raises(OSError) as err:
        with replacing(path) as tmp:
            assert tmp.suffix == ".png" and tmp.name.startswith(".")  # hidden; Pillow picks the format by suffix
            raise OSError(errno.ENOSPC, "No space left on device")  # write() names no file
    assert err.value.filename == str(path) and err.value.errno == errno.ENOSPC
    assert not path.exists() and not list(tmp_path.iterdir())


def test_write_json_atomic_creates_the_folder_and_replaces_whole(tmp_path):
    path = tmp_path / "run" / "training.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["training.json"]
    with pytest.raises(TypeError):  # not serialisable: the old record stays, nothing half-written beside it
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["training.json"]
