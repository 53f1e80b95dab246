"""SessionController driving the windows, offscreen, with the real default model.

Sessions run on the demo recording sped up (or unpaced) and on the simulator; each test takes a few seconds.
"""

import json
from dataclasses import replace

import numpy as np
import pytest

from eegviz.app.kiosk import KioskWindow
from eegviz.app.session import SessionController
from eegviz.app.source_choice import SourceChoice
from eegviz.app.window import MainWindow
from eegviz.messages import Chunk, Decoded, Epoch, Marker, Reconstruction, StreamInfo
from eegviz.paths import default_model_dir, demo_recording
from eegviz.settings import SessionSettings

START_MS = 30000  # model loading shares two cores with whatever else runs; generous, only hit on failure

pytestmark = pytest.mark.skipif(not demo_recording().exists() or not (default_model_dir() / "decoder.json").exists(),
                                reason="demo recording or default model missing")


@pytest.fixture
def session(qtbot):
    win = MainWindow(None, title="eegviz test")
    qtbot.addWidget(win)
    ctl = SessionController()
    ctl.attach(win)
    win.resize(1280, 860)
    win.show()
    yield win, ctl
    ctl.shutdown(5.0)


def has_pixmap(panel) -> bool:
    pm = panel.pixmap()
    return pm is not None and not pm.isNull()


class ReversedSimulator:
    """The simulator with its channels in reverse order: same montage for the model, other labels on screen."""

    def __init__(self):
        from eegviz.sources.simulator import SimulatorSource

        self.src = SimulatorSource(speed=2.0)
        self.info = self.src.info

    def start(self):
        self.src.start()
        self.info = replace(self.src.info, name="reversed-sim", ch_names=self.src.info.ch_names[::-1])

    def read(self, timeout=0.05):
        res = self.src.read(timeout)
        res.chunks = [Chunk(c.samples[:, ::-1].copy(), c.timestamps, c.source) for c in res.chunks]
        return res

    def stop(self):
        self.src.stop()


def test_demo_then_switch_sources(session, qtbot):
    win, ctl = session
    assert win.controls.start_button.isEnabled() and not win.controls.stop_button.isEnabled()
    win.set_choice(SourceChoice("demo", speed=5.0))
    with qtbot.waitSignal(ctl.started, timeout=START_MS) as started:
        win.controls.start_button.click()
    info = started.args[0]
    assert info.source_id == "eegviz-sim-demo" and win.info == info
    assert not win.controls.start_button.isEnabled() and win.controls.stop_button.isEnabled()
    qtbot.waitUntil(lambda: win.n_epochs >= 3, timeout=10000)
    assert all(has_pixmap(p) for p in (win.saliency_panel, win.recon_panel, win.stimulus_panel))
    assert "demo recording" in win.status_label.text() and "class " in win.status_label.text()
    with qtbot.waitSignal(ctl.stopped, timeout=5000) as stopped:
        win.controls.stop_button.click()
    assert stopped.args == ["stopped"] and ctl.state == "idle"
    assert win.controls.start_button.isEnabled() and not win.controls.stop_button.isEnabled()
    assert win.status_label.text().endswith("stopped")

    # Same model, other source: the window follows the new stream.
    win.set_choice(SourceChoice("simulator"))
    assert win.current_choice() == SourceChoice("simulator")
    with qtbot.waitSignal(ctl.started, timeout=START_MS) as started:
        win.controls.start_button.click()
    assert started.args[0].source_id == "eegviz-sim-0" and win.info.source_id == "eegviz-sim-0"
    assert win.n_epochs == 0 and not has_pixmap(win.recon_panel)  # counters and panels reset for the new stream
    assert win.status_label.text().startswith("simulator, demo world: eegviz-sim")
    qtbot.waitUntil(lambda: win.n_epochs >= 1, timeout=10000)

    # Switching while running: the running session is stopped first, then the new one starts.
    assert win.traces.buffer.labels[0] == "A1"
    with qtbot.waitSignal(ctl.started, timeout=START_MS):
        ctl.start(ReversedSimulator, label="reversed simulator")
    assert win.info.name == "reversed-sim"
    assert win.traces.buffer.labels[0] == "D32" and len(win.traces.curves) == 16
    ticks = win.traces.getPlotItem().getAxis("left")._tickLevels[0]
    assert ticks[0][1] == "D32"
    qtbot.waitUntil(lambda: win.n_epochs >= 1 and win.traces.buffer.count > 0, timeout=10000)
    with qtbot.waitSignal(ctl.stopped, timeout=5000):
        ctl.stop()


def test_bad_sources_show_one_line_and_start_works_again(session, qtbot, tmp_path):
    win, ctl = session
    corrupt = tmp_path / "corrupt.xdf"
    corrupt.write_bytes(b"XDF:" + bytes(range(256)) * 4)
    errors = []
    ctl.error.connect(errors.append)
    for choice in (SourceChoice("xdf", path=str(corrupt)), SourceChoice("xdf", path=str(tmp_path / "missing.xdf")),
                   SourceChoice("xdf")):
        win.set_choice(choice)
        with qtbot.waitSignal(ctl.stopped, timeout=START_MS) as stopped:
            win.controls.start_button.click()
        assert stopped.args == ["error"]
        shown = win.message_label.full_text()
        assert shown.startswith("error: ") and shown == f"error: {errors[-1]}" and "\n" not in shown
        assert "Traceback" not in shown
        assert win.controls.start_button.isEnabled() and ctl.state == "idle"
    assert str(corrupt) in errors[0] and "does not exist" in errors[1] and "no XDF file chosen" in errors[2]

    # Not an EegvizError: still one line, with the exception's type.
    def broken():
        raise RuntimeError("driver exploded\nsecond line")

    with qtbot.waitSignal(ctl.error, timeout=START_MS) as err:
        ctl.start(broken)
    assert err.args == ["RuntimeError: driver exploded second line"]

    # A model folder that holds no model.
    with qtbot.waitSignal(ctl.error, timeout=START_MS) as err:
        ctl.start(SourceChoice("demo"), SessionSettings().with_model_path(tmp_path))
    assert "no model at" in err.args[0]
    qtbot.waitUntil(lambda: ctl.state == "idle", timeout=2000)

    # The app is fine: a good source starts and runs.
    win.set_choice(SourceChoice("demo", speed=0.0))
    with qtbot.waitSignal(ctl.started, timeout=START_MS):
        win.controls.start_button.click()
    assert win.message_label.full_text().startswith("running: demo recording")
    qtbot.waitUntil(lambda: win.n_epochs > 0 and has_pixmap(win.recon_panel), timeout=10000)
    with qtbot.waitSignal(ctl.stopped, timeout=5000):
        ctl.stop()


def test_a_full_disk_is_one_line_in_the_window_not_a_logged_traceback(session, qtbot, caplog):
    """A kiosk whose disk filled logged "session 1 failed unexpectedly" and a traceback (every retry), and the
    window showed "OSError: [Errno 28] ...". The machine's refusal is one line, as on the command line."""
    import errno
    import logging

    win, ctl = session

    def full_disk():
        raise OSError(errno.ENOSPC, "No space left on device", "/data/kiosk/session.xdf")

    with caplog.at_level(logging.INFO, logger="eegviz.app.session"):
        with qtbot.waitSignal(ctl.error, timeout=START_MS) as err:
            ctl.start(full_disk)
    assert err.args == ["No space left on device: /data/kiosk/session.xdf"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text
    qtbot.waitUntil(lambda: ctl.state == "idle", timeout=2000)


def _rec(cls: str, dropped: int) -> Reconstruction:
    marker = Marker(timestamp=1.0, payload="a_rather_long_stimulus_identifier_0042")
    epoch = Epoch(data=np.zeros((4, 10), np.float32), sfreq=250.0, ch_names=(), tmin=0.0, marker=marker, t_ready=0.0)
    decoded = Decoded(epoch=epoch, feature=np.zeros(4, np.float32), saliency=np.zeros((8, 8, 3), np.float32),
                      embedding=np.zeros((2, 4), np.float32), class_scores=np.array([0.2, 0.8]),
                      class_names=("cat", cls))
    timings = {k: 123.456 for k in ("epoch_wait", "queue", "decode", "generate", "epoch_to_image", "marker_to_image")}
    return Reconstruction(decoded=decoded, image=np.zeros((8, 8, 3), np.uint8), generator="embedded",
                          timings_ms=timings, dropped_before=dropped)


def test_status_bar_keeps_class_and_drops_visible_at_1280px(qtbot):
    info = StreamInfo(name="a-very-long-recording-name-from-labrecorder-session-17", ch_names=("A1", "A2"), sfreq=250)
    win = MainWindow(info)
    qtbot.addWidget(win)
    win.resize(1280, 860)
    win.show()
    qtbot.waitExposed(win)
    win.on_reconstruction(_rec("hourglass", 3), None)
    win.on_status({"skipped": 3, "NaN epochs": 1, "rejected epochs": 1,
                   "last skipped": "another_long_marker_payload_that_was_skipped", "queue": 2})
    label = win.status_label
    qtbot.waitUntil(lambda: label.width() >= label.fontMetrics().horizontalAdvance(label.text()), timeout=2000)
    text = label.text()
    assert "class hourglass" in text and "drops 3" in text and "images 1" in text
    assert "skipped 3 (NaN 1, rejected 1)" in text  # the README promises the status bar counts them: in full
    assert "rejected epochs" not in win.status_details()  # counted above, not repeated as an extra field
    assert label.geometry().right() <= win.statusBar().width()  # inside the visible bar, not clipped
    assert text.index("class") < 80  # near the front, not after the latency breakdown
    details = win.details_label
    assert "latency" in details.full_text() and "skipped" in details.full_text()
    assert details.text().endswith("…") and details.text() != details.full_text()  # elided, not cut mid-glyph
    assert details.toolTip() == details.full_text()


def test_kiosk_waits_for_signal_and_restarts_replay(qtbot):
    win = KioskWindow(None, signal_timeout_s=0.3)
    qtbot.addWidget(win)
    ctl = SessionController(restart_on_end=True, restart_delay_s=1.0)
    ctl.attach(win)
    win.show_kiosk()
    assert win.waiting_for_signal
    starts = []
    ctl.started.connect(starts.append)
    try:
        with qtbot.waitSignal(ctl.stopped, timeout=START_MS) as stopped:
            ctl.start(SourceChoice("demo", speed=0.0))
        assert stopped.args == ["finished"] and len(starts) == 1
        assert win.n_epochs > 0 and win.class_caption.text()
        qtbot.wait(600)  # twice the signal timeout: the recording has ended, and is about to be replayed ...
        assert not win.waiting_for_signal  # ... which is no lost signal (the overlay used to flash here)
        qtbot.waitUntil(lambda: len(starts) == 2, timeout=START_MS)  # the replay starts over
        qtbot.waitUntil(lambda: not win.waiting_for_signal and win.n_epochs > 0, timeout=10000)
    finally:
        with qtbot.waitSignal(ctl.stopped, timeout=5000, raising=False):
            ctl.stop()
        ctl.shutdown(5.0)
    assert ctl.state == "idle"


def test_restarts_record_into_fresh_folders(qtbot, tmp_path):
    ctl = SessionController()
    try:
        for _ in range(2):
            with qtbot.waitSignal(ctl.stopped, timeout=START_MS) as stopped:
                if _ == 0:
                    sid = ctl.start(SourceChoice("demo", speed=0.0), SessionSettings().with_output_folder(tmp_path))
                else:
                    sid = ctl.restart()
            assert stopped.args == ["finished"] and sid == ctl.session_id
    finally:
        ctl.shutdown(5.0)
    assert (tmp_path / "results.jsonl").exists() and (tmp_path / "session-002" / "results.jsonl").exists()
    assert not (tmp_path / "session-002" / "session-002").exists()
    assert ctl.last_stats.results > 0
    # one session.json per Start, each naming the window's source choice and the model it ran on
    records = [json.loads((d / "session.json").read_text()) for d in (tmp_path, tmp_path / "session-002")]
    for rec in records:
        assert rec["source"]["kind"] == "demo" and rec["source"]["label"] == "demo recording"
        assert rec["source"]["path"] == str(demo_recording())  # the bundled recording, which the choice names not
        assert rec["model"]["folder"] == str(default_model_dir().resolve()) and rec["model"]["digest"]
        assert rec["model"]["sampler"]["scheduler"] == "DDIMScheduler" and rec["model"]["sampler"]["steps"] == 1


def test_a_window_session_records_the_source_it_was_given_not_the_command_line(qtbot, tmp_path):
    """The window's controls choose the source; settings.source (the command line's) is not what ran. A
    simulator chosen with its class SNR is what session.json names."""
    ctl = SessionController()
    settings = SessionSettings(duration=1.0).with_output_folder(tmp_path)
    try:
        with qtbot.waitSignal(ctl.stopped, timeout=START_MS):
            ctl.start(SourceChoice("simulator", speed=20.0, snr_db=-6.0), settings)
    finally:
        ctl.shutdown(5.0)
    rec = json.loads((tmp_path / "session.json").read_text())
    assert rec["source"]["kind"] == "simulator" and rec["source"]["snr_db"] == -6.0
    assert "command" not in rec["source"] and rec["settings"]["duration"] == 1.0
    assert rec["source"]["opened"]["sfreq"] > 0


def test_a_10_20_board_runs_in_the_window_and_says_how_many_channels_are_interpolated(session, qtbot):
    """BrainFlow's synthetic board (16 channels, 10-20 names) offered by the window runs on the 128-channel
    default model; the window's notices say how much of the model's montage was interpolated (the status bar shows
    the latest notice alone: here the board's own, that no marker stream was given)."""
    win, ctl = session
    with qtbot.waitSignal(ctl.started, timeout=START_MS):
        ctl.start(SourceChoice("brainflow-synthetic"))
    qtbot.waitUntil(lambda: any("interpolated" in text for _, text in win.notices), timeout=10000)
    assert any("of the model's 128 channels interpolated" in text for _, text in win.notices), win.notices
    assert win.info.n_channels == 16
    with qtbot.waitSignal(ctl.stopped, timeout=5000):
        ctl.stop()


class PhotoSimulator(ReversedSimulator):
    """The simulator with a lab presenter's ids ('photo_000', ...), which no synthetic-world image has."""

    def read(self, timeout=0.05):
        res = self.src.read(timeout)
        res.markers = [replace(m, payload=f"photo_{i:03d}") for i, m in enumerate(res.markers)]
        return res


def test_the_stimulus_panel_says_which_images_dir_the_session_has(session, qtbot, tmp_path):
    """A live session's markers whose images are not known showed "unknown": it now says that no --images-dir
    was given, or, with one, that the id is not an image in it (the folder the session was started with)."""
    from PIL import Image

    win, ctl = session
    label = win.stimulus_panel.image_label
    with qtbot.waitSignal(ctl.started, timeout=START_MS):
        ctl.start(PhotoSimulator, SessionSettings(), label="lab stream")
    qtbot.waitUntil(lambda: win.n_epochs >= 1, timeout=10000)
    assert win.stimulus_panel.shown_text() == "no --images-dir given" and "'photo_" in label.toolTip()
    with qtbot.waitSignal(ctl.stopped, timeout=5000):
        ctl.stop()
    Image.new("RGB", (8, 8)).save(tmp_path / "cat_001.png")
    with qtbot.waitSignal(ctl.started, timeout=START_MS):
        ctl.start(PhotoSimulator, SessionSettings(images_dir=str(tmp_path)), label="lab stream")
    qtbot.waitUntil(lambda: win.n_epochs >= 1, timeout=10000)
    assert win.stimulus_panel.shown_text() == "this id is not in --images-dir" and str(tmp_path) in label.toolTip()
    with qtbot.waitSignal(ctl.stopped, timeout=5000):
        ctl.stop()


def test_a_sinks_notice_is_in_the_window_once_however_often_it_is_said(session, qtbot, monkeypatch):
    """A slow --sink's warning and an OSC target that could not be reached went to the log alone: the window's
    user never saw them. They now reach the message line and the notices list as a source's notices do, and a
    sink that says the same again (a kiosk replaying its recording says it once every session) is listed once."""
    from eegviz import plugins
    from eegviz.settings import OutputSettings

    class Telling:
        sent = 0

        def set_notice(self, say):
            self.say = say

        def on_result(self, rec, stimulus=None):
            Telling.sent += 1
            self.say(f"target gone after {Telling.sent} sends")

        def on_skipped(self, marker, reason, kind):
            pass

        def close(self):
            pass

    monkeypatch.setitem(plugins._extra["sinks"], "telling", Telling)
    win, ctl = session
    shown, show = [], win.show_message
    monkeypatch.setattr(win, "show_message", lambda text, error=False: (shown.append(text), show(text, error)))
    settings = SessionSettings(output=OutputSettings(sinks=("telling",)))
    for _ in range(2):
        with qtbot.waitSignal(ctl.started, timeout=START_MS):
            ctl.start(SourceChoice("demo", speed=5.0), settings)
        qtbot.waitUntil(lambda: win.n_epochs >= 2, timeout=10000)
        with qtbot.waitSignal(ctl.stopped, timeout=5000):
            ctl.stop()
    assert Telling.sent >= 4
    assert [text for _, text in win.notices] == ["--sink telling: target gone after 1 sends"]
    assert [t for t in shown if t.startswith("notice: ")] == ["notice: --sink telling: target gone after 1 sends"]


def test_the_window_sink_counts_nan_skips_by_their_kind_not_their_text():
    from types import SimpleNamespace

    from eegviz.app.session import _WindowSink
    from eegviz.messages import SkipKind

    sent = []
    sink = _WindowSink(SimpleNamespace(status=SimpleNamespace(emit=lambda sid, st: sent.append(st))), 1)
    sink.on_skipped(Marker(1.0, "a"), "any words at all", SkipKind.NAN)
    sink.on_skipped(Marker(2.0, "b"), "epoch holds NaN/inf (but a gap)", SkipKind.GAP)
    assert sent[-1]["skipped"] == 2 and sent[-1]["NaN epochs"] == 1
    sink.on_skipped(Marker(3.0, "c"), "generation behind", SkipKind.DROPPED)  # counted as drops, not skipped
    assert sent[-1] == {"drops": 1}
    assert "rejected epochs" not in sent[-2]  # none rejected yet: not said
    sink.on_skipped(Marker(4.0, "d"), "epoch rejected: Fp1 312 uV peak to peak > 150 uV", SkipKind.REJECTED)
    assert sent[-1]["skipped"] == 3 and sent[-1]["NaN epochs"] == 1 and sent[-1]["rejected epochs"] == 1


def test_drops_are_in_the_status_bar_when_they_happen_and_once(window):
    """A drop was counted in the window only through the next image's dropped_before: one just before a Stop,
    whose newer marker was stopped too, was never shown (the status bar said "drops 0", results.jsonl and the
    summary line said 1). The pipeline's own count now comes as each drop happens, and an image that counts
    a drop already said is not counted again."""
    from types import SimpleNamespace

    from app_fakes import make_rec

    from eegviz.app.session import _WindowSink
    from eegviz.messages import SkipKind

    signals = SimpleNamespace(status=SimpleNamespace(emit=lambda sid, st: window.on_status(st)),
                              reconstruction=SimpleNamespace(emit=lambda sid, rec, im: window.on_reconstruction(rec, im)))
    sink = _WindowSink(signals, 1)
    sink.on_skipped(Marker(1.0, "a"), "dropped: generation behind", SkipKind.DROPPED)
    assert "drops 1" in window.status_label.text()
    sink.on_result(make_rec(payload="b", dropped=1), None)  # the newer marker's image counts the same drop
    assert "drops 1" in window.status_label.text()
    sink.on_skipped(Marker(3.0, "c"), "dropped: generation behind", SkipKind.DROPPED)
    sink.on_skipped(Marker(4.0, "d"), "session stopped before the epoch window was complete", SkipKind.STOPPED)
    assert "drops 2" in window.status_label.text() and "skipped 1" in window.status_label.text()


def test_a_window_session_refused_before_it_runs_closes_its_sinks(qtbot, monkeypatch):
    """As headless: each refused Start left the --sink sinks built for it open, one more with every try."""
    from eegviz import pipeline, plugins
    from eegviz.errors import EegvizError
    from eegviz.settings import OutputSettings

    closed = []

    class Closing:
        def on_result(self, rec, stimulus=None):
            pass

        def on_skipped(self, marker, reason, kind):
            pass

        def close(self):
            closed.append(self)

    def refused(*args, **kwargs):
        raise EegvizError("--init latent: this model has no latent branch")

    monkeypatch.setitem(plugins._extra["sinks"], "closing", Closing)
    monkeypatch.setattr(pipeline, "Pipeline", refused)
    ctl = SessionController()
    monkeypatch.setattr(ctl, "_load_models", lambda sess: (object(), object()))
    try:
        with qtbot.waitSignal(ctl.error, timeout=START_MS) as err:
            ctl.start(lambda: object(), SessionSettings(output=OutputSettings(sinks=("closing",))))
        assert "no latent branch" in err.args[0]
        assert len(closed) == 1
    finally:
        ctl.shutdown(5.0)


def test_a_source_plugin_failing_mid_session_is_one_line_naming_it_in_the_window(session, qtbot, monkeypatch, caplog):
    """A source plugin raising in read() once started showed "IndexError: ..." naming no plugin, and the session
    logged "failed unexpectedly" with a traceback into the plugin's file, as if eegviz had a bug."""
    import logging

    from eegviz import plugins
    from eegviz.settings import SourceSettings
    from eegviz.sources.xdf import XdfReplaySource

    class Flaky(XdfReplaySource):
        @classmethod
        def from_cli(cls, settings):
            return cls(settings.file, speed=settings.speed)

        def read(self, timeout=0.05):
            raise IndexError("list index out of range")

    monkeypatch.setitem(plugins._extra["sources"], "flaky", Flaky)
    win, ctl = session
    replay = SourceSettings("replay", file=str(demo_recording()), reader="flaky", speed=0.0)
    with caplog.at_level(logging.INFO, logger="eegviz.app.session"):
        with qtbot.waitSignal(ctl.error, timeout=START_MS) as err:
            ctl.start(SourceChoice("file", path=str(demo_recording()), speed=0.0, replay=replay))
    assert err.args == ["source plugin 'flaky' failed in read() (IndexError: list index out of range)"]
    said = [r for r in caplog.records if r.name == "eegviz.app.session"]
    assert said and not [r for r in said if r.levelno >= logging.WARNING or r.exc_info], caplog.text
    qtbot.waitUntil(lambda: ctl.state == "idle", timeout=5000)


def test_what_a_session_leaves_in_reference_cycles_is_freed_when_it_ends(qtbot, monkeypatch):
    """Each session's report draws a matplotlib figure (about 2 MB, in reference cycles); a looping kiosk left them
    to Python's full collection, which in a process holding a model came so seldom that it grew 1.5 MB a loop."""
    import gc
    import weakref
    from types import SimpleNamespace

    from eegviz import pipeline

    left = []

    class Cyclic:
        pass

    class Finishing:
        def __init__(self, *args, **kwargs):
            self.stats = SimpleNamespace(ended=None, markers=0, results=0)

        def run(self, duration=None):
            figure = Cyclic()
            figure.canvas = SimpleNamespace(figure=figure)  # garbage only a cycle collection frees
            left.append(weakref.ref(figure))
            return self.stats

        def stop(self):
            pass

    monkeypatch.setattr(pipeline, "Pipeline", Finishing)
    ctl = SessionController()
    monkeypatch.setattr(ctl, "_load_models", lambda sess: (object(), object()))
    was_enabled = gc.isenabled()
    gc.disable()  # as in a process whose full collection has not come round yet
    try:
        with qtbot.waitSignal(ctl.stopped, timeout=START_MS) as stopped:
            ctl.start(lambda: object(), SessionSettings())
        assert stopped.args == ["finished"]
        assert len(left) == 1 and left[0]() is None
    finally:
        if was_enabled:
            gc.enable()
        ctl.shutdown(5.0)


@pytest.mark.parametrize("where", ["claim", "check"])
def test_a_kiosk_whose_disk_is_full_goes_on_showing_without_recording(qtbot, monkeypatch, tmp_path, where):
    """A full disk failed every session's claim (session.xdf's header; or --out could not be written in at all),
    each ended before its first image, and the kiosk retried behind "waiting for signal" until someone freed the
    disk. Its sessions now run without recording, say so, and leave no partial folder."""
    import errno

    from eegviz.record import xdf_writer
    from test_pipeline import ArraySource, tiny_models

    if where == "claim":
        def full_disk(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(xdf_writer, "SessionRecorder", full_disk)
        out = tmp_path / "kiosk"
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "kiosk"  # check_out_dir refuses it, as it does a disk where nothing can be made
    from eegviz.app import session as session_module

    # each session's end collects cycles (a second in a process holding torch); not what this test is about
    monkeypatch.setattr(session_module.gc, "collect", lambda *args: 0)
    ctl = SessionController(restart_on_end=True, restart_delay_s=60.0)
    models = tiny_models()

    def load(sess):
        sess.model_dir = tmp_path / "model"
        return models

    monkeypatch.setattr(ctl, "_load_models", load)
    notices, images = [], []
    ctl.bridge.status.connect(lambda status: notices.append(status.get("notice")))
    ctl.bridge.reconstruction.connect(lambda rec, stimulus: images.append(rec))
    try:
        with qtbot.waitSignal(ctl.stopped, timeout=START_MS) as stopped:
            ctl.start(ArraySource, SessionSettings().with_output_folder(out))
    finally:
        ctl.shutdown(5.0)
    assert stopped.args == ["finished"] and images and ctl.last_stats.out_dir is None
    said = [n for n in notices if n]
    assert len(said) == 1 and said[0].startswith("not recording this session (") and "goes on showing" in said[0]
    assert not out.exists()  # the claim took back what it made

    # a window someone is at keeps the error: there the recording is what was asked for
    ctl = SessionController()
    monkeypatch.setattr(ctl, "_load_models", load)
    try:
        with qtbot.waitSignal(ctl.error, timeout=START_MS):
            ctl.start(ArraySource, SessionSettings().with_output_folder(out))
    finally:
        ctl.shutdown(5.0)
