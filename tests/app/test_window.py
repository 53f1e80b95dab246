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


