"""`eegviz present` arguments, run_presenter end to end (offscreen, over LSL), and --write-demo-folder."""

from __future__ import annotations

import argparse
import csv
import json
import uuid

import pytest
from PySide6 import QtCore, QtGui

from eegviz.app.presenter.cli import add_arguments, main_from_args, run_presenter
from eegviz.data.images import find_images
from eegviz.errors import EegvizError


def _quick_name_check(monkeypatch):
    """For a run under a fresh uuid name, which no other sender can hold: check_name_free still asks LSL, for 0.05 s
    instead of its 1 s (how long it gives a rival sender to answer; a test refused for a taken name keeps it)."""
    from eegviz.app.presenter import cli

    real = cli.check_name_free
    monkeypatch.setattr(cli, "check_name_free", lambda name, wait_s=1.0: real(name, 0.05))


def test_cli_arguments_and_run(qtbot, stim_dir, tmp_path, monkeypatch, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(stim_dir), "--design", "block", "--on", "0.05", "--blank", "0.02",
                              "--jitter", "0.01", "--repeats", "2", "--no-shuffle", "--seed", "3",
                              "--name", "n", "--log", str(tmp_path / "l.csv"), "--windowed"])
    assert (args.design, args.on_s, args.blank_s, args.jitter_s, args.repeats, args.shuffle, args.seed,
            args.name, args.windowed) == ("block", 0.05, 0.02, 0.01, 2, False, 3, "n", True)
    assert args.fn is main_from_args
    defaults = parser.parse_args(["d"])
    assert (defaults.design, defaults.on_s, defaults.blank_s, defaults.jitter_s, defaults.repeats, defaults.shuffle,
            defaults.name, defaults.log, defaults.windowed) == ("rapid", 0.5, 0.5, 0.0, 1, True, "eegviz-presenter",
                                                                None, False)

    seen = {}
    monkeypatch.setattr("eegviz.app.presenter.cli.run_presenter", lambda d, **kw: seen.update(kw, images_dir=d) or 0)
    assert main_from_args(args) == 0
    assert seen["images_dir"] == str(stim_dir) and seen["design"] == "block" and seen["log_path"].endswith("l.csv")
    monkeypatch.undo()

    name = f"eegviz-test-{uuid.uuid4().hex[:10]}"
    _quick_name_check(monkeypatch)
    assert run_presenter(stim_dir, on_s=0.03, blank_s=0.02, name=name, log_path=tmp_path / "run.csv",
                         windowed=True, lead_in_s=0.0, wait_for_consumer=False) == 0
    assert len((tmp_path / "run.csv").read_text().splitlines()) == 1 + 4
    out = capsys.readouterr().out
    assert "done, 4 of 4 trials shown" in out
    # nothing had the stream open (--no-wait, no recorder): the summary says the markers were lost
    assert "; 4 of the markers sent with no recorder connected (lost); log in" in out
    with pytest.raises(EegvizError, match="does not exist"):
        run_presenter(tmp_path / "nope", windowed=True)


def test_cli_exposes_fixation_lead_in_no_wait_and_block_size(monkeypatch):
    """Every option run_presenter takes reaches it from `eegviz present` (here through the real eegviz parser)."""
    from eegviz.cli import build_parser

    seen = {}
    monkeypatch.setattr("eegviz.app.presenter.cli.run_presenter", lambda d, **kw: seen.update(kw, images_dir=d) or 0)
    args = build_parser().parse_args(["present", "stim", "--design", "block", "--block-size", "3", "--fixation",
                                      "--lead-in", "0.5", "--no-wait"])
    assert args.fn(args) == 0
    assert seen["images_dir"] == "stim"
    assert (seen["block_size"], seen["fixation"], seen["lead_in_s"], seen["wait_for_consumer"]) == (3, True, 0.5,
                                                                                                   False)
    seen.clear()
    args = build_parser().parse_args(["present", "stim"])
    assert args.fn(args) == 0
    assert (seen["block_size"], seen["fixation"], seen["lead_in_s"], seen["wait_for_consumer"]) == (None, False, 2.0,
                                                                                                   True)
    import inspect

    taken = set(inspect.signature(run_presenter).parameters) - {"images_dir"}
    assert taken <= set(seen)  # no option of run_presenter is left unreachable from the command line
    with pytest.raises(EegvizError, match="lead-in"):
        main_from_args(build_parser().parse_args(["present", "stim", "--lead-in", "-1"]))
    with pytest.raises(EegvizError, match="needs an images folder"):
        main_from_args(build_parser().parse_args(["present"]))


def test_cli_write_demo_folder_then_present_it(tmp_path, capsys):
    """`eegviz present --write-demo-folder DIR --per-class N` writes a folder `eegviz present DIR` can show."""
    from eegviz.cli import build_parser

    out = tmp_path / "stimuli"
    args = build_parser().parse_args(["present", "--write-demo-folder", str(out), "--per-class", "3", "--size", "24",
                                      "--classes", "star,boat"])
    assert args.fn(args) == 0
    assert "wrote 6 stimuli" in capsys.readouterr().out
    found = find_images(out)
    assert sorted(i.class_name for i in found) == ["boat"] * 3 + ["star"] * 3
    assert QtGui.QImage(str(found[0].path)).size() == QtCore.QSize(24, 24)
    assert json.loads((out / "captions.json").read_text()).keys() == {i.image_id for i in found}
    with pytest.raises(EegvizError, match="not both"):
        main_from_args(build_parser().parse_args(["present", str(out), "--write-demo-folder", str(tmp_path / "x")]))
    with pytest.raises(EegvizError, match="unknown stimulus class"):
        main_from_args(build_parser().parse_args(["present", "--write-demo-folder", str(tmp_path / "y"),
                                                  "--classes", "unicorn"]))
    with pytest.raises(EegvizError, match="a folder is presented whole"):  # was ignored: all 40 classes shown
        main_from_args(build_parser().parse_args(["present", str(out), "--classes", "circle"]))
    # --per-class and --size were ignored the same way, without a word: every image shown at its own size
    for extra, says in ((["--per-class", "1"], "--per-class is for --write-demo-folder"),
                        (["--size", "64"], "--size is for --write-demo-folder"),
                        (["--per-class", "1", "--size", "64"], "--per-class and --size are for --write-demo-folder")):
        with pytest.raises(EegvizError, match=says):
            main_from_args(build_parser().parse_args(["present", str(out), *extra]))


def test_existing_log_is_refused_before_the_presentation_starts(stim_dir, tmp_path, monkeypatch):
    """`eegviz present --log FILE` with FILE there: a one-line error, no window, the old log untouched."""
    from eegviz.app.presenter import widget
    from eegviz.cli import build_parser

    log = tmp_path / "earlier.csv"
    log.write_text("an earlier session\n")

    def no_window(*a, **kw):
        raise AssertionError("the presenter was built although the log exists")

    monkeypatch.setattr(widget, "Presenter", no_window)
    with pytest.raises(EegvizError, match="exists"):
        run_presenter(stim_dir, log_path=log, windowed=True, wait_for_consumer=False)
    with pytest.raises(EegvizError, match="exists"):
        main_from_args(build_parser().parse_args(["present", str(stim_dir), "--log", str(log)]))
    assert log.read_text() == "an earlier session\n"
    # a log under a file: said so (it was "the presentation log ... exists", which it did not)
    with pytest.raises(EegvizError, match=r"--log .*x\.csv is under .*earlier\.csv, which is a regular file"):
        run_presenter(stim_dir, log_path=log / "x.csv", windowed=True, wait_for_consumer=False)


def test_a_marker_stream_name_already_on_lsl_is_refused_before_the_session(stim_dir, monkeypatch):
    """A second presenter of one name (the first left running) started without a word; both began when a recorder
    subscribed, and the recording held both sessions' markers interleaved in one stream."""
    import pylsl

    from eegviz.app.presenter import widget

    name = f"eegviz-test-{uuid.uuid4().hex[:10]}"
    first = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                                                f"eegviz-presenter@test:{name}"))

    def no_window(*a, **kw):
        raise AssertionError("a second presenter was built beside the first")

    monkeypatch.setattr(widget, "Presenter", no_window)
    with pytest.raises(EegvizError, match=rf"a stream named '{name}' is already on LSL "
                                          r"\(type Markers, source_id eegviz-presenter@test:.*give --name another"):
        run_presenter(stim_dir, name=name, windowed=True, wait_for_consumer=False)
    del first


@pytest.mark.parametrize("name", ["bad_apple_01", "Edge_2", "boundary", "BAD eye"])
def test_an_image_named_like_an_mne_annotation_is_refused_before_the_session(stim_dir, tmp_path, monkeypatch, name):
    """Live and replay skip a marker named like MNE's span annotations ("BAD_...", "EDGE...", "boundary") as not a
    stimulus: such an image was presented, recorded and trained on, and never decoded in a session."""
    import shutil

    from eegviz.app.presenter import widget
    from eegviz.messages import why_no_image

    assert why_no_image(name) is not None  # what a session does with its marker
    folder = tmp_path / "stimuli"
    shutil.copytree(stim_dir, folder)
    shutil.copy(sorted(folder.rglob("*.png"))[0], folder / "star" / f"{name}.png")

    def no_window(*a, **kw):
        raise AssertionError("the presenter was built with an image no session decodes")

    monkeypatch.setattr(widget, "Presenter", no_window)
    with pytest.raises(EegvizError, match=rf"the image .*{name}\.png is named like an MNE annotation .* rename it"):
        run_presenter(folder, windowed=True, wait_for_consumer=False)


@pytest.mark.parametrize("argv, line", [
    (["STIM", "--log", ""], "--log is empty"),
    (["--write-demo-folder", " "], "--write-demo-folder is empty"),
    ([""], "present's IMAGES_DIR is empty"),
])
def test_an_empty_path_is_said_empty(stim_dir, tmp_path, monkeypatch, capsys, argv, line):
    """`--log "$LOG"` with LOG unset: refused as "the presentation log  exists" (the working directory); an
    empty folder option was read as not given and answered about the other one, and a blank one ('" "') was
    written as a folder named " " in the working directory."""
    from eegviz.app.presenter import widget
    from eegviz.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(widget, "Presenter", lambda *a, **kw: pytest.fail("the presenter was built"))
    assert main(["present", *[str(stim_dir) if a == "STIM" else a for a in argv], "--no-wait"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"eegviz: error: {line}") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_building_the_parser_imports_no_qt():
    """Every eegviz command builds the whole parser; `present`'s arguments must not drag PySide6 in."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    code = "import sys; from eegviz.cli import build_parser; build_parser(); print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("argv, words", [
    (["--name", ""], "--name"), (["--name", "   "], "--name"),
    (["--lead-in", "inf"], "--lead-in"), (["--lead-in", "1e7"], "--lead-in"), (["--lead-in", "nan"], "--lead-in"),
    (["--on", "3000000"], "--on"), (["--on", "0"], "--on"), (["--blank", "1e10"], "--blank"),
    (["--jitter", "inf"], "--jitter"), (["--jitter", "3601"], "--jitter"),
])
def test_bad_name_or_duration_is_one_line_before_any_window_log_or_outlet(stim_dir, tmp_path, monkeypatch, capsys,
                                                                         argv, words):
    """An empty --name used to end in pylsl's RuntimeError traceback, --lead-in inf / 1e7 in a QTimer's
    OverflowError, and --on 3000000 in an OverflowError inside the event loop after the first marker was sent and
    logged, leaving the process hung. Each is now one line on stderr and a non-zero exit, before the Presenter
    (the window, the log and the LSL outlet) is built."""
    from eegviz.app.presenter import widget
    from eegviz.cli import main

    def no_window(*a, **kw):
        raise AssertionError("the presenter (window, log, LSL outlet) was built for a bad option")

    monkeypatch.setattr(widget, "Presenter", no_window)
    log = tmp_path / "log.csv"
    assert main(["present", str(stim_dir), "--no-wait", "--windowed", "--log", str(log), *argv]) != 0
    err = capsys.readouterr().err
    assert err.startswith("eegviz: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert words in err
    assert not log.exists()


def test_help_states_the_duration_limit(capsys):
    from eegviz.app.presenter.schedule import MAX_SECONDS
    from eegviz.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["present", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert out.count(f"at most {MAX_SECONDS:g}") == 4  # --on, --blank, --jitter, --lead-in


def test_a_duration_beyond_a_qt_timer_ends_in_one_line_not_a_hang(stim_dir, tmp_path):
    """The reported case, through the real entry point in its own process: it used to hang after the first marker."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    log = tmp_path / "on_big.csv"
    out = subprocess.run([sys.executable, "-m", "eegviz", "present", str(stim_dir), "--no-wait", "--windowed",
                          "--lead-in", "0", "--on", "3000000", "--log", str(log)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.startswith("eegviz: error: --on ") and out.stderr.count("\n") == 1, out.stderr
    assert not log.exists()


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_mid_run_ends_it_as_escape_does(stim_dir, tmp_path, sig):
    """review_2 finding 3: Ctrl-C mid-run raised KeyboardInterrupt inside the trial timer's slot, which PySide
    printed and swallowed; the timer was never re-armed, the presentation froze (full screen, cursor hidden) and a
    second Ctrl-C did nothing. Now either signal gives the summary line, a closed log, and exit 130."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    log = tmp_path / "int.csv"
    name = f"eegviz-test-{uuid.uuid4().hex[:10]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "eegviz", "present", str(stim_dir), "--windowed", "--no-wait", "--lead-in", "0",
         "--on", "0.2", "--blank", "0.2", "--repeats", "30", "--name", name, "--log", str(log)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(root), "QT_QPA_PLATFORM": "offscreen"},
        # as in a terminal: Python's own Ctrl-C handling, even when the tests run as a background job (SIGINT
        # ignored, which the child would inherit)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and len(log.read_text().splitlines()) >= 3):  # two onsets: mid-run
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=5)
            time.sleep(0.05)
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "eegviz: interrupted", err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("eegviz: aborted, ") and f"of {4 * 30} trials shown" in summary, out
    shown = int(summary.split("aborted, ")[1].split(" of ")[0])
    assert 2 <= shown < 4 * 30
    assert len(log.read_text().splitlines()) == 1 + shown  # every onset logged, the log closed whole


def test_every_presenter_switch_can_be_undone_and_demo_folder_options_are_named(tmp_path, capsys):
    """A protocol file's `windowed = true` (or fixation, no_shuffle, no_wait) could not be undone on the command
    line; and a bad --per-class or --size was reported under write_stimulus_folder's parameter name."""
    from eegviz.cli import main, parse_args

    cfg = tmp_path / "p.toml"
    cfg.write_text("[present]\nwindowed = true\nfixation = true\nno_shuffle = true\nno-wait = true\n")
    args = parse_args(["present", "stim", "--config", str(cfg)])
    assert (args.windowed, args.fixation, args.shuffle, args.wait_for_consumer) == (True, True, False, False)
    args = parse_args(["present", "stim", "--config", str(cfg), "--no-windowed", "--no-fixation", "--shuffle",
                       "--wait"])
    assert (args.windowed, args.fixation, args.shuffle, args.wait_for_consumer) == (False, False, True, True)
    for opt, value in (("--per-class", "0"), ("--size", "4"), ("--size", "100000")):
        assert main(["present", "--write-demo-folder", str(tmp_path / "s"), opt, value]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and opt in err and "n_per_class" not in err, err
    assert not (tmp_path / "s").exists()


def test_help_says_seed_chooses_the_demo_folder_s_world(capsys):
    """--write-demo-folder renders the synthetic world of --seed (other stimuli, ids star_000_s3), which the shipped
    model does not know; --help said only "seed for order and jitter"."""
    from eegviz.cli import main

    with pytest.raises(SystemExit):
        main(["present", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "seed for order and jitter; with --write-demo-folder, the synthetic world's" in text


def test_summary_lines_count_one_in_the_singular(qtbot, tmp_path, capsys, monkeypatch):
    """A one-image folder was announced as "1 trials of 1 images in 1 classes" and written as "wrote 1 stimuli"."""
    from eegviz.cli import build_parser

    out = tmp_path / "one"
    args = build_parser().parse_args(["present", "--write-demo-folder", str(out), "--per-class", "1", "--size", "16",
                                      "--classes", "star"])
    assert args.fn(args) == 0
    assert "wrote 1 stimulus to" in capsys.readouterr().out
    _quick_name_check(monkeypatch)
    assert run_presenter(out, on_s=0.01, blank_s=0.0, name=f"hI-{uuid.uuid4().hex[:10]}", windowed=True,
                         lead_in_s=0.0, wait_for_consumer=False) == 0
    said = capsys.readouterr().out
    assert "1 trial of 1 image in 1 class, rapid design, about 10 ms;" in said  # was "about 0 s"
    assert "done, 1 of 1 trials shown" in said
    assert "; on-duration error median " in said  # the last image, no blank after it: ended by the schedule's end


def test_resume_shows_the_rest_of_an_aborted_run_into_a_new_log(qtbot, stim_dir, tmp_path, monkeypatch, capsys):
    """After an abort, a rerun showed the whole seeded schedule from trial 1 again (images repeated, or the rest of
    the session lost). --resume LOG rebuilds the schedule, checks it against LOG's session file and shows the trials
    LOG lacks, numbered as the schedule numbers them, into a new log; a changed option is refused in one line."""
    from PySide6 import QtWidgets

    from eegviz.app.presenter.schedule import make_schedule, session_path
    from eegviz.app.presenter.widget import Presenter

    monkeypatch.setattr("eegviz.app.presenter.cli.check_name_free", lambda name: None)  # names are unique here
    opts = {"on_s": 0.04, "blank_s": 0.0, "repeats": 2, "seed": 5, "windowed": True, "lead_in_s": 0.0,
            "wait_for_consumer": False}
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"

    def abort_after_three():
        for w in QtWidgets.QApplication.topLevelWidgets():
            if isinstance(w, Presenter) and len(w.records) >= 3:
                w.abort()

    poll = QtCore.QTimer(interval=2)
    poll.timeout.connect(abort_after_three)
    poll.start()
    run_presenter(stim_dir, name=f"hI-{uuid.uuid4().hex[:10]}", log_path=first, **opts)
    poll.stop()
    with open(first, newline="") as f:
        shown = [(int(r["trial"]), r["image_id"]) for r in csv.DictReader(f)]
    assert 3 <= len(shown) < 8 and "aborted" in capsys.readouterr().out
    before = first.read_text()

    schedule = [(t.index, t.image_id) for t in make_schedule(find_images(stim_dir), repeats=2, seed=5)]
    with pytest.raises(EegvizError, match=r"^--resume .*a\.csv: the aborted run's schedule options differ \(--seed 5 "
                                          r"there, 6 here\); resume with the options it ran with$"):
        run_presenter(stim_dir, name=f"hI-{uuid.uuid4().hex[:10]}", log_path=second, resume=first,
                      **{**opts, "seed": 6})
    with pytest.raises(EegvizError, match="--resume needs a --log"):
        run_presenter(stim_dir, name=f"hI-{uuid.uuid4().hex[:10]}", resume=first, **opts)
    assert not second.exists()

    assert run_presenter(stim_dir, name=f"hI-{uuid.uuid4().hex[:10]}", log_path=second, resume=first, **opts) == 0
    k = len(shown)
    assert f"{8 - k} trials (resuming at trial {k + 1} of 8) of 4 images" in capsys.readouterr().out
    with open(second, newline="") as f:
        rest = [(int(r["trial"]), r["image_id"]) for r in csv.DictReader(f)]
    assert shown + rest == schedule  # the two logs together: the whole schedule, each trial once, in order
    assert first.read_text() == before
    assert json.loads(session_path(second).read_text())["first_trial"] == k
    with pytest.raises(EegvizError, match="showed all 8 trials; nothing is left to show"):
        run_presenter(stim_dir, name=f"hI-{uuid.uuid4().hex[:10]}", log_path=tmp_path / "c.csv", resume=second,
                      **opts)


def test_summary_gives_how_long_images_stayed_up_against_on(capsys):
    """The summary gave the onsets' lateness only; how far each image's time up (on_ms) was from --on
    (intended_on_ms) went unsaid: the median and the largest either way, with its sign. An image an abort cut short
    is left out (the abort, not the machine, ended it), as is one whose offset never came."""
    from eegviz.app.presenter.cli import duration_error

    def rec(on_ms, by):
        return {"on_ms": on_ms, "intended_on_ms": 500.0, "offset_by": by}

    records = [rec(500.2, "blank"), rec(483.1, "next"), rec(500.0, "end"), rec(516.9, "blank"), rec(500.4, "blank"),
               rec(12.0, "abort"), {"on_ms": None, "intended_on_ms": 500.0, "offset_by": ""}]
    assert duration_error(records) == "; on-duration error median +0.2 ms, max -16.9 ms"
    assert duration_error(records[5:]) == ""


@pytest.mark.parametrize("seconds, said", [(0.0104, "about 10 ms"), (0.2, "about 200 ms"), (0.5, "about 500 ms"),
                                           (0.51, "about 1 s"), (125.4, "about 125 s")])
def test_the_opening_line_says_a_short_run_in_milliseconds_not_0_s(seconds, said):
    """A run under half a second (`--on 0.03`, a check of the setup) was announced as "about 0 s"."""
    from eegviz.app.presenter.cli import _about

    assert _about(seconds) == said
