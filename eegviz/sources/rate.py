"""Whether a stream's timestamps bear out the sampling rate its header declares, for recorded files and live streams.

Epochs are cut at the declared rate, so a wrong one (a header that says 1000 Hz over samples 4 ms apart, a
sender configured for another amplifier mode) cuts every epoch at the wrong length, and the session decodes
EEG that did not follow its marker without a word. The stamps say how fast samples really come: counted over
the stream without its gaps, they give its rate whatever the sender's jitter or packet size. Live, the samples'
arrival on this machine's clock says it too, and a refusal needs both (LiveRateCheck).
"""

from __future__ import annotations

import numpy as np

# a declared rate is contradicted when the stamps advance at under half or over twice it: lost samples (a weak
# radio link drops 10-20%) and a clock's drift are far less, a wrong header (1 MHz over 4 ms stamps) far more
RATE_FACTOR = 2.0
# a step between stamps longer than this, either way, is a gap (a reconnect, a clock reset, a long pause), not part
# of the rate. Shorter silences count as time: a sender that pushes its blocks a second or more apart, or stalls
# and then flushes what it held, would otherwise be measured over its bursts alone, many times too fast
GAP_S = 5.0
# live, pulls further apart than this are not timed (a pause of the amplifier, a reconnect): eegviz.sources.lsl's
# SILENCE_GAP_S
ARRIVAL_GAP_S = 1.0


def stamp_rate(timestamps: np.ndarray) -> tuple[float, float] | None:
    """(samples per second of stamp time, the seconds it was measured over), over the steps that are not gaps
    (over GAP_S either way: a dropout, a reconnect, a clock reset); None when there is no such time. Steps of 0
    count (samples stamped alike, a packet's arrival time on each, are samples all the same, or the rate would be
    divided by the packet size), and so do short backward steps: a sender that pushes its chunks unstamped has
    liblsl date each chunk back from its push at the declared rate, and where that rate is too low the chunks
    overlap; only the net advance of the stamps, backward steps included, is the time the samples took."""
    steps = np.diff(np.asarray(timestamps, dtype=np.float64))
    within = steps[np.abs(steps) <= GAP_S]
    span = float(within.sum())
    return (len(within) / span, span) if span > 0 else None


def contradicts(measured: float, declared: float) -> bool:
    """Whether a measured rate is off the declared one by more than RATE_FACTOR either way."""
    return not 1 / RATE_FACTOR <= measured / declared <= RATE_FACTOR


class LiveRateCheck:
    """A live stream's declared rate judged once from its first window_s of data, by two measures that must
    both contradict it: the samples' rate by their sender's stamps (stamp_rate) and by their arrival on this
    machine's clock. Either alone is fooled by a healthy sender: a backlog flushed after a stall and stamped on
    arrival runs the stamps fast, a sender that pushes a burst of blocks each second or so (its pulls more than
    ARRIVAL_GAP_S apart are not timed) leaves arrival unmeasured, and a pause in the first seconds slows the
    stamps. A wrong rate setting moves both.

    Arrival is timed over the intervals between pulls that brought data, ARRIVAL_GAP_S or shorter, each with the samples
    that came at its end: the first pull (a backlog from before the session read) and the first after a silence
    (the samples of the silence, if the sender kept them) are not counted. A stream never judged within GIVE_UP_S
    is not judged at all, so its stamps are not kept all session."""

    GIVE_UP_S = 30.0

    def __init__(self, declared: float, window_s: float = 4.0):
        self.declared, self.window_s = declared, window_s
        self.done = not declared > 0
        self._stamps: list[np.ndarray] = []
        self._samples, self._seconds = 0, 0.0
        self._first_at: float | None = None
        self._last_at: float | None = None

    def add(self, stamps: np.ndarray, now: float) -> str | None:
        """Feed one pull: its samples' sender stamps and the monotonic time it arrived. Returns, once, the
        measured rates (a phrase for a one-line error) where both contradict the declared one; else None."""
        if self.done or not len(stamps):
            return None
        if self._first_at is None:
            self._first_at = now
        if self._last_at is not None and now - self._last_at <= ARRIVAL_GAP_S:
            self._samples += len(stamps)
            self._seconds += now - self._last_at
        self._last_at = now
        self._stamps.append(np.asarray(stamps, dtype=np.float64))
        if self._seconds < self.window_s:
            if now - self._first_at > self.GIVE_UP_S:
                self.done, self._stamps = True, []
            return None
        self.done = True
        stamped = stamp_rate(np.concatenate(self._stamps))
        self._stamps = []
        arrival = self._samples / self._seconds
        if stamped is None or not (contradicts(stamped[0], self.declared) and contradicts(arrival, self.declared)):
            return None
        return (f"{arrival:.4g} Hz by their arrival here over {self._seconds:.0f} s ({stamped[0]:.4g} Hz by their "
                "timestamps)")
