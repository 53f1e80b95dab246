"""eegviz.modelio: a component rewritten inside a model folder never loses the one it replaces; a model's JSON is read
within a bound."""

from __future__ import annotations

import pytest

from eegviz.modelio import swap_in


def _writer(text):
    def save(folder):
        folder.mkdir()
        (folder / "w.txt").write_text(text)
    return save


def test_the_replaced_folder_is_kept_under_a_new_name_each_time(tmp_path):
    assert swap_in(tmp_path, "part", _writer("one")) is None
    first = swap_in(tmp_path, "part", _writer("two"))
    second = swap_in(tmp_path, "part", _writer("three"))
    assert (tmp_path / "part" / "w.txt").read_text() == "three"
    assert first != second and first.name.startswith("part.previous-") and second.name.startswith("part.previous-")
    assert (first / "w.txt").read_text() == "one" and (second / "w.txt").read_text() == "two"
    assert not (tmp_path / "part.partial").exists()


def test_a_save_that_fails_leaves_the_old_component_in_place(tmp_path):
    swap_in(tmp_path, "part", _writer("old"))

    def broken(folder):
        folder.mkdir()
        (folder / "w.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        swap_in(tmp_path, "part", broken)
    assert (tmp_path / "part" / "w.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("part.previous")] == []
    swap_in(tmp_path, "part", _writer("new"))  # the half-written .partial of the failed save is cleared
    assert (tmp_path / "part" / "w.txt").read_text() == "new"


def test_a_model_json_that_never_ends_is_one_line_not_a_hang(tmp_path):
    """decoder.json linked to /dev/zero was read whole, forever; it is read up to a bound and refused."""
    import os

    from eegviz.errors import EegvizError
    from eegviz.modelio import MODEL_JSON_MAX_BYTES, read_config

    (tmp_path / "decoder.json").write_text('{"kind": "two_branch"}')
    assert read_config(tmp_path, "decoder.json") == {"kind": "two_branch"}
    os.symlink("/dev/zero", tmp_path / "sampling.json")
    with pytest.raises(EegvizError, match=f"sampling.json holds more than {MODEL_JSON_MAX_BYTES:,} bytes"):
        read_config(tmp_path, "sampling.json")


def test_the_object_torch_refused_is_named_from_its_error(tmp_path):
    """Checkpoints and EEG-ImageNet files are refused in one line naming what torch's safe loader would not load."""
    import datetime
    import pickle

    import torch

    from eegviz.modelio import torch_load_plain, unpickler_reason

    torch.save({"when": datetime.date(2017, 1, 1)}, tmp_path / "x.pt")
    with pytest.raises(pickle.UnpicklingError) as refused:
        torch_load_plain(tmp_path / "x.pt")
    reason = unpickler_reason(refused.value)
    assert "datetime.date" in reason and "\n" not in reason and "add_safe_globals" not in reason
    assert unpickler_reason(ValueError("something else")) == ""


def test_a_model_path_that_is_a_file_or_nothing_says_so(tmp_path):
    """--model pointing at a file (model.safetensors, decoder.json itself) or at nothing read as a folder lacking
    decoder.json; the line now says which."""
    from eegviz.errors import EegvizError
    from eegviz.modelio import read_config

    (tmp_path / "decoder.json").write_text("{}")
    with pytest.raises(EegvizError, match=r"\(it is a file, not a model folder\); give the model folder"):
        read_config(tmp_path / "decoder.json", "decoder.json")
    with pytest.raises(EegvizError, match=r"\(no such folder\)"):
        read_config(tmp_path / "nowhere", "decoder.json")
    with pytest.raises(EegvizError, match=r"^no model at .* \(sampling.json missing\)"):
        read_config(tmp_path, "sampling.json")
