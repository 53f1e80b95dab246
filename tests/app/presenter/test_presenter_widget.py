"""The Presenter widget: a real offscreen run with its markers read back over LSL, drawing, Escape, bad images.

LSLAPICFG (set by conftest) keeps discovery on loopback; every stream name carries a uuid so leftovers from
other tests are never matched. Runs use 50 ms on / 50 ms blank so the whole file takes a few seconds.
"""

from __future__ import annotations

import csv
import re
import uuid

import numpy as np
import pylsl
import pytest
from PySide6 import QtCore, QtGui

from eegviz.app.presenter.schedule import make_schedule
from eegviz.app.presenter.widget import Presenter
from eegviz.data.images import find_images
from eegviz.errors import EegvizError


def _rgb(qimage) -> np.ndarray:
    img = qimage.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    rows = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(img.height(), -1)
    return rows[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()  # img's buffer dies with img


def _presenter(qtbot, stim_dir, **kw):
    images = find_images(stim_dir)
    trials = make_schedule(images, on_s=kw.pop("on_s", 0.05), blank_s=0.05, seed=1)
    p = Presenter(trials, {i.image_id: i.path for i in images}, name=f"eegviz-test-{uuid.uuid4().hex[:10]}",
                  windowed=True, lead_in_s=0.05, **kw)
    qtbot.addWidget(p)
    return p, trials


def test_markers_arrive_over_lsl_in_schedule_order(qtbot, stim_dir, tmp_path):
    p, trials = _presenter(qtbot, stim_dir, log_path=tmp_path / "log.csv")
    streams = pylsl.resolve_byprop("name", p.name, 1, 3.0)
    assert len(streams) == 1 and streams[0].type() == "Markers"
    assert streams[0].channel_format() == pylsl.cf_string and streams[0].nominal_srate() == pylsl.IRREGULAR_RATE
    inlet = pylsl.StreamInlet(streams[0])
    inlet.open_stream(timeout=3.0)
    onsets = []
    p.onset.connect(lambda i, image_id, ts: onsets.append((image_id, ts)))
    with qtbot.waitSignal(p.finished, timeout=5000) as done:
        p.start()  # waits for the consumer, which is already connected
    assert done.args == [True]

    got = []
    for _ in range(len(trials)):
        sample, ts = inlet.pull_sample(timeout=2.0)
        assert sample is not None
        got.append((sample[0], ts))
    assert [g[0] for g in got] == [t.image_id for t in trials]
    assert [g[0] for g in onsets] == [t.image_id for t in trials]
    stamps = np.array([g[1] for g in got])
    assert np.allclose(stamps, [o[1] for o in onsets], atol=1e-6)  # the receiver sees the pushed timestamps
    gaps = np.diff(stamps)
    assert np.all(gaps > 0)
    assert np.all(np.abs(gaps - 0.1) < 0.06)  # planned 100 ms apart; loose for a loaded CI machine
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image_id"] for r in rows] == [t.image_id for t in trials]
    assert [r["class"] for r in rows] == [t.class_name for t in trials]
    planned = np.array([float(r["intended_lsl"]) for r in rows])
    assert np.allclose(np.diff(planned), 0.1)
    late = np.array([float(r["late_ms"]) for r in rows])
    assert late.min() >= 0 and late.max() < 60  # never early: the marker goes after the frame
    p.close_stream()


def test_image_is_drawn_at_onset_and_blank_is_black(qtbot, stim_dir):
    p, trials = _presenter(qtbot, stim_dir, wait_for_consumer=False)
    shots = []
    p.onset.connect(lambda i, image_id, ts: shots.append(_rgb(p.grab().toImage())) if i == 0 else None)
    with qtbot.waitSignal(p.finished, timeout=5000):
        p.start()
    assert len(shots) == 1
    shot = shots[0]
    assert shot.max() > 100  # the stimulus, not a black frame
    h, w, _ = shot.shape
    assert shot[h // 2, w // 2].max() > 0  # centred and scaled up from 64 px to fill the height
    assert shot[:, : (w - h) // 2 - 2].max() == 0  # letterboxed: aspect ratio kept, sides black
    assert _rgb(p.grab().toImage()).max() == 0  # nothing shown after the last blank
    p.close_stream()


def test_escape_aborts_and_keeps_the_log(qtbot, stim_dir, tmp_path):
    p, trials = _presenter(qtbot, stim_dir, on_s=2.0, log_path=tmp_path / "log.csv")
    p.start()
    assert p.state == "waiting"  # nobody listens yet
    qtbot.keyClick(p, QtCore.Qt.Key.Key_Space)  # start anyway
    qtbot.waitSignal(p.onset, timeout=3000).wait()
    with qtbot.waitSignal(p.finished, timeout=1000) as done:
        qtbot.keyClick(p, QtCore.Qt.Key.Key_Escape)
    assert done.args == [False] and p.state == "done"
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].startswith("trial,image_id") and len(rows) == 2 and trials[0].image_id in rows[1]
    p.close_stream()


def test_presenter_rejects_unknown_or_unreadable_images(qtbot, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    trials = make_schedule(["bad"])
    with pytest.raises(EegvizError, match="no image file"):
        Presenter(trials, {}, windowed=True)
    with pytest.raises(EegvizError, match="cannot read image"):
        Presenter(trials, {"bad": bad}, windowed=True)




def test_an_image_past_qts_decoding_limit_is_said_to_be_too_large_not_unreadable(qtbot, tmp_path):
    """Qt refuses an image past its allocation limit (256 MB) with "Unable to read image data", which sent the user
    looking for a broken file. Tried with a 1 MB limit (an image of 600 x 600 pixels passes it) to stay small."""
    big = tmp_path / "big_1.png"
    img = QtGui.QImage(600, 600, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(90, 90, 90))
    assert img.save(str(big))
    limit = QtGui.QImageReader.allocationLimit()
    QtGui.QImageReader.setAllocationLimit(1)
    try:
        with pytest.raises(EegvizError, match=r"big_1\.png is 600 x 600 pixels, more than the presenter decodes "
                                              r"\(1 MB.*scale it down") as err:
            Presenter(make_schedule(["big_1"]), {"big_1": big}, windowed=True, name=f"hB-{uuid.uuid4().hex[:10]}")
    finally:
        QtGui.QImageReader.setAllocationLimit(limit)
    assert "Unable to read" not in str(err.value)

def test_a_truncated_image_is_refused_before_the_run_not_at_its_onset(qtbot, stim_dir, tmp_path):
    """A PNG cut in half has a valid header (a header check passes it); it used to raise inside Qt's timer slot at
    its first onset, leaving the window up and the run hung."""
    good = sorted(stim_dir.rglob("*.png"))[0]
    cut = tmp_path / "cut.png"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert QtGui.QImageReader(str(cut)).canRead()  # the header alone looks fine
    trials = make_schedule(["good", "cut"], on_s=0.05, blank_s=0.05, shuffle=False)
    with pytest.raises(EegvizError, match=r"cannot read image .*cut\.png"):
        Presenter(trials, {"good": good, "cut": cut}, windowed=True)


@pytest.mark.parametrize("fmt, name", [("GIF", "gif_saved_as.png"), ("WEBP", "webp_download.jpg"),
                                       ("TIFF", "tiff_saved_as.png")])
def test_an_image_training_cannot_read_is_refused_before_the_run(qtbot, stim_dir, tmp_path, fmt, name):
    """Qt shows WebP, GIF and TIFF under any name; training reads PNG, JPEG and BMP only (eegviz.data.images). Such
    a file was presented and its session recorded, and then `eegviz train --images-dir` refused it after the
    session: "cannot identify image file". It is refused before the run, saying what the file really is not."""
    from PIL import Image

    good = sorted(stim_dir.rglob("*.png"))[0]
    odd = tmp_path / name
    Image.open(good).save(odd, format=fmt)
    if QtGui.QImageReader(str(odd)).read().isNull():
        pytest.skip(f"this Qt has no {fmt} reader")  # then the presenter refuses it anyway
    trials = make_schedule(["good", "odd"], shuffle=False)
    with pytest.raises(EegvizError, match=rf"cannot read stimulus image .*{name}: its content is not a PNG, JPEG "
                                          "or BMP image, whatever its name says"):
        Presenter(trials, {"good": good, "odd": odd}, windowed=True)


def test_an_image_unreadable_mid_run_ends_the_run_with_its_reason(qtbot, stim_dir, tmp_path):
    """An image changed on disk after the start (here: emptied once the first onset is up) ends the run, log kept,
    with the reason in `error` for the CLI to say, instead of an exception in a Qt slot and a hang."""
    good = sorted(stim_dir.rglob("*.png"))
    later = tmp_path / "later.png"
    later.write_bytes(good[1].read_bytes())
    trials = make_schedule(["a", "later"], on_s=0.05, blank_s=0.05, shuffle=False)
    p = Presenter(trials, {"a": good[0], "later": later}, name=f"eegviz-test-{uuid.uuid4().hex[:10]}", windowed=True,
                  lead_in_s=0.05, wait_for_consumer=False, log_path=tmp_path / "log.csv")
    qtbot.addWidget(p)
    p._cache.clear()
    p._pixmap = _forget_after_first(p._pixmap, later)
    with qtbot.waitSignal(p.finished, timeout=5000) as done:
        p.start()
    assert done.args == [False] and p.state == "done"
    assert p.error is not None and "later.png" in p.error
    assert [r["image_id"] for r in p.records] == ["a"]
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 2
    p.close_stream()


def _forget_after_first(pixmap, path):
    """_pixmap that empties `path` on disk once the first image has been read (as if it changed mid-run)."""
    def read(image_id):
        if image_id != "a":
            path.write_bytes(b"")
        return pixmap(image_id)
    return read


def test_presenter_never_truncates_an_existing_log(qtbot, stim_dir, tmp_path):
    """A rerun with the same --log must not wipe the earlier session's onset log: one-line refusal instead."""
    log = tmp_path / "log.csv"
    log.write_text("trial,image_id\n0,star_000\n")
    with pytest.raises(EegvizError, match="exists"):
        _presenter(qtbot, stim_dir, log_path=log)
    assert log.read_text() == "trial,image_id\n0,star_000\n"


@pytest.mark.parametrize("kw, words", [({"name": ""}, "--name"), ({"name": " "}, "--name"),
                                       ({"lead_in_s": float("inf")}, "--lead-in"), ({"lead_in_s": 1e7}, "--lead-in"),
                                       ({"lead_in_s": -1}, "--lead-in")])
def test_bad_name_or_lead_in_fails_before_the_log_and_outlet(qtbot, stim_dir, tmp_path, monkeypatch, kw, words):
    """Used directly (run_presenter does), the widget checks these too: an empty name was pylsl's RuntimeError, a
    huge lead-in a QTimer's OverflowError in start(), each after the log file was opened."""
    images = find_images(stim_dir)
    trials = make_schedule(images, on_s=0.05, blank_s=0.05, seed=1)

    def no_outlet(*a, **k):
        raise AssertionError("an LSL outlet was made for a bad option")

    monkeypatch.setattr(pylsl, "StreamOutlet", no_outlet)
    args = {"name": f"eegviz-test-{uuid.uuid4().hex[:10]}", "lead_in_s": 0.05, **kw}
    with pytest.raises(EegvizError, match=words) as info:
        Presenter(trials, {i.image_id: i.path for i in images}, log_path=tmp_path / "l.csv", windowed=True, **args)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "l.csv").exists()



def test_a_recorder_gone_mid_run_is_said_and_its_lost_markers_counted(qtbot, stim_dir, capsys):
    """`eegviz record` ends at once when its recording fails; the presenter went on showing the session with
    every marker lost and said nothing. The moment is said on stderr, its return too, and the markers sent
    with nothing connected are counted (run_presenter's summary line gives the number)."""
    images = find_images(stim_dir)
    trials = make_schedule(images, on_s=0.15, blank_s=0.05, repeats=3, seed=1)
    p = Presenter(trials, {i.image_id: i.path for i in images}, name=f"eegviz-test-{uuid.uuid4().hex[:10]}",
                  windowed=True, lead_in_s=0.05)
    qtbot.addWidget(p)
    (info,) = pylsl.resolve_byprop("name", p.name, 1, 3.0)
    inlets = [pylsl.StreamInlet(info)]
    inlets[0].open_stream(timeout=3.0)

    def at_onset(i, image_id, ts):
        if i == 1:
            inlets[0].close_stream()  # the recorder gone
        elif i == 6:
            inlets[0].open_stream(timeout=3.0)  # and back

    p.onset.connect(at_onset)
    with qtbot.waitSignal(p.finished, timeout=15000):
        p.start()
    err = capsys.readouterr().err
    assert f"no recorder has LSL stream '{p.name}' open any more (from trial " in err
    assert "its markers are lost until one connects again" in err
    assert re.search(f"a recorder has LSL stream '{p.name}' open \\(from trial \\d+\\); {p.unheard} markers? "
                     "before were sent with none", err), err
    assert 1 <= p.unheard <= 6


def test_markers_sent_with_no_recorder_are_counted_without_a_line_per_marker(qtbot, stim_dir, capsys):
    """--no-wait and no recorder at all (a rehearsal): nothing said while it runs, every marker counted."""
    p, trials = _presenter(qtbot, stim_dir, wait_for_consumer=False)
    with qtbot.waitSignal(p.finished, timeout=15000):
        p.start()
    assert p.unheard == len(trials)
    assert "recorder" not in capsys.readouterr().err


_TWO_SCREENS = """
import sys
from PySide6 import QtGui, QtWidgets
from eegviz.app.presenter.schedule import make_schedule
from eegviz.app.presenter.widget import Presenter, choose_screen
from eegviz.data.images import find_images
from eegviz.errors import EegvizError

app = QtWidgets.QApplication([])
images = find_images(sys.argv[1])
for windowed in (False, True):
    p = Presenter(make_schedule(images, on_s=0.05, blank_s=0.0), {i.image_id: i.path for i in images},
                  name=sys.argv[2] + str(windowed), windowed=windowed, lead_in_s=1.0, wait_for_consumer=False,
                  screen=choose_screen(1))
    p.start()
    app.processEvents()
    # the screen under the window, not p.screen(): PySide then ties that QScreen's wrapper to p, and deleting p
    # left it "already deleted" for the next presenter
    print(windowed, QtGui.QGuiApplication.screenAt(p.geometry().center()).name(), p.width(), p.height())
    p.abort()
    p.close_stream()
    p.close()
try:
    choose_screen(2)
except EegvizError as e:
    print(e)
"""


def test_screen_puts_the_presentation_on_the_participants_monitor(stim_dir, tmp_path):
    """Full screen always opened on the primary screen (the operator's), where a lab shows stimuli on a second
    monitor; Presenter(screen=...) opens there, full screen and windowed, and a wrong number lists the screens.
    Two screens need the offscreen platform's config file, read when the QApplication starts: a subprocess."""
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "screens.json"
    config.write_text(json.dumps({"windowFrameMargins": False, "screens": [
        {"name": "operator", "x": 0, "y": 0, "width": 640, "height": 480, "logicalDpi": 96, "logicalBaseDpi": 96,
         "dpr": 1},
        {"name": "participant", "x": 640, "y": 0, "width": 1024, "height": 768, "logicalDpi": 96,
         "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    out = subprocess.run([sys.executable, "-c", _TWO_SCREENS, str(stim_dir), f"hI-{uuid.uuid4().hex[:10]}"],
                         capture_output=True, text=True, env=env, timeout=60)
    lines = out.stdout.splitlines()
    assert lines[:2] == ["False participant 1024 768", "True participant 800 600"], out
    assert lines[2] == ("--screen 2 is not a screen here; this display has 2: 0: operator 640x480 at (0, 0) "
                        "(primary); 1: participant 1024x768 at (640, 0)"), out


def test_screen_out_of_range_is_refused_before_anything_is_shown(qtbot, stim_dir, capsys):
    """The one offscreen screen is 0; --screen 1 (or -1) is refused in one line that lists it, before the outlet."""
    from eegviz.app.presenter.cli import run_presenter
    from eegviz.app.presenter.widget import choose_screen

    assert choose_screen(0) is QtGui.QGuiApplication.primaryScreen()
    for number in (1, -1):
        with pytest.raises(EegvizError, match=r"^--screen -?1 is not a screen here; this display has 1: 0: .* "
                                              r"at \(0, 0\) \(primary\)$"):
            run_presenter(stim_dir, screen=number, name=f"hI-{uuid.uuid4().hex[:10]}", windowed=True)
    assert "trials of" not in capsys.readouterr().out


def test_each_image_s_offset_and_time_up_are_logged_an_abort_s_as_such(qtbot, stim_dir, tmp_path):
    """The log said when each image appeared, never how long it stayed up (a loaded machine holds one a frame too
    long, or cuts it short). Each row is written at its onset, offset cells empty (a kill then keeps the onset),
    and completed at the offset: replaced by the next image (no blank), by the blank, or by an abort mid-image,
    whose time is then the offset, said as 'abort'."""
    from eegviz.app.presenter.schedule import LOG_FIELDS, Trial

    (a, b), log = sorted(find_images(stim_dir), key=lambda i: i.image_id)[:2], tmp_path / "log.csv"
    trials = [Trial(0, a.image_id, a.class_name, 0.0, 0.05, 0.0), Trial(1, b.image_id, b.class_name, 0.05, 0.05, 0.03),
              Trial(2, a.image_id, a.class_name, 0.13, 0.5, 0.03)]
    p = Presenter(trials, {a.image_id: a.path, b.image_id: b.path}, name=f"hG-{uuid.uuid4().hex[:10]}", windowed=True,
                  lead_in_s=0.0, wait_for_consumer=False, log_path=log)
    qtbot.addWidget(p)
    at_onset = []

    def onset(i, image_id, ts):
        at_onset.append(log.read_text().splitlines()[-1])
        if i == 2:
            QtCore.QTimer.singleShot(30, p.abort)

    p.onset.connect(onset)
    with qtbot.waitSignal(p.finished, timeout=5000):
        p.start()
    p.close_stream()
    assert [line.split(",")[6:] for line in at_onset] == [["", "", "50.000", ""]] * 2 + [["", "", "500.000", ""]]
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == LOG_FIELDS and [r["offset_by"] for r in rows] == ["next", "blank", "abort"]
    assert rows[0]["offset_lsl"] == rows[1]["onset_lsl"]  # the next image's frame ended the first
    for r, rec in zip(rows, p.records):
        assert float(r["on_ms"]) == pytest.approx((float(r["offset_lsl"]) - float(r["onset_lsl"])) * 1000, abs=2e-3)
        assert float(r["on_ms"]) == pytest.approx(rec["on_ms"], abs=1e-3) and r["offset_by"] == rec["offset_by"]
    assert [abs(float(r["on_ms"]) - 50) < 45 for r in rows[:2]] == [True, True]  # loose for a loaded machine
    assert 25 < float(rows[2]["on_ms"]) < 400  # cut short by the abort, 30 ms in; planned 500


def test_every_time_logged_is_taken_after_its_frame_is_handed_over(qtbot, stim_dir, monkeypatch):
    """Onsets and offsets are stamped by one _hand_over: the frame painted, handed to the window system, and only
    then the LSL clock read, so no marker or logged offset is earlier than what it marks (the module's timing
    rule, which three places each wrote out)."""
    from types import SimpleNamespace

    images = find_images(stim_dir)
    trials = make_schedule(images, on_s=0.03, blank_s=0.03, seed=1)
    p = Presenter(trials, {i.image_id: i.path for i in images}, name=f"h4-present-{uuid.uuid4().hex[:10]}",
                  windowed=True, lead_in_s=0.02, wait_for_consumer=False)
    qtbot.addWidget(p)
    events: list = []
    sync, repaint = QtGui.QGuiApplication.sync, p.repaint
    monkeypatch.setattr(QtGui.QGuiApplication, "sync", staticmethod(lambda: (sync(), events.append("sync"))))
    monkeypatch.setattr(p, "repaint", lambda: (repaint(), events.append("paint")))

    def local_clock():
        events.append(("clock", pylsl.local_clock()))
        return events[-1][1]

    p._pylsl = SimpleNamespace(local_clock=local_clock)
    with qtbot.waitSignal(p.finished, timeout=5000):
        p.start()
    assert len(p.records) == len(trials) and [r["offset_by"] for r in p.records] == ["blank"] * len(trials)
    for stamp in (t for r in p.records for t in (r["onset_lsl"], r["offset_lsl"])):
        at = events.index(("clock", stamp))
        assert events[at - 2:at] == ["paint", "sync"], events[at - 3:at + 1]
    stamp = p._hand_over()
    assert events[-3:] == ["paint", "sync", ("clock", stamp)]
    p.close_stream()


def test_aborts_before_the_first_image_and_twice_in_a_blank_keep_a_well_formed_log(qtbot, stim_dir, tmp_path):
    """The abort's edges: Escape while waiting for a recorder (no image yet) ends the run once and leaves the log's
    header, which --resume reads as nothing shown; Escape twice in a blank (and the window closed after) ends it
    once, the image before it logged as ended by the blank, not by the abort that came later."""
    from eegviz.app.presenter.schedule import LOG_FIELDS

    p, _ = _presenter(qtbot, stim_dir, log_path=tmp_path / "none.csv")
    ended = []
    p.finished.connect(ended.append)
    p.start()
    assert p.state == "waiting"
    qtbot.keyClick(p, QtCore.Qt.Key.Key_Escape)
    qtbot.keyClick(p, QtCore.Qt.Key.Key_Escape)
    p.close()
    assert ended == [False] and p.records == []
    assert (tmp_path / "none.csv").read_text().splitlines() == [",".join(LOG_FIELDS)]
    p.close_stream()

    p, _ = _presenter(qtbot, stim_dir, on_s=0.05, log_path=tmp_path / "blank.csv", wait_for_consumer=False)
    ended = []
    p.finished.connect(ended.append)

    def escape_twice_in_the_blank(i, image_id, ts):
        if i == 0:
            QtCore.QTimer.singleShot(80, lambda: [qtbot.keyClick(p, QtCore.Qt.Key.Key_Escape) for _ in range(2)])

    p.onset.connect(escape_twice_in_the_blank)
    with qtbot.waitSignal(p.finished, timeout=3000):
        p.start()
    p.close()
    p.close_stream()
    with open(tmp_path / "blank.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert ended == [False] and len(rows) == len(p.records) == 1 and rows[0]["offset_by"] == "blank"
    assert float(rows[0]["on_ms"]) == pytest.approx(50, abs=45)
