"""The main Qt window: live EEG traces, the decoded images, a history strip and a status bar; plus kiosk mode.

Pipeline stages run on their own threads and must never touch widgets. They emit on a QtBridge instead; its
signals are connected to the window's slots with the default AutoConnection, which becomes a queued connection
when the emitter runs on another thread, so every widget update happens on the GUI thread.

EEG arrives far more often than the screen can usefully repaint (chunks of a few ms each), so on_chunk only
copies samples into a numpy ring buffer and a ~20 Hz QTimer redraws the traces when something changed.
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from eegviz.app.source_choice import SourceChoice
from eegviz.messages import Chunk, Marker, Reconstruction, StreamInfo

N_TRACES = 16  # channels drawn; more would be an unreadable smear
WINDOW_S = 5.0  # seconds of EEG visible
REFRESH_HZ = 20.0
PANEL_PX = 256
HISTORY_LEN = 8
HISTORY_PX = 96
KIOSK_MAIN_PX = 560
KIOSK_SIDE_PX = 240
SOURCE_NAME_CHARS = 40  # longer source names (XDF file stems) are shortened in the status bar

# The source combo box: (kind, label). "xdf" asks for a file when picked; "lsl" shows a stream-name field.
SOURCE_ITEMS = (
    ("demo", "Demo recording"),
    ("xdf", "XDF file…"),
    ("simulator", "Simulator"),
    ("lsl", "LSL stream"),
    ("brainflow-synthetic", "BrainFlow synthetic board"),
)


class QtBridge(QObject):
    """Thread-safe hand-off from pipeline threads to the window: emit from any thread, slots run on the GUI thread."""

    chunk = Signal(object)  # Chunk
    marker = Signal(object)  # Marker
    reconstruction = Signal(object, object)  # Reconstruction, stimulus (H, W, 3) uint8 or None
    status = Signal(object)  # dict of extra status fields
    finished = Signal()


def true_class(payload: str) -> str | None:
    """The class of a marker's stimulus when the stimulus is known (a synthetic-world id), else None.

    Real sessions send their own image ids: then there is no ground truth here, and the window shows what
    was decoded without pretending to score it.
    """
    from eegviz.errors import EegvizError
    from eegviz.world.stimuli import spec_from_id

    try:
        return spec_from_id(payload).class_name
    except EegvizError:
        return None


def verdict(rec: Reconstruction) -> tuple[str, str]:
    """(text, colour) for the decoded class: 'star ✓' in green or 'bolt ✗' in red when the truth is known."""
    decoded = rec.decoded.top_class or "?"
    truth = true_class(rec.marker.payload)
    if truth is None:
        return decoded, ""
    return (f"{decoded} ✓", "#1a8f2e") if decoded == truth else (f"{decoded} ✗", "#c62828")


def nice_scale(value: float) -> float:
    """The largest 1-2-5 x 10^k not above value (a scale bar's length)."""
    if not np.isfinite(value) or value <= 0:
        return 0.0
    k = np.floor(np.log10(value))
    for m in (5.0, 2.0, 1.0):
        if m * 10**k <= value:
            return float(m * 10**k)
    return float(10**k)


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (saliency) become uint8; grayscale is broadcast to RGB; alpha is dropped."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] > 3:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """numpy (H, W, 3) -> QPixmap scaled smoothly to fit size x size (keeps aspect ratio).

    The QImage is copied because QImage only borrows the numpy buffer, which may be freed before painting.
    """
    arr = to_uint8_rgb(image)
    h, w = arr.shape[:2]
    qimg = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimg).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class ImagePanel(QWidget):
    """A fixed-size image with a caption underneath; shows a placeholder text while it has no image."""

    def __init__(self, caption: str, size: int, caption_pt: int = 11, placeholder: str = "—", parent=None):
        super().__init__(parent)
        self._size = size
        self._placeholder = placeholder
        self.image_label = QLabel(placeholder)
        self.image_label.setFixedSize(size, size)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setStyleSheet("background: #202020; color: #909090; font-size: %dpt;" % max(caption_pt, 12))
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.caption.font()
        font.setPointSize(caption_pt)
        self.caption.setFont(font)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.image_label, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.caption)

    def set_image(self, image: np.ndarray | None, text_if_none: str | None = None) -> None:
        self._image = image
        if image is None:
            self.image_label.clear()
            self.image_label.setText(text_if_none or self._placeholder)
        else:
            self.image_label.setPixmap(to_pixmap(image, self._size))

    def set_size(self, size: int) -> None:
        """Resize the square image area (kiosk mode fits the panels to the screen) and redraw what it shows."""
        if size == self._size or size < 16:
            return
        self._size = size
        self.image_label.setFixedSize(size, size)
        if getattr(self, "_image", None) is not None:
            self.image_label.setPixmap(to_pixmap(self._image, size))

    def pixmap(self) -> QPixmap:
        return self.image_label.pixmap()


class ElidedLabel(QLabel):
    """A one-line label that never asks for more width: text that does not fit is elided, the full text is the tooltip.

    text() is what is shown (possibly ending in "…"); full_text() is what was set.
    """

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight, parent=None):
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        self._full = str(text or "")
        self.setToolTip(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, self._mode, width) if width > 0 else self._full
        QLabel.setText(self, shown)


class MainWindow(QMainWindow):
    """Live view of one session. kiosk=True gives the exhibition layout (black, big reconstruction, no traces).

    info may be None when the stream is not known yet (a session is still starting); set_stream_info() switches
    the window to a new stream at any time. In normal mode a row of controls on top picks the source and the
    model and starts/stops sessions: the window only emits start_requested/stop_requested, a SessionController
    (eegviz.app.session) does the work off the GUI thread and reports back through set_session_state(),
    on_session_started(), on_session_error() and on_session_stopped().
    """

    start_requested = Signal(object, str)  # SourceChoice, model folder ("" = the default model)
    stop_requested = Signal()

    def __init__(
        self,
        info: StreamInfo | None = None,
        kiosk: bool = False,
        title: str = "eegviz",
        signal_timeout_s: float = 2.0,
        parent=None,
    ):
        super().__init__(parent)
        self.kiosk = kiosk
        self.signal_timeout_s = signal_timeout_s
        self.setWindowTitle(title)

        # Session counters shown in the status bar; on_status may override them with the pipeline's own numbers.
        self.n_epochs = 0
        self.drops_total = 0
        self.last_rec: Reconstruction | None = None
        self.extra_status: dict = {}
        self.session_state = ""  # "starting", "running", "finished", ... shown with the important fields
        self.source_label = ""  # how the session's source was chosen, e.g. "demo recording"
        self.last_chunk_time: float | None = None  # time.monotonic() of the last chunk

        self.curves: list[pg.PlotDataItem] = []
        self.marker_lines: list[pg.InfiniteLine] = []
        self.scale_bar: pg.PlotDataItem | None = None
        self.scale_text: pg.TextItem | None = None
        self.scale_uv = 0.0  # the scale bar's length in microvolts (0 until traces are drawn)
        self.trace_labels: list[str] = []
        self.history: deque[QWidget] = deque()
        self._xdf_path: str | None = None
        self._source_index = 0
        self._choices: dict = {}  # kind -> the last SourceChoice set for it (keeps details the controls lack)

        self._set_info(info)
        if kiosk:
            self._build_kiosk()
        else:
            self._build_normal()
            self._build_curves()

        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(int(1000 / REFRESH_HZ))
        self.refresh_timer.timeout.connect(self.refresh_traces)
        self.refresh_timer.start()

        # The watchdog runs in both modes but only kiosk mode has an overlay to show.
        self.watchdog = QTimer(self)
        self.watchdog.setInterval(max(20, min(250, int(self.signal_timeout_s * 250))))
        self.watchdog.timeout.connect(self.check_signal)
        self.watchdog.start()

        self._update_status()

    # ---------------------------------------------------------------- stream

    def _set_info(self, info: StreamInfo | None) -> None:
        """Ring buffer of the displayed channels: every k-th channel so the montage is covered evenly."""
        self.info = info if info is not None else StreamInfo(name="", ch_names=(), sfreq=0.0)
        n_ch = self.info.n_channels
        step = max(1, n_ch // N_TRACES)
        self.trace_channels = np.arange(0, n_ch, step)[:N_TRACES]
        self.trace_labels = [self.info.ch_names[c] for c in self.trace_channels]
        self.buf_len = max(2, int(round(WINDOW_S * (self.info.sfreq or 250.0))))
        self._buf = np.zeros((len(self.trace_channels), self.buf_len), dtype=np.float32)
        self._buf_ts = np.zeros(self.buf_len, dtype=np.float64)
        self._write = 0
        self._count = 0
        self._dirty = False
        self.t0: float | None = None  # stream time of the session's first sample: the time axis starts there

    def _build_curves(self) -> None:
        """(Re)create one curve per displayed channel, with the channel labels on the left axis."""
        for curve in self.curves:
            self.plot.removeItem(curve)
        for line in self.marker_lines:
            self.plot.removeItem(line)
        self.curves, self.marker_lines = [], []
        n = len(self.trace_channels)
        self.plot.getPlotItem().getAxis("left").setTicks([[(-i, label) for i, label in enumerate(self.trace_labels)]])
        self.plot.setYRange(-max(n, 1) + 0.3, 0.9, padding=0)
        for i in range(n):
            color = pg.intColor(i, hues=n, values=1, maxValue=160)
            self.curves.append(self.plot.plot(pen=pg.mkPen(color, width=1)))
        # Scale bar: how many microvolts one trace spacing is (the traces share one scale, see refresh_traces).
        if self.scale_bar is not None:
            self.plot.removeItem(self.scale_bar)
            self.plot.removeItem(self.scale_text)
        self.scale_bar = self.plot.plot(pen=pg.mkPen((20, 20, 20), width=3))
        self.scale_text = pg.TextItem("", color=(20, 20, 20), anchor=(1.0, 0.5))
        self.plot.addItem(self.scale_text)

    def set_stream_info(self, info: StreamInfo | None, label: str | None = None, reset: bool = True) -> None:
        """Switch to a new stream: rebuild the trace buffer, curves and channel labels; reset the session counters.

        In normal mode the image panels and the history are cleared too; kiosk mode keeps the last images on
        screen until new ones come (a looping demo should not flash blank panels).
        """
        self._set_info(info)
        if label is not None:
            self.source_label = label
        if not self.kiosk:
            self._build_curves()
        if reset:
            self.n_epochs = 0
            self.drops_total = 0
            self.last_rec = None
            self.extra_status = {}
            if not self.kiosk:
                for panel in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
                    panel.set_image(None)
                while self.history:
                    old = self.history.pop()
                    self.history_layout.removeWidget(old)
                    old.setParent(None)
                    old.deleteLater()
        self._update_status()

    # ---------------------------------------------------------------- layout

    def _build_controls(self) -> QWidget:
        """The row on top: source, model folder, start/stop."""
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)

        lay.addWidget(QLabel("Source"))
        self.source_combo = QComboBox()
        for kind, text in SOURCE_ITEMS:
            self.source_combo.addItem(text, kind)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(22)
        self.source_combo.setToolTip("where the EEG comes from")
        self.source_combo.activated.connect(self._source_activated)  # user picks only: may open a file dialog
        self.source_combo.currentIndexChanged.connect(self._source_changed)
        lay.addWidget(self.source_combo)

        self.lsl_name_edit = QLineEdit()
        self.lsl_name_edit.setPlaceholderText("stream name (empty: first EEG stream)")
        self.lsl_name_edit.setFixedWidth(230)
        lay.addWidget(self.lsl_name_edit)

        self.speed_label = QLabel("speed")
        lay.addWidget(self.speed_label)
        self.speed_spin = QDoubleSpinBox()
        self.speed_spin.setRange(0.0, 100.0)
        self.speed_spin.setDecimals(1)
        self.speed_spin.setSingleStep(0.5)
        self.speed_spin.setValue(1.0)
        self.speed_spin.setSuffix("×")
        self.speed_spin.setSpecialValueText("max")  # 0 = as fast as possible
        self.speed_spin.setToolTip("replay speed; 0 (max) = as fast as possible")
        self.speed_spin.setFixedWidth(72)
        lay.addWidget(self.speed_spin)

        lay.addSpacing(12)
        lay.addWidget(QLabel("Model"))
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("default model")
        self.model_edit.setMinimumWidth(160)
        self.model_edit.setMaximumWidth(420)
        self.model_edit.setToolTip("model folder (decoder + generator weights); empty = the default model")
        lay.addWidget(self.model_edit, 1)
        self.model_browse_button = QToolButton()
        self.model_browse_button.setText("…")
        self.model_browse_button.setToolTip("choose a model folder")
        self.model_browse_button.clicked.connect(self._browse_model)
        lay.addWidget(self.model_browse_button)

        lay.addStretch(1)
        lay.addSpacing(12)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self._start_clicked)
        lay.addWidget(self.start_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_requested.emit)
        lay.addWidget(self.stop_button)
        self._source_changed(self.source_combo.currentIndex())
        return row

    def _build_normal(self) -> None:
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(6, 6, 6, 6)

        root.addWidget(self._build_controls())
        # One line for what the session is doing, and errors in red; long messages are elided (full text on hover).
        self.message_label = ElidedLabel()
        self.message_label.setStyleSheet("color: #505050;")
        root.addWidget(self.message_label)

        pg.setConfigOptions(antialias=False)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "time since the session started", units="s")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setMinimumHeight(220)
        item = self.plot.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        root.addWidget(self.plot, 3)

        panels = QHBoxLayout()
        self.saliency_panel = ImagePanel("saliency map", PANEL_PX)
        self.recon_panel = ImagePanel("reconstruction", PANEL_PX)
        self.stimulus_panel = ImagePanel("stimulus (ground truth)", PANEL_PX)
        panels.addStretch(1)
        for p in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
            panels.addWidget(p)
        panels.addStretch(1)
        root.addLayout(panels, 0)

        hist_title = QLabel("history")
        hist_title.setStyleSheet("color: #606060;")
        root.addWidget(hist_title)
        self.history_layout = QHBoxLayout()
        self.history_layout.setSpacing(6)
        self.history_layout.addStretch(1)  # history items are inserted before this stretch, newest on the left
        root.addLayout(self.history_layout, 0)

        self.setCentralWidget(central)
        # Two labels: the important fields (source, class, drops, epochs) always shown in full on the left; the
        # latency breakdown and other details fill the rest and are elided when the window is too narrow.
        self.status_label = QLabel()
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label = ElidedLabel()
        self.details_label.setStyleSheet("color: #606060;")
        self.statusBar().addWidget(self.status_label, 0)
        self.statusBar().addWidget(self.details_label, 1)
        self.class_caption = None
        self.overlay = None
        self.set_session_state("idle")
        self.resize(1200, 900)

    def _build_kiosk(self) -> None:
        central = QWidget()
        central.setAutoFillBackground(True)
        pal = central.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor("black"))
        pal.setColor(QPalette.ColorRole.WindowText, QColor("white"))
        central.setPalette(pal)
        central.setStyleSheet("QLabel { color: #e0e0e0; }")
        self.setStyleSheet("QMainWindow { background: black; }")

        # Images grouped in the middle (not spread to the screen edges), caption right under them.
        root = QVBoxLayout(central)
        root.setContentsMargins(24, 24, 24, 24)
        row = QHBoxLayout()
        row.setSpacing(32)
        self.saliency_panel = ImagePanel("saliency map", KIOSK_SIDE_PX, caption_pt=14)
        self.recon_panel = ImagePanel("reconstruction", KIOSK_MAIN_PX, caption_pt=16)
        self.stimulus_panel = ImagePanel("stimulus (ground truth)", KIOSK_SIDE_PX, caption_pt=14)
        for p in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
            p.image_label.setStyleSheet("background: #111111; color: #808080; font-size: 16pt;")
        row.addStretch(1)
        row.addWidget(self.saliency_panel, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.recon_panel, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.stimulus_panel, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addStretch(1)

        self.class_caption = QLabel("")
        self.class_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
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
        self.overlay = QLabel("waiting for signal", central)
        self.overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overlay.setStyleSheet(
            "background: rgba(0, 0, 0, 190); color: #ffcc33; font-size: 40pt; border-radius: 16px; padding: 24px;"
        )
        self.overlay.show()  # nothing has arrived yet
        self.status_label = QLabel()  # kept so on_status works in both modes; no status bar is shown
        self.details_label = ElidedLabel()
        self.message_label = ElidedLabel()  # not shown either: kiosk visitors see the overlay, not errors
        self.statusBar().hide()
        self.history_layout = None
        self.resize(1280, 800)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self.kiosk:
            self._fit_kiosk_panels()
        self._place_overlay()

    def _fit_kiosk_panels(self) -> None:
        """Scale the three kiosk images to the screen: the reconstruction gets about half the width, never more
        than its design size, and the side panels share the rest (a fixed layout squeezed them on small screens)."""
        avail_w = self.width() - 48 - 2 * 32 - 16
        avail_h = self.height() - 48 - 160  # margins, captions and the class line
        main = max(64, min(KIOSK_MAIN_PX, int(avail_w * 0.5), avail_h))
        side = max(48, min(KIOSK_SIDE_PX, (avail_w - main) // 2))
        self.recon_panel.set_size(main)
        self.saliency_panel.set_size(side)
        self.stimulus_panel.set_size(side)

    def _place_overlay(self) -> None:
        if self.overlay is None:
            return
        self.overlay.adjustSize()
        parent = self.overlay.parentWidget()
        x = (parent.width() - self.overlay.width()) // 2
        y = (parent.height() - self.overlay.height()) // 2
        self.overlay.move(max(0, x), max(0, y))
        self.overlay.raise_()

    def show_kiosk(self) -> None:
        self.showFullScreen()
        self._place_overlay()

    # ---------------------------------------------------------------- slots

    def connect_bridge(self, bridge: QtBridge) -> None:
        bridge.chunk.connect(self.on_chunk)
        bridge.marker.connect(self.on_marker)
        bridge.reconstruction.connect(self.on_reconstruction)
        bridge.status.connect(self.on_status)
        bridge.finished.connect(self.on_finished)

    def on_chunk(self, chunk: Chunk) -> None:
        """Copy the displayed channels into the ring buffer; drawing waits for the refresh timer."""
        self.last_chunk_time = time.monotonic()
        if self.overlay is not None and self.overlay.isVisibleTo(self):
            self.overlay.hide()
        samples = np.asarray(chunk.samples)
        if samples.size == 0:
            return
        chans = self.trace_channels[self.trace_channels < samples.shape[1]]
        data = samples[:, chans].T.astype(np.float32)  # (n_show, n)
        ts = np.asarray(chunk.timestamps, dtype=np.float64)
        ts = ts - self._origin(float(ts[0]))
        n = data.shape[1]
        if n >= self.buf_len:  # a chunk longer than the window: keep its tail
            data, ts, n = data[:, -self.buf_len:], ts[-self.buf_len:], self.buf_len
        idx = (self._write + np.arange(n)) % self.buf_len
        self._buf[: len(chans), idx] = data
        self._buf_ts[idx] = ts
        self._write = (self._write + n) % self.buf_len
        self._count = min(self.buf_len, self._count + n)
        self._dirty = True

    def _origin(self, t: float) -> float:
        """The session's time origin: its first sample (or marker, if one comes first)."""
        if self.t0 is None:
            self.t0 = t
        return self.t0

    def on_marker(self, marker: Marker) -> None:
        if self.kiosk:
            return
        line = pg.InfiniteLine(
            pos=float(marker.timestamp) - self._origin(float(marker.timestamp)),
            angle=90,
            movable=False,
            pen=pg.mkPen((220, 40, 40), width=1.5, style=Qt.PenStyle.DashLine),
            label=str(marker.payload),
            labelOpts={"position": 0.97, "color": (180, 20, 20), "fill": (255, 255, 255, 200), "anchors": [(0, 0), (0, 0)]},
        )
        self.plot.addItem(line)
        self.marker_lines.append(line)
        self._dirty = True

    def on_reconstruction(self, rec: Reconstruction, stimulus: np.ndarray | None = None) -> None:
        self.last_rec = rec
        self.n_epochs += 1
        self.drops_total += int(rec.dropped_before)
        self.saliency_panel.set_image(rec.decoded.saliency)
        self.recon_panel.set_image(rec.image)
        self.stimulus_panel.set_image(stimulus, "unknown")
        if self.class_caption is not None:  # kiosk: say plainly that the word is what the EEG decoder read
            text, colour = verdict(rec)
            self.class_caption.setText(f"decoded: {text}")
            self.class_caption.setStyleSheet(f"color: {colour or '#e0e0e0'};")
        if self.history_layout is not None:
            self._push_history(rec)
        self._update_status()

    def on_status(self, status: dict) -> None:
        """Merge pipeline-side counters (e.g. epochs, drops) and any extra key=value fields into the status bar."""
        status = dict(status or {})
        if "epochs" in status:
            self.n_epochs = int(status.pop("epochs"))
        for key in ("drops", "dropped"):
            if key in status:
                self.drops_total = int(status.pop(key))
        if "state" in status:
            self.session_state = str(status.pop("state"))
        self.extra_status.update(status)
        self._update_status()

    def on_finished(self) -> None:
        self.session_state = "finished"
        self._update_status()

    # ---------------------------------------------------------------- session controls (normal mode)

    def current_choice(self):
        """The source the controls describe, as a SourceChoice (None in kiosk mode, which has no controls).

        Details the controls do not show (marker stream names, a BrainFlow board id) are kept from the last
        set_choice() of the same kind, so a session started from the command line can be restarted as it was.
        """
        if self.kiosk:
            return None
        kind = self.source_combo.currentData()
        base = self._choices.get(kind)
        speed = float(self.speed_spin.value())
        if kind == "demo":
            return SourceChoice("demo", speed=speed)
        if kind == "xdf":
            if base is not None and base.path == self._xdf_path:
                return replace(base, speed=speed)
            return SourceChoice("xdf", path=self._xdf_path, speed=speed)
        if kind == "lsl":
            return replace(base or SourceChoice("lsl"), name=self.lsl_name_edit.text().strip() or None)
        return base or SourceChoice(kind)

    def set_choice(self, choice) -> None:
        """Show a SourceChoice in the controls (no file dialog; an XDF choice brings its path)."""
        if self.kiosk or choice is None:
            return
        kind = choice.kind
        if kind == "brainflow" and choice.board_id in (None, -1):
            kind = "brainflow-synthetic"
        if kind == "brainflow" and self.source_combo.findData("brainflow") < 0:
            self.source_combo.addItem("", "brainflow")  # a real board, from the command line
        idx = self.source_combo.findData(kind)
        if idx < 0:
            return
        self._choices[kind] = choice
        if kind == "brainflow":
            self.source_combo.setItemText(idx, f"BrainFlow board {choice.board_id}")
        if kind == "xdf":
            self._set_xdf_path(choice.path)
        if kind == "lsl":
            self.lsl_name_edit.setText(choice.name or "")
        if kind in ("demo", "xdf"):
            self.speed_spin.setValue(float(choice.speed))
        self.source_combo.setCurrentIndex(idx)
        self._source_index = idx

    def model_dir(self) -> str:
        return "" if self.kiosk else self.model_edit.text().strip()

    def set_model_dir(self, path: str | Path | None) -> None:
        if not self.kiosk:
            self.model_edit.setText(str(path or ""))

    def _set_xdf_path(self, path: str | Path | None) -> None:
        self._xdf_path = str(path) if path else None
        idx = self.source_combo.findData("xdf")
        text = f"XDF: {Path(path).name}" if path else "XDF file…"
        self.source_combo.setItemText(idx, text)
        self.source_combo.setItemData(idx, str(path or ""), Qt.ItemDataRole.ToolTipRole)

    def _source_activated(self, index: int) -> None:
        """The user picked a source; XDF asks for the file (cancel keeps the previous choice)."""
        if self.source_combo.itemData(index) == "xdf":
            start = str(Path(self._xdf_path).parent) if self._xdf_path else ""
            path, _ = QFileDialog.getOpenFileName(self, "Open an XDF recording", start,
                                                  "XDF recordings (*.xdf *.xdfz);;All files (*)")
            if path:
                self._set_xdf_path(path)
            elif not self._xdf_path:
                self.source_combo.setCurrentIndex(self._source_index)
                return
        self._source_index = self.source_combo.currentIndex()

    def _source_changed(self, index: int) -> None:
        kind = self.source_combo.itemData(index)
        self.lsl_name_edit.setVisible(kind == "lsl")
        replay = kind in ("demo", "xdf")
        self.speed_label.setVisible(replay)
        self.speed_spin.setVisible(replay)

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.model_dir())
        if path:
            self.set_model_dir(path)

    def _start_clicked(self) -> None:
        self.start_requested.emit(self.current_choice(), self.model_dir())

    def set_session_state(self, state: str) -> None:
        """idle / starting / running / stopping: enables the buttons that make sense and shows the state."""
        if state != "idle" or not self.session_state:
            self.session_state = state  # back to idle, the last outcome (finished, stopped, error) stays shown
        if not self.kiosk:
            busy = state in ("starting", "running")
            self.start_button.setEnabled(state == "idle")
            self.stop_button.setEnabled(busy)
        self._update_status()

    def show_message(self, text: str, error: bool = False) -> None:
        """One line above the traces: what the session is doing, or what went wrong (in red)."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #c00000; font-weight: bold;" if error else "color: #505050;")

    def on_session_started(self, info: StreamInfo, label: str | None = None) -> None:
        self.set_stream_info(info, label=label)
        self.last_chunk_time = None
        what = label or info.name or "source"
        self.show_message(f"running: {what} — {info.name}, {info.n_channels} channels, {info.sfreq:g} Hz")

    def on_session_error(self, message: str) -> None:
        self.session_state = "error"
        self.show_message(f"error: {message}", error=True)
        self._update_status()

    def on_session_stopped(self, reason: str) -> None:
        if reason != "error":
            self.session_state = reason
            if reason == "finished":
                self.show_message("finished: the recording has been played to the end")
            elif reason == "duration":
                self.show_message("stopped: the session duration is over")
            else:
                self.show_message(f"{reason}")
        self._update_status()

    # ---------------------------------------------------------------- drawing

    def trace_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The buffered (timestamps, data) in time order: (n,), (n_show, n)."""
        if self._count < self.buf_len:
            order = np.arange(self._count)
        else:
            order = (self._write + np.arange(self.buf_len)) % self.buf_len
        return self._buf_ts[order], self._buf[:, order]

    def refresh_traces(self) -> None:
        """Redraw traces and prune marker lines; a no-op unless a chunk or marker came since the last call."""
        if not self._dirty or self.kiosk:
            return
        self._dirty = False
        ts, data = self.trace_arrays()
        if ts.size == 0 or not self.curves:
            return
        # NaN samples (an amplifier's dropout) are left out of the statistics and drawn as holes in the trace.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: its own NaN mean, no warning
            data = data - np.nanmean(data, axis=1, keepdims=True)
            # One scale for all channels (median spread) keeps relative amplitudes visible and noisy ones obvious.
            spread = float(np.nanmedian(np.nanstd(data, axis=1))) if data.size else 0.0
        scale = 1.0 / (6.0 * spread) if np.isfinite(spread) and spread > 0 else 1.0
        for i, curve in enumerate(self.curves):
            curve.setData(ts, data[i] * scale - i, connect="finite")
        t_end = float(ts[-1])
        t_start = t_end - WINDOW_S
        self.plot.setXRange(t_start, t_end, padding=0)
        self.scale_uv = nice_scale(0.8 / scale) * 1e6 if np.isfinite(spread) and spread > 0 else 0.0
        if self.scale_uv:
            x, y0 = t_end - 0.02 * WINDOW_S, -len(self.curves) + 0.6
            self.scale_bar.setData([x, x], [y0, y0 + self.scale_uv * 1e-6 * scale])
            self.scale_text.setText(f"{self.scale_uv:g} µV")
            self.scale_text.setPos(x - 0.01 * WINDOW_S, y0 + 0.5 * self.scale_uv * 1e-6 * scale)
        keep = []
        for line in self.marker_lines:
            if line.value() < t_start:
                self.plot.removeItem(line)
            else:
                keep.append(line)
        self.marker_lines = keep

    def _push_history(self, rec: Reconstruction) -> None:
        item = QWidget()
        lay = QVBoxLayout(item)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        img = QLabel()
        img.setFixedSize(HISTORY_PX, HISTORY_PX)
        img.setAlignment(Qt.AlignmentFlag.AlignCenter)
        img.setPixmap(to_pixmap(rec.image, HISTORY_PX))
        # The decoded class (what eegviz read), marked hit/miss when the stimulus is known; the marker's own
        # id is in the tooltip. Long texts are elided rather than widening the strip.
        text, colour = verdict(rec)
        cap = QLabel()
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cap.setFixedWidth(HISTORY_PX)
        cap.setToolTip(f"decoded {rec.decoded.top_class or '?'} for stimulus {rec.marker.payload}")
        if colour:
            cap.setStyleSheet(f"color: {colour};")
        cap.setText(cap.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, HISTORY_PX))
        lay.addWidget(img)
        lay.addWidget(cap)
        self.history_layout.insertWidget(0, item)
        self.history.appendleft(item)
        while len(self.history) > HISTORY_LEN:
            old = self.history.pop()
            self.history_layout.removeWidget(old)
            old.setParent(None)
            old.deleteLater()

    def _source_text(self) -> str:
        name = self.info.name or ""
        text = f"{self.source_label}: {name}" if self.source_label and name else (self.source_label or name or "no source")
        if len(text) > SOURCE_NAME_CHARS:
            text = text[: SOURCE_NAME_CHARS - 1] + "…"
        return text

    def status_fields(self) -> str:
        """The important fields, always shown in full: source, class, drops, epochs, generator, state."""
        rec = self.last_rec
        parts = [self._source_text()]
        if self.info.sfreq:
            parts[0] += f" ({self.info.n_channels} ch, {self.info.sfreq:g} Hz)"
        parts.append(f"class {(rec.decoded.top_class or '?') if rec is not None else '—'}")
        parts.append(f"drops {self.drops_total}")
        parts.append(f"epochs {self.n_epochs}")
        if rec is not None:
            parts.append(f"generator {rec.generator}")
        if self.session_state:
            parts.append(self.session_state)
        return "  |  ".join(parts)

    def status_details(self) -> str:
        """Latency breakdown and extra fields: shown after the important ones, elided when space runs out."""
        parts = []
        rec = self.last_rec
        if rec is not None and rec.timings_ms:
            parts.append("latency " + " · ".join(f"{k} {v:.1f} ms" for k, v in rec.timings_ms.items()))
        parts.extend(f"{k} {v}" for k, v in self.extra_status.items())
        return "  |  ".join(parts)

    def status_text(self) -> str:
        details = self.status_details()
        return self.status_fields() + (f"  |  {details}" if details else "")

    def _update_status(self) -> None:
        self.status_label.setText(self.status_fields())
        self.details_label.setText(self.status_details())

    def check_signal(self) -> None:
        """Kiosk watchdog: show the overlay when no chunk came for signal_timeout_s."""
        if self.overlay is None:
            return
        stale = self.last_chunk_time is None or time.monotonic() - self.last_chunk_time > self.signal_timeout_s
        if stale and not self.overlay.isVisibleTo(self):
            self.overlay.show()
            self._place_overlay()
        elif not stale and self.overlay.isVisibleTo(self):
            self.overlay.hide()

    @property
    def waiting_for_signal(self) -> bool:
        return self.overlay is not None and self.overlay.isVisibleTo(self)

    def save_screenshot(self, path: str | Path) -> bool:
        return self.grab().save(str(path))
