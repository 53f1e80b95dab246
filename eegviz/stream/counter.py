"""Lost samples told exactly from a sender's sample counter (BrainFlow's package-number row).

Why: a board stamps samples as its driver hands them over, so its stamps wobble by a sample period or more, and a
loss of a sample or two hides in that wobble while a late delivery looks like one. Boards that number their
samples (OpenBCI Cyton, BrainFlow's synthetic board: 0..255, one step per sample) say exactly how many went
missing, and that a late delivery lost nothing.

The counter's step and where it wraps are learnt from the stream rather than assumed, because boards differ:
some count packets of several samples (the same number repeated), some count by two, some send no counter at all
(a constant). Only a step that at least COUNTER_AGREE of the first COUNTER_LEARN steps agree on is trusted, and
the wrap only once two wraps agree on it (the largest value seen plus a step: 256 for a Cyton). Where the counter
cannot tell (still learning, not trusted, a wrap not yet known, a jump of more than `most` samples), it says so
(-1) and the caller falls back on the stamps.
"""

from __future__ import annotations

import numpy as np

COUNTER_LEARN = 64  # counter steps seen before its usual step is trusted
COUNTER_AGREE = 0.95  # ... the share of those steps that must be that one step
UNKNOWN = -1


class SampleCounter:
    """Feed each chunk's counter values in order; lost_before() says how many samples are missing before each."""

    def __init__(self, most: int) -> None:
        self.most = int(most)  # a larger jump is not read as a loss (a 256-wrap counter cannot count one)
        self.step: float | None = None  # None while learning; 0 when the counter cannot be trusted
        self.modulus: float | None = None  # where it wraps, once two wraps agree
        self._learning: list[np.ndarray] = []
        self._last: float | None = None
        self._max = -np.inf
        self._wrap_seen: float | None = None

    def lost_before(self, counters: np.ndarray) -> np.ndarray:
        """(n,) int: how many samples were lost just before each of these; UNKNOWN where the counter cannot tell
        (the first value ever, while learning, an untrusted counter, an unknown wrap, a jump over `most`)."""
        c = np.asarray(counters, dtype=np.float64)
        out = np.full(len(c), UNKNOWN, dtype=np.int64)
        if not len(c):
            return out
        d = np.diff(c, prepend=np.nan if self._last is None else self._last)
        self._last = float(c[-1])
        if self.step is None:
            self._learn(d)
        elif self.step:
            for i in np.flatnonzero(d < 0):  # a wrap: the modulus, once known, makes the step forward again
                top = max(self._max, float(c[:i].max())) if i else self._max  # the largest value before it
                d[i] = self._unwrapped(d[i], top)
            k = np.rint((d - self.step) / self.step)
            known = np.isfinite(k) & (k >= 0) & (k <= self.most)
            out[known] = k[known].astype(np.int64)
        self._max = max(self._max, float(np.nanmax(c)))
        return out

    def _unwrapped(self, step: float, top: float) -> float:
        if self.modulus is not None:
            return step + self.modulus
        wrap = top + self.step  # where it wrapped if nothing was lost there
        if self._wrap_seen == wrap and wrap > 0:
            self.modulus = wrap
        self._wrap_seen = wrap
        return np.nan

    def _learn(self, d: np.ndarray) -> None:
        self._learning.append(d[np.isfinite(d) & (d >= 0)])
        seen = np.concatenate(self._learning)
        if len(seen) < COUNTER_LEARN:
            return
        values, counts = np.unique(seen, return_counts=True)
        best = int(np.argmax(counts))
        trusted = values[best] > 0 and counts[best] >= COUNTER_AGREE * len(seen)
        self.step = float(values[best]) if trusted else 0.0
        self._learning = []


def with_lost(stamps: np.ndarray, lost: np.ndarray, before: float | None, period: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """The stamps with `lost[i]` stamps put in before stamps[i], evenly between it and the one before (`before`
    for the first: the previous chunk's last stamp, or `period` seconds a sample earlier when there is none), and
    a mask of the real ones: a dejitter line fed these counts the lost samples, so the samples after them keep
    their true place."""
    stamps = np.asarray(stamps, dtype=np.float64)
    reps = 1 + np.asarray(lost, dtype=np.int64)
    real = np.zeros(int(reps.sum()), dtype=bool)
    real[np.cumsum(reps) - 1] = True
    first = stamps[0] - period * reps[0] if before is None else before
    prev = np.concatenate(([first], stamps[:-1]))
    full = np.empty(len(real))
    pos = 0
    for i, r in enumerate(reps.tolist()):
        full[pos:pos + r] = prev[i] + (stamps[i] - prev[i]) * np.arange(1, r + 1) / r
        pos += r
    return full, real
