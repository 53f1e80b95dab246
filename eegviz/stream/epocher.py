"""Marker-locked epoching on a live stream.

Samples go into a ring buffer; each marker waits until the sample at t_marker + tmax has arrived, then its
window is cut (in the marker's clock) and handed on. A marker whose window was partly lost (a gap, or the
buffer already overwritten) is reported as such, never filled in by guessing. So is a window holding NaN or
inf samples (an amplifier's dropout, a disconnected electrode): the model cannot read it, the recording keeps
it as it came, and the marker's line says why it has no image.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from eegviz.messages import Chunk, Epoch, Marker, SkipKind
from eegviz.stream.preprocess import Preprocessor


class RingBuffer:
    """Fixed-capacity (n_channels x capacity) sample buffer with a parallel timestamp buffer."""

    def __init__(self, n_channels: int, capacity: int):
        self.data = np.zeros((n_channels, capacity), dtype=np.float32)
        self.times = np.full(capacity, -np.inf)
        self.capacity = capacity
        self.count = 0  # total samples ever written
        self.first_time = np.inf  # the stamp of the first sample ever written

    def append(self, samples: np.ndarray, timestamps: np.ndarray) -> None:
        n = len(timestamps)
        if n and self.count == 0:
            self.first_time = float(timestamps[0])
        if n > self.capacity:
            samples, timestamps, n = samples[-self.capacity :], timestamps[-self.capacity :], self.capacity
        idx = (self.count + np.arange(n)) % self.capacity
        self.data[:, idx] = samples.T
        self.times[idx] = timestamps
        self.count += n

    @property
    def latest_time(self) -> float:
        return self.times[(self.count - 1) % self.capacity] if self.count else -np.inf

    def window(self, t0: float, n: int, sfreq: float) -> np.ndarray | None:
        """n samples starting at the first sample with time >= t0, or None if not all of them are present."""
        held = min(self.count, self.capacity)
        order = (self.count - held + np.arange(held)) % self.capacity
        times = self.times[order]
        start = int(np.searchsorted(times, t0 - 0.5 / sfreq))
        if start + n > held or start >= held:
            return None
        if times[start] > t0 + 0.5 / sfreq:  # the window's start already left the buffer (or fell in a gap)
            return None
        span = times[start + n - 1] - times[start]
        if span > (n - 1) / sfreq * 1.05 + 2.0 / sfreq:  # a gap inside the window
            return None
        return self.data[:, order[start : start + n]]


@dataclass
class EpochResult:
    epoch: Epoch | None
    marker: Marker
    reason: str = ""  # why no epoch could be cut, for the results line
    kind: SkipKind | None = None  # GAP, NAN, INCOMPLETE (stream ended) or STOPPED; None with an epoch


class Epocher:
    """Turns a stream of chunks and markers into preprocessed epochs, one per marker."""

    def __init__(self, pre: Preprocessor, ch_names: tuple[str, ...], buffer_s: float = 30.0):
        self.pre = pre
        self.sfreq = pre.source_sfreq
        self.ring = RingBuffer(len(ch_names), int(buffer_s * self.sfreq))
        self.pending: deque[tuple[Marker, float]] = deque()
        self.lo, self.hi = pre.source_window()
        self.n_source = int(round((self.hi - self.lo) * self.sfreq))
        self.out_ch = pre.spec.ch_names
        self.n_epochs = 0

    def add_marker(self, marker: Marker) -> None:
        self.pending.append((marker, time.perf_counter()))

    def add_chunk(self, chunk: Chunk) -> list[EpochResult]:
        self.ring.append(chunk.samples, chunk.timestamps)
        return self.poll()

    def poll(self, flush: bool = False, ended: bool = False) -> list[EpochResult]:
        """Cut every pending marker whose window is complete; with flush, report the rest as incomplete
        (ended: because the session was stopped, not because the stream ran out)."""
        out: list[EpochResult] = []
        keep: deque[tuple[Marker, float]] = deque()
        latest = self.ring.latest_time
        for marker, seen in self.pending:
            t_end = marker.timestamp + self.hi - 1.0 / self.sfreq
            if latest < t_end and not flush:
                keep.append((marker, seen))
                continue
            raw = self.ring.window(marker.timestamp + self.lo, self.n_source, self.sfreq)
            if raw is None:
                if latest >= t_end:
                    early = marker.timestamp + self.lo < self.ring.first_time - 0.5 / self.sfreq
                    why = ("window starts before the first sample received (the stream began mid-trial)" if early
                           else "window falls in a gap or left the buffer")
                    out.append(EpochResult(None, marker, why, SkipKind.GAP))
                elif ended:
                    out.append(EpochResult(None, marker, "session stopped before the epoch window was complete",
                                           SkipKind.STOPPED))
                else:
                    out.append(EpochResult(None, marker, "window incomplete at end of stream",
                                           SkipKind.INCOMPLETE))
                continue
            bad = ~np.isfinite(raw[self.pre.picks])  # only the model's channels matter
            if bad.any():
                n_bad = int(bad.any(axis=0).sum())
                out.append(EpochResult(None, marker, f"epoch holds NaN/inf in {n_bad} of {raw.shape[1]} samples "
                                                     "(kept in the recording, not decoded)", SkipKind.NAN))
                continue
            data = self.pre(raw)
            ep = Epoch(
                data=data, sfreq=self.pre.spec.sfreq, ch_names=self.out_ch, tmin=self.pre.spec.tmin,
                marker=marker, t_ready=time.perf_counter(), t_marker_seen=seen, index=self.n_epochs,
            )
            self.n_epochs += 1
            out.append(EpochResult(ep, marker))
        self.pending = keep
        return out
