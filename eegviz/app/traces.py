"""The live EEG traces: a ring buffer of the displayed channels and the pyqtgraph view that draws it.

EEG arrives far more often than the screen can usefully repaint (chunks of a few ms each), so a chunk is only
copied into the ring buffer (TraceBuffer, plain numpy, no Qt) and a 10 Hz QTimer in TraceView redraws the
traces when something changed. The view also draws the marker lines, a microvolt scale bar, and a time axis
that starts at the session's first sample rather than at the LSL clock's arbitrary zero.
"""

from __future__ import annotations

import math

import warnings

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer

from eegviz.messages import Chunk, Marker, StreamInfo

N_TRACES = 16  # channels drawn; more would be an unreadable smear
WINDOW_S = 5.0  # seconds of EEG visible
# 10 Hz, not 20: a redraw (16 traces, axes, marker labels) is mostly Python pyqtgraph work on the GUI thread,
# and at 20 Hz that GIL time slowed the inference thread: generate() p50 in the offscreen demo window was 358 ms
# at 20 Hz, 47 ms with the traces all but stopped, 74-78 ms at 10 Hz with a 1 ms GIL switch interval
# (run_window.py), on 2 cores.
REFRESH_HZ = 10.0
MARKER_LABEL_GAP_PX = 6  # the least room between one marker's label and the next one's
# Marker lines kept at most (a 5 s window at an image every 0.2 s shows 25): lines are pruned as the EEG scrolls
# past them, so while no EEG came (an amplifier lost, the presenter still sending) every marker's line stayed.
MAX_MARKER_LINES = 200
# A pause this long between one chunk's last sample and the next one's first is drawn as a hole, not a line: an
# LSL stream back after an outage was joined to its last samples by straight, flat lines across the outage,
# as if the amplifier had sent a flat signal all along.
TRACE_GAP_S = 0.25
# A trace is cut off this many rows above and below its own: at the shared scale an electrode left floating (a few
# mV of mains hum, hundreds of times the others' spread) was drawn over every other row, a solid block that hid
# all the traces. Cut off, it is still the one wide band that stands out; the others stay readable.
CLIP_ROWS = 1.0


def nice_scale(value: float) -> float:
    """The largest 1-2-5 x 10^k not above value (a scale bar's length)."""
    if not np.isfinite(value) or value <= 0:
        return 0.0
    k = np.floor(np.log10(value))
    for m in (5.0, 2.0, 1.0):
        if m * 10**k <= value:
            return float(m * 10**k)
    return float(10**k)


class TraceBuffer:
    """The last WINDOW_S seconds of every k-th channel (so the montage is covered evenly), in session time.

    channels: the stream's channel indices shown; labels: their names; count: samples held (up to length).
    Times are seconds since t0, the session's first sample (or marker, if one comes first).
    """

    def __init__(self, info: StreamInfo | None = None):
        self.reset(info)

    def reset(self, info: StreamInfo | None) -> None:
        self.info = info if info is not None else StreamInfo(name="", ch_names=(), sfreq=0.0)
        n_ch = self.info.n_channels
        step = max(1, n_ch // N_TRACES)
        self.channels = np.arange(0, n_ch, step)[:N_TRACES]
        self.labels = [self.info.ch_names[c] for c in self.channels]
        self.length = max(2, int(round(WINDOW_S * (self.info.sfreq or 250.0))))
        self._data = np.zeros((len(self.channels), self.length), dtype=np.float32)
        self._ts = np.zeros(self.length, dtype=np.float64)
        self._write = 0
        self.count = 0
        self.t0: float | None = None

    def origin(self, t: float) -> float:
        """The session's time origin: its first sample (or marker, if one comes first)."""
        if self.t0 is None:
            self.t0 = t
        return self.t0

    def write(self, chunk: Chunk) -> bool:
        """Copy the displayed channels of a chunk in; False (nothing changed) for an empty chunk."""
        samples = np.asarray(chunk.samples)
        if samples.size == 0:
            return False
        chans = self.channels[self.channels < samples.shape[1]]
        data = samples[:, chans].T.astype(np.float32)  # (n_show, n)
        ts = np.asarray(chunk.timestamps, dtype=np.float64)
        ts = ts - self.origin(float(ts[0]))
        if self.count and ts[0] - self._ts[(self._write - 1) % self.length] > TRACE_GAP_S:
            # one NaN sample just after the last one: the curve (connect="finite") breaks there
            hole = np.full((data.shape[0], 1), np.nan, dtype=np.float32)
            last = self._ts[(self._write - 1) % self.length]
            data, ts = np.hstack([hole, data]), np.concatenate([[last + 1e-6], ts])
        n = data.shape[1]
        if n >= self.length:  # a chunk longer than the window: keep its tail
            data, ts, n = data[:, -self.length:], ts[-self.length:], self.length
        idx = (self._write + np.arange(n)) % self.length
        self._data[: len(chans), idx] = data
        self._ts[idx] = ts
        self._write = (self._write + n) % self.length
        self.count = min(self.length, self.count + n)
        return True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The buffered (timestamps, data) in time order: (n,), (n_show, n)."""
        if self.count < self.length:
            order = np.arange(self.count)
        else:
            order = (self._write + np.arange(self.length)) % self.length
        return self._ts[order], self._data[:, order]


class TraceView(pg.PlotWidget):
    """The plot of a TraceBuffer: one curve per channel on a shared scale, marker lines, a scale bar.

    on_chunk/on_marker only record; refresh() (run by refresh_timer) draws, and is a no-op unless a chunk or a
    marker came since the last call.
    """

    def __init__(self, parent=None):
        pg.setConfigOptions(antialias=False)
        super().__init__(parent, background="w")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("bottom", "time since the session started", units="s")
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.setMinimumHeight(150)  # with the panels, the window still fits a 1280 x 720 screen
        item = self.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")

        self.buffer = TraceBuffer()
        self.curves: list[pg.PlotDataItem] = []
        self.marker_lines: list[pg.InfiniteLine] = []
        self.scale_bar: pg.PlotDataItem | None = None
        self.scale_text: pg.TextItem | None = None
        self.scale_uv = 0.0  # the scale bar's length in microvolts (0 until traces are drawn)
        self._last_label: tuple[float, float] | None = None  # (time, width in px) of the last shown marker label
        self._dirty = False

        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(int(1000 / REFRESH_HZ))
        self.refresh_timer.timeout.connect(self.refresh)
        self.refresh_timer.start()

    def set_stream_info(self, info: StreamInfo | None) -> None:
        """Start over for a stream: a new buffer, and one curve per displayed channel labelled on the left axis."""
        self.buffer.reset(info)
        self._dirty = False
        for curve in self.curves:
            self.removeItem(curve)
        for line in self.marker_lines:
            self.removeItem(line)
        self.curves, self.marker_lines = [], []
        self._last_label = None
        n = len(self.buffer.channels)
        self._label_ticks()
        self.setYRange(-max(n, 1) + 0.3, 0.9, padding=0)
        # The time axis of a session not started yet (what the first refresh shows): cleared at a window's Start,
        # the plot kept the last session's times, "27 ... 31.5 s since the session started", over no traces.
        self.setXRange(-WINDOW_S, 0.0, padding=0)
        for i in range(n):
            color = pg.intColor(i, hues=n, values=1, maxValue=160)
            self.curves.append(self.plot(pen=pg.mkPen(color, width=1)))
        # Scale bar: how many microvolts one trace spacing is (the traces share one scale, see refresh).
        if self.scale_bar is not None:
            self.removeItem(self.scale_bar)
            self.removeItem(self.scale_text)
        self.scale_bar = self.plot(pen=pg.mkPen((20, 20, 20), width=3))
        self.scale_text = pg.TextItem("", color=(20, 20, 20), anchor=(1.0, 0.5), fill=(255, 255, 255, 210))
        self.addItem(self.scale_text)

    def _label_ticks(self) -> None:
        """Name the traces on the left axis, every k-th one where the rows are shorter than a line of text (16
        labels in a short trace area were stacked into an unreadable smear)."""
        labels = self.buffer.labels
        rows = max(len(labels), 1)
        line = self.fontMetrics().height() + 2
        every = max(1, math.ceil(line * rows / max(self.height() - 40, 1)))
        self.getPlotItem().getAxis("left").setTicks(
            [[(-i, label if i % every == 0 else "") for i, label in enumerate(labels)]])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if hasattr(self, "buffer"):  # (pyqtgraph resizes the view while it is being built)
            self._label_ticks()

    def on_chunk(self, chunk: Chunk) -> None:
        if self.buffer.write(chunk):
            self._dirty = True

    def on_marker(self, marker: Marker) -> None:
        """A dashed line at the marker, labelled with its payload where the last label leaves room (see
        _label_fits); the line is drawn either way."""
        t = float(marker.timestamp) - self.buffer.origin(float(marker.timestamp))
        line = pg.InfiniteLine(
            pos=t,
            angle=90,
            movable=False,
            pen=pg.mkPen((220, 40, 40), width=1.5, style=Qt.PenStyle.DashLine),
            label=str(marker.payload),
            labelOpts={"position": 0.97, "color": (180, 20, 20), "fill": (255, 255, 255, 200), "anchors": [(0, 0), (0, 0)]},
        )
        self.addItem(line)
        if self._label_fits(t):
            self._last_label = (t, line.label.boundingRect().width())
        else:
            line.label.setVisible(False)
        self.marker_lines.append(line)
        if len(self.marker_lines) > MAX_MARKER_LINES:
            self.removeItem(self.marker_lines.pop(0))
        self._dirty = True

    def _label_fits(self, t: float) -> bool:
        """Whether a label at time t clears the last shown one. At a rapid design's pace (an image every 0.2-0.3 s)
        each label was drawn over the one before, leaving rows of ids cut to their first letters; decided once per
        marker, so the labels shown do not change as the traces scroll."""
        px_per_s = self.getPlotItem().getViewBox().width() / WINDOW_S
        if self._last_label is None or px_per_s <= 0:
            return True
        last_t, last_w = self._last_label
        if t < last_t or t - last_t > WINDOW_S:  # out of order (a marker in another clock), or long after: clear
            return True
        return (t - last_t) * px_per_s >= last_w + MARKER_LABEL_GAP_PX

    def refresh(self) -> None:
        """Redraw traces and prune marker lines; a no-op unless a chunk or marker came since the last call."""
        if not self._dirty:
            return
        self._dirty = False
        ts, data = self.buffer.arrays()
        if ts.size == 0 or not self.curves:
            return
        # NaN samples (an amplifier's dropout) are left out of the statistics and drawn as holes in the trace.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: its own NaN mean, no warning
            data = data - np.nanmean(data, axis=1, keepdims=True)
            # One scale for all channels (median spread) keeps relative amplitudes visible and noisy ones obvious.
            # The median of the channels that move: with most drawn channels flat (electrodes not plugged in, an
            # amplifier's unused inputs sending zeros) the median was 0, and the live channels were drawn flat
            # too, at a volt per row, with no scale bar.
            spreads = np.nanstd(data, axis=1) if data.size else np.zeros(0)
            moving = spreads[np.isfinite(spreads) & (spreads > 0)]
            spread = float(np.median(moving)) if moving.size else 0.0
        scale = 1.0 / (6.0 * spread) if np.isfinite(spread) and spread > 0 else 1.0
        for i, curve in enumerate(self.curves):
            curve.setData(ts, np.clip(data[i] * scale, -CLIP_ROWS, CLIP_ROWS) - i, connect="finite")
        t_end = float(ts[-1])
        t_start = t_end - WINDOW_S
        self.setXRange(t_start, t_end, padding=0)
        self.scale_uv = nice_scale(0.8 / scale) * 1e6 if np.isfinite(spread) and spread > 0 else 0.0
        if self.scale_uv:
            x, y0 = t_end - 0.02 * WINDOW_S, -len(self.curves) + 0.6
            self.scale_bar.setData([x, x], [y0, y0 + self.scale_uv * 1e-6 * scale])
            self.scale_text.setText(f"{self.scale_uv:g} µV")
            self.scale_text.setPos(x - 0.01 * WINDOW_S, y0 + 0.5 * self.scale_uv * 1e-6 * scale)
        keep = []
        for line in self.marker_lines:
            if line.value() < t_start:
                self.removeItem(line)
            else:
                keep.append(line)
        self.marker_lines = keep
