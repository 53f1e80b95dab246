"""MainWindow and WindowBridge, offscreen: status bar, events from a worker thread, screenshots."""

import threading

from app_fakes import make_chunk, make_rec

from eegviz.app.bridge import WindowBridge
from eegviz.messages import Marker


def test_status_bar(window):
    window.on_reconstruction(make_rec(timings={"decode": 12.3, "generate": 45.6}, dropped=2), None)
    window.on_reconstruction(make_rec(dropped=3, cls="zebra"), None)
    text = window.status_label.text()  # the important fields, never elided
    assert "fake-amp" in text and "100 Hz" in text and "images 2" in text
    assert "drops 5" in text and "fake-gen" in text and "class zebra" in text
    assert "12.3 ms" in window.details_label.full_text()  # latency breakdown: the elidable part
    assert "12.3 ms" in window.status_text() and "zebra" in window.status_text()
    window.on_status({"drops": 9, "queue": 1})
    assert "drops 9" in window.status_label.text() and "queue 1" in window.details_label.full_text()
    assert "skipped" not in window.status_label.text()  # none yet: no room taken
    window.on_status({"skipped": 4})
    assert "skipped 4" in window.status_label.text() and "NaN" not in window.status_label.text()


def test_bridge_from_worker_thread(window, qtbot):
    bridge = WindowBridge()
    window.connect_bridge(bridge)

    def work():
        bridge.chunk.emit(make_chunk(0.0, 20))
        bridge.marker.emit(Marker(timestamp=0.05, payload="x"))
        bridge.reconstruction.emit(make_rec(payload="from-thread"), None)
        bridge.status.emit({"queue": 3})
        bridge.finished.emit()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: "finished" in window.status_label.text(), timeout=2000)
    assert window.traces.buffer.count == 20
    assert len(window.traces.marker_lines) == 1
    assert window.n_epochs == 1 and "queue 3" in window.details_label.full_text()


def test_save_screenshot(window, tmp_path):
    window.on_reconstruction(make_rec(), None)
    path = tmp_path / "shot.png"
    assert window.save_screenshot(path)
    assert path.stat().st_size > 0




def test_a_start_that_failed_does_not_blame_the_last_session(window):
    """After a finished session, a Start that failed (an LSL stream that does not exist) left that session's
    source, counters and images in the status bar beside "error", as if it had failed; a duration's end showed
    the controller's word "duration"; and where the files went was said only on the terminal."""
    from types import SimpleNamespace

    window.on_reconstruction(make_rec(cls="zebra"), None)
    window.on_session_stopped("duration")
    assert "stopped (duration over)" in window.status_label.text() and "images 1" in window.status_label.text()
    window.on_session_ended(SimpleNamespace(out_dir="/data/run/session-002"))
    assert window.message_label.full_text().endswith("results in /data/run/session-002")
    window.set_session_state("starting")
    window.on_session_error("LSL stream 'nope' was not found")
    text = window.status_label.text()
    assert "error" in text and "fake-amp" not in text and "images 0" in text and "zebra" not in text
    assert window.recon_panel.pixmap() is None or window.recon_panel.pixmap().isNull()
    # an error in a session that had started keeps what it showed
    window.set_session_state("starting")
    window.on_session_started(window.info)
    window.on_reconstruction(make_rec(cls="yak"), None)
    window.on_session_error("the stream was lost")
    assert "yak" in window.status_label.text()


def test_the_window_fits_a_small_screen(qtbot, info):
    """Fixed 256 px panels kept the window at 861 x 552 or more: on an 800 x 480 screen the status bar and the
    Stop button were off-screen."""
    from eegviz.app.window import MainWindow

    w = MainWindow(info)
    qtbot.addWidget(w)
    w.fit_to(800, 480)
    w.show()
    qtbot.waitUntil(lambda: w.isVisible(), timeout=2000)
    assert w.width() <= 800 and w.height() <= 480, (w.width(), w.height())
    assert not w.history.isVisible() and w.recon_panel.image_label.width() < 256


def test_a_small_window_gives_the_reconstruction_the_room(qtbot, info):
    """At 800 x 480 (a 7-inch touchscreen) the three panels were the same 150 px: the reconstruction, what the
    user came to see, was no larger than the saliency map or the stimulus, while the traces had room to spare.
    It now takes that room, the other two shrink, and every control and the status bar stay in the window; a
    window with room for three full-size panels shows them as before."""
    from PySide6.QtWidgets import QApplication

    from eegviz.app.window import PANEL_PX, MainWindow

    for size in ((800, 480), (1024, 600), (1366, 768), (1920, 1080)):
        w = MainWindow(info)
        qtbot.addWidget(w)
        w.fit_to(*size)
        w.show()
        qtbot.waitUntil(lambda: w.isVisible(), timeout=2000)
        w.on_reconstruction(make_rec(), None)
        QApplication.processEvents()
        assert (w.width(), w.height()) == size
        main, sal, stim = (p.image_label.width() for p in (w.recon_panel, w.saliency_panel, w.stimulus_panel))
        bar = w.statusBar().geometry()
        assert bar.bottom() < w.height() and w.controls.stop_button.geometry().right() < w.width(), size
        assert w.traces.height() >= w.traces.minimumHeight()
        if size == (800, 480):
            assert main >= 180 and sal == stim <= 0.7 * main, (main, sal, stim)
            # the smaller images level with each other beside the reconstruction, above the status bar
            sal_y, stim_y = (p.image_label.mapTo(w, p.image_label.rect().topLeft()).y()
                             for p in (w.saliency_panel, w.stimulus_panel))
            assert sal_y == stim_y
            cap = w.recon_panel.caption
            assert cap.mapTo(w, cap.rect().bottomLeft()).y() < bar.top()
        else:
            assert main == sal == stim >= PANEL_PX, (size, main, sal, stim)
        if size == (1920, 1080):
            # a large window's panels grow (they stopped at 256 px, a quarter of its height), sharing the height
            # with the traces, which keep a third of the window, and all three still fit side by side
            assert main >= 1.6 * PANEL_PX and w.traces.height() >= 300, (main, w.traces.height())
            assert w.stimulus_panel.image_label.mapTo(w, w.stimulus_panel.image_label.rect().topRight()).x() < size[0]
        w.close()


def test_one_resize_takes_a_window_with_history_down_to_800_x_480(qtbot, info):
    """The history strip's thumbnails counted in the window's minimum while it was shown, so a 1280 x 860 window
    with a history, resized to 800 x 480 (moved to a 7-inch screen, a tiling window manager), became 800 x 504:
    the status bar lay below the screen until a second resize."""
    from PySide6.QtWidgets import QApplication

    from eegviz.app.window import MainWindow

    w = MainWindow(info)
    qtbot.addWidget(w)
    w.fit_to(1280, 860)
    w.show()
    qtbot.waitUntil(lambda: w.isVisible(), timeout=2000)
    for i in range(8):
        w.on_reconstruction(make_rec(payload=f"p{i}"), None)
    QApplication.processEvents()
    assert w.history.isVisible() and w.history.height() >= 96  # shown in full where there is room
    w.resize(800, 480)
    QApplication.processEvents()
    assert (w.width(), w.height()) == (800, 480) and not w.history.isVisible()
    assert w.statusBar().geometry().bottom() < 480


def test_the_status_bar_shows_the_marker_to_image_latency_first(window, qtbot):
    """The pipeline's stages come in order, the end-to-end marker_to_image last: at 1280 px the details were elided
    to "latency epoch_wait … · generate 52.5 ms · ep…", so the one number the summary line reports was never seen."""
    timings = {"epoch_wait": 598.3, "queue": 4.4, "decode": 32.2, "generate": 92.1, "epoch_to_image": 128.7,
               "marker_to_image": 726.9}
    window.resize(1280, 860)
    window.show()
    qtbot.waitExposed(window)
    window.on_reconstruction(make_rec(timings=timings), None)
    details = window.details_label
    qtbot.waitUntil(lambda: details.text() != details.full_text(), timeout=2000)  # elided: the window is too narrow
    assert details.text().startswith("latency marker_to_image 726.9 ms")
    assert "epoch_wait 598.3 ms" in details.full_text() and "generate 92.1 ms" in details.full_text()


def test_one_resize_shrinks_a_large_window_as_far_as_its_controls_allow(qtbot, info):
    """A window manager snapping a 1280 px window to half a 1366 px screen (683 px): the window's minimum followed
    its panels as they were (256 px), so the snap was refused at 816 px, and each later resize won only ~36 px."""
    from PySide6.QtWidgets import QApplication

    from eegviz.app.window import MainWindow

    w = MainWindow(info)
    qtbot.addWidget(w)
    w.fit_to(1280, 860)
    w.show()
    qtbot.waitUntil(lambda: w.isVisible(), timeout=2000)
    w.resize(683, 800)
    QApplication.processEvents()
    floor = w.controls.minimumSizeHint().width() + 12  # the control bar's own minimum, and the window's margins
    assert w.width() <= max(683, floor), (w.width(), floor)
    main, side = w.recon_panel.image_label.width(), w.saliency_panel.image_label.width()
    assert side < 256 and main + 2 * side + 3 * 12 + 24 <= w.width()  # the panels fit what the window got


def test_the_model_field_takes_the_spare_width_before_start(qtbot, info):
    """At 800 px the model field got 96 px (a long path shows only its last few letters) beside a 107 px gap."""
    from eegviz.app.window import MainWindow

    w = MainWindow(info)
    qtbot.addWidget(w)
    w.fit_to(800, 700)
    w.show()
    qtbot.waitUntil(lambda: w.isVisible(), timeout=2000)
    c = w.controls
    gap = c.start_button.x() - (c.model_browse_button.x() + c.model_browse_button.width())
    assert c.model_edit.width() > 2 * gap, (c.model_edit.width(), gap)


def test_a_long_source_label_keeps_the_stream_name(window):
    """Replaying sub-01_ses-02_task-rsvp_run-03_eeg.xdf showed 'XDF sub-01_ses-02_task-rsvp_run-03_eeg.…': the cut
    at the end took the stream's name, the part that tells which stream of the file is shown."""
    from eegviz.app.window import SOURCE_NAME_CHARS

    window.source_label = "XDF sub-01_ses-02_task-rsvp_run-03_eeg.xdf"
    text = window._source_text()
    assert len(text) == SOURCE_NAME_CHARS and text.startswith("XDF sub-01") and "…" in text
    assert text.endswith(window.info.name) and window.info.name == "fake-amp"
    window.source_label = "XDF short.xdf"
    assert window._source_text() == "XDF short.xdf: fake-amp"


def test_the_status_bar_state_is_not_clipped_in_an_800_px_window(qtbot):
    """At 800 px, with a skip counted, the always-shown fields were wider than the window and their last one, the
    state, was clipped to "stopped (du": the fields that stay the same all session (channels and rate, the
    generator) move to the elided details there, and come back when the window is wide enough."""
    from eegviz.app.window import MainWindow
    from eegviz.messages import StreamInfo

    info = StreamInfo(name="eegviz-sim", ch_names=tuple(f"E{i}" for i in range(128)), sfreq=250.0)
    w = MainWindow(None)
    qtbot.addWidget(w)
    w.fit_to(800, 700)
    w.show()
    qtbot.waitExposed(w)
    w.set_session_state("starting")
    w.on_session_started(info, "simulator")
    w.on_reconstruction(make_rec(cls="hourglass"), None)
    w.on_status({"skipped": 1})
    w.on_session_stopped("duration")
    label = w.status_label
    qtbot.waitUntil(lambda: label.width() >= label.fontMetrics().horizontalAdvance(label.text()), timeout=2000)
    assert label.text().endswith("stopped (duration over)") and "skipped 1" in label.text()
    assert label.geometry().right() <= w.statusBar().width()
    assert "128 ch, 250 Hz" in w.details_label.full_text() and "generator fake-gen" in w.details_label.full_text()
    w.resize(1200, 700)
    qtbot.waitUntil(lambda: "generator fake-gen" in label.text(), timeout=2000)
    assert "(128 ch, 250 Hz)" in label.text() and "fake-gen" not in w.details_label.full_text()


def test_a_lost_stream_is_said_on_the_message_line(window):
    """The LSL source's "lost; waiting for it to come back" notices reached only the end of the elided details
    (the marker stream's replacing the EEG's there): the message line went on saying "running: ..." over traces
    that had stopped. Notices that come together share the line; a later one replaces them."""
    window.set_session_state("starting")
    window.on_session_started(window.info, "LSL amp")
    window.set_session_state("running")
    assert window.message_label.full_text().startswith("running: LSL amp")
    window.on_status({"notice": "LSL stream 'amp' lost; waiting for it to come back (same name and source_id)"})
    window.on_status({"notice": "LSL marker stream 'mk' lost; waiting for it to come back (same name and source_id)"})
    shown = window.message_label.full_text()
    assert shown.startswith("notice: LSL stream 'amp' lost") and "marker stream 'mk' lost" in shown
    window._notice_at -= 5  # some time later
    window.on_status({"notice": "LSL stream 'amp' is back"})
    assert window.message_label.full_text() == "notice: LSL stream 'amp' is back"
    assert "running" in window.status_label.text()


def test_a_replay_that_made_no_image_says_so_in_red(window):
    """A recording whose every epoch held NaN samples ended with "finished: the recording has been played to the
    end", as if it had worked (the headless run exits non-zero with the reason)."""
    from collections import Counter

    from eegviz.messages import SkipKind
    from eegviz.pipeline import Stats

    window.on_session_stopped("finished")
    stats = Stats(markers=40, skipped=40, skip_kinds=Counter({SkipKind.NAN: 40}), ended="finished",
                  out_dir="/data/run")
    window.on_session_ended(stats)
    shown = window.message_label.full_text()
    assert shown.startswith("finished: ") and "none of the 40 markers got a reconstruction" in shown
    assert shown.endswith("results in /data/run") and "c00000" in window.message_label.styleSheet()
    window.on_session_stopped("finished")  # a replay that worked: no "but"
    window.on_session_ended(Stats(markers=2, results=2, ended="finished"))
    assert window.message_label.full_text() == "finished: the recording has been played to the end"


def test_the_title_names_the_source_the_session_runs(window):
    """The title named the command line's source ("eegviz replay demo.xdf") after the user had chosen and started
    another in the window."""
    window.setWindowTitle("eegviz replay demo.xdf")
    window.set_session_state("starting")
    window.on_session_started(window.info, "LSL amp")
    assert window.windowTitle() == "eegviz: LSL amp"


def test_a_failed_start_leaves_no_source_in_the_title(window):
    """After a Start that failed (a stream that cannot be found) the title still named the last session's source,
    "eegviz: LSL amp", as if it were running; the status bar beside it had been cleared. A Start's title names no
    source until its own has started; the command line's stays while its session starts."""
    window.setWindowTitle("eegviz replay demo.xdf")
    window.set_session_state("starting")
    assert window.windowTitle() == "eegviz replay demo.xdf"
    window.on_session_started(window.info, "LSL amp")
    window.on_session_stopped("stopped")
    window.set_session_state("starting")
    window.on_session_error("LSL stream 'hD-gone' was not found")
    assert window.windowTitle() == "eegviz"


def test_earlier_notices_stay_listed_with_their_times(window, qtbot):
    """The message line shows only the latest notice: "LSL stream 'amp' lost" was gone for good once "... is
    back" or a session error replaced it, and the operator of a kiosk running for hours could not tell what had
    happened. The notices button lists the recent ones, newest first, with times; the list is bounded."""
    import re

    from eegviz.app.session_window import NOTICE_HISTORY_LEN

    window.show()
    assert not window.notices_button.isVisible()  # nothing to list: no room taken
    line_h = window.message_label.height()
    window.on_status({"notice": "LSL stream 'amp' lost; waiting for it to come back"})
    window._notice_at -= 5
    window.on_status({"notice": "LSL stream 'amp' is back"})
    window.on_session_error("LSL stream 'amp' sends NaN & inf")
    assert window.message_label.full_text().startswith("error: ")
    assert window.notices_button.isVisible() and window.notices_button.text() == "notices: 3"
    assert window.notices_button.height() <= line_h + 2  # the message row is no taller
    lines = window.notice_lines()
    assert [re.sub(r"^\d\d:\d\d:\d\d  ", "", s) for s in lines] == [
        "error: LSL stream 'amp' sends NaN & inf", "LSL stream 'amp' is back",
        "LSL stream 'amp' lost; waiting for it to come back"]
    assert "&&" in window.notices_menu.actions()[0].text()  # shown as "&", not as a shortcut key

    for i in range(NOTICE_HISTORY_LEN + 20):
        window.on_status({"notice": f"n{i}"})
    assert len(window.notices) == NOTICE_HISTORY_LEN and window.notice_count == NOTICE_HISTORY_LEN + 23
    lines = window.notice_lines()
    assert len(lines) == NOTICE_HISTORY_LEN and lines[0].endswith(f"n{NOTICE_HISTORY_LEN + 19}")
    assert window.notices_menu.actions()[-1].text() == "(23 earlier not kept)"


def test_the_message_line_says_a_session_is_stopping(window):
    """After Stop the line went on saying "running: ..." while the last image was made and the files closed
    (seconds on CPU with a real model); only the status bar's last word changed."""
    window.set_session_state("starting")
    window.on_session_started(window.info, "demo recording")
    window.set_session_state("running")
    window.set_session_state("stopping")
    assert window.message_label.full_text().startswith("stopping: ")
    window.set_session_state("idle")
    window.on_session_stopped("stopped")
    assert window.message_label.full_text() == "stopped"


def test_a_stop_while_the_session_starts_says_what_it_waits_for(window):
    """A Stop while the model loads (tens of seconds for a diffusers model on CPU) said "finishing the image
    being made and closing the session's files", though no image was being made and no file was open yet."""
    window.set_session_state("starting")
    window.set_session_state("stopping")
    shown = window.message_label.full_text()
    assert shown.startswith("stopping: ") and "not started yet" in shown and "model to load" in shown
    assert "image" not in shown
    window.set_session_state("idle")
    window.on_session_stopped("stopped")
    window.set_session_state("starting")  # Start again: this one starts, then is stopped
    window.on_session_started(window.info, "demo recording")
    window.set_session_state("running")
    window.set_session_state("stopping")
    assert "finishing the image being made" in window.message_label.full_text()


def test_a_new_start_clears_the_last_sessions_images_and_waits_for_its_first(window):
    """At Start the previous session's images, history and counters stayed on screen while the new one loaded its
    model and opened its source, as if they were the new session's. They are cleared at Start, the panels saying
    they wait for the first epoch until it comes, and no longer once the session ended without one."""
    import numpy as np

    panels = (window.saliency_panel, window.recon_panel, window.stimulus_panel)
    window.on_reconstruction(make_rec(payload="star_003", cls="star"), np.zeros((8, 8, 3), np.uint8))
    window.on_session_stopped("finished")
    window.set_session_state("starting")
    assert all(p.pixmap() is None or p.pixmap().isNull() for p in panels) and len(window.history) == 0
    assert "images 0" in window.status_label.text() and "class star" not in window.status_label.text()
    assert [p.detail_text() for p in panels] == ["waiting for the first epoch"] * 3
    window.on_session_started(window.info, "demo recording")
    assert [p.detail_text() for p in panels] == ["waiting for the first epoch"] * 3
    window.on_reconstruction(make_rec(payload="bolt_001", cls="bolt"), None)
    assert [p.detail_text() for p in panels] == ["bolt_001"] * 3
    window.set_session_state("starting")
    window.on_session_stopped("stopped")  # stopped before its first epoch: nothing to wait for
    assert [p.detail_text() for p in panels] == [""] * 3
