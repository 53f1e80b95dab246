"""Dejittering for live streams: a steady clock recovered from stamps that wobble.

Kept apart from eegviz.sources.lsl because it is pure arithmetic on (sample number, stamp) pairs: no LSL,
testable on its own, and usable by any source that receives raw sender stamps.
"""

from __future__ import annotations

import numpy as np

JUMP_SAMPLES = 2.0  # before a sender's jitter is known, a step this many periods long is a jump (or MAX_JITTER_S)
DEJITTER_HALFTIME_S = 90.0  # samples this old weigh half in the dejitter line (liblsl's default half-time)
DEJITTER_PRIOR_S = 1.0  # the nominal rate weighs like this many seconds of perfectly regular samples
STEADY_S = 1e-6  # a recording whose stamps are all this close to the line is kept as it is
MAX_JITTER_S = 0.05  # before a sender's jitter is known: stamps off the line by more (or JUMP_SAMPLES periods
# if longer) are a jump
LOSS_SIGMAS = 6.0  # a step this many of the sender's jitter standard deviations off the line: samples were lost
LOSS_MIN_PERIODS = 1.5  # ... and never less than this many sample periods (a sender with no jitter: 2 lost samples)
JITTER_MEMORY = 256  # the chunk boundaries the jitter is estimated from (the latest ones)
JITTER_MIN_BOUNDARIES = 16  # fewer than this: the jitter is not known yet and MAX_JITTER_S applies
EXACT_STEP = 1e-3  # a step within this fraction of a period of the period continues the sender's chunk
HOLD_S = 0.25  # stamps off the line this long are a loss; back within it, a late chunk or a stall (follow)
FADE_S = 0.25  # half-life of follow()'s correction that joins one pull's stamps to the last pull's


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

    Lost samples: after a loss the sample count no longer continues the line, and a line fed on through it stamps
    every later sample early by the lost time, then late while it catches up, for minutes. So the stamps are
    checked against the line before they join it (jumped(), follow()): a step between consecutive stamps that
    the sender's own jitter does not explain, after which the stamps stay off the line (the median of the rest
    of the pull), is a loss (or a clock reset, or a jump of the clock offset), and the line restarts there. What
    the jitter explains is learnt online (loss_limit): liblsl stamps a sender's chunk once and back-dates its
    samples, so stamps within a chunk are exact and all the jitter is in where chunks start; the residuals
    against the line of the last JITTER_MEMORY chunk starts (every sample, for a sender that stamps each) give a
    robust standard deviation, and LOSS_SIGMAS of them, at least LOSS_MIN_PERIODS periods, is the limit. Until
    JITTER_MIN_BOUNDARIES chunk starts are seen it is `tolerance` (MAX_JITTER_S), and it is kept over reset(): a
    restarted line has the same sender. Not caught: losses under the limit (under 1.5 periods, or under 6 sd of
    the jitter), and losses inside the first pull of a new line. jumped() decides on the chunk at hand, so a
    sender chunk stamped later than the limit counts as a jump there; follow() (LslSource, BrainFlowSource,
    dejitter_recording) waits up to HOLD_S for the stamps to come back to the line (a late chunk, a stall)
    before it calls them a loss, stamping them on the line meanwhile.
    """

    def __init__(self, srate: float, halftime: float = DEJITTER_HALFTIME_S, prior_s: float = DEJITTER_PRIOR_S):
        self.period = 1.0 / srate
        self.decay = 0.5 ** (1.0 / (halftime * srate))  # weight a sample loses per newer sample
        n_prior = srate * prior_s
        self.prior = n_prior**3 / 12.0  # what n_prior regular samples add to the centred sum of squares
        self.tolerance = max(JUMP_SAMPLES * self.period, MAX_JITTER_S)
        self.jitter = np.empty(0)  # residuals of the latest chunk starts against the line (kept over reset())
        self.fade = 0.5 ** (1.0 / (FADE_S * srate))  # per sample
        self.reset()

    def reset(self) -> None:
        self.count = 0  # samples in this line so far: the sample number of the next one
        self.weight = 0.0
        self.mean_n = self.mean_t = 0.0
        self.snn = self.snt = 0.0  # weighted sums of (n - mean_n)**2 and (n - mean_n) * (t - mean_t)
        self.last = 0.0  # the last stamp on this line
        self._held: np.ndarray | None = None  # follow(): the stamps off the line, held until the next ones decide
        self._last_out: float | None = None  # follow(): the last stamp it handed out on this line

    def _slope(self, snn: float, snt: float) -> float:
        return (snt + self.prior * self.period) / (snn + self.prior)

    def _line(self, k: int, skip: int = 0) -> np.ndarray:
        """The line's stamps for the next k samples after `skip` more."""
        n = self.count + skip + np.arange(k, dtype=np.float64)
        return self.mean_t + self._slope(self.snn, self.snt) * (n - self.mean_n)

    def _residuals(self, stamps: np.ndarray, skip: int = 0) -> np.ndarray:
        return stamps - self._line(len(stamps), skip)

    def _steps(self, stamps: np.ndarray) -> np.ndarray:
        """Each stamp's step from the one before it (the line's last stamp before the first) less a period."""
        return np.diff(stamps, prepend=self.last) - self.period

    def limit(self) -> tuple[float, float]:
        """(centre, limit): the stamps' usual residual against the line, and how far off it a step is a loss."""
        return loss_limit(self.jitter, self.period, self.tolerance)

    def _loss_at(self, stamps: np.ndarray, first_only: bool = False) -> int | None:
        """Where in these next stamps samples were lost (see the class): a step beyond the limit after which the
        stamps stay off the line (the median of the rest, so a single late sample does not count), both the same
        way. None if nowhere (or this is a new line: no line to be off)."""
        if self.count == 0 or not len(stamps):
            return None
        steps = self._steps(stamps[:1] if first_only else stamps)
        if not (np.abs(steps) > LOSS_MIN_PERIODS * self.period).any():  # under any limit (and the usual case)
            return None
        centre, limit = self.limit()
        residual = self._residuals(stamps) - centre
        for i in np.flatnonzero(np.abs(steps) > limit)[:16]:
            level = float(np.median(residual[i:]))
            if abs(level) > limit and level * steps[i] > 0:
                return int(i)
        return None

    def jumped(self, stamps: np.ndarray) -> bool:
        """Do these next stamps start off the line (samples lost, the sender's clock reset, the offset jumped)?
        A step into the first one beyond the sender's jitter, and the chunk's median off the line the same way
        (so that single late samples do not count). follow() also looks inside the chunk."""
        return self._loss_at(np.asarray(stamps, dtype=np.float64), first_only=True) == 0

    def follow(self, stamps: np.ndarray) -> tuple[np.ndarray, bool]:
        """The line's stamps for these next consecutive samples, and whether samples were lost: the line restarts
        where they were (jumped()'s test, also inside the chunk).

        From a step that looks like a loss, the samples are held off the fit and stamped on the old line, and
        the stamps that follow decide: back on the line within HOLD_S, it was a late chunk or a stall of the
        sender (liblsl stamps a chunk when it is pushed; a scheduler hiccup makes one or several late), and the
        held samples join the old line; still off the line after HOLD_S, samples were lost (reported then) and
        the line restarts from the held ones. Stamped on the old line meanwhile, a late chunk costs no epoch
        (stamped where it arrived, it moved the stamps off the line, which the epocher took for a hole); at a
        real loss, the samples of its first HOLD_S are early by the lost time, and the jump where the new line
        starts is a hole the epocher refuses windows across."""
        stamps = np.asarray(stamps, dtype=np.float64)
        if not len(stamps):
            return np.empty(0), False
        if self._held is not None:
            out, lost = self._decide(stamps)
        else:
            i = self._loss_at(stamps)
            if i is None:
                out, lost = self.fit(stamps), False
            else:
                head = self.fit(stamps[:i])
                self._held = stamps[i:]
                out, lost = np.concatenate([head, self._line(len(self._held))]), False  # where fit() puts them
        return self._joined(out, restarted=lost), lost

    def _joined(self, out: np.ndarray, restarted: bool) -> np.ndarray:
        """follow()'s stamps, joined to the ones it handed out last: the line moves between pulls (each adds its
        stamps to the fit), so its stamps for this pull need not continue the last pull's. A young line through
        a bursty sender's stamps (each sample stamped as pushed, bursts every 60-140 ms) moved by 1.5-3 periods
        a pull for its first seconds, and the epocher refused every window across such a step as a hole. The
        difference at the join is handed out and faded with a half-life of FADE_S, so the stamps step by a
        period and reach the line within a second. Not where the line restarted (a loss: that jump is real) or
        the difference exceeds what the sender's jitter explains."""
        if self._last_out is not None and not restarted:
            join = self._last_out + self._slope(self.snn, self.snt) - out[0]
            if abs(join) <= self.limit()[1]:
                out = out + join * self.fade ** np.arange(len(out), dtype=np.float64)
        self._last_out = float(out[-1])
        return out

    def _decide(self, stamps: np.ndarray) -> tuple[np.ndarray, bool]:
        """follow() with samples held (see there): the pull's last stamps back on the line end the hold as
        jitter; still off it once HOLD_S of samples are held, as a loss; else the hold goes on."""
        held = self._held
        centre, limit = self.limit()
        now = float(np.median(self._residuals(stamps[-8:], skip=len(held) + max(0, len(stamps) - 8)))) - centre
        if abs(now) <= limit:  # back on the line: a late chunk or a stall, nothing lost
            self._held = None
            both = np.concatenate([held, stamps])
            # fitted as jitter, but no further off the line than the limit: a 60 ms stall's stamps, taken as they
            # were, moved a young line by half a sample, a step the epocher took for a hole
            line = self._line(len(both)) + centre
            return self.fit(line + np.clip(both - line, -limit, limit))[len(held):], False
        if len(held) + len(stamps) < HOLD_S / self.period:  # still off: wait for more before restarting the line
            self._held = np.concatenate([held, stamps])
            return self._line(len(stamps), skip=len(held)), False
        self._held = None
        self.reset()  # off the line for HOLD_S: samples were lost (or the clock moved); the held ones start it
        self.fit(held)
        return self.fit(stamps), True

    def fit(self, stamps: np.ndarray) -> np.ndarray:
        """Add these consecutive samples' stamps to the line and return the line's stamps for them."""
        stamps = np.asarray(stamps, dtype=np.float64)
        k = len(stamps)
        if not k:
            return np.empty(0)
        if self.count:  # where chunks start (a step that is not a period), off the line by the sender's jitter
            steps = self._steps(stamps)
            starts = np.abs(steps) > EXACT_STEP * self.period
            starts[0] = True  # (and every pull: a sender with exact stamps has no other)
            self.jitter = np.concatenate([self.jitter, self._residuals(stamps)[starts]])[-JITTER_MEMORY:]
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
        self.last = float(stamps[-1])
        return mean_t + self._slope(self.snn, self.snt) * (n - mean_n)


def loss_limit(deviations: np.ndarray, period: float, unknown: float, steps: bool = False) -> tuple[float, float]:
    """(centre, limit) for telling lost samples from a sender's jitter, live (Dejitter) and in a recording
    (recording_breaks) alike: the deviations' median, and LOSS_SIGMAS robust standard deviations of them
    (1.4826 median absolute deviations), at least LOSS_MIN_PERIODS sample periods; `unknown` while fewer than
    JITTER_MIN_BOUNDARIES are there. deviations: the residuals of chunk starts against the line, or (steps=True)
    the steps between chunks less a period, which are the difference of two chunks' jitter (sqrt(2) times theirs).

    Why robust and from chunk starts only: stamps within a sender's chunk are exact, so a spread of all steps is 0
    and ordinary chunk jitter (a few ms) became loss; and the occasional loss or pause must not widen the limit."""
    deviations = np.asarray(deviations, dtype=np.float64)
    if len(deviations) < JITTER_MIN_BOUNDARIES:
        return 0.0, unknown
    centre = float(np.median(deviations))
    sd = 1.4826 * float(np.median(np.abs(deviations - centre)))
    if steps:
        sd /= np.sqrt(2.0)
    return centre, max(LOSS_MIN_PERIODS * period, LOSS_SIGMAS * sd)


def _robust_step(stamps: np.ndarray, period: float) -> float:
    """A recording's sample period as its stamps show it (a sender's true rate may be off nominal by percent):
    the median over 1 s spans, which a loss or a late chunk barely moves; the nominal period for short ones."""
    h = max(1, int(round(1.0 / period)))  # rates under 2 Hz: 1-sample spans (0 made empty slices)
    if len(stamps) <= 2 * h:
        return period
    step = float(np.median((stamps[h:] - stamps[:-h]) / h))
    return step if step > 0 else period


def dejitter_recording(stamps: np.ndarray, sfreq: float, chunk_s: float = 0.1) -> np.ndarray:
    """A recorded regular-rate stream's stamps smoothed as the live source smooths them while it streams.

    Why: a recording keeps the sender's stamps, jitter and all (an LSL sender stamps chunks as its driver hands
    them over: a few ms either way), and an epoch was then cut from the first sample at or after marker + tmin, so
    jitter of about half a sample period made a replay skip markers that the live session had decoded. The
    same Dejitter line is fed in pulls of chunk_s, as a live inlet delivers them (Dejitter.follow: the live rule
    for lost samples), and restarted where the whole recording shows samples were lost (recording_breaks: the
    same limit, and it sees the stamps after a step too), so the samples after a loss keep their place in time."""
    stamps = np.asarray(stamps, dtype=np.float64)
    out = np.empty_like(stamps)
    line = Dejitter(sfreq)
    per = max(8, int(round(chunk_s * sfreq)))
    for seg in np.split(np.arange(len(stamps)), recording_breaks(stamps, sfreq, line.tolerance)):
        line.reset()
        for a in range(0, len(seg), per):
            idx = seg[a : a + per]
            out[idx] = line.follow(stamps[idx])[0]
    if len(stamps) and np.abs(out - stamps).max() < STEADY_S:  # already a steady clock (a file MNE reads, the
        return stamps  # simulator's): its own stamps, not the line's rounding of them
    return out


def recording_breaks(stamps: np.ndarray, sfreq: float, tolerance: float) -> np.ndarray:
    """Where a recording's sample count stops continuing its stamps: the indices that start a new line.

    A line fitted on sample count moves every sample after a loss early by the lost time, for as long as the
    line takes to follow (minutes), so losses must restart it. For a sender that stamps each sample or each
    chunk (back-dating its samples, as liblsl does), a loss is a step between consecutive stamps beyond the
    sender's jitter (loss_limit: 6 robust sd, at least 1.5 periods; the jitter from the steps between chunks
    only, since the steps inside a chunk are exact) after which the stamps stay off: the step and the next
    chunk's step together are beyond it too, so a single late chunk or sample (a step out and back) is not a
    loss. Backward steps past `tolerance` (a clock reset) always break. A sender that stamps whole bursts
    alike (most steps near 0, one step of a burst's length) has no such scale, and a break at every burst would
    give each burst its own line and stamps that step back: there only steps well past a burst's length (and
    past `tolerance`, the live line's jump size) and backward steps break."""
    steps = np.diff(stamps)
    if not len(steps):
        return np.array([], dtype=int)
    period = 1.0 / sfreq
    med = float(np.median(steps))
    if med > 0.5 * period:  # stamped sample by sample, or chunk by chunk with the samples back-dated
        excess = steps - period
        starts = np.flatnonzero(np.abs(excess) > EXACT_STEP * period)  # chunk starts (every sample, if stamped so)
        centre, limit = loss_limit(excess[starts], period, LOSS_MIN_PERIODS * period, steps=True)
        dev = excess[starts] - centre
        # a step beyond the limit is a loss only if the stamps stay off: their level (stamp less the stream's own
        # rate times the sample count: flat for a steady clock) HOLD_S after the step against HOLD_S before it,
        # the same way; a late chunk or a stall of the sender is back within HOLD_S (the live rule,
        # Dejitter.follow), and so is the step back from one, whose stamps just before were the late ones
        rate = _robust_step(stamps, period)
        level = stamps - rate * np.arange(len(stamps))
        # medians over three sender chunks (at least 16 samples), so that one other late chunk does not move them
        w = max(16, 3 * int(np.median(np.diff(starts)))) if len(starts) > 1 else 16
        lost = np.zeros(len(starts), bool)
        for k in np.flatnonzero(np.abs(dev) > limit):
            i = starts[k] + 1  # the first stamp after the step
            j = int(np.searchsorted(stamps, stamps[i] + HOLD_S))
            after = level[j : j + w] if j < len(stamps) else level[i:][-w:]
            b = int(np.searchsorted(stamps, stamps[i - 1] - HOLD_S))
            before = level[max(0, b - w) : b] if b > 0 else level[:1]
            shift = float(np.median(after) - np.median(before))
            lost[k] = abs(shift) > limit and shift * dev[k] > 0
        breaks = starts[lost | (excess[starts] < -tolerance - period)]
    else:  # stamped in bursts: the steps between bursts are a burst's length
        burst = float(np.median(steps[steps > 0.5 * period])) if (steps > 0.5 * period).any() else period
        limit = max(tolerance, 1.5 * burst + period)
        breaks = np.flatnonzero((steps > limit) | (steps < -tolerance))
    return breaks + 1
