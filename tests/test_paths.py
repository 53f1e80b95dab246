"""eegviz.paths: simulate and train write only into new or empty folders, never over a run (check_new_output);
LSL is confined by the packaged lsl_api.cfg; what a non-editable install lacks is said plainly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import eegviz
from eegviz.cli import main
from eegviz.errors import EegvizError
from eegviz.paths import check_new_output


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eegviz: ")
    return err[0]


def test_new_and_empty_folders_pass_and_anything_else_is_refused(tmp_path):
    check_new_output(tmp_path / "new", "--out", "a thing")
    (tmp_path / "empty").mkdir()
    check_new_output(tmp_path / "empty", "--out", "a thing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(EegvizError, match="is a file"):
        check_new_output(tmp_path / "file", "--out", "a thing")
    (tmp_path / "empty" / ".hidden").write_text("x")  # hidden files count: they are someone's too
    with pytest.raises(EegvizError, match="already holds files.*choose another --out"):
        check_new_output(tmp_path / "empty", "--out", "a thing")


def test_simulating_twice_into_one_folder_leaves_the_first_dataset_as_it_was(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["simulate", "--out", str(out), "--subjects", "1", "--images", "1"]) == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["simulate", "--out", str(out), "--subjects", "1", "--images", "2", "--seed", "5"]) == 2
    assert "already holds files" in _one_error_line(capsys)
    assert _snapshot(out) == before


def test_training_into_a_trained_model_folder_is_refused_before_any_training(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "decoder.json").write_text("{}")  # stands for an hour of someone's training
    before = _snapshot(model)
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model)]) == 2
    line = _one_error_line(capsys)
    # refused for the folder, before the data is read; no interrupted run is there (no checkpoints/), so --resume,
    # which would be refused too, is not offered
    assert "already holds files" in line and "choose another --out" in line and "--resume" not in line
    assert _snapshot(model) == before
    (model / "checkpoints").mkdir()  # an interrupted run's: --resume finishes it
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model)]) == 2
    assert "add --resume to finish an interrupted run there" in _one_error_line(capsys)
    (model / "checkpoints").rmdir()
    before = _snapshot(model)
    # --resume continues an interrupted run in its own folder (its checkpoints/, no training.json yet) and
    # nothing else: a folder without checkpoints, or a finished model, is refused untouched
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model), "--resume"]) == 2
    assert "no interrupted run" in _one_error_line(capsys)
    # a new folder with --resume (a job script's first launch): a fresh start, on to the data (missing here)
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / "fresh"), "--resume"]) == 2
    assert "no-data" in _one_error_line(capsys)
    (model / "checkpoints").mkdir()
    (model / "training.json").write_text("{}")
    (model / "README.md").write_text("model card")  # written last: its evaluation ended
    before = _snapshot(model)
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model), "--resume"]) == 2
    assert "holds a finished model" in _one_error_line(capsys)
    assert _snapshot(model) == before
    (model / "training.json").unlink()
    (model / "README.md").unlink()
    # without its manifest (a run writes checkpoints/run.json first), what lies beside the checkpoints/ is no run's
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model), "--resume"]) == 2
    assert "holds decoder.json beside an empty checkpoints/ with no run.json" in _one_error_line(capsys)
    (model / "checkpoints" / "run.json").write_text("{}")  # an interrupted run: past these checks, on to the data
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model), "--resume"]) == 2
    assert "no-data" in _one_error_line(capsys)


@pytest.mark.parametrize("flag, value, said", [
    ("--epochs", "0", "--epochs must be >= 1"), ("--seed", "-1", "--seed must be >= 0"),
    ("--classifier-images", "0", "--classifier-images must be >= 1"), ("--notch", "55", "--notch"),
    ("--highpass", "-1", "--highpass must be"), ("--gan-steps", "-5", "--gan-steps must be >= 0"),
    ("--threads", "0", "--threads must be 1 to"), ("--text-encoder", "bogus", "unknown text encoder 'bogus'")])
def test_a_wrong_training_option_is_one_line_before_anything_is_written(tmp_path, capsys, flag, value, said):
    """Said before the data is read and before --out exists, so the corrected rerun is not refused for a
    folder the refused run left behind."""
    out = tmp_path / "model"
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(out), flag, value]) == 2
    assert said in _one_error_line(capsys)
    assert not out.exists()


def test_a_new_out_is_claimed_so_a_second_run_given_it_at_once_is_refused(tmp_path, monkeypatch):
    """eval, simulate and sweep make their new --out exclusively: a run that found it free, but was beaten to it
    by another (both checked before either wrote), is refused in one line instead of overwriting its files."""
    import eegviz.paths as paths

    out = tmp_path / "report"
    paths.claim_new_output(out, "--out", "a report")
    assert out.is_dir()
    other = tmp_path / "raced"
    real = paths.check_new_output

    def checked_then_beaten(*a, **k):
        real(*a, **k)
        other.mkdir()  # the other run creates it between this run's check and its claim

    monkeypatch.setattr(paths, "check_new_output", checked_then_beaten)
    with pytest.raises(EegvizError, match="created by another run just now"):
        paths.claim_new_output(other, "--out", "a report")


@pytest.mark.parametrize("argv", [
    ["train", "--data", "{tmp}/no-data", "--out", "{tmp}/afile/model"],
    ["train", "--data", "{tmp}/no-data", "--out", "{tmp}/afile/model", "--resume"],
    ["simulate", "--out", "{tmp}/afile/data", "--images", "1"],
    ["present", "--write-demo-folder", "{tmp}/afile/stimuli"],
    ["bench", "--out", "{tmp}/afile/bench.json"],
])
def test_an_output_under_a_regular_file_is_one_line_naming_its_flag(tmp_path, capsys, argv):
    """Before anything is read or trained, and naming the flag to fix (it once said only "Not a directory")."""
    (tmp_path / "afile").write_text("someone's notes")
    flag = next(a for a in argv if a.startswith("--") and a not in ("--data", "--images", "--resume"))
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    line = _one_error_line(capsys)
    assert f"{flag} " in line and "afile" in line and ("regular file" in line or "is a file" in line), line
    assert (tmp_path / "afile").read_text() == "someone's notes"


def test_check_creatable_names_a_broken_link_and_returns_the_absolute_path(tmp_path, monkeypatch):
    from eegviz.paths import check_creatable

    monkeypatch.chdir(tmp_path)
    assert check_creatable("a/b", "--out") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing created
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(EegvizError, match="--out gone/x: .*gone is a broken symbolic link"):
        check_creatable("gone/x", "--out")


@pytest.mark.parametrize("hard_links", [True, False], ids=["linked", "no-hard-links"])
def test_a_training_run_claims_its_folder_so_a_second_run_started_at_once_is_refused(tmp_path, monkeypatch,
                                                                                      hard_links):
    """Both runs found the (new or empty) --out free before either wrote; the first to write checkpoints/run.json
    owns it, and the other is refused before it trains instead of both writing checkpoints into one folder. The
    claim links a whole file into place; a file system without hard links gets an exclusive create instead."""
    import os

    from eegviz.train.run import write_run_manifest

    if not hard_links:
        def no_link(*a, **k):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    ckpt = tmp_path / "model" / "checkpoints"
    ckpt.mkdir(parents=True)
    write_run_manifest(ckpt, {"run": 1}, claim=True)
    with pytest.raises(EegvizError, match="another training run started in this folder"):
        write_run_manifest(ckpt, {"run": 2}, claim=True)
    assert '"run": 1' in (ckpt / "run.json").read_text()
    write_run_manifest(ckpt, {"run": 1, "resumed": True})  # a resumed run rewrites its own manifest
    assert "resumed" in (ckpt / "run.json").read_text()
    assert sorted(p.name for p in ckpt.iterdir()) == ["run.json"]  # no claim file left beside it


def test_another_checks_probe_folder_does_not_make_an_empty_out_look_used(tmp_path):
    """torchrun's ranks check one --out at once; check_creatable's momentary probe inside an empty --out must not
    make the other rank refuse it as holding files."""
    from eegviz.paths import PROBE_PREFIX, is_new_or_empty

    (tmp_path / "out" / f"{PROBE_PREFIX}abc").mkdir(parents=True)
    assert is_new_or_empty(tmp_path / "out")
    check_new_output(tmp_path / "out", "--out", "a thing")
    (tmp_path / "out" / "model.json").write_text("{}")
    assert not is_new_or_empty(tmp_path / "out")


ROOT = Path(__file__).resolve().parent.parent


def test_lsl_is_confined_by_the_packaged_cfg_where_the_repository_is_not_installed(tmp_path, monkeypatch):
    """A wheel (`pip install .`) has no repository lsl_api.cfg beside it: project_root() is site-packages, here an
    empty EEGVIZ_HOME. LSLAPICFG used to stay unset then, and liblsl multicast on every interface."""
    from eegviz.paths import confine_lsl

    monkeypatch.delenv("LSLAPICFG", raising=False)
    monkeypatch.setenv("EEGVIZ_HOME", str(tmp_path))
    confine_lsl()
    cfg = Path(os.environ["LSLAPICFG"])
    assert cfg.is_file() and cfg.parent == Path(eegviz.__file__).resolve().parent  # inside the package
    assert "ResolveScope = machine" in cfg.read_text()


def test_without_any_lsl_cfg_every_command_is_refused_in_one_line_not_run_unconfined(tmp_path, monkeypatch,
                                                                                        capsys):
    import eegviz.paths as paths

    monkeypatch.delenv("LSLAPICFG", raising=False)
    monkeypatch.setattr(paths, "PACKAGED_LSL_CFG", tmp_path / "eegviz" / "lsl_api.cfg")  # an incomplete install
    assert main(["simulate", "--out", str(tmp_path / "data"), "--images", "1"]) == 2
    line = _one_error_line(capsys)
    assert "lsl_api.cfg" in line and "LSLAPICFG" in line, line
    assert "LSLAPICFG" not in os.environ and not (tmp_path / "data").exists()


def test_the_packaged_lsl_cfg_is_the_repositorys_and_is_package_data():
    """One config, two places: the repository's (tests, CI and README's commands point LSLAPICFG at it) and the
    installed package's. A test keeps them from drifting apart, and pyproject from dropping it from a wheel."""
    import tomllib

    from eegviz.paths import PACKAGED_LSL_CFG

    assert PACKAGED_LSL_CFG.read_bytes() == (ROOT / "lsl_api.cfg").read_bytes()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "lsl_api.cfg" in package_data["eegviz"]


def test_a_missing_demo_recording_says_where_it_comes_from_not_reinstall(tmp_path, monkeypatch, capsys):
    """A wheel has no assets/ or models/: reinstalling it the same way cannot bring them back."""
    monkeypatch.setenv("EEGVIZ_HOME", str(tmp_path))
    assert main(["demo", "--headless", "--out", str(tmp_path / "out")]) == 2
    line = _one_error_line(capsys)
    assert "demo recording missing" in line and "pip install -e ." in line and "reinstall" not in line, line


def test_an_older_liblsl_reading_the_packaged_cfg_finds_every_outlet_on_the_machine():
    """mne-lsl bundles liblsl 1.17, whose machine-scope discovery sends one datagram to 127.0.0.1's multicast port:
    of several outlets on the machine only the last one bound receives it. `eegviz simulate --stream` opens its
    EEG outlet and then its marker outlet, so mne-lsl's StreamLSL found the markers and never the EEG ("0 were
    found"). 127.0.0.1 as a known peer adds a query to every outlet's own port."""
    import subprocess
    import sys
    import uuid

    pytest.importorskip("mne_lsl")
    from eegviz.messages import StreamInfo
    from eegviz.paths import PACKAGED_LSL_CFG
    from eegviz.sources.lsl_outlet import LslOutlets

    name = f"cfg-{uuid.uuid4().hex[:8]}"
    outlets = LslOutlets(StreamInfo(name, ["Fz", "Cz"], 100.0), marker_name=f"{name}-markers")
    look = ("from mne_lsl.lsl import resolve_streams\n"
            f"print(sorted({{s.name for s in resolve_streams(timeout=2)}} & {{'{name}', '{name}-markers'}}))")
    try:
        out = subprocess.run([sys.executable, "-c", look], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, LSLAPICFG=str(PACKAGED_LSL_CFG)))
    finally:
        outlets.close()
    assert out.stdout.strip() == str([name, f"{name}-markers"]), out.stdout + out.stderr
