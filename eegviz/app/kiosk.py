"""KioskWindow: the exhibition layout, for a screen visitors watch unattended.

Black, full screen, no controls, traces or status bar: the three images grouped in the middle with the
reconstruction large, and under them in big letters the class the EEG decoder read (marked ✓/✗ when the
stimulus is known). When no EEG has arrived for signal_timeout_s, a "waiting for signal" overlay covers the
screen until it comes back; while the kiosk's first session is still starting (its model loading, its generator
warming up) the same overlay says "loading…" instead, and "starting…" while a later session, its source found,
warms its generator up. It is its own window class so the live window carries no
kiosk special cases.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from eegviz.app.panels import ImagePanel
from eegviz.app.session_window import SessionWindow
from eegviz.app.verdict import verdict
from eegviz.messages import Chunk, Reconstruction, StreamInfo

NOTICES_KEY = Qt.Key.Key_N  # shows the operator the recent notices and errors (hidden again by it, or in a while)
NOTICES_SHOWN_S = 30.0  # a press nobody takes back (a visitor at the keyboard) does not leave the list up
NOTICES_SHOWN_LINES = 12  # the newest this many; the live window's notices button lists the rest
REPLAY_PAUSE_MAX_S = 60.0  # a looping demo's pause between its sessions is not "waiting for signal", up to this
KIOSK_MAIN_PX = 560  # design sizes, on a screen that has room
KIOSK_SIDE_PX = 240
MIN_MAIN_PX = 64  # and the smallest, on one that has not
SIDE_SHARE = 0.6  # the side images at most this fraction of the reconstruction's size (design: 240 of 560)
MIN_SIDE_PX = 48
WAITING_TEXT = "waiting for signal"
LOADING_TEXT = "loading…"  # the overlay while the first session starts: nothing can have arrived yet
STARTING_TEXT = "starting…"  # the overlay while a later session's source is open and its generator warms up


class KioskWindow(SessionWindow):
    """The kiosk: see the module docstring. A looping demo keeps its last images on screen between sessions
    (no blank flash), and errors are not shown: visitors see the overlay, and the session restarts."""

    def __init__(self, info: StreamInfo | None = None, title: str = "eegviz", signal_timeout_s: float = 2.0,
                 parent=None):
        super().__init__(info, title=title, parent=parent)
        self.signal_timeout_s = signal_timeout_s
        # The watchdog's clock when no chunk has come yet: a session that has just started gets its full timeout
        # (it used to show the overlay at once, until its first chunk: a flash at every demo loop); and while a
        # recording that reached its end waits to be replayed, the overlay waits too (up to REPLAY_PAUSE_MAX_S).
        self._started_at: float | None = None
        self._finished_at: float | None = None
        # Until the first session has started or failed, no signal can be missing: the model is loading (a minute
        # for a diffusers pipeline on CPU) and the generator warming up, and the overlay said "waiting for
        # signal" all that while, sending an operator to check the amplifier's cable. Later starts reuse the
        # loaded model and take a moment, and a failed one means the source is what is missing.
        self._first_start = True
        # A kiosk started before its amplifier: its first session failed (no source), so "waiting for signal" was
        # right while it retried; but the try that found the source then warmed the generator up (a minute for a
        # diffusers pipeline on CPU) under the same words, with the amplifier on and its stream there. From the
        # session's warming_up until it starts or fails the overlay says STARTING_TEXT.
        self._warming = False
        central = QWidget()
        central.setAutoFillBackground(True)
        pal = central.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor("black"))
        pal.setColor(QPalette.ColorRole.WindowText, QColor("white"))
        central.setPalette(pal)
        central.setStyleSheet("QLabel { color: #e0e0e0; }")
        self.setStyleSheet("QMainWindow { background: black; }")
        # No mouse pointer: a kiosk has nothing to click, and the arrow stayed wherever the mouse was left, in
        # the middle of the screen over the reconstruction, for as long as the exhibition ran.
        self.setCursor(Qt.CursorShape.BlankCursor)

        # Images grouped in the middle (not spread to the screen edges), caption right under them.
        root = QVBoxLayout(central)
        root.setContentsMargins(24, 24, 24, 24)
        row = QHBoxLayout()
        row.setSpacing(32)
        # Built small and grown to the screen by _fit_panels: a fixed image size is a minimum size, and built at
        # design size the window could not be narrower than about 1150 px, so on a 1024 px projector the
        # stimulus panel lay off the screen.
        self.saliency_panel = ImagePanel("saliency map", MIN_SIDE_PX, caption_pt=14)
        self.recon_panel = ImagePanel("reconstruction", MIN_MAIN_PX, caption_pt=16)
        self.stimulus_panel = ImagePanel("stimulus (ground truth)", MIN_SIDE_PX, caption_pt=14)
        for p in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
            p.image_label.setStyleSheet("background: #111111; color: #808080; font-size: 16pt;")
        for p in (self.saliency_panel, self.stimulus_panel):  # first lines level when _fit_panels evens them
            p.caption.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        row.addStretch(1)
        row.addWidget(self.saliency_panel, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.recon_panel, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.stimulus_panel, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addStretch(1)

        self.class_caption = QLabel("")
        self.class_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.class_caption.setWordWrap(True)  # at 36 pt a long line would otherwise set the window's minimum width
        f = QFont(self.class_caption.font())
        f.setPointSize(36)
        f.setBold(True)
        self.class_caption.setFont(f)
        root.addStretch(1)
        root.addLayout(row)
        root.addSpacing(16)
        root.addWidget(self.class_caption)
        root.addStretch(1)
        self.setCentralWidget(central)

        # Child of the central widget, floated above the grid (not in it) and kept centred by resizeEvent.
        self.overlay = QLabel(WAITING_TEXT, central)
        self.overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overlay.setStyleSheet(
            "background: rgba(0, 0, 0, 190); color: #ffcc33; font-size: 40pt; border-radius: 16px; padding: 24px;"
        )
        self.overlay.show()  # nothing has arrived yet
        # The operator's view of what happened (an LSL stream lost at 3 p.m., a session that failed): the kiosk
        # shows no notices or errors, and an operator at it had only the terminal or the journal to ask. Hidden
        # until NOTICES_KEY is pressed, so visitors never see it.
        self.notices_view = QLabel("", central)
        self.notices_view.setWordWrap(True)
        self.notices_view.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.notices_view.setStyleSheet(
            "background: #141414; color: #e0e0e0; font-size: 11pt; padding: 12px; border: 1px solid #404040;")
        self.notices_view.hide()
        self._notices_timer = QTimer(self)
        self._notices_timer.setSingleShot(True)
        self._notices_timer.setInterval(int(NOTICES_SHOWN_S * 1000))
        self._notices_timer.timeout.connect(self.notices_view.hide)
        self.resize(1280, 800)

        self.watchdog = QTimer(self)
        self.watchdog.setInterval(max(20, min(250, int(self.signal_timeout_s * 250))))
        self.watchdog.timeout.connect(self.check_signal)
        self.watchdog.start()

    def show_kiosk(self) -> None:
        # fitted to the screen before going full screen: panels fitted to a larger window are a minimum size that
        # the full-screen window could not shrink below
        screen = self.screen().geometry()
        self._fit_panels(screen.width(), screen.height())
        self.showFullScreen()
        self._place_overlay()

    def on_chunk(self, chunk: Chunk) -> None:
        super().on_chunk(chunk)
        if self.overlay.isVisibleTo(self):
            self.overlay.hide()

    def _show_verdict(self, rec: Reconstruction) -> None:
        """Say plainly that the word is what the EEG decoder read."""
        text, colour = verdict(rec)
        more = f"  ·  {rec.repeats} showings averaged" if rec.repeats > 1 else ""  # --average-repeats
        self.class_caption.setText(f"decoded: {text}{more}")
        self.class_caption.setStyleSheet(f"color: {colour or '#e0e0e0'};")

    def _no_stimulus(self, rec: Reconstruction) -> tuple[str, str]:
        """Visitors are not told about command-line options: the image is just not known."""
        return "unknown", ""

    # ---------------------------------------------------------------- the operator's notices

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() == NOTICES_KEY:
            self.show_notices(not self.notices_view.isVisibleTo(self))
        else:
            super().keyPressEvent(event)

    def show_notices(self, show: bool = True) -> None:
        """Show (or hide) the recent notices and errors, newest first, over the lower part of the screen."""
        if show:
            self._fill_notices()
            self.notices_view.show()
            self._place_notices()
            self._notices_timer.start()
        else:
            self.notices_view.hide()
            self._notices_timer.stop()

    def _notices_changed(self) -> None:
        if self.notices_view.isVisibleTo(self):
            self._fill_notices()
            self._place_notices()

    def _fill_notices(self) -> None:
        lines = self.recent_notices()[:NOTICES_SHOWN_LINES]
        more = self.notice_count - len(lines)
        text = "\n".join(lines) if lines else "no notices or errors since the kiosk started"
        self.notices_view.setText("recent notices and errors, newest first (N hides this)\n" + text
                                  + (f"\n… and {more} earlier" if more > 0 else ""))

    def _place_notices(self) -> None:
        """Across the bottom of the screen, as tall as its lines (at most the screen less the margins)."""
        parent = self.notices_view.parentWidget()
        width = max(100, parent.width() - 48)
        height = max(0, min(self.notices_view.heightForWidth(width), parent.height() - 48))
        self.notices_view.setGeometry(24, max(0, parent.height() - 24 - height), width, height)
        self.notices_view.raise_()

    # ---------------------------------------------------------------- the overlay

    def set_session_state(self, state: str) -> None:
        super().set_session_state(state)
        self._say_on_overlay()

    def on_session_started(self, info: StreamInfo, label: str | None = None) -> None:
        super().on_session_started(info, label)
        self._started_at, self._finished_at = time.monotonic(), None
        self._first_start = self._warming = False
        self._say_on_overlay()

    def on_session_warming_up(self) -> None:
        self._warming = True
        self._say_on_overlay()

    def on_session_stopped(self, reason: str) -> None:
        super().on_session_stopped(reason)
        self._finished_at = time.monotonic() if reason == "finished" else None  # the kiosk replays it
        self._first_start = self._warming = False
        self._say_on_overlay()

    def on_session_error(self, message: str) -> None:
        super().on_session_error(message)
        self._finished_at = None
        self._first_start = self._warming = False
        self._say_on_overlay()

    @property
    def loading(self) -> bool:
        """The kiosk's first session is starting, or a later one warms its generator up (see __init__): the
        overlay says LOADING_TEXT or STARTING_TEXT, not that the signal is missing."""
        return (self._first_start or self._warming) and self.session_state == "starting"

    def _say_on_overlay(self) -> None:
        text = (LOADING_TEXT if self._first_start else STARTING_TEXT) if self.loading else WAITING_TEXT
        if self.overlay.text() != text:
            self.overlay.setText(text)
            if self.overlay.isVisibleTo(self):
                self._place_overlay()  # sized to its text, kept centred

    def check_signal(self) -> None:
        """Watchdog: show the overlay when no chunk came for signal_timeout_s (since the session started, if
        none came yet), except in the pause between a finished replay and its next run."""
        now = time.monotonic()
        last = self.last_chunk_time if self.last_chunk_time is not None else self._started_at
        stale = last is None or now - last > self.signal_timeout_s
        if self._finished_at is not None and now - self._finished_at < REPLAY_PAUSE_MAX_S:
            stale = False
        if stale and not self.overlay.isVisibleTo(self):
            self.overlay.show()
            self._place_overlay()
        elif not stale and self.overlay.isVisibleTo(self):
            self.overlay.hide()

    @property
    def waiting_for_signal(self) -> bool:
        return self.overlay.isVisibleTo(self) and not self.loading

    def _place_overlay(self) -> None:
        self.overlay.adjustSize()
        parent = self.overlay.parentWidget()
        x = (parent.width() - self.overlay.width()) // 2
        y = (parent.height() - self.overlay.height()) // 2
        self.overlay.move(max(0, x), max(0, y))
        self.overlay.raise_()

    # ---------------------------------------------------------------- fitting the screen

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        screen = self.screen().geometry()  # never to more than the screen (a size set before showing may be)
        self._fit_panels(min(self.width(), screen.width()), min(self.height(), screen.height()))
        self._place_overlay()
        if self.notices_view.isVisibleTo(self):
            self._place_notices()

    def _fit_panels(self, width: int, height: int) -> None:
        """Scale the three images to the screen: the reconstruction gets about half the width, never more than
        its design size, and the side panels share the rest (a fixed layout squeezed them on small screens), each
        at most SIDE_SHARE of the reconstruction: on an 800 x 480 screen they were 208 px beside its 232, and
        the reconstruction, what visitors come to see, looked no larger than the others."""
        avail_w = width - 48 - 2 * 32 - 3 * 8 - 16  # margins, spacing, the panels' own margins, slack
        avail_h = height - 48 - 200  # margins, captions, the class line and slack
        main = max(MIN_MAIN_PX, min(KIOSK_MAIN_PX, int(avail_w * 0.5), avail_h))
        side = max(MIN_SIDE_PX, min(KIOSK_SIDE_PX, (avail_w - main) // 2, int(main * SIDE_SHARE)))
        self.recon_panel.set_size(main)
        self.saliency_panel.set_size(side)
        self.stimulus_panel.set_size(side)
        # Both side captions as tall as the taller: on an 800 px screen "stimulus (ground truth)" wraps to two
        # lines, and its panel, centred in the row like the others, held its image 12 px above the saliency map's.
        sides = (self.saliency_panel, self.stimulus_panel)
        for p in sides:
            p.caption.setMinimumHeight(0)  # heightForWidth answers no less than the minimum set last time
        caption_h = max(p.caption.heightForWidth(side) for p in sides)
        for p in sides:
            p.caption.setMinimumHeight(caption_h)
