"""eegviz.paths.check_new_output: simulate and train write only into new or empty folders, never over a run."""

from __future__ import annotations

import pytest

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
    assert "already holds files" in line and "--resume" in line  # refused for the folder, before the data is read
    assert _snapshot(model) == before
    # --resume continues an interrupted run in its own folder (its checkpoints/, no training.json yet) and
    # nothing else: a folder without checkpoints, or a finished model, is refused untouched
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model), "--resume"]) == 2
    assert "no interrupted run" in _one_error_line(capsys)
    # a new folder with --resume (a job script's first launch): a fresh start, on to the data (missing here)
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / "fresh"), "--resume"]) == 2
    assert "no-data" in _one_error_line(capsys)
    (model / "checkpoints").mkdir()
    (model / "training.json").write_text("{}")
    before = _snapshot(model)
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(model), "--resume"]) == 2
    assert "holds a finished model" in _one_error_line(capsys)
    assert _snapshot(model) == before
    (model / "training.json").unlink()  # an interrupted run: past these checks, on to the data (missing here)
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
