"""Dejittering for live streams: a steady clock recovered from stamps that wobble.

Kept apart from eegviz.sources.lsl because it is pure arithmetic on (sample number, stamp) pairs: no LSL,
testable on its own, and usable by any source that receives raw sender stamps.
"""

from __future__ import annotations

import numpy as np

from eegviz.sources.base import JUMP_SAMPLES

DEJITTER_HALFTIME_S = 90.0  # samples this old weigh half in the dejitter line (liblsl's default half-time)
DEJITTER_PRIOR_S = 1.0  # the nominal rate weighs like this many seconds of perfectly regular samples
STEADY_S = 1e-6  # a recording whose stamps are all this close to the line is kept as it is
MAX_JITTER_S = 0.05  # stamps off the dejitter line by more (or JUMP_SAMPLES periods if longer): a jump


class Dejitter:
    """Smooth local stamps for a regular-rate stream: a least-squares line through (sample number, stamp).

    Why: a sender stamps samples when its driver hands them over, so raw stamps wobble by milliseconds (USB,
    Bluetooth, scheduling) while the amplifier's sample clock is steady; the line recovers the steady clock.
    This is liblsl's proc_dejitter (which is not used, so the raw stamps stay available for the recording):
    old samples fade with a half-life of DEJITTER_HALFTIME_S so the line follows slow drift of the sender's
    clock against ours, and the slope starts at the nominal rate (it weighs like DEJITTER_PRIOR_S of regular
    samples) so the first chunks are not thrown about by their own jitter. The fit is kept as weighted means
    and centred sums, updated a chunk at a time, which stays exact in float64 over hours. reset() starts a new
    line after a gap or reconnect, where the sample count no longer continues the old one.
    """

    def __init__(self, srate: float, halftime: float = DEJITTER_HALFTIME_S, prior_s: float = DEJITTER_PRIOR_S):
        self.period = 1.0 / srate
        self.decay = 0.5 ** (1.0 / (halftime * srate))  # weight a sample loses per newer sample
        n_prior = srate * prior_s
        self.prior = n_prior**3 / 12.0  # what n_prior regular samples add to the centred sum of squares
        self.tolerance = max(JUMP_SAMPLES * self.period, MAX_JITTER_S)
        self.reset()

    def reset(self) -> None:
        self.count = 0  # samples in this line so far: the sample number of the next one
        self.weight = 0.0
        self.mean_n = self.mean_t = 0.0
        self.snn = self.snt = 0.0  # weighted sums of (n - mean_n)**2 and (n - mean_n) * (t - mean_t)

    def _slope(self, snn: float, snt: float) -> float:
        return (snt + self.prior * self.period) / (snn + self.prior)

    def jumped(self, stamps: np.ndarray) -> bool:
        """Do these next stamps sit off the line (samples lost, the sender's clock reset, the offset jumped)?
        The chunk's median is used so that single late samples do not count."""
        if self.count == 0:
            return False
        n = self.count + np.arange(len(stamps), dtype=np.float64)
        predicted = self.mean_t + self._slope(self.snn, self.snt) * (n - self.mean_n)
        return bool(abs(float(np.median(stamps - predicted))) > self.tolerance)

    def fit(self, stamps: np.ndarray) -> np.ndarray:
        """Add these consecutive samples' stamps to the line and return the line's stamps for them."""
        k = len(stamps)
        n = self.count + np.arange(k, dtype=np.float64)
        w = self.decay ** np.arange(k - 1, -1, -1, dtype=np.float64)  # the newest sample weighs 1
        carried = self.weight * self.decay**k  # the old samples' weight, faded by k newer ones
        weight = carried + float(w.sum())
        mean_n = (carried * self.mean_n + float(w @ n)) / weight
        mean_t = (carried * self.mean_t + float(w @ stamps)) / weight
        # centred sums about the new means: old sums faded, moved to the new means, plus the new samples
        dn, dt = self.mean_n - mean_n, self.mean_t - mean_t
        fade = self.decay**k
        self.snn = self.snn * fade + carried * dn * dn + float(w @ (n - mean_n) ** 2)
        self.snt = self.snt * fade + carried * dn * dt + float(w @ ((n - mean_n) * (stamps - mean_t)))
        self.weight, self.mean_n, self.mean_t = weight, mean_n, mean_t
        self.count += k
        return mean_t + self._slope(self.snn, self.snt) * (n - mean_n)


def dejitter_recording(stamps: np.ndarray, sfreq: float, chunk_s: float = 0.1) -> np.ndarray:
    """A recorded regular-rate stream's stamps smoothed as the live source smooths them while it streams.

    Why: a recording keeps the sender's stamps, jitter and all (an LSL sender stamps chunks as its driver hands
    them over: a few ms either way), and an epoch is cut from the first sample at or after marker + tmin, so
    jitter of about half a sample period made a replay skip markers that the live session had decoded. The
    same Dejitter line is fed in pulls of chunk_s, as a live inlet delivers them, and restarted where samples
    were lost (recording_breaks), so the samples after a loss keep their place in time."""
    stamps = np.asarray(stamps, dtype=np.float64)
    out = np.empty_like(stamps)
    line = Dejitter(sfreq)
    per = max(8, int(round(chunk_s * sfreq)))
    for seg in np.split(np.arange(len(stamps)), recording_breaks(stamps, sfreq, line.tolerance)):
        line.reset()
        for a in range(0, len(seg), per):
            idx = seg[a : a + per]
            if line.jumped(stamps[idx]):
                line.reset()
            out[idx] = line.fit(stamps[idx])
    if len(stamps) and np.abs(out - stamps).max() < STEADY_S:  # already a steady clock (a file MNE reads, the
        return stamps  # simulator's): its own stamps, not the line's rounding of them
    return out


def recording_breaks(stamps: np.ndarray, sfreq: float, tolerance: float) -> np.ndarray:
    """Where a recording's sample count stops continuing its stamps: the indices that start a new line.

    A line fitted on sample count moves every sample after a loss early by the lost time, for as long as the
    line takes to follow (minutes), so losses must restart it. For a sender that stamps each sample, a loss is
    a step between consecutive stamps well beyond its own jitter: more than a period past the period, and more
    than six robust standard deviations of its steps (ordinary jitter of +-1.5 ms at 250 Hz never gets there; two
    lost samples do). A sender that stamps whole bursts alike (most steps near 0, one step of a burst's length)
    has no such scale, and a break at every burst would give each burst its own line and stamps that step back:
    there only steps well past a burst's length (and past `tolerance`, the live line's jump size) and backward
    steps break."""
    steps = np.diff(stamps)
    if not len(steps):
        return np.array([], dtype=int)
    period = 1.0 / sfreq
    med = float(np.median(steps))
    if med > 0.5 * period:  # stamped sample by sample
        spread = 1.4826 * float(np.median(np.abs(steps - med)))
        limit = period + max(period, 6.0 * spread)
    else:  # stamped in bursts: the steps between bursts are a burst's length
        burst = float(np.median(steps[steps > 0.5 * period])) if (steps > 0.5 * period).any() else period
        limit = max(tolerance, 1.5 * burst + period)
    return np.flatnonzero((steps > limit) | (steps < -tolerance)) + 1
