"""Marker-locked epoching on a live stream.

Samples go into a ring buffer; each marker waits until the sample at t_marker + tmax has arrived, then its
window is cut (in the marker's clock, by find_window, the rule training data from recordings is cut by too)
and handed on. A marker whose window was partly lost (a gap, or the buffer already overwritten) is reported
as such, never filled in by guessing. So is a window holding NaN or inf samples (an amplifier's dropout, a
disconnected electrode): the model cannot read it, the recording keeps it as it came, and the marker's line
says why it has no image; an electrode already dead in the first seconds (NaN, flat, railed) is marked bad before
the first epoch is cut and interpolated instead (check_electrodes, eegviz.stream.bads), and so is one that comes
off mid-session, from the epoch it is found at on: flat, railed or NaN over the seconds up to the end of an epoch's
window (judge_electrodes), or NaN through a whole epoch's window while the others are finite. So is a window
reaching into or across a break the source named (messages.Break: a file's pause and resume, a join of two
recordings, a BAD_ span), which leaves no hole in the stamps to find. And, where the session asks (--reject-uv), so
is an epoch an artefact spoils (a blink, an EMG burst, a cable jolt): judged as the decoder would read it, after the
channel map and the model's filters (eegviz.stream.reject), so an electrode already marked bad rejects nothing.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from eegviz.errors import EegvizError
from eegviz.messages import Break, Chunk, Epoch, Marker, SkipKind
from eegviz.stream.bads import CHECK_S, LATER_S, dead_channels
from eegviz.stream.preprocess import Preprocessor
from eegviz.stream.reject import rejection

log = logging.getLogger(__name__)

# a marker this far (s) from the EEG's time is in another clock (a sender that stamps time.time() instead of LSL's
# local_clock): far more than any network delay or epoch window (the Epocher's buffer holds 30 s), and far less
# than the distance between clocks that are not the same one (Unix time is 1.7e9 s; LSL's is the uptime)
OTHER_CLOCK_S = 60.0
# no sample for this long (s, wall time) when a session is stopped: the EEG was lost or stalled (an outlet gone, an
# amplifier unplugged), so a window it never completed was lost to that, not cut short by the stop. Well above the
# second or two between the blocks some healthy senders push at once.
STALLED_S = 5.0
# the seconds judged for dead electrodes at each epoch (judge_electrodes) are read at about this many samples a second
# at most: every sample of BioSemi's 2048 Hz x 160 channels took 15-30 ms an epoch, on the path to its image, and a
# flat channel is as flat, a railed one's share at its limit the same, in every 8th sample
JUDGE_HZ = 256.0


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

    def held_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(buffer positions, stamps) of the samples held, oldest first."""
        held = min(self.count, self.capacity)
        order = (self.count - held + np.arange(held)) % self.capacity
        return order, self.times[order]

    def locate(self, t0: float, n: int, sfreq: float) -> tuple[np.ndarray | None, str]:
        """The n samples of the window starting at t0 (find_window's rule) and "", or None and why not."""
        data, _, why = self.cut(t0, n, sfreq)
        return data, why

    def cut(self, t0: float, n: int, sfreq: float) -> tuple[np.ndarray | None, np.ndarray | None, str]:
        """locate() with the window's stamps: (samples, stamps, "") or (None, None, why not)."""
        order, times = self.held_times()
        start, why = find_window(times, t0, n, sfreq)
        if start is None:
            return None, None, why
        return self.data[:, order[start : start + n]], times[start : start + n], ""

    def window(self, t0: float, n: int, sfreq: float) -> np.ndarray | None:
        """n samples starting at the sample nearest t0 (find_window), or None if not all of them are present."""
        return self.locate(t0, n, sfreq)[0]

    def last(self, t_end: float, n: int, step: int = 1) -> np.ndarray | None:
        """Every step-th of the n samples held up to the one stamped t_end, that one included, or None where fewer
        are held."""
        order, times = self.held_times()
        end = int(np.searchsorted(times, t_end, side="right"))
        return self.data[:, order[end - n : end][::-1][::step][::-1]] if end >= n else None


# why find_window found no window: its start not yet received (or the window's end not yet), its start already
# gone (left the buffer, or before the stream began), or a hole where it should be
NOT_YET, BEFORE, GAP = "not yet", "before", "gap"


def find_window(times: np.ndarray, t0: float, n: int, sfreq: float) -> tuple[int | None, str]:
    """Which samples form a window: (start, "") for times[start:start + n], or (None, NOT_YET / BEFORE / GAP).

    One rule for the live Epocher and for training data cut from recordings (eegviz.data.xdf_dataset), so the
    two cannot pick different samples. The window starts at the sample nearest t0: the first at or after
    t0 - half a period (the sample on t0's place in a steady clock), else, where stamps wobble so that none
    lies within half a period, the nearer of the two around t0 if it lies within a period (a window used to be
    skipped for good there, as if it fell in a gap). A window with a hole is refused (window_has_hole): its
    samples after the hole would sit early in the epoch. So is a start a period away with a hole at t0."""
    period = 1.0 / sfreq
    held = len(times)
    i = int(np.searchsorted(times, t0 - 0.5 * period))
    if i < held and times[i] <= t0 + 0.5 * period:
        start = i
    else:
        near = [k for k in (i - 1, i) if 0 <= k < held and abs(times[k] - t0) <= period]
        if not near:
            if not held or t0 > times[-1]:
                return None, NOT_YET
            return None, BEFORE if t0 < times[0] else GAP
        start = min(near, key=lambda k: abs(times[k] - t0))  # ties: the earlier one
    if start + n > held:
        return None, NOT_YET
    first = start - 1 if start > 0 and times[start] - t0 > 0.5 * period else start  # was t0's own sample lost?
    if window_has_hole(times[first : start + n]):
        return None, GAP
    return start, ""


def window_has_hole(stamps: np.ndarray) -> bool:
    """Are samples missing among these (or did their clock jump)? A step longer than 1.5 times the window's
    median step (or shorter than half of it) that moves every later stamp by more than half a step (stamps
    that were not dejittered: by more than their own wobble explains).

    Measured against the window's own median step, not the nominal rate, so a sender whose true rate is a few
    percent off (cheap boards) is not refused; and a single lost sample is one, where the old rule (the span
    against the nominal rate, with 5 % and two periods to spare) let 10 lost samples (40 ms at 250 Hz) through
    and moved the rest of the epoch early by that much. The stamps after a step are compared with those before
    it (medians of 8) because stamps that were not dejittered wobble: one stamp late makes a long step and then
    a short one, but moves nothing after it, while a loss moves every later sample."""
    if len(stamps) < 2:
        return False
    steps = np.diff(stamps)
    h = max(1, min(16, len(steps) // 8))  # the step as the median over h steps at a time: wobble barely moves it,
    # and a hole spoils only h of them
    step = float(np.median((stamps[h:] - stamps[:-h]) / h))
    if not step > 0:
        return True  # stamps that do not advance: no clock to place samples by
    odd = np.flatnonzero((steps > 1.5 * step) | (steps < 0.5 * step))
    if not len(odd):
        return False
    level = stamps - step * np.arange(len(stamps))  # flat for a steady clock; k samples lost: k steps higher
    # how far two medians of 8 wobbling stamps lie apart by chance: 2.5 stamp sd (~4 sd of their difference);
    # 0 for dejittered stamps, where half a step is the bound
    jitter = 1.4826 * float(np.median(np.abs(steps - step))) / np.sqrt(2.0)
    bound = max(0.5 * step, 2.5 * jitter)
    last = len(stamps) - 1
    for j in odd:  # the step from sample j to j + 1; those two themselves are what made it odd: left out
        before = level[max(0, j - 8) : j] if j > 0 else level[:1]
        after = level[j + 2 : j + 10] if j + 1 < last else level[last:]
        if abs(float(np.median(after) - np.median(before))) > bound:
            return True
    return False


@dataclass
class EpochResult:
    epoch: Epoch | None
    marker: Marker
    reason: str = ""  # why no epoch could be cut, for the results line
    kind: SkipKind | None = None  # GAP, NAN, REJECTED, INCOMPLETE (stream ended), STOPPED or CLOCK; None with an epoch


class Epocher:
    """Turns a stream of chunks and markers into preprocessed epochs, one per marker."""

    def __init__(self, pre: Preprocessor, ch_names: tuple[str, ...], buffer_s: float = 30.0,
                 judge_clock: bool = True, check_electrodes: bool = False,
                 on_notice: Callable[[str], None] | None = None, on_bads: Callable[[dict], None] | None = None,
                 reject_uv: float | None = None):
        """judge_clock: skip markers in another clock (other_clock), which judges by the wall time markers and
        samples arrive at; off for replays, whose markers are judged against their EEG when the file loads
        (eegviz.sources.replay.check_reach) and whose wall time is not the recording's.
        check_electrodes: mark the electrodes dead in the first seconds bad (check_electrodes()), saying so in
        the log and to on_notice (a session's window).
        on_bads: told each marking as a record (_mark_dead), for the session folder's session.json and report:
        the log and the window's notices are gone once the session ends.
        reject_uv: skip an epoch whose peak to peak on any of the model's channels, as the decoder reads it, is over
        this many microvolts (eegviz.stream.reject; None: every epoch is decoded). A rejected epoch takes no index,
        as a NaN one does, so the epochs decoded are numbered (and seeded) as they would be without it."""
        self.pre = pre
        self.reject_uv = reject_uv
        self.ch_names = tuple(ch_names)
        self.unchecked, self.on_notice, self.on_bads = check_electrodes, on_notice, on_bads
        self.marks_bads = check_electrodes  # and, mid-session, those dead up to an epoch (poll, judge_electrodes)
        self.judged: set[str] = set()  # electrodes once marked bad, or refused: not tried again
        self.sfreq = pre.source_sfreq
        self.ring = RingBuffer(len(ch_names), int(buffer_s * self.sfreq))
        self.pending: deque[tuple[Marker, float]] = deque()
        self.lo, self.hi = pre.source_window()
        self.n_source = int(round((self.hi - self.lo) * self.sfreq))
        self.out_ch = pre.spec.ch_names
        self.n_epochs = 0
        self.breaks: list[Break] = []
        self.latest_wall = 0.0  # perf_counter when the newest sample arrived
        self.started = time.perf_counter()  # the EEG's silence before its first sample counts from here (_stalled_for)
        self.clock_said = False  # the warning on markers in another clock is given once
        self.judge_clock = judge_clock

    def add_break(self, brk: Break) -> None:
        """A place no window may reach (a source gives them before the samples around them)."""
        self.breaks.append(brk)

    def add_marker(self, marker: Marker) -> None:
        self.pending.append((marker, time.perf_counter()))

    def add_chunk(self, chunk: Chunk) -> list[EpochResult]:
        if len(chunk.timestamps):
            self.latest_wall = time.perf_counter()
        self.ring.append(chunk.samples, chunk.timestamps)
        return self.poll()

    def other_clock(self, marker: Marker, seen: float) -> float | None:
        """How far (s) a marker's stamp lies from the EEG's clock when it is in another clock, else None.

        A sender that stamps its markers with time.time() (Unix time, 1.7e9 s) instead of LSL's local_clock
        (the uptime) has markers whose windows the EEG never reaches: poll() waited on each for ever, and every
        one ended "stopped" by --duration with exit 0, nothing pointing at the clock. Another clock is said
        where the marker lies over OTHER_CLOCK_S from the EEG both by the data (past the newest sample, or
        before it) and by the time it arrived (the EEG's newest stamp moved on by the wall time since it came,
        to the moment the marker came). The data alone would call a marker sent while the EEG stalls, or before
        a late-started amplifier, another clock; the arrival alone would in a replay slower than real time.
        Normal markers, stamped a little before their EEG arrives (mne-lsl, LabRecorder-style senders, network
        delay) or seconds late, lie far within it."""
        if not self.ring.count:
            return None
        t, latest = marker.timestamp, float(self.ring.latest_time)
        offset = t - (latest + (seen - self.latest_wall))  # the stamp less the EEG's clock when it arrived
        if abs(t - latest) > OTHER_CLOCK_S and abs(offset) > OTHER_CLOCK_S and (offset > 0) == (t > latest):
            return offset
        return None

    def drop_pending(self, reason: str, kind: SkipKind) -> list[EpochResult]:
        """Every marker still waiting for its window, as a result with no epoch (`reason`, `kind`), and none left
        waiting: for a session that ends by an error, which cuts no more epochs but owes each marker its line."""
        out = [EpochResult(None, marker, reason, kind) for marker, _seen in self.pending]
        self.pending.clear()
        return out

    def poll(self, flush: bool = False, ended: bool = False) -> list[EpochResult]:
        """Cut every pending marker whose window is complete; with flush, report the rest as incomplete
        (ended: because the session was stopped, not because the stream ran out)."""
        out: list[EpochResult] = []
        keep: deque[tuple[Marker, float]] = deque()
        if self.unchecked and self.ring.count >= CHECK_S * self.sfreq:
            self.check_electrodes()
        now = time.perf_counter()  # an epoch's t_ready: before it is cut and preprocessed, which latency counts
        latest = self.ring.latest_time
        for marker, seen in self.pending:
            offset = self.other_clock(marker, seen) if self.judge_clock else None
            if offset is not None:
                out.append(self._in_other_clock(marker, offset))
                continue
            t_end = marker.timestamp + self.hi - 1.0 / self.sfreq
            if latest < t_end and not flush:
                keep.append((marker, seen))
                continue
            t0 = marker.timestamp + self.lo
            raw, stamps, why = self.ring.cut(t0, self.n_source, self.sfreq)
            if raw is None and why == NOT_YET and not flush:
                # the sample nearest t0 may lie after it, so the window can end a sample after t_end
                keep.append((marker, seen))
                continue
            if raw is None:
                if why != NOT_YET:
                    early = t0 < self.ring.first_time - 1.0 / self.sfreq  # no sample near t0 came before it
                    why = ("window starts before the first sample received (the stream began mid-trial)" if early
                           else "window falls in a gap or left the buffer")
                    out.append(EpochResult(None, marker, why, SkipKind.GAP))
                elif ended and (stalled := self._stalled_for(now)) is not None:
                    out.append(EpochResult(None, marker, stalled, SkipKind.GAP))
                elif ended:
                    out.append(EpochResult(None, marker, "session stopped before the epoch window was complete",
                                           SkipKind.STOPPED))
                else:
                    out.append(EpochResult(None, marker, "window incomplete at end of stream",
                                           SkipKind.INCOMPLETE))
                continue
            brk = next((b for b in self.breaks if b.reached_by(stamps[0], stamps[-1])), None)
            if brk is not None:
                out.append(EpochResult(None, marker, f"window reaches {brk.what}, a break in the recording "
                                                     "(kept in the recording, not decoded)", SkipKind.GAP))
                continue
            if self.unchecked:  # the first epoch: judged on what came before it, its own window included
                self.check_electrodes()
            bad = ~np.isfinite(raw[self.pre.picks])  # only the model's channels matter
            if self.marks_bads and bad.any() and not bad.all() and bad.all(axis=1).any():
                # an electrode disconnected mid-session (NaN through the whole window, the others finite): marked
                # bad from here on, where every later epoch was skipped; NaN in all of them is a dropout, left be
                gone = {self.ch_names[i]: "no finite sample, NaN/inf" for i, b in zip(self.pre.picks, bad.all(axis=1))
                        if b}
                if self._mark_dead(gone, f"through the window of marker '{marker.payload}' (at {marker.timestamp:.3f}"
                                         " s), from there on", marker=marker):
                    bad = ~np.isfinite(raw[self.pre.picks])
            if self.marks_bads and self.judge_electrodes(marker, float(stamps[-1])):
                bad = ~np.isfinite(raw[self.pre.picks])
            if bad.any():
                n_bad = int(bad.any(axis=0).sum())
                # which electrodes: the marker's line is what a lab reads later, and it named none to fix or --bads
                names = list(dict.fromkeys(self.ch_names[i] for i, b in zip(self.pre.picks, bad.any(axis=1)) if b))
                shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                out.append(EpochResult(None, marker, f"epoch holds NaN/inf in {n_bad} of {raw.shape[1]} samples, in "
                                                     f"{shown} (kept in the recording, not decoded)", SkipKind.NAN))
                continue
            data = self.pre(raw)
            if self.reject_uv is not None and (why := rejection(data, self.pre, self.reject_uv)) is not None:
                out.append(EpochResult(None, marker, why, SkipKind.REJECTED))
                continue
            ep = Epoch(
                data=data, sfreq=self.pre.spec.sfreq, ch_names=self.out_ch, tmin=self.pre.spec.tmin,
                marker=marker, t_ready=now, t_marker_seen=seen, index=self.n_epochs,
            )
            self.n_epochs += 1
            out.append(EpochResult(ep, marker))
        self.pending = keep
        return out

    def check_electrodes(self) -> None:
        """Once, from the EEG held so far (CHECK_S seconds, or less where the first epoch is due sooner): the
        electrodes the model's channels are made of that are dead (eegviz.stream.bads: no finite sample, flat,
        railed) are marked bad, as --bads marks them, and the model's channels they fed interpolated from the
        others, with one line naming them and why. Where every one is dead (no EEG yet, or a wrong unit) or too few
        good ones remain to interpolate from, they are used as they are, and the line says that."""
        self.unchecked = False
        order, _ = self.ring.held_times()
        # every channel judged, since one left out can bring in another to interpolate from (an electrode by-name
        # matching never used); only those the map uses, now or once others are left out, are marked
        self._mark_dead(dead_channels(self.ring.data[:, order], self.ch_names),
                        f"in the first {len(order) / self.sfreq:.1f} s of EEG", at_start=True)

    def judge_electrodes(self, marker: Marker, t_end: float) -> bool:
        """At each epoch: the LATER_S seconds of EEG up to the end of its window (t_end) judged by the rule of the
        first seconds (eegviz.stream.bads: no finite sample, flat, railed), and the electrodes dead there marked bad
        from this epoch on (_mark_dead); whether the channel map changed. An electrode that came off mid-session and
        went flat or railed was fed to the model, and into every channel interpolated from it, to the end of the
        session. Nothing is judged before LATER_S of EEG has come (the first seconds were, by check_electrodes), nor
        where every electrode the model uses looks dead: the amplifier stopped acquiring or zero-fills what it lost,
        and marking them all would leave nothing to interpolate from. Once marked, an electrode stays bad
        (eegviz.stream.bads says why it is not taken back)."""
        held = self.ring.last(t_end, int(round(LATER_S * self.sfreq)), step=max(1, int(self.sfreq // JUDGE_HZ)))
        if held is None:
            return False
        dead = dead_channels(held, self.ch_names)
        if not dead or all(self.ch_names[i] in dead for i in self.pre.picks):
            return False
        return self._mark_dead(dead, f"in the {LATER_S:g} s of EEG through the window of marker '{marker.payload}' "
                                     f"(at {marker.timestamp:.3f} s), from there on", marker=marker)

    def _mark_dead(self, dead: dict[str, str], when: str, at_start: bool = False,
                   marker: Marker | None = None) -> bool:
        """Mark bad those of `dead` ({name: why}) the channel map uses, now or once others are left out, and say so
        in one line; whether the map changed. Names tried once are not tried again (a refusal is said once).
        A marking is also handed to on_bads as {"electrodes": {name: why}, "from": "start" or {"marker", "t_marker"}
        (the marker whose epoch is the first without them), "replaced": [the model's channels in their place, now
        interpolated]}, so a lab reading the session folder later knows which channels were not measured."""
        dead = {n: w for n, w in dead.items() if n not in self.judged}
        pre, marked, unused, no_eeg = self.pre, [], "", False
        while new := [n for n in dict.fromkeys(self.ch_names[i] for i in pre.picks) if n in dead and n not in marked]:
            if at_start and pre is self.pre and len(new) == len(set(pre.picks)):  # every one: no EEG yet
                marked, no_eeg = new, True
                unused = "none is left to interpolate from, so they are used as they are (is the amplifier acquiring?)"
                break
            marked += new
            try:
                pre = pre.with_bads(marked)
            except EegvizError:  # too few left, or no montage to interpolate on (build_channel_map)
                unused = ("too few good ones remain to interpolate the model's channels from" if pre.spec.montage
                          else "the model records no montage to interpolate its channels on") + \
                    ", so they are used as they are"
                break
        if not marked:
            return False
        if not no_eeg:  # where no EEG came yet, each may still come off later and be marked then
            self.judged.update(marked)
        why: dict[str, list[str]] = {}  # names by reason, so 128 zeroed channels are not one reason each
        for n in marked[:10]:
            why.setdefault(dead[n], []).append(n)
        more = " ..." if len(marked) > 10 else ""
        shown = ", ".join(f"{', '.join(names)} ({w})" for w, names in why.items()) + more
        if unused:
            line = f"montage: electrodes look dead {when}: {shown}; {unused}"
        else:
            # only the channels this marking made interpolated: the map's whole list named those of --bads and of
            # earlier markings too, as if a P3 that has no model channel in its place had replaced them
            before = set(self.pre.channel_map.replaced)
            self.pre = pre
            replaced = [c for c in pre.channel_map.replaced if c not in before]
            if self.on_bads:
                self.on_bads({"electrodes": {n: dead[n] for n in marked},
                              "from": "start" if marker is None else {"marker": marker.payload,
                                                                      "t_marker": marker.timestamp},
                              "replaced": replaced})
            what = (pre.channel_map.replaced_phrase(replaced) or "none of the model's channels was taken from them, "
                    "and none is interpolated from them now")
            line = f"montage: electrodes marked bad, as they look dead {when}: {shown}; {what}"
        log.warning("%s", line)
        if self.on_notice:
            self.on_notice(line)
        return not unused

    def _stalled_for(self, now: float) -> str | None:
        """Why a window was never completed when the session stopped while the EEG had sent nothing for over
        STALLED_S (its outlet lost and not back, or stalled), else None. Such markers were skipped as "cut short
        by the stop", which blamed the stop, and a --duration session whose amplifier vanished a minute in ended
        with exit 0 and no word that its markers had no EEG (Stats.nothing_made passes a session only cut short)."""
        silent = now - (self.latest_wall if self.ring.count else self.started)
        if silent <= STALLED_S:
            return None
        return (f"no EEG sample arrived in the {silent:.1f} s before the session stopped (the stream lost or "
                "stalled): its window never came")

    def _in_other_clock(self, marker: Marker, offset: float) -> EpochResult:
        """A marker in another clock: skipped with its own kind (a session of nothing else fails,
        Stats.nothing_made), and said once with the offset, which names the cause where "stopped" or "gap" did
        not."""
        if not self.clock_said:
            self.clock_said = True
            log.warning("marker '%s' is stamped %+.1f s from the EEG's clock (newest sample %.3f s, marker %.3f s): "
                        "its sender stamps in another clock (time.time() instead of LSL's local_clock?); markers "
                        "over %g s from the EEG are skipped, recorded as sent", marker.payload, offset,
                        float(self.ring.latest_time), marker.timestamp, OTHER_CLOCK_S)
        return EpochResult(None, marker, f"stamped {offset:+.1f} s from the EEG's clock: its sender stamps in "
                                         "another clock (recorded, not decoded)", SkipKind.CLOCK)
