"""LslSource: live EEG and string markers from Lab Streaming Layer streams on this machine or the network.

Time stamps are handled the way LabRecorder records them. Inlets are opened without liblsl's processing
(processing_flags=0), so pulled stamps are exactly what the sender stamped, in its own clock; they travel as
Chunk.raw_timestamps / Marker.raw_timestamp, and the clock offset of each inlet (inlet.time_correction(),
sender clock + offset = this machine's clock) is measured every OFFSET_INTERVAL_S and handed out once per
measurement as a ClockOffset, so a recording can be synchronised and dejittered later by pyxdf. For epoching
now, eegviz does liblsl's two steps itself: timestamps = raw + current offset, then a Dejitter line through
them (sample count -> time) so the epocher cuts in smooth local time. Only the first offset measurement of an
inlet blocks (~0.65 s on loopback); it is taken at start() or in the reconnect thread. Later ones are read with
time_correction(timeout=0), which returns liblsl's background estimate in well under a millisecond.

Reconnects are this module's job, not liblsl's. With liblsl's own recovery (recover=True) a pull on an inlet
whose outlet vanished blocks while liblsl re-resolves and re-syncs: measured here a single pull_chunk(0.02 s)
blocked 1.7 s and data came back 2.5 s after the outlet did (issue 5 asks for 2 s, and acquisition must
never block). So inlets are opened with recover=False and each stream has a _Link that, when its inlet is
lost (or the EEG has been silent for RECONNECT_AFTER_S), looks for the stream in a background thread. The
stream is found again by liblsl's recovery rule: same name and source_id (same_stream), and only taken if type
(any case), channel count, format and rate still fit (misfit). This matters because mne-lsl's PlayerLSL gives
its EEG and its annotation stream one source_id, and because a returning outlet may have been reconfigured:
such a stream is announced once as a notice and the source keeps waiting for the original. The fresh inlet is
opened and clock-synced in the thread and swapped in by the next read(). A silent but connected inlet is only
replaced by an outlet with a new uid, so a paused amplifier is left alone. The hole in the data (a silence
followed by resumed data, or stamps that left the dejitter line) is reported as a gap.

NaN/inf samples (a flat or saturated electrode) are delivered as they came, with one notice the first time:
the recording keeps them and the epocher skips the epochs that hold them.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import pylsl

from eegviz.errors import EegvizError
from eegviz.messages import Chunk, ClockOffset, Marker, StreamInfo, usable_ch_names
from eegviz.sources.base import JUMP_SAMPLES, ReadResult
from eegviz.sources.units import UNIT_SCALE


DEFAULT_SCALE = 1e-6  # most EEG outlets send microvolts and many do not say so
SILENCE_GAP_S = 1.0  # no samples for this long, then data again: the source was lost in between
RECONNECT_AFTER_S = 0.5  # EEG silent this long: start looking for the outlet ourselves (see module docstring)
OFFSET_INTERVAL_S = 5.0  # clock offset read this often per inlet (LabRecorder's interval)
DEJITTER_HALFTIME_S = 90.0  # samples this old weigh half in the dejitter line (liblsl's default half-time)
DEJITTER_PRIOR_S = 1.0  # the nominal rate weighs like this many seconds of perfectly regular samples
MAX_JITTER_S = 0.05  # stamps off the dejitter line by more (or JUMP_SAMPLES periods if longer): a jump

_FORMATS = {
    pylsl.cf_float32: "float32",
    pylsl.cf_double64: "float64",
    pylsl.cf_string: "string",
    pylsl.cf_int32: "int32",
    pylsl.cf_int16: "int16",
    pylsl.cf_int8: "int8",
    pylsl.cf_int64: "int64",
}


def unit_scale(unit: str | None) -> float:
    """Volts per unit of a desc unit string; unknown or missing units are taken as microvolts.

    mne-lsl writes MNE's unit multiplier as an integer string ("0" = volts, "-6" = microvolts), so a bare
    integer is read as a power-of-ten exponent.
    """
    if not unit:
        return DEFAULT_SCALE
    text = unit.strip().lower()
    try:
        exponent = int(text)
    except ValueError:
        return UNIT_SCALE.get(text, DEFAULT_SCALE)
    return 10.0**exponent if -12 <= exponent <= 3 else DEFAULT_SCALE


def channel_meta(info: pylsl.StreamInfo) -> tuple[list[str], list[str | None]]:
    """Labels and units from desc/channels/channel; fallback labels ch1..chN when the description lacks them."""
    n = info.channel_count()
    labels: list[str] = []
    units: list[str | None] = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(labels) < n:
        labels.append(ch.child_value("label") or "")
        units.append(ch.child_value("unit") or None)
        ch = ch.next_sibling("channel")
    labels = usable_ch_names(labels, n)
    if len(units) != n:
        units = [None] * n
    return labels, units


def _describe(info: pylsl.StreamInfo) -> str:
    return f"'{info.name()}' ({info.type() or 'no type'})"


def _format(info: pylsl.StreamInfo) -> str:
    return _FORMATS.get(info.channel_format(), "unknown")


def _same_type(a: str, b: str) -> bool:
    """LSL types are free text and case varies by tool (mne-lsl says "eeg", most others "EEG")."""
    return a.strip().lower() == b.strip().lower()


def same_stream(old: pylsl.StreamInfo, new: pylsl.StreamInfo) -> bool:
    """Is `new` the lost stream come back? Name and source_id must agree (source_id alone is not enough:
    mne-lsl's PlayerLSL publishes EEG and annotations under one source_id)."""
    return new.name() == old.name() and new.source_id() == old.source_id()


def misfit(old: pylsl.StreamInfo, new: pylsl.StreamInfo) -> str | None:
    """Why `new` cannot replace `old` (one-line notice), or None when it fits: the rest of liblsl's recovery
    rule (type in any case, channel count, channel format) plus the rate, which the epocher relies on."""
    parts = []
    if not _same_type(new.type(), old.type()):
        parts.append(f"type '{new.type()}' instead of '{old.type()}'")
    if new.channel_count() != old.channel_count():
        parts.append(f"{new.channel_count()} channels instead of {old.channel_count()}")
    if new.channel_format() != old.channel_format():
        parts.append(f"{_format(new)} samples instead of {_format(old)}")
    if abs(new.nominal_srate() - old.nominal_srate()) > 1e-9 * max(1.0, old.nominal_srate()):
        parts.append(f"{new.nominal_srate():g} Hz instead of {old.nominal_srate():g} Hz")
    if not parts:
        return None
    return f"LSL stream '{old.name()}' came back with {' and '.join(parts)}; waiting for the original"


def resolve_streams(
    stream_name: str | None,
    stream_type: str | None,
    marker_name: str | None,
    marker_type: str,
    timeout: float,
) -> tuple[pylsl.StreamInfo, pylsl.StreamInfo | None]:
    """Find the EEG stream and (optionally) a string marker stream within timeout seconds.

    One ContinuousResolver sees every stream, so a failure can name what was visible instead. Types are
    compared in any case. The EEG stream is numeric and matched by name when one is given (type only breaks
    ties), else by type among streams with a regular rate, so an irregular annotation or marker stream (mne-lsl
    gives its annotations the EEG's source_id) is never taken for EEG. Markers must be strings, one image id per
    onset: a numeric stream named marker_name is refused at once with what was found. Without marker_name the
    marker stream is optional: we wait a short grace period for it after the EEG stream shows up, preferring
    one whose name contains the EEG stream's name (several simulators may run on one machine). With neither
    stream_name nor stream_type only the marker stream is looked for (a BrainFlow board's markers), and
    (None, markers) is returned.
    """
    want_eeg = stream_name is not None or stream_type is not None
    resolver = pylsl.ContinuousResolver(forget_after=max(5.0, timeout))
    start = time.monotonic()
    deadline = start + timeout
    eeg: pylsl.StreamInfo | None = None
    markers: pylsl.StreamInfo | None = None
    eeg_found_at = 0.0
    seen: list[pylsl.StreamInfo] = []
    try:
        while True:
            seen = resolver.results()
            numeric = [s for s in seen if s.channel_format() != pylsl.cf_string]
            strings = [s for s in seen if s.channel_format() == pylsl.cf_string]
            if eeg is None and want_eeg:
                if stream_name is not None:
                    cands = [s for s in numeric if s.name() == stream_name]
                    cands.sort(key=lambda s: not _same_type(s.type(), stream_type))
                else:
                    cands = [
                        s for s in numeric if _same_type(s.type(), stream_type) and s.nominal_srate() > 0
                    ]
                if cands:
                    eeg = cands[0]
                    eeg_found_at = time.monotonic()
            if markers is None:
                if marker_name is not None:
                    mc = [s for s in strings if s.name() == marker_name]
                    wrong = [s for s in numeric if s.name() == marker_name]
                    if not mc and wrong:
                        w = wrong[0]
                        raise EegvizError(
                            f"LSL stream '{marker_name}' ({w.type() or 'no type'}, {w.channel_count()} "
                            f"{_format(w)} channels) is numeric; eegviz needs a string marker stream (one image id "
                            "per onset), e.g. mne-lsl's PlayerLSL with annotations_encoding='string'"
                        )
                else:
                    mc = [s for s in strings if _same_type(s.type(), marker_type)]
                    if eeg is not None:
                        mc.sort(key=lambda s: eeg.name() not in s.name())
                if mc:
                    markers = mc[0]
            now = time.monotonic()
            if not want_eeg and markers is not None:
                return None, markers
            if eeg is not None and (markers is not None or (marker_name is None and now - eeg_found_at > 0.5)):
                return eeg, markers
            if now >= deadline:
                break
            time.sleep(0.05)
    finally:
        del resolver
    names = ", ".join(sorted(_describe(s) for s in seen)) or "none"
    if eeg is None and want_eeg:
        what = f"named '{stream_name}'" if stream_name is not None else "of"
        raise EegvizError(
            f"no LSL stream {what} (type {stream_type}) found within {timeout} s; streams seen: {names}"
        )
    raise EegvizError(
        f"no LSL marker stream {f'named {marker_name!r}' if marker_name else f'of type {marker_type}'} found "
        f"within {timeout} s; streams seen: {names}"
    )


def _literal(text: str) -> str:
    """text as an XPath 1.0 string literal (which has no escapes: a quote is written with the other quote)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


def _query(info: pylsl.StreamInfo) -> str:
    """LSL predicate for the streams that may be this one come back: same name and source_id (see same_stream).
    Type, channel count and format are checked in Python (misfit), so that a misfit can be told, not ignored."""
    return f"name={_literal(info.name())} and source_id={_literal(info.source_id())}"


def _open_inlet(info: pylsl.StreamInfo, timeout: float) -> tuple[pylsl.StreamInlet, float | None]:
    """Open an inlet with raw stamps (no liblsl processing) and take its first clock-offset measurement now
    (the only one that blocks, ~0.65 s); returns the inlet and that offset, None if the peer did not answer."""
    inlet = pylsl.StreamInlet(info, max_buflen=360, recover=False, processing_flags=0)
    inlet.open_stream(timeout=timeout)
    try:
        offset = inlet.time_correction(timeout=timeout)
    except (pylsl.util.TimeoutError, pylsl.util.LostError):
        offset = None  # a peer that cannot answer now is found again by the _Link when it is lost
    return inlet, offset


def _close(inlet: pylsl.StreamInlet | None) -> None:
    if inlet is not None:
        try:
            inlet.close_stream()
        except Exception:  # noqa: BLE001 - closing a dead inlet must never fail
            pass


class _Finder(threading.Thread):
    """Background search for a stream's outlet; leaves an opened inlet in `found` for the reading thread.

    A stream that is this one come back but no longer fits is not opened; its misfit is put in `notices`
    once per outlet (`told` holds the uids already announced and outlives the finder)."""

    RESOLVE_S = 1.0  # one query's wait (see run)

    def __init__(self, old: pylsl.StreamInfo, accept_same: bool, told: set[str]) -> None:
        super().__init__(name="eegviz-lsl-reconnect", daemon=True)
        self._old, self.accept_same, self._told = old, accept_same, told
        self.stopping = threading.Event()
        self.found: tuple[pylsl.StreamInlet, pylsl.StreamInfo, float | None] | None = None
        self.notices: deque[str] = deque()  # appended here, taken by the reading thread

    def _usable(self, streams: list[pylsl.StreamInfo]) -> tuple[list[pylsl.StreamInfo], int]:
        """The streams that can replace the lost one, and how many same-named ones did not fit."""
        usable, misfits = [], 0
        for s in streams:
            if not same_stream(self._old, s):
                continue
            why = misfit(self._old, s)
            if why is not None:
                misfits += 1
                if s.uid() not in self._told:
                    self._told.add(s.uid())
                    self.notices.append(why)
            elif self.accept_same or s.uid() != self._old.uid():
                usable.append(s)
        return usable, misfits

    def run(self) -> None:
        # resolve_bypred returns once `minimum` streams answered. Peers in another process (another liblsl)
        # answer only in the unicast wave, ~0.5 s in on loopback, so each query may take up to RESOLVE_S. When
        # only misfits answered, the next query waits for one more so the original is not crowded out.
        minimum = 1
        while not self.stopping.is_set():
            try:
                streams = pylsl.resolve_bypred(_query(self._old), minimum=minimum, timeout=self.RESOLVE_S)
                usable, misfits = self._usable(streams)
                if usable:
                    inlet, offset = _open_inlet(usable[0], 2.0)
                    if self.stopping.is_set():
                        _close(inlet)
                    else:
                        self.found = (inlet, usable[0], offset)
                    return
                minimum = misfits + 1
            except Exception:  # noqa: BLE001 - the outlet vanished again mid-open: keep looking
                pass
            self.stopping.wait(0.25)  # a few queries a second: cheap on a LAN while an amplifier is paused

    def cancel(self) -> None:
        self.stopping.set()
        self.join(timeout=3.0)
        if self.found is not None:
            _close(self.found[0])
            self.found = None


class _Link:
    """One stream's inlet plus its reconnection and clock-offset state, so EEG and markers recover the same way.

    `label` is the ClockOffset stream name ("eeg" or "markers"); `offset` the latest measurement (sender clock +
    offset = local clock), 0 until the first one arrives, which is right for a sender on this machine.
    """

    def __init__(self, inlet: pylsl.StreamInlet, info: pylsl.StreamInfo, offset: float | None, label: str) -> None:
        self.inlet, self.info, self.label = inlet, info, label
        self.offset = 0.0 if offset is None else offset
        self._next_offset_at = 0.0  # monotonic time of the next measurement; 0: at the next read
        self.lost = False
        self.finder: _Finder | None = None
        self.reconnects = 0
        self._told: set[str] = set()
        self._notices: deque[str] = deque()  # from finished finders, not yet handed out

    def swap_if_found(self) -> bool:
        """Take the finder's fresh inlet, if there is one; True when the inlet was replaced."""
        f = self.finder
        if f is None or f.found is None:
            return False
        self._notices.extend(f.notices)
        _close(self.inlet)
        self.inlet, self.info, offset = f.found
        if offset is not None:
            self.offset = offset
        self._next_offset_at = 0.0  # hand out the new inlet's offset at once: the sender may be another machine
        f.found, self.finder, self.lost = None, None, False
        self.reconnects += 1
        return True

    def take_notices(self, result: ReadResult) -> None:
        while self._notices:
            result.notices.append(self._notices.popleft())
        if self.finder is not None:
            while self.finder.notices:
                result.notices.append(self.finder.notices.popleft())

    def poll_offset(self, result: ReadResult) -> None:
        """Every OFFSET_INTERVAL_S read the inlet's clock offset without waiting (time_correction(0) returns
        liblsl's background estimate in microseconds) and hand it out once as a ClockOffset."""
        if self.lost or time.monotonic() < self._next_offset_at:
            return
        try:
            value = self.inlet.time_correction(timeout=0.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            return  # no estimate yet, or the peer is gone (the next pull notices): try again next read
        self._next_offset_at = time.monotonic() + OFFSET_INTERVAL_S
        self.offset = value
        result.clock_offsets.append(ClockOffset(stream=self.label, collection_time=pylsl.local_clock(), value=value))

    def search(self, accept_same: bool) -> None:
        """Start looking for the outlet (no-op while a search runs)."""
        if self.finder is None:
            self.finder = _Finder(self.info, accept_same, self._told)
            self.finder.start()

    def _drop_finder(self) -> None:
        """Stop the finder without joining (it finishes its current resolve and exits on its own)."""
        if self.finder is not None:
            self.finder.stopping.set()
            self._notices.extend(self.finder.notices)
            self.finder = None

    def mark_lost(self) -> None:
        """The inlet raised LostError: look for the outlet again, the same one included (the connection may
        have broken while the outlet lives); a search for a *new* outlet only is replaced."""
        self.lost = True
        if self.finder is not None and not self.finder.accept_same:
            self._drop_finder()
        self.search(accept_same=True)

    def stop_search(self) -> None:
        """Data flows on the current inlet again: a search for a replacement is no longer needed."""
        if not self.lost:
            self._drop_finder()

    def close(self) -> None:
        if self.finder is not None:
            self.finder.cancel()
            self.finder = None
        _close(self.inlet)


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


class LslSource:
    """Source reading one EEG stream and an optional string marker stream over LSL."""

    def __init__(
        self,
        stream_name: str | None = None,
        stream_type: str = "EEG",
        marker_name: str | None = None,
        marker_type: str = "Markers",
        resolve_timeout: float = 5.0,
    ) -> None:
        self.stream_name = stream_name
        self.stream_type = stream_type
        self.marker_name = marker_name
        self.marker_type = marker_type
        self.resolve_timeout = resolve_timeout
        self.info = StreamInfo(name=stream_name or stream_type, ch_names=(), sfreq=0.0)
        self._eeg: _Link | None = None
        self._markers: _Link | None = None
        self._scale: np.ndarray | None = None
        self._dejitter: Dejitter | None = None
        self._seen_data = False
        self._last_data_at = 0.0
        self._pending_gap = False
        self._told_nan = False

    @property
    def reconnects(self) -> int:
        """How many times the EEG inlet was replaced by a fresh one since start()."""
        return self._eeg.reconnects if self._eeg is not None else 0

    def start(self) -> None:
        eeg, mk = resolve_streams(
            self.stream_name, self.stream_type, self.marker_name, self.marker_type, self.resolve_timeout
        )
        try:
            if mk is not None:
                inlet, offset = _open_inlet(mk, self.resolve_timeout)
                self._markers = _Link(inlet, mk, offset, "markers")
            inlet, offset = _open_inlet(eeg, self.resolve_timeout)
            self._eeg = _Link(inlet, eeg, offset, "eeg")
            full = inlet.info(timeout=self.resolve_timeout)  # the full info carries desc
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
            self.stop()
            raise EegvizError(f"LSL stream {_describe(eeg)} did not answer: {e}") from None
        labels, units = channel_meta(full)
        self._scale = np.array([unit_scale(u) for u in units], dtype=np.float64)
        self.info = StreamInfo(
            name=full.name(),
            ch_names=tuple(labels),
            sfreq=float(full.nominal_srate()),
            source_id=full.source_id(),
            ch_type=full.type() or "EEG",
            unit="volts",
        )
        self._dejitter = Dejitter(self.info.sfreq) if self.info.sfreq > 0 else None
        self._seen_data = False
        self._last_data_at = time.monotonic()
        self._pending_gap = False
        self._told_nan = False

    def read(self, timeout: float = 0.05) -> ReadResult:
        """Pull whatever arrived: waits up to timeout for the first EEG sample, then takes markers as they are.

        Never blocks longer than about `timeout`, also while a stream is being looked for again.
        """
        if self._eeg is None:
            raise EegvizError("LSL source read before start()")
        result = ReadResult()
        eeg = self._eeg
        if eeg.swap_if_found():
            self._pending_gap = True
        eeg.take_notices(result)
        eeg.poll_offset(result)  # before the pull, so a fresh inlet's first chunk has its offset
        if eeg.lost:
            time.sleep(timeout)  # nothing to wait on until the finder has a new inlet
        else:
            self._pull_eeg(timeout, result)
        if self._pending_gap and result.chunks:
            result.gap = True
            self._pending_gap = False
        if self._markers is not None:
            mk = self._markers
            mk.swap_if_found()
            mk.take_notices(result)
            mk.poll_offset(result)
            if not mk.lost:
                self._pull_markers(result)
        if result.chunks:
            eeg.stop_search()
        elif time.monotonic() - self._last_data_at > RECONNECT_AFTER_S:
            eeg.search(accept_same=eeg.lost)
        return result

    def _pull_eeg(self, timeout: float, result: ReadResult) -> None:
        eeg = self._eeg
        try:
            samples, ts = eeg.inlet.pull_chunk(timeout=timeout, max_samples=65536, min_samples=1, as_numpy=True)
        except pylsl.util.LostError:
            eeg.mark_lost()
            self._pending_gap = True
            return
        if ts is None or not len(ts):
            return
        now = time.monotonic()
        raw = np.asarray(ts, dtype=np.float64)
        data = np.asarray(samples, dtype=np.float64)
        if not self._told_nan and not np.isfinite(data).all():
            self._told_nan = True
            result.notices.append(
                f"LSL stream '{self.info.name}' sends NaN/inf samples (a flat or saturated electrode?); they are "
                "kept as sent and the epochs holding them are skipped"
            )
        gap = self._pending_gap or (self._seen_data and now - self._last_data_at > SILENCE_GAP_S)
        local = raw + eeg.offset
        if self._dejitter is None:
            stamps = local  # an irregular stream has no sample clock to recover
        else:
            if not gap and self._dejitter.jumped(local):
                gap = True
            if gap:
                self._dejitter.reset()  # the sample count does not continue the old line
            stamps = self._dejitter.fit(local)
        result.gap = result.gap or gap
        self._seen_data = True
        self._last_data_at = now
        result.chunks.append(
            Chunk(
                samples=(data * self._scale).astype(np.float32),
                timestamps=stamps,
                source=self.info.name,
                raw_timestamps=raw,
            )
        )

    def _pull_markers(self, result: ReadResult) -> None:
        mk = self._markers
        try:
            values, mts = mk.inlet.pull_chunk(timeout=0.0, max_samples=4096)
        except pylsl.util.LostError:
            mk.mark_lost()
            return
        for value, t in zip(values or [], mts or []):
            payload = value[0] if value else ""
            result.markers.append(
                Marker(
                    timestamp=float(t) + mk.offset,
                    payload=str(payload),
                    source=self.info.name,
                    raw_timestamp=float(t),
                )
            )

    def stop(self) -> None:
        for attr in ("_eeg", "_markers"):
            link = getattr(self, attr)
            if link is not None:
                link.close()
                setattr(self, attr, None)
