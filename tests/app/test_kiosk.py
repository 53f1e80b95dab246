"""KioskWindow, offscreen: full screen, the waiting-for-signal overlay, the decoded-class caption."""

from app_fakes import make_chunk, make_rec

from eegviz.app.kiosk import KioskWindow


def test_kiosk_overlay(qtbot, info):
    w = KioskWindow(info, signal_timeout_s=0.2)
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


