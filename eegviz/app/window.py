"""MainWindow: the live window, composed of the controls, the EEG traces, the image panels and a status bar.

Each part is its own widget (ControlBar, TraceView, ImagePanel, HistoryStrip, in their modules); this module
lays them out and routes the session's events to them. What a session window does regardless of its layout
(counters, the controller's and the bridge's slots) is in SessionWindow; the kiosk layout is KioskWindow.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from eegviz.app.controls import ControlBar
from eegviz.app.panels import ElidedLabel, HistoryStrip, ImagePanel
from eegviz.app.session_window import SessionWindow
from eegviz.app.source_choice import SourceChoice
from eegviz.app.traces import TraceView
from eegviz.messages import Chunk, Marker, Reconstruction, StreamInfo

PANEL_PX = 256  # the panels' size in a window of ordinary size; smaller windows shrink them (_fit_parts)
MAX_PANEL_PX = 512  # a large window's panels grow up to this (_grown), sharing the spare height with the traces
MIN_PANEL_PX = 96
HISTORY_MIN_WINDOW_H = 700  # shorter windows leave the history strip out (its thumbnails are in results/ too)
HISTORY_H = 140  # the strip, its title and captions
FIT_SLACK_PX = 4  # kept free below the panels when fitting them (rounding in the layout)
PANELS_ROW_W = 84  # the window's width beside the three images: margins, the panels' own margins, spacing
SOURCE_NAME_CHARS = 40  # longer source names (XDF file stems) are shortened in the status bar
STATUS_BAR_SLACK_PX = 36  # the status bar's size grip and margins, and a little of the details label
NOTICE_JOIN_S = 1.0  # notices this close together share the message line (an EEG stream's loss and its markers')
LATENCY_FIRST = "marker_to_image"  # the status bar's latency starts with this stage (the pipeline's name)
NOTICE_MENU_PX = 640  # a notice longer than this is elided in the notices list (in full as the entry's tooltip)
WAITING_TEXT = "waiting for the first epoch"  # the panels' line while a session starts or runs with no image yet


class MainWindow(SessionWindow):
    """Live view of one session: controls on top, a message line, the traces, three image panels, the history
    strip and a two-part status bar. The controls pick the source and the model and start/stop sessions."""

    def __init__(self, info: StreamInfo | None = None, title: str = "eegviz", parent=None):
        super().__init__(info, title=title, parent=parent)
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(6, 6, 6, 6)

        self.controls = ControlBar()
        self.controls.start_requested.connect(self.start_requested)
        self.controls.stop_requested.connect(self.stop_requested)
        root.addWidget(self.controls)
        # One line for what the session is doing, and errors in red; long messages are elided (full text on hover).
        self.message_label = ElidedLabel()
        self.message_label.setStyleSheet("color: #505050;")
        # At its end, once there is one, a small button that lists the recent notices and errors with their times:
        # the line shows only the latest. As tall as the line, so the window's height budget stays as it was.
        self.notices_button = QToolButton()
        self.notices_button.setAutoRaise(True)
        self.notices_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.notices_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.notices_button.setToolTip("the recent notices and errors, newest first")
        self.notices_button.setMaximumHeight(self.message_label.sizeHint().height() + 2)
        self.notices_menu = QMenu(self.notices_button)
        self.notices_menu.setToolTipsVisible(True)
        self.notices_menu.aboutToShow.connect(self._fill_notices_menu)
        self.notices_button.setMenu(self.notices_menu)
        self.notices_button.hide()
        message_row = QHBoxLayout()
        message_row.setContentsMargins(0, 0, 0, 0)
        message_row.addWidget(self.message_label, 1)
        message_row.addWidget(self.notices_button, 0)
        root.addLayout(message_row)

        self.traces = TraceView()
        self.traces.set_stream_info(self.info)
        root.addWidget(self.traces, 3)

        panels = QHBoxLayout()
        self.saliency_panel = ImagePanel("saliency map", PANEL_PX)
        self.recon_panel = ImagePanel("reconstruction", PANEL_PX)
        self.stimulus_panel = ImagePanel("stimulus (ground truth)", PANEL_PX)
        panels.addStretch(1)
        for p in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
            # centred on the reconstruction's height when they are smaller (_fit_parts): stretched to it, their
            # captions floated half-way down, apart from their images
            panels.addWidget(p, 0, Qt.AlignmentFlag.AlignVCenter)
        panels.addStretch(1)
        # In a container whose minimum is the smallest panels' (MIN_PANEL_PX), not the present ones': the window's
        # minimum followed the panels as they were, so a window-manager snap to half a 1366 px screen was refused
        # (the window stayed 816 px wide) and each later resize won only the ~36 px the panels had shrunk since.
        # resizeEvent then fits the panels to whatever width the window got.
        row = QWidget()
        row.setLayout(panels)
        row.setMinimumSize(3 * (MIN_PANEL_PX + 12), MIN_PANEL_PX + 30)
        root.addWidget(row, 0)

        self.history_title = QLabel("history")
        self.history_title.setStyleSheet("color: #606060;")
        root.addWidget(self.history_title)
        self.history = HistoryStrip()
        root.addWidget(self.history, 0)

        self.setCentralWidget(central)
        # Two labels: the important fields (source, class, drops, skips, images) always shown in full on the left; the
        # latency breakdown and other details fill the rest and are elided when the window is too narrow.
        self.status_label = QLabel()
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label = ElidedLabel()
        self.details_label.setStyleSheet("color: #606060;")
        self.statusBar().addWidget(self.status_label, 0)
        self.statusBar().addWidget(self.details_label, 1)
        self._notice_at: float | None = None  # time.monotonic() of the notice the message line shows
        self._waiting = False  # the panels say WAITING_TEXT (_say_waiting)
        self.set_session_state("idle")
        self.resize(1200, 900)

    def fit_to(self, w: int, h: int) -> None:
        """Resize to w x h (a screen's free area), the panels and the history strip first made to fit it: the
        window's minimum size follows them, so fitting after the resize was too late."""
        self._fit_parts(w, h)
        self.resize(w, h)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Panels as large as the window allows, up to PANEL_PX, and the history strip only where there is room:
        with fixed 256 px panels the window could not be smaller than 861 x 552 (and grew with the history), so
        on a 1024 x 600 or 800 x 480 screen its status bar, and on the narrower its Stop button, were off-screen."""
        super().resizeEvent(event)
        if hasattr(self, "history"):  # (resized while it is being built)
            self._fit_parts(self.width(), self.height())
            self._update_status()  # the status bar's fields, compact or not, for the new width

    def _fit_parts(self, w: int, h: int) -> None:
        """The reconstruction first: as large as the window allows, up to PANEL_PX (more in a large window:
        _grown), and the saliency map and the stimulus beside it no larger, shrinking twice as fast once it has to
        shrink. All three were the same size, so on an 800 x 480 touchscreen the reconstruction got 150 px, as
        much as either of the others; it now takes the height the traces have beyond their minimum. A window with
        room for three PANEL_PX panels (1024 x 600 and up) shows three panels of one size."""
        show_history = h >= HISTORY_MIN_WINDOW_H
        self.history.setVisible(show_history)
        self.history_title.setVisible(show_history)
        sides = (self.saliency_panel, self.stimulus_panel)
        for p in sides:
            p.caption.setMinimumHeight(0)  # heightForWidth answers no less than the minimum set last time
        room_h = h - self._height_beside_panels(show_history)
        most = min(self._grown(w, room_h), w - PANELS_ROW_W - 2 * MIN_PANEL_PX)
        self.recon_panel.detail.show()
        main = self._fitting(self.recon_panel, most, room_h)
        if main < PANEL_PX:
            # Too short a window (800 x 480) for the reconstruction's image-id line as well: it would cost the image
            # 22 px; the saliency map and the stimulus beside it, shorter, name the id without losing any.
            self.recon_panel.detail.hide()
            main = self._fitting(self.recon_panel, most, room_h)
        side = min(main, (w - PANELS_ROW_W - main) // 2, 2 * main - PANEL_PX)
        side = min(self._fitting(p, side, room_h) for p in sides)
        self.recon_panel.set_size(main)
        for p in sides:
            p.set_size(side)
        # both side captions as tall as the taller (as the kiosk's): "stimulus (ground truth)" wraps to two lines
        # at side sizes, and its image, centred beside the reconstruction, sat 9 px above the saliency map's
        caption_h = max(p.caption.heightForWidth(side) for p in sides)
        for p in sides:
            p.caption.setMinimumHeight(caption_h)

    def _grown(self, w: int, room_h: int) -> int:
        """PANEL_PX, or larger where the window has room for three larger panels: half the height left beyond
        three PANEL_PX panels (the traces take the other half), as wide as three fit, up to MAX_PANEL_PX. The
        panels stopped at 256 px, so a maximised full-HD window showed the images at a quarter of its height
        and gave every spare pixel to the traces."""
        spare_h = room_h - self.recon_panel.height_for(PANEL_PX)
        by_width = (w - PANELS_ROW_W) // 3
        return max(PANEL_PX, min(MAX_PANEL_PX, PANEL_PX + spare_h // 2, by_width))

    def _height_beside_panels(self, show_history: bool) -> int:
        """The window's height less the panels' row, everything else at its least: the controls, the message line,
        the traces' minimum, the history (when shown), the status bar, the margins and spacing between them."""
        root = self.centralWidget().layout()
        m, row = root.contentsMargins(), self.recon_panel.parentWidget().layout().contentsMargins()
        parts = (self.controls.minimumSizeHint().height(), self.notices_button.maximumHeight(),
                 self.traces.minimumHeight(), HISTORY_H if show_history else 0)
        return (m.top() + m.bottom() + 3 * root.spacing() + sum(parts) + row.top() + row.bottom()
                + self.statusBar().sizeHint().height() + FIT_SLACK_PX)

    @staticmethod
    def _fitting(panel: ImagePanel, size: int, room_h: int) -> int:
        """The largest image size up to size whose panel, caption included, is at most room_h tall (at least
        MIN_PANEL_PX: a smaller window is refused by the window's minimum size instead)."""
        for _ in range(4):  # a narrower caption may wrap to one more line: settles in a step or two
            if size <= MIN_PANEL_PX or panel.height_for(size) <= room_h:
                break
            size = min(size - 1, room_h - (panel.height_for(size) - size))
        return int(max(MIN_PANEL_PX, size))

    # ---------------------------------------------------------------- routing

    def _stream_changed(self, reset: bool) -> None:
        """New stream: new traces; with reset, the image panels and the history are cleared too."""
        self.traces.set_stream_info(self.info)
        if reset:
            for panel in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
                panel.set_image(None)
            self.history.clear()

    def on_chunk(self, chunk: Chunk) -> None:
        """Copy the displayed channels into the trace buffer; drawing waits for the trace view's timer."""
        super().on_chunk(chunk)
        self.traces.on_chunk(chunk)

    def on_marker(self, marker: Marker) -> None:
        self.traces.on_marker(marker)

    def on_status(self, status: dict) -> None:
        """A source's or the pipeline's notice goes on the message line as well: at the end of the elided details
        alone, "LSL stream 'amp' lost; waiting for it to come back" was never seen (the marker stream's loss,
        a moment later, even replaced it there), so the window said "running" over traces that had stopped."""
        notice = (status or {}).get("notice")
        super().on_status(status)
        if notice:
            now, shown = time.monotonic(), self.message_label.full_text()
            if self._notice_at is not None and now - self._notice_at < NOTICE_JOIN_S and shown.startswith("notice: "):
                notice = f"{shown[len('notice: '):]} · {notice}"
            self._notice_at = now
            self.show_message(f"notice: {notice}")

    def _notices_changed(self) -> None:
        """Count the notice on the button; the list itself is made when it is opened (_fill_notices_menu)."""
        self.notices_button.setText(f"notices: {self.notice_count}")
        self.notices_button.show()

    def _fill_notices_menu(self) -> None:
        """List self.notices, newest first, each with its time of day; long ones elided, in full as the tooltip."""
        self.notices_menu.clear()
        metrics = self.notices_menu.fontMetrics()
        for line in self.recent_notices():
            shown = metrics.elidedText(line.replace("\t", " "), Qt.TextElideMode.ElideRight, NOTICE_MENU_PX)
            action = self.notices_menu.addAction(shown.replace("&", "&&"))  # "&" is no shortcut key here
            action.setToolTip(line)
        forgotten = self.notice_count - len(self.notices)
        if forgotten > 0:
            self.notices_menu.addSeparator()
            self.notices_menu.addAction(f"({forgotten} earlier not kept)").setEnabled(False)

    def notice_lines(self) -> list[str]:
        """The notices list as it opens, newest first (full texts, with times)."""
        self._fill_notices_menu()
        return [a.toolTip() for a in self.notices_menu.actions() if not a.isSeparator() and a.isEnabled()]

    def _show_verdict(self, rec: Reconstruction) -> None:
        self.history.push(rec)

    def set_session_state(self, state: str) -> None:
        if state == "starting":
            # A new session: the last one's images, history, traces and counters go now (its files are on disk).
            # They stayed on screen while the new one loaded its model and opened its source, for seconds or a
            # minute, and then until its first image, as if they were the new session's.
            self.set_stream_info(None, label="")
        self.controls.set_session_state(state)
        super().set_session_state(state)

    def on_session_ended(self, stats) -> None:
        """Say where the session's files went (a later session from the window goes to session-002, ...): only
        the terminal's summary line said so, which a user who started eegviz from a desktop icon never sees."""
        # A replay played to its end with no image from any marker (every epoch NaN, every id empty) said only
        # "finished: the recording has been played to the end"; headless exits non-zero with this same line.
        nothing = stats.nothing_made() if hasattr(stats, "nothing_made") else None
        folder = getattr(stats, "out_dir", None)
        if nothing or folder:
            text = self.message_label.full_text() + (f", but {nothing}" if nothing else "")
            self.show_message(text + (f" — results in {folder}" if folder else ""),
                              error=bool(nothing) or self.session_state == "error")

    def show_message(self, text: str, error: bool = False) -> None:
        """One line above the traces: what the session is doing, or what went wrong (in red)."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #c00000; font-weight: bold;" if error else "color: #505050;")

    # ---------------------------------------------------------------- controls

    def current_choice(self) -> SourceChoice:
        return self.controls.current_choice()

    def set_choice(self, choice: SourceChoice | None) -> None:
        self.controls.set_choice(choice)

    def model_dir(self) -> str:
        return self.controls.model_dir()

    def set_model_dir(self, path: str | Path | None) -> None:
        self.controls.set_model_dir(path)

    # ---------------------------------------------------------------- status bar

    def _source_text(self) -> str:
        name = self.info.name or ""
        text = f"{self.source_label}: {name}" if self.source_label and name else (self.source_label or name or "no source")
        if len(text) > SOURCE_NAME_CHARS:  # cut in the middle: a long file name's start and the stream's name stay
            head = (SOURCE_NAME_CHARS - 1) // 2
            text = text[:head] + "…" + text[len(text) - (SOURCE_NAME_CHARS - 1 - head):]
        return text

    def status_fields(self, compact: bool = False) -> str:
        """The important fields, always shown in full: source, class, drops, skips (when any), images shown,
        generator, state. compact leaves out the two that stay the same all session (the stream's channels and
        rate, the generator) for a window too narrow for them all; status_details then starts with them."""
        rec = self.last_rec
        parts = [self._source_text()]
        if self.info.sfreq and not compact:
            parts[0] += f" ({self._stream_text()})"
        parts.append(f"class {(rec.decoded.top_class or '?') if rec is not None else '—'}")
        if rec is not None and rec.repeats > 1:
            parts.append(f"repeats {rec.repeats}")
        parts.append(f"drops {self.drops_total}")
        if self.skipped_total:  # a gap, NaN samples, artefacts: worth seeing at once, and rare enough to take the room
            why = [f"{word} {n}" for word, n in (("NaN", self.nan_total), ("rejected", self.rejected_total)) if n]
            parts.append(f"skipped {self.skipped_total}" + (f" ({', '.join(why)})" if why else ""))
        parts.append(f"images {self.n_epochs}")
        if rec is not None and not compact:
            parts.append(generator_text(rec))
        if self.session_state:
            parts.append(self.session_state)
        return "  |  ".join(parts)

    def _stream_text(self) -> str:
        return f"{self.info.n_channels} ch, {self.info.sfreq:g} Hz"

    def status_details(self, compact: bool = False) -> str:
        """Latency breakdown and extra fields: shown after the important ones, elided when space runs out; with
        compact, the fields status_fields(compact=True) left out come first."""
        parts, rec = [], self.last_rec
        if compact and self.info.sfreq:
            parts.append(self._stream_text())
        if compact and rec is not None:
            parts.append(generator_text(rec))
        if rec is not None and rec.timings_ms:
            # the end-to-end figure (the summary line's marker->image) first: after the five stages it was
            # elided away even at 1280 px, leaving "latency epoch_wait … · queue … · ep…"
            timings = sorted(rec.timings_ms.items(), key=lambda kv: kv[0] != LATENCY_FIRST)
            parts.append("latency " + " · ".join(f"{k} {v:.1f} ms" for k, v in timings))
        parts.extend(f"{k} {v}" for k, v in self.extra_status.items())
        return "  |  ".join(parts)

    def status_text(self) -> str:
        details = self.status_details()
        return self.status_fields() + (f"  |  {details}" if details else "")

    def _update_status(self) -> None:
        self._say_waiting(self.last_rec is None and self.session_state in ("starting", "running"))
        # In a window too narrow for every important field (800 px, with skips counted) the state at their end
        # was clipped ("stopped (du"): the fields that never change in a session move to the elided details.
        fields = self.status_fields()
        room = self.width() - STATUS_BAR_SLACK_PX  # the bar spans the window (its own width lags while hidden)
        compact = self.status_label.fontMetrics().horizontalAdvance(fields) > room
        self.status_label.setText(self.status_fields(compact=True) if compact else fields)
        self.details_label.setText(self.status_details(compact=compact))

    def _say_waiting(self, waiting: bool) -> None:
        """Blank panels say, under their captions, that they wait for the session's first epoch, while a session
        starts or runs and has shown nothing yet; once it has ended without one, they are just blank."""
        if waiting == self._waiting:
            return
        self._waiting = waiting
        if waiting or self.last_rec is None:  # (the first image has named its id there)
            for panel in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
                panel.set_detail(WAITING_TEXT if waiting else "")


def generator_text(rec: Reconstruction) -> str:
    """The status field naming what drew the image, and from which branch when not the saliency map shown beside
    it (--init latent: the latent branch's start is not shown, and the map beside the image read as its start)."""
    return f"generator {rec.generator}" + (" from the latent branch" if rec.init == "latent" else "")
