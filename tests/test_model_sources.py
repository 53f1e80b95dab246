"""--model takes a Hugging Face repo id: read from the HF cache offline, one line when it is not there."""

import shutil
from pathlib import Path

import pytest

from eegviz.errors import EegvizError
from eegviz.model_sources import resolve_model_dir
from eegviz.paths import default_model_dir


def _cache_repo(cache, repo_id: str, files_from) -> None:
    """Lay out a model repo the way huggingface_hub's cache keeps it (blobs are plain copies here)."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    snap = folder / "snapshots" / ("0" * 40)
    shutil.copytree(files_from, snap, ignore=shutil.ignore_patterns("report"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)


def _use_cache(monkeypatch, folder) -> None:
    """Point huggingface_hub at a test cache (it reads HF_HUB_CACHE once, when first imported)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(folder))


def test_cached_repo_id_is_found_offline_and_runs(tmp_path, monkeypatch):
    from eegviz.decoders.two_branch import TwoBranchDecoder

    _use_cache(monkeypatch, tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _cache_repo(tmp_path / "hub", "eegviz-lab/synthetic-default", default_model_dir())
    folder = resolve_model_dir("eegviz-lab/synthetic-default")
    assert folder.is_dir() and (folder / "decoder.json").exists()
    assert TwoBranchDecoder.load(folder).class_names  # a usable model


def test_local_folders_win_and_missing_repos_are_one_line(tmp_path, monkeypatch):
    _use_cache(monkeypatch, tmp_path / "hub")
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


def test_a_folder_not_made_yet_is_never_taken_for_a_hub_id(tmp_path, monkeypatch):
    """`--model models/lab` before training ran: a path under an existing folder, not a repo id to fetch."""
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # even online nothing is asked: it is a folder
    assert resolve_model_dir("models/lab") == Path("models/lab")


def test_a_missing_default_model_says_it_comes_with_the_repository(tmp_path, monkeypatch):
    """A wheel has no models/: "train one with `eegviz train`" was no answer to a missing shipped model."""
    monkeypatch.setenv("EEGVIZ_HOME", str(tmp_path))
    with pytest.raises(EegvizError, match=r"default model is missing .*--model.*pip install -e \."):
        resolve_model_dir(None)
