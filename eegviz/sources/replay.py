"""Real-time (or faster) replay of recorded samples and markers: the pacing shared by file sources.

Samples are released in chunks of chunk_s once their recording time has come, with recording time advancing
speed times faster than perf_counter from start(); speed=0 releases everything as fast as the caller reads, a
bounded batch per read so downstream queues see a steady flow rather than one huge chunk. A regular-rate
stream's stamps are dejittered as the live LSL source dejitters them (eegviz.stream.dejitter), so a replay cuts
the epochs its live session cut; each chunk keeps the file's own stamps as raw_timestamps for the recording.
Where a file says its samples are not continuous although its stamps are (a pause and resume, a join, a BAD_
span: the source's `breaks`), the first read names those places (messages.Break) so no epoch reaches them;
every sample is still delivered and recorded.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from eegviz.checks import check_positive
from eegviz.errors import EegvizError
from eegviz.messages import Break, Chunk, Marker
from eegviz.sources.base import ReadResult
from eegviz.stream.dejitter import dejitter_recording
from eegviz.stream.epocher import OTHER_CLOCK_S

log = logging.getLogger(__name__)


def checked_speed(speed: float) -> float:
    """A replay speed every file source accepts: finite and >= 0 (0 = as fast as possible). A NaN speed let
    through makes the pacing wait forever, with nothing said."""
    return float(check_positive(speed, "replay speed", allow_zero=True, hint="0 = as fast as possible"))


def out_of_reach(timestamps: np.ndarray, markers: list[Marker]) -> np.ndarray:
    """Which markers lie more than OTHER_CLOCK_S outside the EEG's span (its first to its last stamp): far more
    than any epoch window reaches, so no EEG of the recording can hold their windows; the live Epocher's bound
    for a marker in another clock (eegviz.stream.epocher)."""
    if not len(timestamps):
        return np.zeros(len(markers), bool)
    lo, hi = float(np.min(timestamps)), float(np.max(timestamps))
    t = np.array([m.timestamp for m in markers], dtype=np.float64)
    return ~((t >= lo - OTHER_CLOCK_S) & (t <= hi + OTHER_CLOCK_S))  # NaN: outside


def check_reach(timestamps: np.ndarray, markers: list[Marker], where: str) -> None:
    """Refuse a recording none of whose markers lies within the EEG's reach (out_of_reach), in one line giving
    both spans; warn once where some do not.

    Markers stamped in another clock than the EEG (a stimulus script that pushed time.time(), Unix seconds,
    instead of LSL's local_clock; or seconds since its own start) lie far outside it, and the pacing waited on
    them in silence: at --speed 1 a 10 s recording with markers at 1.7e9 s never ended, and one with markers at
    4 s (EEG at 5000 s) sat idle ~83 min before its first sample; at --speed 0 every marker was skipped for
    reasons that did not name the clock. Where no marker lies within reach, the clocks do not overlap: nothing
    could be cut, at any speed. Where some do, the clocks are one, and the others were sent while the EEG was
    not there (an amplifier that stopped early or started late while the presenter went on): they are not paced
    (PacedReplay hands them on at once, so a replay does not idle through the minutes without EEG) but still
    delivered, so the session records them and gives each its line (its window is incomplete or out of the
    data): nothing recorded is lost. Markers just past the data are within reach and replay as before."""
    out = out_of_reach(timestamps, markers)
    n_out = int(out.sum())
    if not n_out:
        return
    lo, hi = float(np.min(timestamps)), float(np.max(timestamps))
    eeg = f"EEG {lo:.3f} to {hi:.3f} s"
    if n_out == len(markers):
        t = [m.timestamp for m in markers]
        raise EegvizError(
            f"{where}: the marker and EEG clocks do not overlap: all {n_out} markers lie more than "
            f"{OTHER_CLOCK_S:g} s outside the EEG's span (markers {np.nanmin(t):.3f} to {np.nanmax(t):.3f} s, "
            f"{eeg}); they were stamped in another clock (time.time() instead of LSL's local_clock?), so no epoch "
            "can be cut")
    far = [m for m, o in zip(markers, out) if o]
    log.warning("%s: %d of %d markers lie more than %g s outside the EEG's span (%s): %s%s; the EEG was not there "
                "when they were sent (it stopped early or started late), so they get no epoch; they are not paced, "
                "and are recorded", where, n_out, len(markers), OTHER_CLOCK_S, eeg,
                ", ".join(f"'{m.payload}' at {m.timestamp:.3f} s" for m in far[:3]), ", ..." if n_out > 3 else "")


class PacedReplay:
    BATCH_S = 1.0  # recording seconds per read() when speed == 0

    def __init__(self, data: np.ndarray, timestamps: np.ndarray, markers: list[Marker], name: str,
                 sfreq: float, speed: float = 1.0, chunk_s: float = 0.02,
                 breaks: tuple[tuple[int, int, str], ...] = ()) -> None:
        """data (n, ch) and timestamps (n,) in recording time; markers in time order; breaks as
        ReplaySource.breaks gives them (sample numbers). Markers out of the EEG's reach (out_of_reach: sent
        while no EEG was recorded, or in another clock) are handed on with the first read, unpaced: paced, they
        kept a replay waiting for hours or for ever (check_reach)."""
        far = out_of_reach(timestamps, markers)
        self.n_markers = len(markers)
        self.unpaced = [m for m, o in zip(markers, far) if o]
        markers = [m for m, o in zip(markers, far) if not o]
        self.data, self.timestamps, self.markers, self.name = data, timestamps, markers, name
        # epochs are cut in the stamps a live session would have had (dejittered); the recording keeps these
        self.smooth = dejitter_recording(timestamps, sfreq) if sfreq > 0 and len(timestamps) else timestamps
        self._breaks = [self._break(a, b, what) for a, b, what in breaks]
        self.speed = float(speed)
        n = len(timestamps)
        per = max(1, int(round(chunk_s * sfreq))) if sfreq > 0 else 1
        self._bounds = np.append(np.arange(0, n, per), n)  # chunk k = samples [bounds[k], bounds[k+1])
        running_max = np.maximum.accumulate(timestamps)  # tolerate small backward steps (clock resets)
        self._release_t = running_max[self._bounds[1:] - 1]  # recording time at which chunk k is complete
        starts = [timestamps[0]] + ([markers[0].timestamp] if markers else [])
        self._t0_rec = float(min(starts))
        self._next_chunk = self._next_marker = 0
        self._t0_wall = time.perf_counter()

    def _break(self, a: int, b: int, what: str) -> Break:
        """Samples [a, b) unusable (a == b: samples a - 1 and a not continuous) as a Break in the epoching stamps."""
        n = len(self.smooth)
        a, b = min(max(int(a), 0), n), min(max(int(b), int(a), 0), n)
        return Break(float(self.smooth[a - 1]) if a > 0 else -np.inf, float(self.smooth[b]) if b < n else np.inf,
                     what)

    def done(self) -> bool:
        return (self._next_chunk >= len(self._release_t) and self._next_marker >= len(self.markers)
                and not self.unpaced)

    def _marker_due(self, horizon: float) -> bool:
        return self._next_marker < len(self.markers) and self.markers[self._next_marker].timestamp <= horizon

    def _horizon(self, timeout: float) -> tuple[int, float]:
        """(chunks ready, recording time reached): at most BATCH_S ahead at speed 0, else wait up to timeout
        for the next chunk or marker to come due."""
        if self.speed == 0:
            k0 = self._next_chunk
            if k0 >= len(self._release_t):
                return k0, np.inf
            k1 = int(np.searchsorted(self._release_t, self._release_t[k0] + self.BATCH_S, side="right"))
            return k1, float(self._release_t[k1 - 1]) if k1 < len(self._release_t) else np.inf
        deadline = time.perf_counter() + max(0.0, timeout)
        while True:
            horizon = self._t0_rec + (time.perf_counter() - self._t0_wall) * self.speed
            k1 = int(np.searchsorted(self._release_t, horizon, side="right"))
            if k1 > self._next_chunk or self._marker_due(horizon) or self.done():
                return k1, horizon
            nxt = [self._release_t[self._next_chunk]] if self._next_chunk < len(self._release_t) else []
            if self._next_marker < len(self.markers):
                nxt.append(self.markers[self._next_marker].timestamp)
            wait = min(deadline - time.perf_counter(), (min(nxt) - horizon) / self.speed)
            if wait <= 0:
                return k1, horizon
            time.sleep(wait)

    def read(self, timeout: float = 0.05) -> ReadResult:
        result = ReadResult(markers=self.unpaced)
        self.unpaced = []
        k1, horizon = self._horizon(timeout)
        result.breaks, self._breaks = self._breaks, []  # all of them with the first read, before any sample
        for k in range(self._next_chunk, max(k1, self._next_chunk)):
            a, b = self._bounds[k], self._bounds[k + 1]
            result.chunks.append(Chunk(samples=self.data[a:b], timestamps=self.smooth[a:b], source=self.name,
                                       raw_timestamps=self.timestamps[a:b]))
        self._next_chunk = max(k1, self._next_chunk)
        while self._marker_due(horizon):
            result.markers.append(self.markers[self._next_marker])
            self._next_marker += 1
        result.finished = self.done()
        return result


class ReplaySource:
    """open()/start()/read()/stop() for sources that play recorded arrays back. A subclass implements `load()`
    (read the recording, set `info`, return its samples, stamps and markers); open() calls it once, so a session
    can check the channels before warming up (eegviz.sources.base), and start() begins the paced playback.
    A subclass that loads in its own start() and calls `begin()` (as plugins did before open() existed) has no
    open(), so a session checks it after start(), as it checks live sources.
    Until start() and after stop(), read() reports the source finished."""

    speed: float = 1.0
    chunk_s: float = 0.02
    # a recording's markers are judged against its EEG when it loads (check_reach), so the session's Epocher does
    # not judge their clock by when they arrive: a replay's wall time is not the recording's (at --speed 0 it
    # crossed a 90 s hole in the EEG in microseconds, and the markers around it were called another clock)
    replayed = True
    # where the samples are not continuous although their stamps are, as load() found them: (a, b, what) for
    # samples a..b-1 that no epoch may use (a == b: samples a - 1 and a lie on two sides of a pause or join)
    breaks: tuple[tuple[int, int, str], ...] = ()
    _replay: PacedReplay | None = None
    _recording: tuple[np.ndarray, np.ndarray, list[Marker]] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.load is ReplaySource.load:  # it loads in its own start(): nothing to open early
            cls.open = None

    def load(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        """Read the recording: set `info` and return (data (n, ch) float32 volts, timestamps (n,), markers)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither load() nor start()")

    def open(self) -> None:
        self._loaded()

    def start(self) -> None:
        data, timestamps, markers = self._loaded()
        self.begin(data, timestamps, markers, self.info.name, self.info.sfreq)

    def _loaded(self) -> tuple[np.ndarray, np.ndarray, list[Marker]]:
        """The recording, read by load() the first time it is asked for (by open() or start())."""
        if self._recording is None:
            recording = self.load()
            check_reach(recording[1], recording[2], self._where())  # refused at open(), before the warm-up
            self._recording = recording
        return self._recording

    def _where(self) -> str:
        """The recording, as its messages name it: its path as given (several sessions are each a session.xdf),
        else its stream's name."""
        path = getattr(self, "path", None)
        return str(path) if path else self.info.name

    def begin(self, data: np.ndarray, timestamps: np.ndarray, markers: list[Marker], name: str,
              sfreq: float) -> None:
        if self._recording is None or markers is not self._recording[2]:  # it loads in its own start()
            check_reach(timestamps, markers, self._where())
        self._replay = PacedReplay(data, timestamps, markers, name, sfreq, self.speed, self.chunk_s, self.breaks)

    def read(self, timeout: float = 0.05) -> ReadResult:
        if self._replay is None:
            return ReadResult(finished=True)
        return self._replay.read(timeout)

    @property
    def n_markers(self) -> int | None:
        """How many markers the recording holds (for progress bars); None before start()."""
        return self._replay.n_markers if self._replay is not None else None

    def stop(self) -> None:
        self._replay = self._recording = None  # the recording's arrays go with the session
