"""LslSource: live EEG and string markers from Lab Streaming Layer streams on this machine or the network.

Both inlets use LSL's clock synchronisation so chunk and marker timestamps land in this machine's
pylsl.local_clock(), which is the clock the epocher cuts in. Inlets are opened with recover=True: liblsl then
reconnects on its own when an outlet with the same source_id comes back, and this source only has to notice
the hole in the data (a silence followed by resumed data, or a timestamp jump) and report it as a gap.
"""

from __future__ import annotations

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


def resolve_streams(
    stream_name: str | None,
    stream_type: str,
    marker_name: str | None,
    marker_type: str,
    timeout: float,
) -> tuple[pylsl.StreamInfo, pylsl.StreamInfo | None]:
    """Find the EEG stream and (optionally) a string marker stream within timeout seconds.

    One ContinuousResolver sees every stream, so a failure can name what was visible instead. The EEG stream
    is matched by name when one is given (type only breaks ties), else by type. Without marker_name the
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
                    cands.sort(key=lambda s: s.type() != stream_type)
                else:
                    cands = [s for s in numeric if s.type() == stream_type]
                if cands:
                    eeg = cands[0]
                    eeg_found_at = time.monotonic()
            if markers is None:
                if marker_name is not None:
                    mc = [s for s in strings if s.name() == marker_name]
                else:
                    mc = [s for s in strings if s.type() == marker_type]
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
        self._inlet: pylsl.StreamInlet | None = None
        self._marker_inlet: pylsl.StreamInlet | None = None
        self._scale: np.ndarray | None = None
        self._last_ts: float | None = None
        self._last_data_at = 0.0
        self._pending_gap = False

    def start(self) -> None:
        eeg, mk = resolve_streams(
            self.stream_name, self.stream_type, self.marker_name, self.marker_type, self.resolve_timeout
        )
        flags = pylsl.proc_clocksync | pylsl.proc_dejitter
        try:
            self._inlet = pylsl.StreamInlet(eeg, max_buflen=360, recover=True, processing_flags=flags)
            full = self._inlet.info(timeout=self.resolve_timeout)  # the full info carries desc
            if mk is not None:
                self._marker_inlet = pylsl.StreamInlet(
                    mk, max_buflen=360, recover=True, processing_flags=pylsl.proc_clocksync
                )
                self._marker_inlet.open_stream(timeout=self.resolve_timeout)
            self._inlet.open_stream(timeout=self.resolve_timeout)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
            self.stop()
            raise EegvizError(f"LSL stream {_describe(eeg)} did not answer: {e}") from None
        # liblsl measures the clock offset lazily, on the first pull (~0.6 s per stream). Doing it here keeps
        # read() within its timeout and the first epochs on time.
        for inlet in (self._inlet, self._marker_inlet):
            if inlet is not None:
                try:
                    inlet.time_correction(timeout=self.resolve_timeout)
                except (pylsl.util.TimeoutError, pylsl.util.LostError):
                    pass  # a peer that cannot answer now is handled by recover=True later
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
        """Pull whatever arrived: waits up to timeout for the first EEG sample, then takes markers as they are."""
        if self._inlet is None:
            raise EegvizError("LSL source read before start()")
        result = ReadResult()
        try:
            samples, ts = self._inlet.pull_chunk(
                timeout=timeout, max_samples=65536, min_samples=1, as_numpy=True
            )
        except pylsl.util.LostError:
            # Only raised when liblsl gave up recovering; report the gap and keep polling.
            self._pending_gap = True
            samples, ts = None, np.empty(0)
        now = time.monotonic()
        if ts is not None and len(ts):
            data = np.asarray(samples, dtype=np.float64)
            if not np.isfinite(data).all():
                bad = int((~np.isfinite(data)).any(axis=1).sum())
                raise EegvizError(
                    f"LSL stream '{self.info.name}' sent {bad} sample(s) with NaN/inf values; check the amplifier"
                )
            ts = np.asarray(ts, dtype=np.float64)
            if self._detect_gap(ts, now):
                result.gap = True
            self._last_ts = float(ts[-1])
            self._last_data_at = now
            result.chunks.append(
                Chunk(samples=(data * self._scale).astype(np.float32), timestamps=ts, source=self.info.name)
            )
        if self._pending_gap and result.chunks:
            result.gap = True
            self._pending_gap = False
        if self._marker_inlet is not None:
            try:
                values, mts = self._marker_inlet.pull_chunk(timeout=0.0, max_samples=4096)
            except pylsl.util.LostError:
                values, mts = [], []
            for value, t in zip(values or [], mts or []):
                payload = value[0] if value else ""
                result.markers.append(Marker(timestamp=float(t), payload=str(payload), source=self.info.name))
        return result

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
        for attr in ("_inlet", "_marker_inlet"):
            inlet = getattr(self, attr)
            if inlet is not None:
                try:
                    inlet.close_stream()
                except Exception:  # noqa: BLE001 - closing a dead inlet must never fail stop()
                    pass
                setattr(self, attr, None)
