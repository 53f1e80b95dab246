"""LslSource: live EEG and string markers from Lab Streaming Layer streams on this machine or the network.

Both inlets use LSL's clock synchronisation so chunk and marker timestamps land in this machine's
pylsl.local_clock(), which is the clock the epocher cuts in.

Reconnects are this module's job, not liblsl's. With liblsl's own recovery (recover=True) a pull on an inlet
whose outlet vanished blocks while liblsl re-resolves and re-syncs: measured here a single pull_chunk(0.02 s)
blocked 1.7 s and data came back 2.5 s after the outlet did (issue 5 asks for 2 s, and acquisition must
never block). So inlets are opened with recover=False and each stream has a _Link that, when its inlet is
lost (or the EEG has been silent for RECONNECT_AFTER_S), looks for the stream in a background thread: an LSL
query for the same source_id (name and type when the outlet has none) answers within a resolve wave on
loopback; the fresh inlet is opened and clock-synced there (~0.65 s) and swapped in by the next read(). A
silent but connected inlet is only replaced by an outlet with a new uid, so a paused amplifier is left alone.
The hole in the data (a silence followed by resumed data, or a timestamp jump) is reported as a gap.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pylsl

from eegviz.errors import EegvizError
from eegviz.messages import Chunk, Marker, StreamInfo
from eegviz.sources.base import ReadResult
from eegviz.sources.units import UNIT_SCALE


DEFAULT_SCALE = 1e-6  # most EEG outlets send microvolts and many do not say so
SILENCE_GAP_S = 1.0  # no samples for this long, then data again: the source was lost in between
JUMP_SAMPLES = 2.0  # consecutive timestamps further apart than this many sample periods: samples went missing
RECONNECT_AFTER_S = 0.5  # EEG silent this long: start looking for the outlet ourselves (see module docstring)

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
    if len(labels) != n or not all(labels) or len(set(labels)) != n:
        labels = [f"ch{i + 1}" for i in range(n)]
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


def resolve_streams(
    stream_name: str | None,
    stream_type: str,
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
    one whose name contains the EEG stream's name (several simulators may run on one machine).
    """
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
            if eeg is None:
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
            if eeg is not None and (markers is not None or (marker_name is None and now - eeg_found_at > 0.5)):
                return eeg, markers
            if now >= deadline:
                break
            time.sleep(0.05)
    finally:
        del resolver
    names = ", ".join(sorted(_describe(s) for s in seen)) or "none"
    if eeg is None:
        what = f"named '{stream_name}'" if stream_name is not None else "of"
        raise EegvizError(
            f"no LSL stream {what} (type {stream_type}) found within {timeout} s; streams seen: {names}"
        )
    raise EegvizError(
        f"no LSL marker stream named '{marker_name}' found within {timeout} s; streams seen: {names}"
    )


def _query(info: pylsl.StreamInfo) -> str:
    """LSL predicate that finds this stream again after its outlet restarts (source_id is what survives)."""
    sid = info.source_id()
    if sid:
        return f"source_id='{sid}'"
    return f"name='{info.name()}' and type='{info.type()}'"


def _open_inlet(info: pylsl.StreamInfo, flags: int, timeout: float) -> pylsl.StreamInlet:
    """Open an inlet and take its first clock-offset measurement now (liblsl would otherwise do it, ~0.65 s,
    inside the first pull, on the acquisition thread)."""
    inlet = pylsl.StreamInlet(info, max_buflen=360, recover=False, processing_flags=flags)
    inlet.open_stream(timeout=timeout)
    try:
        inlet.time_correction(timeout=timeout)
    except (pylsl.util.TimeoutError, pylsl.util.LostError):
        pass  # a peer that cannot answer now is found again by the _Link when it is lost
    return inlet


def _close(inlet: pylsl.StreamInlet | None) -> None:
    if inlet is not None:
        try:
            inlet.close_stream()
        except Exception:  # noqa: BLE001 - closing a dead inlet must never fail
            pass


class _Finder(threading.Thread):
    """Background search for a stream's outlet; leaves an opened inlet in `found` for the reading thread."""

    def __init__(self, old: pylsl.StreamInfo, flags: int, accept_same: bool) -> None:
        super().__init__(name="eegviz-lsl-reconnect", daemon=True)
        self._old, self._flags, self.accept_same = old, flags, accept_same
        self.stopping = threading.Event()
        self.found: tuple[pylsl.StreamInlet, pylsl.StreamInfo] | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                streams = pylsl.resolve_bypred(_query(self._old), minimum=1, timeout=0.2)
                usable = [s for s in streams if self.accept_same or s.uid() != self._old.uid()]
                if usable:
                    inlet = _open_inlet(usable[0], self._flags, 2.0)
                    if self.stopping.is_set():
                        _close(inlet)
                    else:
                        self.found = (inlet, usable[0])
                    return
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
    """One stream's inlet plus its reconnection state, so EEG and markers recover the same way."""

    def __init__(self, inlet: pylsl.StreamInlet, info: pylsl.StreamInfo, flags: int) -> None:
        self.inlet, self.info, self.flags = inlet, info, flags
        self.lost = False
        self.finder: _Finder | None = None
        self.reconnects = 0

    def swap_if_found(self) -> bool:
        """Take the finder's fresh inlet, if there is one; True when the inlet was replaced."""
        f = self.finder
        if f is None or f.found is None:
            return False
        _close(self.inlet)
        self.inlet, self.info = f.found
        f.found, self.finder, self.lost = None, None, False
        self.reconnects += 1
        return True

    def search(self, accept_same: bool) -> None:
        """Start looking for the outlet (no-op while a search runs)."""
        if self.finder is None:
            self.finder = _Finder(self.info, self.flags, accept_same)
            self.finder.start()

    def mark_lost(self) -> None:
        """The inlet raised LostError: look for the outlet again, the same one included (the connection may
        have broken while the outlet lives); a search for a *new* outlet only is replaced."""
        self.lost = True
        if self.finder is not None and not self.finder.accept_same:
            self.finder.stopping.set()
            self.finder = None
        self.search(accept_same=True)

    def stop_search(self) -> None:
        """Data flows on the current inlet again: a search for a replacement is no longer needed."""
        if self.finder is not None and not self.lost:
            self.finder.stopping.set()  # not joined: it finishes its current resolve and exits on its own
            self.finder = None

    def close(self) -> None:
        if self.finder is not None:
            self.finder.cancel()
            self.finder = None
        _close(self.inlet)


class LslSource:
    """Source reading one EEG stream and an optional string marker stream over LSL."""

    _EEG_FLAGS = pylsl.proc_clocksync | pylsl.proc_dejitter

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
        self._last_ts: float | None = None
        self._last_data_at = 0.0
        self._pending_gap = False

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
                inlet = _open_inlet(mk, pylsl.proc_clocksync, self.resolve_timeout)
                self._markers = _Link(inlet, mk, pylsl.proc_clocksync)
            inlet = _open_inlet(eeg, self._EEG_FLAGS, self.resolve_timeout)
            self._eeg = _Link(inlet, eeg, self._EEG_FLAGS)
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
        self._last_ts = None
        self._last_data_at = time.monotonic()
        self._pending_gap = False

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
        if eeg.lost:
            time.sleep(timeout)  # nothing to wait on until the finder has a new inlet
        else:
            self._pull_eeg(timeout, result)
        if self._pending_gap and result.chunks:
            result.gap = True
            self._pending_gap = False
        if self._markers is not None:
            self._markers.swap_if_found()
            if not self._markers.lost:
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
        ts = np.asarray(ts, dtype=np.float64)
        data = np.asarray(samples, dtype=np.float64)
        if not np.isfinite(data).all():
            bad = int((~np.isfinite(data)).any(axis=1).sum())
            raise EegvizError(
                f"LSL stream '{self.info.name}' sent {bad} sample(s) with NaN/inf values; check the amplifier"
            )
        if self._detect_gap(ts, now):
            result.gap = True
        self._last_ts = float(ts[-1])
        self._last_data_at = now
        result.chunks.append(
            Chunk(samples=(data * self._scale).astype(np.float32), timestamps=ts, source=self.info.name)
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
            result.markers.append(Marker(timestamp=float(t), payload=str(payload), source=self.info.name))

    def _detect_gap(self, ts: np.ndarray, now: float) -> bool:
        """A gap is a silence > SILENCE_GAP_S before this chunk, or any step > JUMP_SAMPLES periods."""
        gap = self._last_ts is not None and now - self._last_data_at > SILENCE_GAP_S
        if self.info.sfreq > 0:
            limit = JUMP_SAMPLES / self.info.sfreq
            steps = np.diff(ts) if self._last_ts is None else np.diff(np.concatenate(([self._last_ts], ts)))
            if len(steps) and (np.abs(steps) > limit).any():
                gap = True
        return bool(gap)

    def stop(self) -> None:
        for attr in ("_eeg", "_markers"):
            link = getattr(self, attr)
            if link is not None:
                link.close()
                setattr(self, attr, None)
