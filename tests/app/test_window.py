"""MainWindow and QtBridge, offscreen: traces, markers, image panels, history, status bar, kiosk overlay, threads."""

import threading

import numpy as np
import pytest

from eegviz.app.window import HISTORY_LEN, MainWindow, QtBridge
from eegviz.messages import Chunk, Decoded, Epoch, Marker, Reconstruction, StreamInfo

SFREQ = 100.0
N_CH = 32


@pytest.fixture
def info():
    return StreamInfo(name="fake-amp", ch_names=tuple(f"E{i}" for i in range(N_CH)), sfreq=SFREQ)


def make_chunk(t0: float, n: int = 10, rng=np.random.default_rng(0)) -> Chunk:
    samples = (rng.standard_normal((n, N_CH)) * 1e-5).astype(np.float32)
    return Chunk(samples=samples, timestamps=t0 + np.arange(n) / SFREQ)


def make_rec(payload="img_001", image=None, timings=None, dropped=0, cls="dog") -> Reconstruction:
    marker = Marker(timestamp=1.0, payload=payload)
    epoch = Epoch(data=np.zeros((N_CH, 50), np.float32), sfreq=SFREQ, ch_names=(), tmin=0.0, marker=marker, t_ready=0.0)
    decoded = Decoded(
        epoch=epoch,
        feature=np.zeros(8, np.float32),
        saliency=np.full((16, 16, 3), 0.5, np.float32),
        embedding=np.zeros((2, 4), np.float32),
        class_scores=np.array([0.1, 0.9]),
        class_names=("cat", cls),
    )
    if image is None:
        image = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    return Reconstruction(
        decoded=decoded, image=image, generator="fake-gen", timings_ms=timings or {"decode": 12.3}, dropped_before=dropped
    )


def center_rgb(panel):
    pm = panel.pixmap()
    assert pm is not None and not pm.isNull()
    c = pm.toImage().pixelColor(pm.width() // 2, pm.height() // 2)
    return c.red(), c.green(), c.blue()


@pytest.fixture
def window(qtbot, info):
    w = MainWindow(info)
    qtbot.addWidget(w)
    return w


def test_traces_fill_ring_buffer_and_cap_at_window(window):
    assert len(window.curves) == 16
    window.on_chunk(make_chunk(0.0, 30))
    window.refresh_traces()
    x, y = window.curves[0].getData()
    assert len(x) == 30 and len(y) == 30
    for k in range(1, 80):  # 80 * 10 samples = 8 s > the 5 s window
        window.on_chunk(make_chunk(0.3 + k * 0.1, 10))
    window.refresh_traces()
    x, _ = window.curves[0].getData()
    assert len(x) == int(5 * SFREQ)
    assert np.all(np.diff(x) > 0)  # time order survives the wrap-around


def test_refresh_is_throttled_not_per_chunk(window, qtbot):
    window.on_chunk(make_chunk(0.0, 10))
    assert window.curves[0].getData()[0] is None or len(window.curves[0].getData()[0]) == 0
    qtbot.waitUntil(lambda: window.curves[0].getData()[0] is not None and len(window.curves[0].getData()[0]) == 10,
                    timeout=1000)


def test_marker_lines_added_and_pruned(window):
    window.on_chunk(make_chunk(0.0, 50))
    for i in range(3):
        window.on_marker(Marker(timestamp=0.1 * i, payload=f"m{i}"))
    window.refresh_traces()
    assert len(window.marker_lines) == 3
    assert window.marker_lines[1].label.format == "m1"
    window.on_chunk(make_chunk(10.0, 10))  # marker times now far outside the last 5 s
    window.refresh_traces()
    assert len(window.marker_lines) == 0


def test_panels_show_given_images(window):
    red = np.zeros((20, 20, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((20, 20, 3), np.uint8)
    blue[..., 2] = 255
    window.on_reconstruction(make_rec(image=red), blue)
    assert center_rgb(window.recon_panel) == (255, 0, 0)
    assert center_rgb(window.stimulus_panel) == (0, 0, 255)
    r, g, b = center_rgb(window.saliency_panel)
    assert abs(r - 128) <= 1 and r == g == b
    assert window.recon_panel.pixmap().width() == 256


def test_unknown_stimulus(window):
    window.on_reconstruction(make_rec(), None)
    assert window.stimulus_panel.image_label.text() == "unknown"
    assert window.stimulus_panel.pixmap().isNull()


def test_history_capped(window):
    for i in range(11):
        window.on_reconstruction(make_rec(payload=f"p{i}", cls=f"c{i}"), None)
    assert len(window.history) == HISTORY_LEN
    caps = [w.findChildren(type(window.status_label))[1] for w in window.history]
    assert caps[0].text() == "c10" and caps[-1].text() == "c3"  # the decoded class, newest first
    assert "p10" in caps[0].toolTip()  # the marker's own id stays at hand


def test_history_marks_hits_and_misses_only_when_the_truth_is_known(window):
    window.on_reconstruction(make_rec(payload="star_003", cls="star"), np.zeros((8, 8, 3), np.uint8))
    window.on_reconstruction(make_rec(payload="star_004", cls="bolt"), np.zeros((8, 8, 3), np.uint8))
    window.on_reconstruction(make_rec(payload="lab-image-17", cls="bolt"), None)
    unknown, miss, hit = [w.findChildren(type(window.status_label))[1] for w in window.history]
    assert hit.text() == "star ✓" and "1a8f2e" in hit.styleSheet()
    assert miss.text() == "bolt ✗" and "c62828" in miss.styleSheet()
    assert unknown.text() == "bolt" and unknown.styleSheet() == ""


def test_time_axis_starts_at_the_session_and_has_a_microvolt_scale_bar(window):
    window.on_chunk(make_chunk(5000.0, 100))  # an LSL clock far from zero
    window.on_marker(Marker(timestamp=5000.5, payload="m"))
    window.refresh_traces()
    x, _ = window.curves[0].getData()
    assert x[0] == 0.0 and abs(x[-1] - 0.99) < 1e-9
    assert abs(window.marker_lines[0].value() - 0.5) < 1e-9
    # traces are 10 uV noise: one trace spacing is 6 standard deviations (60 uV); the bar is a 1-2-5 value below
    assert window.scale_uv == 20.0 or window.scale_uv == 50.0
    assert window.scale_text.toPlainText() == f"{window.scale_uv:g} µV"
    bx, by = window.scale_bar.getData()
    spacing_uv = 1 / (by[1] - by[0]) * window.scale_uv
    assert 40 < spacing_uv < 80


def test_status_bar(window):
    window.on_reconstruction(make_rec(timings={"decode": 12.3, "generate": 45.6}, dropped=2), None)
    window.on_reconstruction(make_rec(dropped=3, cls="zebra"), None)
    text = window.status_label.text()  # the important fields, never elided
    assert "fake-amp" in text and "100 Hz" in text and "epochs 2" in text
    assert "drops 5" in text and "fake-gen" in text and "class zebra" in text
    assert "12.3 ms" in window.details_label.full_text()  # latency breakdown: the elidable part
    assert "12.3 ms" in window.status_text() and "zebra" in window.status_text()
    window.on_status({"drops": 9, "queue": 1})
    assert "drops 9" in window.status_label.text() and "queue 1" in window.details_label.full_text()


def test_kiosk_overlay(qtbot, info):
    w = MainWindow(info, kiosk=True, signal_timeout_s=0.2)
    qtbot.addWidget(w)
    w.show_kiosk()
    assert w.isFullScreen()
    assert w.waiting_for_signal  # nothing arrived yet
    w.on_chunk(make_chunk(0.0))
    assert not w.waiting_for_signal
    qtbot.waitUntil(lambda: w.waiting_for_signal, timeout=2000)
    assert w.overlay.isVisible()
    w.on_chunk(make_chunk(1.0))
    assert not w.overlay.isVisible()
    w.on_reconstruction(make_rec(cls="zebra"), None)
    assert w.class_caption.text() == "decoded: zebra"


def test_bridge_from_worker_thread(window, qtbot):
    bridge = QtBridge()
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
    assert window._count == 20
    assert len(window.marker_lines) == 1
    assert window.n_epochs == 1 and "queue 3" in window.details_label.full_text()


def test_save_screenshot(window, tmp_path):
    window.on_reconstruction(make_rec(), None)
    path = tmp_path / "shot.png"
    assert window.save_screenshot(path)
    assert path.stat().st_size > 0


def test_nan_samples_leave_holes_not_blank_traces(window):
    chunk = make_chunk(0.0, 100)
    chunk.samples[40:60, 0] = np.nan  # an amplifier dropout on the first drawn channel
    window.on_chunk(chunk)
    window.refresh_traces()
    _, y0 = window.curves[0].getData()
    _, y1 = window.curves[1].getData()
    assert np.isnan(y0[40:60]).all() and np.isfinite(y0[:40]).all()
    assert np.isfinite(y1).all() and window.scale_uv > 0  # the others keep their scale
