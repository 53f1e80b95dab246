"""LslSource: live EEG and string markers from Lab Streaming Layer streams on this machine or the network.

open() finds the streams and reads the EEG stream's header (labels, units, rate) through inlets that are not
connected yet: liblsl sends an inlet no sample before open_stream(), which start() calls. A session therefore
checks a stream's channels against its model before the generator's warm-up, and nothing piles up meanwhile.

Time stamps are handled the way LabRecorder records them. Inlets are opened without liblsl's processing
(processing_flags=0), so pulled stamps are exactly what the sender stamped, in its own clock; they travel as
Chunk.raw_timestamps / Marker.raw_timestamp, and the clock offset of each inlet (inlet.time_correction(),
sender clock + offset = this machine's clock) is measured every OFFSET_INTERVAL_S and handed out once per
measurement as a ClockOffset, so a recording can be synchronised and dejittered later by pyxdf. For epoching
now, eegviz does liblsl's two steps itself: timestamps = raw + current offset, then a Dejitter line through
them (eegviz.stream.dejitter: sample count -> time) so the epocher cuts in smooth local time. Only the first offset measurement of an
inlet blocks (~0.65 s on loopback); it is taken at start() or in the reconnect thread. Later ones are read with
time_correction(timeout=0), which returns liblsl's background estimate in well under a millisecond.

Reconnects are this module's job, not liblsl's. With liblsl's own recovery (recover=True) a pull on an inlet
whose outlet vanished blocks while liblsl re-resolves and re-syncs: measured here a single pull_chunk(0.02 s)
blocked 1.7 s and data came back 2.5 s after the outlet did (issue 5 asks for 2 s, and acquisition must
never block). So inlets are opened with recover=False and each stream's inlet is a RecoveringInlet
(eegviz.sources.lsl_reconnect) that, when it is lost (or the EEG has been silent for RECONNECT_AFTER_S),
looks for the stream in a background thread. The
stream is found again by liblsl's recovery rule: same name and source_id (same_stream), and only taken if type
(any case), channel count, format and rate still fit (misfit), and for the EEG the channel labels and units of
its full header too (header_misfit: they made the channel map and the scale). This matters because mne-lsl's
PlayerLSL gives its EEG and its annotation stream one source_id, and because a returning outlet may have been
reconfigured: such a stream, or an EEG stream of the same name from another source_id, is announced once as a
notice and the source keeps waiting for the original (a lost marker stream is taken back from another source_id:
lsl_reconnect.marker_stand_in). A stream's loss and return are notices too. The fresh inlet is
opened and clock-synced in the thread and swapped in by the next read(). A silent but connected inlet is only
replaced by an outlet with a new uid, so a paused amplifier is left alone. The hole in the data (a silence
followed by resumed data, or stamps that left the dejitter line) is reported as a gap.

NaN/inf samples (a disconnected or saturated electrode) are delivered as they came, with one notice the first
time: the recording keeps them, and the epocher marks an electrode bad whose NaN fills the first seconds or an
epoch's window and skips the epochs they reach only in part (eegviz.sources.base.nan_notice). A declared rate that
the first RATE_CHECK_S of samples contradict, by their stamps and their arrival
(eegviz.sources.rate.LiveRateCheck), ends the session with one line at the next read, and so do EEG stamps that
jump while the samples keep coming (a sender's clock reset or stepped: LslSource._clock_jump).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
import pylsl

from eegviz.errors import EegvizError, SourceNotFound
from eegviz.messages import Chunk, Marker, StreamInfo, usable_ch_names
from eegviz.sources.base import ReadResult, first_channel, marker_text, nan_notice, sender_kinship
from eegviz.sources.rate import LiveRateCheck
from eegviz.sources.lsl_reconnect import (
    begin_offset, channel_header, close_inlet, connect_inlet, first_offset, format_name, new_inlet, RecoveringInlet,
    same_type,
)
from eegviz.stream.dejitter import Dejitter
from eegviz.sources.units import judged_scale, volts_per_unit


DEFAULT_SCALE = 1e-6  # most EEG outlets send microvolts and many do not say so
SILENCE_GAP_S = 1.0  # no samples for this long, then data again: the source was lost in between
RECONNECT_AFTER_S = 0.5  # EEG silent this long: start looking for the outlet ourselves (see module docstring)
SETTLE_S = 0.5  # after the first EEG stream shows up, the others on the network have this long to answer
MARKER_SEARCH_S = 0.5  # a session without markers looks this often for a marker stream that appeared since
# samples of channels of no declared unit that units.judged_scale judges them by (_judge_units)
JUDGE_SAMPLES = 16
# samples (zeros included) after which they are judged on what they hold, so chunks are not held back for long
JUDGE_HOLD = 16 * JUDGE_SAMPLES
RATE_CHECK_S = 4.0  # the EEG's declared rate is judged over its first this-many seconds of data (rate.LiveRateCheck)
# the EEG's stamps stepping back this far, or ahead this far beyond what their arrival explains: the sender's clock
# jumped (LslSource._clock_jump)
CLOCK_JUMP_S = 0.5
LATENCY_MEMORY = 64  # the latest chunks whose arrival latency a step ahead is compared with (_clock_jump)



@dataclass(frozen=True)
class LslStreamInfo(StreamInfo):
    """StreamInfo plus the EEG and marker streams' headers as their sender declared them (XML; "" without a
    marker stream), so that session.xdf keeps the sender's streams (name, source_id, hostname, format, units,
    desc) rather than making them up."""

    marker_header: str = ""
    # the EEG stream's header as its sender declared it (desc included) and its channel format: session.xdf
    # stores the samples as they came under it, as LabRecorder does ("" / "": eegviz's float32 volts)
    eeg_header: str = ""
    eeg_format: str = ""


def unit_scale(unit: str | None) -> float:
    """Volts per unit of a desc unit string (eegviz.sources.units.volts_per_unit: names, or mne-lsl's integer
    exponents, "0" = volts, "-6" = microvolts); missing or unknown units start as microvolts, the scale of a
    stream that stays all zero, and are judged from the first data that is not (LslSource._judge_units)."""
    volts = volts_per_unit(unit)
    return DEFAULT_SCALE if volts is None else volts


def channel_meta(info: pylsl.StreamInfo) -> tuple[list[str], list[str | None]]:
    """Labels and units from desc/channels/channel; fallback labels ch1..chN when the description lacks them."""
    n = info.channel_count()
    declared = channel_header(info)[:n]
    labels = usable_ch_names([label for label, _ in declared], n, f"LSL stream '{info.name()}'")
    units = [unit or None for _, unit in declared] if len(declared) == n else [None] * n
    return labels, units


def _describe(info: pylsl.StreamInfo) -> str:
    return f"'{info.name()}' ({info.type() or 'no type'})"


def _ident(info: pylsl.StreamInfo) -> str:
    return f"'{info.name()}' (source_id '{info.source_id()}' on {info.hostname() or 'an unnamed host'})"


def _kinship(marker: pylsl.StreamInfo, eeg: pylsl.StreamInfo) -> int:
    """eegviz.sources.base.sender_kinship of two LSL streams (the rule XDF files choose by too)."""
    return sender_kinship((marker.hostname(), marker.source_id(), marker.name()),
                          (eeg.hostname(), eeg.source_id(), eeg.name()))


def _order(info: pylsl.StreamInfo) -> tuple[str, str, str, str]:
    """Streams sorted so that a choice among several is the same each run (the resolver's order is not)."""
    return info.name(), info.source_id(), info.hostname(), info.uid()


def _pick(streams: list[pylsl.StreamInfo], what: str, option: str, notices: list[str]) -> pylsl.StreamInfo:
    """The first of `streams` (in _order); when there are several, a notice naming them, the one taken, and how
    to take another."""
    chosen = streams[0]
    if len(streams) > 1:
        if len({s.name() for s in streams}) == len(streams):
            how = f"name it with {option} NAME"
        else:
            how = f"stop the others ({option} cannot tell streams of one name apart)"
        notices.append(f"{len(streams)} LSL {what} streams fit: {', '.join(_ident(s) for s in streams)}; "
                       f"using {_ident(chosen)}; to use another, {how}")
    return chosen


def _choose_markers(
    cands: list[pylsl.StreamInfo], eeg: pylsl.StreamInfo | None, notices: list[str]
) -> pylsl.StreamInfo | None:
    """The marker stream of the chosen EEG stream's sender (_kinship) when there is one: with two devices
    or simulators on the network, EEG from one and markers from the other give 0 correct and no error.
    A single candidate is taken whatever it is (a stimulus program's markers need not relate to the EEG)."""
    if not cands:
        return None
    if eeg is None:
        return _pick(cands, "marker", "--markers", notices)
    best = max(_kinship(m, eeg) for m in cands)
    left = [m for m in cands if _kinship(m, eeg) < best]
    chosen = _pick([m for m in cands if _kinship(m, eeg) == best], "marker", "--markers", notices)
    if left:  # said even when the choice was clear: an amplifier's own trigger stream may not be the image ids
        # "the EEG sender's" only where it is (its source_id); one only named after the EEG stream was called so too,
        # beside _numeric_annotations' notice calling the same stream "another sender's"
        whose = "the EEG sender's" if best >= 2 else f"named after the EEG stream '{eeg.name()}'"
        notices.append(f"markers from {_ident(chosen)}, {whose}; also seen: "
                       f"{', '.join(_ident(m) for m in left)}; to use another, name it with --markers NAME")
    return chosen


def _numeric_annotations(numeric: list[pylsl.StreamInfo], eeg: pylsl.StreamInfo, markers: pylsl.StreamInfo | None,
                         notices: list[str]) -> None:
    """A notice where the EEG's own sender annotates it in numbers: mne-lsl's PlayerLSL does by default
    (annotations_encoding="one-hot", one float channel per description), which carries no image id, so eegviz
    passes it over and took any other marker stream on the machine instead without a word: another program's
    markers, decoded against this EEG."""
    own = [s for s in numeric if same_type(s.type(), "annotations") and _kinship(s, eeg) >= 2]
    if not own or (markers is not None and _kinship(markers, eeg) >= 2):
        return
    instead = f"using markers from {_ident(markers)}, another sender's" if markers is not None else "no markers yet"
    notices.append(f"the EEG sender's annotations {_ident(own[0])} are numbers ({own[0].channel_count()} channels, "
                   f"mne-lsl's one-hot encoding), which carry no image id: {instead}; start mne-lsl's PlayerLSL "
                   "with annotations_encoding='string' to send image ids")


def _passed_over(strings: list[pylsl.StreamInfo], chosen: pylsl.StreamInfo | None, out: set[str] | None) -> None:
    """Add to `out` the uids of the string streams named as `chosen` that are not it (resolve_streams)."""
    if out is not None and chosen is not None:
        out.update(s.uid() for s in strings if s.name() == chosen.name() and s.uid() != chosen.uid()
                   and s.channel_format() == pylsl.cf_string)


def _marker_candidates(streams, marker_type: str) -> list[pylsl.StreamInfo]:
    """String streams of the marker type or mne-lsl's "annotations", in _order (as resolve_streams takes them)."""
    return sorted((s for s in streams if s.channel_format() == pylsl.cf_string
                   and (same_type(s.type(), marker_type) or same_type(s.type(), "annotations"))), key=_order)


def marker_streams_seen(wait_s: float, marker_type: str = "Markers") -> list[str]:
    """Names (and senders) of the string marker streams LSL finds within wait_s: for a source that takes its
    markers elsewhere (a BrainFlow board's marker channel) to say it is not using them."""
    return [_ident(s) for s in _marker_candidates(pylsl.resolve_streams(wait_time=wait_s), marker_type)]


def resolve_streams(
    stream_name: str | None,
    stream_type: str | None,
    marker_name: str | None,
    marker_type: str,
    timeout: float,
    notices: list[str] | None = None,
    passed_over: set[str] | None = None,
) -> tuple[pylsl.StreamInfo, pylsl.StreamInfo | None]:
    """Find the EEG stream and (optionally) a string marker stream within timeout seconds.

    One ContinuousResolver sees every stream, so a failure can name what was visible instead. Types are
    compared in any case. The EEG stream is numeric and matched by name when one is given (type only breaks
    ties), else by type among streams with a regular rate, so an irregular annotation or marker stream (mne-lsl
    gives its annotations the EEG's source_id) is never taken for EEG. Markers must be strings, one image id per
    onset: a numeric stream named marker_name is refused at once with what was found. Without marker_name the
    marker stream is optional and is a string stream of marker_type or of type "annotations" (mne-lsl's
    PlayerLSL), preferably the EEG sender's own (_choose_markers). Once an EEG stream shows up we wait
    SETTLE_S more, so that every stream on the network has answered before one is chosen (peers in another
    process answer later); where several fit, a notice in `notices` says which one was taken and how to choose,
    and so does one when no marker stream is found. With neither stream_name nor stream_type only the marker
    stream is looked for (a BrainFlow board's markers), and (None, markers) is returned once it has shown up
    SETTLE_S ago, as the EEG stream is. `passed_over` (if given) receives the uids of the other string streams of
    the chosen marker stream's name: a lost marker stream may come back from another source_id, but never as one
    the session chose against (RecoveringInlet).
    """
    want_eeg = stream_name is not None or stream_type is not None
    notices = [] if notices is None else notices
    resolver = pylsl.ContinuousResolver(forget_after=max(5.0, timeout))
    start = time.monotonic()
    deadline = start + timeout
    found_at: float | None = None  # when what is looked for (the EEG stream, or the markers only) showed up
    seen: list[pylsl.StreamInfo] = []
    try:
        while True:
            seen = sorted(resolver.results(), key=_order)
            numeric = [s for s in seen if s.channel_format() != pylsl.cf_string]
            strings = [s for s in seen if s.channel_format() == pylsl.cf_string]
            if stream_name is not None:
                cands = [s for s in numeric if s.name() == stream_name]
                best = [s for s in cands if same_type(s.type(), stream_type or "")]
                cands = best or cands
                text = [s for s in strings if s.name() == stream_name]
                if not cands and text:
                    # a marker stream named as the EEG: "no LSL stream named X found" after the whole timeout,
                    # listing X among the streams seen, as --markers naming a numeric stream is refused at once
                    t = text[0]
                    raise EegvizError(
                        f"LSL stream '{stream_name}' ({t.type() or 'no type'}, {t.channel_count()} string "
                        f"channel{'s' if t.channel_count() != 1 else ''}) holds text, not EEG samples: --stream "
                        "names the EEG stream, and a marker stream goes with --markers"
                    )
            else:
                cands = [s for s in numeric if same_type(s.type(), stream_type or "") and s.nominal_srate() > 0]
            if marker_name is not None:
                mc = [s for s in strings if s.name() == marker_name]
                wrong = [s for s in numeric if s.name() == marker_name]
                if not mc and wrong:
                    w = wrong[0]
                    raise EegvizError(
                        f"LSL stream '{marker_name}' ({w.type() or 'no type'}, {w.channel_count()} "
                        f"{format_name(w)} channels) is numeric; eegviz needs a string marker stream (one image id "
                        "per onset), e.g. mne-lsl's PlayerLSL with annotations_encoding='string'"
                    )
            else:
                mc = _marker_candidates(strings, marker_type)
            now = time.monotonic()
            if not (cands if want_eeg else mc):
                found_at = None
            elif found_at is None:
                found_at = now
            settled = found_at is not None and (now - found_at >= SETTLE_S or now >= deadline)
            if settled and not want_eeg:
                # the markers only: taken at once, of two of one name the first to answer was, and nothing said so
                markers = _choose_markers(mc, None, notices)
                _passed_over(strings, markers, passed_over)
                return None, markers
            if settled and (mc or marker_name is None):  # (an EEG stream found just before the deadline counts)
                eeg = _pick(cands, "EEG", "--stream", notices)
                markers = _choose_markers(mc, eeg, notices)
                _passed_over(strings, markers, passed_over)
                if marker_name is None:
                    _numeric_annotations(numeric, eeg, markers, notices)
                if markers is None:
                    notices.append(
                        f"no LSL marker stream (a string stream of type {marker_type} or annotations) found yet: "
                        "without markers no epoch is cut; eegviz keeps looking and takes one that appears (markers "
                        "sent in the second before it connects are missed), or name it with --markers NAME to "
                        "wait for it at the start"
                    )
                return eeg, markers
            if now >= deadline:
                break
            time.sleep(0.05)
    finally:
        del resolver
    names = ", ".join(sorted(_describe(s) for s in seen)) or "none"
    if found_at is None and want_eeg:
        irregular = [s for s in seen if s.channel_format() != pylsl.cf_string and not s.nominal_srate() > 0
                     and same_type(s.type(), stream_type or "")] if stream_name is None else []
        if irregular:
            # streams of the type were seen but passed over for declaring no rate: "no LSL stream of (type EEG)
            # found", listing them among the streams seen as 'amp' (EEG), left the user to guess why
            raise EegvizError(
                f"no LSL stream of type {stream_type} with a regular sampling rate found within {timeout} s: "
                f"{', '.join(_describe(s) for s in irregular)} declares none (0 Hz, irregular), and epochs are cut "
                f"by sample count; set the sender's sampling rate; streams seen: {names}"
            )
        what = f"named '{stream_name}'" if stream_name is not None else "of"
        raise SourceNotFound(
            f"no LSL stream {what} (type {stream_type}) found within {timeout} s; streams seen: {names}"
        )
    raise SourceNotFound(
        f"no LSL marker stream {f'named {marker_name!r}' if marker_name else f'of type {marker_type}'} found "
        f"within {timeout} s; streams seen: {names}"
    )


class _MarkerSearch(threading.Thread):
    """For a session that started without a marker stream: watch the network for one (a stimulus program started
    after eegviz, as labs often do) and leave it opened and clock-synced in `found` for the reading thread. It is
    chosen as resolve_streams would have chosen it (every answer given SETTLE_S, the EEG sender's own first,
    notices for ties). LSL hands an inlet only what is pushed after it connects, so markers sent before that
    (within about a second of the outlet appearing) are not received."""

    def __init__(self, eeg: pylsl.StreamInfo, marker_type: str) -> None:
        super().__init__(name="eegviz-lsl-markers", daemon=True)
        self._eeg, self._type = eeg, marker_type
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # orders "found an inlet" against cancel()
        self.found: tuple[pylsl.StreamInlet, pylsl.StreamInfo, float | None] | None = None
        self.notices: deque[str] = deque()
        self.passed_over: set[str] = set()  # the found stream's same-named others (RecoveringInlet)

    def run(self) -> None:
        resolver = pylsl.ContinuousResolver(forget_after=5.0)
        try:
            while not self.stopping.wait(MARKER_SEARCH_S):
                if not _marker_candidates(resolver.results(), self._type):
                    continue
                if self.stopping.wait(SETTLE_S):  # the other streams on the network answer too
                    return
                notices: list[str] = []
                chosen = _choose_markers(_marker_candidates(resolver.results(), self._type), self._eeg, notices)
                if chosen is None:  # gone again meanwhile
                    continue
                inlet = new_inlet(chosen)
                try:
                    offset = connect_inlet(inlet, 2.0)
                except Exception:  # noqa: BLE001 - it vanished while being opened: keep looking
                    close_inlet(inlet)
                    continue
                with self._lock:
                    if self.stopping.is_set():
                        close_inlet(inlet)
                    else:
                        self.notices.extend(notices)
                        _passed_over(resolver.results(), chosen, self.passed_over)
                        self.found = (inlet, chosen, offset)
                return
        finally:
            del resolver

    def cancel(self) -> None:
        with self._lock:
            self.stopping.set()
        self.join(timeout=3.0)
        with self._lock:
            if self.found is not None:
                close_inlet(self.found[0])
                self.found = None


class _NoAnswer(Exception):
    """A stream whose inlet did not answer when its data was started (LslSource.start)."""

    def __init__(self, info: pylsl.StreamInfo, error: Exception) -> None:
        super().__init__(info.name(), error)
        self.info, self.error = info, error


def pull_marker_chunk(inlet: pylsl.StreamInlet) -> tuple[list[tuple[str, bytes | None]], np.ndarray]:
    """A marker inlet's waiting samples as (id, the bytes as sent where they are not UTF-8, else None), and their
    stamps. Pulled as bytes because pylsl decodes strings as strict UTF-8, and one marker from a stimulus program
    that sends Windows-1252 ('Bild_\xe4') raised there and ended the session. Such an id is read as Windows-1252
    (Latin-1 where that has no character), so it can still name its file in --images-dir, and is recorded as
    read (UTF-8), so a replay of session.xdf decodes the same id (pyxdf would read the raw bytes as 'Bild_\ufffd')."""
    values, stamps = inlet.pull_chunk(timeout=0.0, max_samples=4096, as_numpy=True)
    out = []
    for row in values if values is not None else ():
        raw = first_channel(row, b"")
        raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        text, not_utf8 = marker_text(raw)
        out.append((text, raw if not_utf8 else None))
    return out, np.asarray(stamps if stamps is not None else (), dtype=np.float64)


def first_channel_notice(info: pylsl.StreamInfo) -> list[str]:
    """A marker stream of several channels (image id, condition, ...): eegviz reads the first as the image id,
    and session.xdf keeps that one only; said, not dropped silently (`eegviz record` keeps every channel)."""
    n = info.channel_count()
    if n <= 1:
        return []
    return [f"LSL marker stream '{info.name()}' has {n} channels: the first is read as the image id and is the "
            "only one session.xdf keeps; record the stream with `eegviz record` (or LabRecorder) to keep all"]


def undecodable_notice(stream: str, raw: bytes, payload: str) -> str:
    """Said once per session, at the first marker that was not UTF-8 text."""
    return (f"LSL marker stream '{stream}' sends ids that are not UTF-8 text ({raw!r}); they are read, and "
            f"recorded, as Windows-1252 text ('{payload}')")


def read_marker_inlet(mk: RecoveringInlet, result: ReadResult, source: str, told_text: bool,
                      sender_clock: bool = True) -> bool:
    """One read of a marker stream into `result`, for every source that takes its markers over LSL (an LSL
    session's, a BrainFlow board's beside it), so they recover and read ids by one rule: the outlet search's fresh
    inlet is swapped in, the stream's loss and return are said (in the read that finds them), and the waiting ids
    are pulled (pull_marker_chunk) and stamped in the local clock, the sender's stamp plus the inlet's clock offset.

    With sender_clock the markers keep the sender's stamps too and the offset measurements go out as ClockOffsets:
    the recording stores the sender's clock, as LabRecorder does. Without, it stores the local stamps and needs
    neither (the offset is still followed, for the local stamps). Returns told_text, True once the first id that
    was not UTF-8 text was said (once per session)."""
    mk.swap_if_found()
    mk.take_notices(result)
    mk.poll_offset(result if sender_clock else ReadResult())
    if mk.lost:
        return told_text
    try:
        values, stamps = pull_marker_chunk(mk.inlet)
    except pylsl.util.LostError:
        mk.mark_lost()
        mk.take_notices(result)
        return told_text
    for (payload, raw), t in zip(values, stamps):
        if raw is not None and not told_text:
            told_text = True
            result.notices.append(undecodable_notice(mk.info.name(), raw, payload))
        result.markers.append(Marker(timestamp=float(t) + mk.offset, payload=payload, source=source,
                                     raw_timestamp=float(t) if sender_clock else None))
    return told_text


def _live_rows(values: np.ndarray) -> np.ndarray:
    """The samples (rows) that are not all zero or non-finite: what units are judged on (an amplifier warming up
    sends zeros, which say nothing of a scale)."""
    return values[(np.isfinite(values) & (values != 0)).any(axis=1)]


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
        self._eeg: RecoveringInlet | None = None
        self._markers: RecoveringInlet | None = None
        # what open() made and start() has not connected yet: (label, stream, inlet), markers first
        self._unstarted: list[tuple[str, pylsl.StreamInfo, pylsl.StreamInlet]] | None = None
        self._full: pylsl.StreamInfo | None = None  # the EEG stream's full header, desc included, from open()
        self._scale: np.ndarray | None = None
        self._unjudged: np.ndarray | None = None  # channels of no known unit, until the first data judges them
        self._judge_rows: list[np.ndarray] = []  # (set by open(); here so drain() works on a source never opened)
        self._held: list[Chunk] = []
        self._dejitter: Dejitter | None = None
        self._rate_check: LiveRateCheck | None = None
        self._rate_error: str | None = None
        self._seen_data = False
        self._last_data_at = 0.0
        self._pending_gap = False
        self._told_nan = False
        self._notices: list[str] = []  # from open() (which streams were chosen), handed out by the first read()
        self._passed_over: set[str] = set()  # uids of the same-named marker streams open() chose against
        # without a marker stream at open() (and none named): the EEG stream to look for one beside once started
        self._markers_wanted_for: pylsl.StreamInfo | None = None
        self._marker_search: _MarkerSearch | None = None
        self._clock_ref()

    @property
    def reconnects(self) -> int:
        """How many times the EEG inlet was replaced by a fresh one since start()."""
        return self._eeg.reconnects if self._eeg is not None else 0

    def open(self) -> None:
        """Find the streams and read the EEG stream's full header (channel labels, units) without taking any
        data: liblsl sends an inlet nothing until open_stream(), which start() calls. So a session can check
        the channels against its model before it warms the generator up, and nothing piles up meanwhile."""
        self.stop()
        self._notices = []
        self._passed_over = set()
        eeg, mk = resolve_streams(
            self.stream_name, self.stream_type, self.marker_name, self.marker_type, self.resolve_timeout,
            self._notices, self._passed_over,
        )
        eeg_inlet = new_inlet(eeg)
        self._markers_wanted_for = eeg if mk is None and self.marker_name is None else None
        self._unstarted = [("markers", mk, new_inlet(mk))] if mk is not None else []
        self._unstarted.append(("eeg", eeg, eeg_inlet))
        try:
            full = eeg_inlet.info(timeout=self.resolve_timeout)  # the full info carries desc
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
            self.stop()
            raise EegvizError(f"LSL stream {_describe(eeg)} did not answer: {e}") from None
        labels, units = channel_meta(full)
        self._scale = np.array([unit_scale(u) for u in units], dtype=np.float64)
        # channels whose unit the stream does not declare (or declares in words eegviz does not know): judged from
        # the first data that is not all zero (_judge_units), as the XDF reader judges them
        unknown = np.array([volts_per_unit(u) is None for u in units])
        self._unjudged = unknown if unknown.any() else None
        self._judge_rows: list[np.ndarray] = []  # the unjudged channels' first samples (_judge_units)
        self._held: list[Chunk] = []  # their chunks, unscaled, until the judgement scales them (_pull_eeg)
        self._full = full
        self.info = LslStreamInfo(
            name=full.name(),
            ch_names=tuple(labels),
            sfreq=float(full.nominal_srate()),
            source_id=full.source_id(),
            ch_type=full.type() or "EEG",
            unit="volts",
            marker_header=mk.as_xml() if mk is not None else "",
            eeg_header=full.as_xml(),
            eeg_format=format_name(full),
        )

    def start(self) -> None:
        """Connect the inlets open() made (it is called here first if the caller did not) and start the data.

        An outlet that went away or restarted since open() (an amplifier app restarted during the warm-up) is
        looked for once more, as a fresh open() would; the session compares the info again after start()."""
        if self._unstarted is None:
            self.open()
        try:
            self._connect_opened()
        except _NoAnswer:
            self.open()  # resolves again, within resolve_timeout, or says which stream is missing
            try:
                self._connect_opened()
            except _NoAnswer as e:
                raise EegvizError(f"LSL stream {_describe(e.info)} did not answer: {e.error}") from None
        self._dejitter = Dejitter(self.info.sfreq) if self.info.sfreq > 0 else None
        self._rate_check = LiveRateCheck(self.info.sfreq, RATE_CHECK_S)  # judges nothing for an irregular stream
        self._rate_error = None
        self._clock_ref()
        self._seen_data = False
        self._last_data_at = time.monotonic()
        self._pending_gap = False
        self._told_nan = self._told_text = False
        if self._markers is None and self._markers_wanted_for is not None:
            self._marker_search = _MarkerSearch(self._markers_wanted_for, self.marker_type)
            self._marker_search.start()

    def _connect_opened(self) -> None:
        """Start the data of the inlets open() made, both before either's first clock-offset measurement (which
        blocks ~0.65 s each); a stream that does not answer raises _NoAnswer naming it, after everything is
        released. Started one after the other, markers first, the markers of the session's first 0.6 s had no
        EEG to cut from (7-8 lost at 10 a second, each said as "the stream began mid-trial")."""
        pending, self._unstarted = self._unstarted, None  # from here the RecoveringInlets own them
        try:
            for _label, info, inlet in sorted(pending, key=lambda p: p[0] != "eeg"):  # EEG first
                try:
                    inlet.open_stream(timeout=self.resolve_timeout)
                except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
                    raise _NoAnswer(info, e) from None
            for _, _, inlet in pending:
                begin_offset(inlet)  # all probes under way at once: the waits below overlap
            for label, info, inlet in pending:
                offset = first_offset(inlet, self.resolve_timeout)
                # a returning EEG stream must keep the channel labels and units that made the channel map and scale
                link = RecoveringInlet(inlet, info, offset, label, self._full if label == "eeg" else None,
                                       self._passed_over if label == "markers" else frozenset())
                if label == "eeg":
                    self._eeg = link
                else:
                    self._markers = link
                    self._notices += first_channel_notice(info)
        except BaseException:  # a failure closes what it opened
            for _, _, inlet in pending:
                close_inlet(inlet)
            self.stop()
            raise

    def read(self, timeout: float = 0.05) -> ReadResult:
        """Pull whatever arrived: waits up to timeout for the first EEG sample, then takes markers as they are.

        Never blocks longer than about `timeout`, also while a stream is being looked for again.
        """
        if self._eeg is None:
            raise EegvizError("LSL source read before start()")
        if self._rate_error is not None:
            raise EegvizError(self._rate_error)
        result = ReadResult()
        result.notices += self._notices
        self._notices = []
        eeg = self._eeg
        if eeg.swap_if_found():
            self._pending_gap = True
            self._came_back = True  # its stamps are judged against the old outlet's (_clock_jump)
            # the old outlet's chunks still awaiting the units judgement go out before the new outlet's samples
            self._release_held(result)
        eeg.take_notices(result)
        eeg.poll_offset(result)  # before the pull, so a fresh inlet's first chunk has its offset
        pulled = False
        if eeg.lost:
            time.sleep(timeout)  # nothing to wait on until the outlet search has a new inlet
        else:
            pulled = self._pull_eeg(timeout, result)
        # only samples pulled now end the pending gap: chunks released from the hold came before it
        if self._pending_gap and pulled:
            result.gap = True
            self._pending_gap = False
        if self._marker_search is not None:
            self._take_late_markers(result)
        if self._markers is not None:
            self._told_text = read_marker_inlet(self._markers, result, self.info.name, self._told_text)
        if pulled:
            eeg.stop_search()
        elif time.monotonic() - self._last_data_at > RECONNECT_AFTER_S:
            eeg.search(accept_same=eeg.lost)
        return result

    def _take_late_markers(self, result: ReadResult) -> None:
        """Hand over the marker stream _MarkerSearch found since the session started, if it has one."""
        search = self._marker_search
        while search.notices:
            result.notices.append(search.notices.popleft())
        found = search.found
        if found is None:
            return
        search.found, self._marker_search = None, None
        inlet, info, offset = found
        self._markers = RecoveringInlet(inlet, info, offset, "markers", passed_over=search.passed_over)
        result.notices += first_channel_notice(info)
        result.notices.append(f"LSL marker stream {_ident(info)} appeared after the session started; its markers are "
                              "used from now on")

    def _pull_eeg(self, timeout: float, result: ReadResult) -> bool:
        """Pull the EEG inlet's waiting samples into result; True when there were any (held back or not)."""
        eeg = self._eeg
        try:
            samples, ts = eeg.inlet.pull_chunk(timeout=timeout, max_samples=65536, min_samples=1, as_numpy=True)
        except pylsl.util.LostError:
            # the outlet went away: no more samples will join the held ones, which are its last (_release_held)
            self._release_held(result)
            eeg.mark_lost()
            self._pending_gap = True
            return False
        if ts is None or not len(ts):
            return False
        now = time.monotonic()
        raw = np.asarray(ts, dtype=np.float64)
        data = np.asarray(samples, dtype=np.float64)
        if not self._told_nan and (notice := nan_notice(f"LSL stream '{self.info.name}'", self.info.ch_names, data)):
            self._told_nan = True  # once: which channels, and which epochs that skips (base.nan_notice)
            result.notices.append(notice)
        if self._unjudged is not None:
            self._judge_units(data, result)
        if self._rate_check is not None and (measured := self._rate_check.add(raw, now)) is not None:
            # said by the next read(), so this read's samples are recorded
            self._rate_error = (
                f"LSL stream '{self.info.name}' declares {self.info.sfreq:g} Hz but its samples come at {measured}: "
                "the sender's rate setting is wrong (or its clock, or it loses over half its samples), and epochs "
                "cut at the declared rate would not be the EEG that followed each marker; fix the sender's rate "
                "and start again")
        gap = self._pending_gap or (self._seen_data and now - self._last_data_at > SILENCE_GAP_S)
        local = raw + eeg.offset
        if self._rate_error is None and (jump := self._clock_jump(local, eeg.offset)) is not None:
            self._rate_error = jump  # said by the next read(), so this read's samples are recorded
        if self._dejitter is None:
            stamps = local  # an irregular stream has no sample clock to recover
        else:
            if gap:
                self._dejitter.reset()  # the sample count does not continue the old line
            # samples lost before or inside this chunk (a step beyond the sender's jitter: eegviz.stream.dejitter)
            # restart the line there, and are a gap
            stamps, lost = self._dejitter.follow(local)
            gap = gap or lost
        result.gap = result.gap or gap
        self._seen_data = True
        self._last_data_at = now
        chunk = Chunk(samples=data, timestamps=stamps, source=self.info.name, raw_timestamps=raw,
                      raw_samples=np.asarray(samples))
        if self._unjudged is not None and self._judge_rows:
            # the units are being judged: held back, so no sample reaches the epocher or the recording at a scale
            # the judgement then changes (a first chunk smaller than JUDGE_SAMPLES used to go out as microvolts)
            self._held.append(chunk)
            return True
        held, self._held = self._held + [chunk], []
        result.chunks += [self._scaled(c) for c in held]
        return True

    def _clock_ref(self) -> None:
        """Forget what _clock_jump compares with, at start() (an outlet swapped in later is compared with the old
        one's stamps: a sender restarted under its name and source_id keeps its clock)."""
        self._last_local: float | None = None  # the last EEG stamp (local clock) of this outlet
        self._latencies: deque[float] = deque(maxlen=LATENCY_MEMORY)  # its chunks' arrival less their newest stamp
        self._ref_offset = 0.0
        self._came_back = False  # an outlet was swapped in since the last chunk

    def _clock_jump(self, local: np.ndarray, offset: float) -> str | None:
        """Why the session must end, where these stamps (local clock) jumped while the samples kept arriving, else
        None. A sender whose clock is reset or stepped (a device's own sample clock restarting, a wall clock
        stepped by NTP) without a new outlet moves every later stamp by the jump: the dejitter line restarted there
        and called it a gap, and every later marker from another sender was cut that far from its EEG, silently
        (3 s ahead, each epoch held the EEG of 3 s before its marker). Lost samples cannot explain it: they never
        move stamps back, and a step ahead over them leaves the delay between a sample's stamp and its arrival as
        it was (so does a silence), while a clock that jumped ahead stamps samples later than they arrive, and one
        that jumped back earlier. A step back alone is not enough: liblsl back-dates a chunk pushed at once from
        its push time, so a sender pushing a second's samples at once steps back by up to that second, its newest
        sample arriving as it always does. A clock offset that changed by as much (a sender on another machine
        whose first offset came late) explains it, and starts the comparison afresh. The outlet of a sender that
        restarted (same name and source_id) is judged against the old one's: its stamps in a clock of its own (a
        device's counter from 0) had markers skipped as "in another clock", blaming their sender, or cut from the
        wrong EEG where the clocks lay within a minute; a sender on another machine that rebooted is measured a new
        clock offset, which explains its stamps."""
        arrival = pylsl.local_clock()
        if abs(offset - self._ref_offset) > CLOCK_JUMP_S:
            self._latencies.clear()
        self._ref_offset = offset
        steps = np.diff(local, prepend=local[0] if self._last_local is None else self._last_local)
        latency = arrival - float(local[-1])
        ahead = min(self._latencies) - latency if self._latencies else 0.0
        self._last_local = float(local[-1])
        came_back, self._came_back = self._came_back, False
        if float(steps.min()) < -CLOCK_JUMP_S and -ahead > CLOCK_JUMP_S:
            what = f"back by {-ahead:.3g} s"
        elif float(steps.max()) > CLOCK_JUMP_S and ahead > CLOCK_JUMP_S:
            what = f"ahead by {ahead:.3g} s"
        else:
            self._latencies.append(latency)
            return None
        when = "when its outlet came back" if came_back else "while its samples kept arriving"
        return (f"LSL stream '{self.info.name}' time stamps jumped {what} {when}: its sender's clock was reset or "
                "stepped, so its EEG no longer lines up with the markers, and epochs cut from it would not be the "
                "EEG that followed each marker (the samples so far are recorded); fix the sender's time stamps "
                "(LSL's local_clock) and start again")

    def _scaled(self, chunk: Chunk) -> Chunk:
        return replace(chunk, samples=(chunk.samples * self._scale).astype(np.float32))

    def _release_held(self, result: ReadResult) -> None:
        """Hand out the chunks held for the units judgement when no more samples will join them: the outlet was
        lost or replaced, or reading ended (drain). They are the last samples before that, and dropped, the
        epochs of the last markers of a short stream (or of those before an outlet vanished) never came.

        Judged on what is there, as at the JUDGE_HOLD cap (_judge, which leaves a lone sample unjudged). Unjudged,
        they go out at the scale every unjudged channel starts at, microvolts (unit_scale: most EEG outlets send
        microvolts unsaid), which is what they meant before holding existed."""
        if not self._held:
            return
        self._judge(np.concatenate(self._judge_rows), result)
        held, self._held = self._held, []
        result.chunks += [self._scaled(c) for c in held]

    def _judge_units(self, data: np.ndarray, result: ReadResult) -> None:
        """Channels without a declared unit, judged once from the first data that is not all zero by
        units.judged_scale (their spread, which a DC offset does not move, or a |median| no scalp gives in
        volts; mne-lsl's and BrainFlow's senders, MNE-based tools send volts). Live streams used to be taken as
        microvolts whatever they held, while the same stream recorded and replayed was judged: a volts stream
        came out 10^6 too small."""
        values = data[:, self._unjudged]
        if not self._judge_rows and not len(_live_rows(values)):
            return  # zeros so far (an amplifier warming up): nothing to judge by, and nothing a scale changes
        # judged from JUDGE_SAMPLES samples at least: a sender pushing one sample at a time hands over a first chunk
        # of one, in which no spread shows and the |median| alone would call quiet microvolts volts; the chunks
        # until then are held back (_pull_eeg)
        self._judge_rows.append(values)
        values = np.concatenate(self._judge_rows)
        # on samples that are not all zero: one small value among an amplifier's warm-up zeros has no spread, and
        # its |value| alone read quiet microvolts as volts; JUDGE_HOLD caps how long chunks wait for them
        if len(_live_rows(values)) < JUDGE_SAMPLES and len(values) < JUDGE_HOLD:
            return
        self._judge(values, result)

    def _judge(self, values: np.ndarray, result: ReadResult) -> None:
        """Judge the unjudged channels once, for the rest of the session, from `values` (their samples so far)
        on the rows that are not all zero, and say so. Fewer than two such rows (one value among warm-up zeros at
        the JUDGE_HOLD cap, or a lone sample at a release) cannot be judged: no spread shows, and the |value| alone
        reads quiet microvolts as volts. The channels then stay unjudged, judged afresh from the next data that is
        not all zero (a returning outlet's on its own)."""
        live = _live_rows(values)
        if len(live) < 2:
            self._judge_rows = []
            return
        judged = judged_scale(live)
        self._scale[self._unjudged] = judged.scale
        what = judged.what
        result.notices.append(f"LSL stream '{self.info.name}' declares no known unit for {int(self._unjudged.sum())} "
                              f"of its {len(self._unjudged)} channels; their values look like {what} (|median| "
                              f"{judged.median_abs:.3g}, spread {judged.spread:.3g}), so they are read as {what}")
        self._unjudged = None

    def drain(self) -> ReadResult:
        """What the source still holds when reading ends: the chunks awaiting the units judgement, judged on what
        is there (_release_held). The pipeline takes it after its last read(), so a session stopped (or a stream
        ended) before the judgement still cuts the epochs of its last markers; it works before or after stop()."""
        result = ReadResult()
        self._release_held(result)
        return result

    def stop(self) -> None:
        if self._marker_search is not None:
            self._marker_search.cancel()
            self._marker_search = None
        for _, _, inlet in self._unstarted or ():
            close_inlet(inlet)
        self._unstarted = None
        for attr in ("_eeg", "_markers"):
            link = getattr(self, attr)
            if link is not None:
                link.close()
                setattr(self, attr, None)
