"""ImagePanel and HistoryStrip through the window, offscreen: images shown, unknown stimulus, history verdicts."""

import numpy as np
from app_fakes import center_rgb, make_rec

from eegviz.app.panels import HISTORY_LEN


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
    assert window.stimulus_panel.shown_text() == "no --images-dir given"
    assert window.stimulus_panel.pixmap().isNull()


def test_the_stimulus_panel_says_why_a_marker_has_no_image(window, qtbot, info):
    """It said "unknown": a lab user whose live session ran without --images-dir was not told that the folder
    their presenter shows was what was missing, nor, with one, that the marker's id names no image in it."""
    from eegviz.app.kiosk import KioskWindow

    panel = window.stimulus_panel
    label = panel.image_label
    window.on_reconstruction(make_rec(payload="photo_017"), None)
    assert panel.shown_text() == "no --images-dir given" and label.wordWrap()
    assert "'photo_017'" in label.toolTip() and "without --images-dir" in label.toolTip()
    window.set_images_dir("/lab/stimuli")
    window.on_reconstruction(make_rec(payload="photo_017"), None)
    assert panel.shown_text() == "this id is not in --images-dir"
    assert "'photo_017'" in label.toolTip() and "/lab/stimuli" in label.toolTip()
    window.on_reconstruction(make_rec(payload="photo_018"), np.zeros((8, 8, 3), np.uint8))
    assert not panel.pixmap().isNull() and panel.shown_text() == "" and label.toolTip() == ""  # known: no excuse
    kiosk = KioskWindow(info)  # visitors are not told about command-line options
    qtbot.addWidget(kiosk)
    kiosk.on_reconstruction(make_rec(payload="photo_017"), None)
    assert kiosk.stimulus_panel.shown_text() == "unknown" and kiosk.stimulus_panel.image_label.toolTip() == ""


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


def test_each_panel_names_the_image_id_it_shows(window, qtbot, info):
    """Only the status bar named a class: the captions said "saliency map", "reconstruction" and "stimulus (ground
    truth)", so a viewer could not tell which stimulus a reconstruction was made for, nor that the three panels
    showed one epoch. Each now names the marker's image id, on a line kept for it (the panel's height stays)."""
    from PySide6.QtWidgets import QLabel

    from eegviz.app.kiosk import KioskWindow

    kiosk = KioskWindow(info)
    qtbot.addWidget(kiosk)
    for win in (window, kiosk):
        panels = (win.saliency_panel, win.recon_panel, win.stimulus_panel)
        heights = [p.height_for(200) for p in panels]
        win.on_reconstruction(make_rec(payload="star_003", cls="star"), None)
        for p in panels:
            assert "star_003" in [label.text() for label in p.findChildren(QLabel)], p.caption.text()
        assert [p.height_for(200) for p in panels] == heights


def test_a_full_history_does_not_widen_the_window_past_a_narrow_screen(qtbot, info):
    """Eight thumbnails need 810 px: on a 768 px wide (portrait) screen the window grew from 768 to 822 px at the
    session's 8th image, its Stop button off the screen. The strip now hides the oldest that do not fit."""
    from eegviz.app.window import MainWindow

    w = MainWindow(info)
    qtbot.addWidget(w)
    w.fit_to(768, 1024)
    w.show()
    qtbot.waitExposed(w)
    for i in range(HISTORY_LEN):
        w.on_reconstruction(make_rec(payload=f"p{i}", cls=f"c{i}"), None)
        qtbot.wait(10)
    assert w.width() <= 768, w.width()
    assert len(w.history) == HISTORY_LEN  # all kept, ...
    shown = [item for item in w.history if item.isVisible()]
    assert 1 <= len(shown) < HISTORY_LEN and shown[0] is w.history.items[0]  # ... the newest that fit shown
    assert all(item.geometry().right() <= w.history.width() for item in shown)


def test_an_error_in_bold_is_elided_to_the_width_it_is_drawn_at(qtbot):
    """The window's errors are bold (a style sheet set after the text): the text was elided in the regular font,
    so drawn bold it ran past the label and was cut off with no "…" to say there was more."""
    from eegviz.app.window import MainWindow

    w = MainWindow(None)
    qtbot.addWidget(w)
    w.fit_to(800, 700)
    w.show()
    qtbot.waitExposed(w)
    w.show_message("error: " + "a long reason that goes on and on " * 6, error=True)
    label = w.message_label
    assert label.font().bold() and label.text().endswith("…")
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()


def test_images_keep_their_detail_on_a_hidpi_screen(window, monkeypatch):
    """On a 2x screen a panel 210 px wide was given a 210-pixel copy of the 256 px reconstruction, which the
    screen then blew up to 420 pixels: blurred. The pixmap now has the screen's pixels (and says its ratio)."""
    import eegviz.app.panels as panels

    given, real = [], panels.to_pixmap
    monkeypatch.setattr(panels, "to_pixmap", lambda *args: given.append(real(*args)) or given[-1])
    monkeypatch.setattr(panels.ImagePanel, "devicePixelRatioF", lambda self: 2.0)
    monkeypatch.setattr(panels.HistoryStrip, "devicePixelRatioF", lambda self: 2.0)
    window.recon_panel.set_size(210)
    window.recon_panel.set_image(np.zeros((256, 256, 3), np.uint8))
    assert (given[-1].width(), given[-1].devicePixelRatio()) == (420, 2.0)
    assert given[-1].deviceIndependentSize().width() == 210  # laid out at the panel's size all the same
    window.history.push(make_rec(image=np.zeros((256, 256, 3), np.uint8)))
    assert given[-1].width() == 2 * panels.HISTORY_PX and given[-1].deviceIndependentSize().width() == panels.HISTORY_PX
