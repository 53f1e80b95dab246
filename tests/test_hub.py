"""--model takes a Hugging Face repo id: read from the HF cache offline, one line when it is not there."""

import shutil

import pytest

from eegviz.errors import EegvizError
from eegviz.hub import resolve_model_dir
from eegviz.paths import default_model_dir


def _cache_repo(cache, repo_id: str, files_from) -> None:
    """Lay out a model repo the way huggingface_hub's cache keeps it (blobs are plain copies here)."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    snap = folder / "snapshots" / ("0" * 40)
    shutil.copytree(files_from, snap, ignore=shutil.ignore_patterns("report"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)


def test_cached_repo_id_is_found_offline_and_runs(tmp_path, monkeypatch):
    from eegviz.decoders.two_branch import TwoBranchDecoder

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _cache_repo(tmp_path / "hub", "eegviz-lab/synthetic-default", default_model_dir())
    folder = resolve_model_dir("eegviz-lab/synthetic-default")
    assert folder.is_dir() and (folder / "decoder.json").exists()
    assert TwoBranchDecoder.load(folder).class_names  # a usable model


def test_local_folders_win_and_missing_repos_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_dir(str(default_model_dir())) == default_model_dir()
    assert resolve_model_dir(None) == default_model_dir()
    local = tmp_path / "owner" / "name"
    local.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert resolve_model_dir("owner/name") == local.relative_to(tmp_path)  # an existing folder is a folder
    with pytest.raises(EegvizError) as e:
        resolve_model_dir("nobody/nothing")
    assert "not in the Hugging Face cache" in str(e.value) and "\n" not in str(e.value)
