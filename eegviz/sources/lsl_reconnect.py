"""Finding a lost LSL stream again, by liblsl's own recovery rule, without blocking the reading thread.

Why eegviz does this itself rather than through liblsl's recover=True: a pull on an inlet whose outlet
vanished blocks while liblsl re-resolves (measured: 1.7 s for a 0.02 s pull), and acquisition must never block.
So each stream's inlet is a RecoveringInlet: when it is lost, an _OutletSearch thread looks for the outlet in
the background and leaves a fresh, clock-synced inlet for the next read(). A stream is accepted back only when it is the same stream
(same_stream: name and source_id) and still fits (misfit: type in any case, channel count, format, rate; and
header_misfit: the channel labels and units of its full header, which decide the channel map and the scale);
one that came back changed is reported, and the search goes on for the original. So is an EEG stream of the same
name from another source_id, which is never taken. A marker stream is the exception: one of its name and type from
another source_id is taken once the original is lost (marker_stand_in), because stimulus programs that do not set
a source_id get a random one each run, and the lab's restarted presenter was waited on for ever. The user is told
when a stream is lost and when it is back (from which sender).
"""

from __future__ import annotations

import threading
import time
from collections import deque

import pylsl

from eegviz.channel_formats import lsl_format_name
from eegviz.messages import ClockOffset
from eegviz.sources.base import ReadResult

OFFSET_INTERVAL_S = 5.0  # clock offset read this often per inlet (LabRecorder's interval)
# how a notice on a stream that came back changed ends: it said only "waiting for the original", which left a lab
# whose amplifier was reconfigured for good with no way on but guessing (the session waits for ever)
WAITING = "waiting for the original (restart eegviz to take the stream as it is now)"



def format_name(info: pylsl.StreamInfo) -> str:
    """The stream's channel format by name ("float32", "string"): what notices say, and the recording declares."""
    return lsl_format_name(info.channel_format())


def same_type(a: str, b: str) -> bool:
    """LSL types are free text and case varies by tool (mne-lsl says "eeg", most others "EEG"): a returning
    stream (misfit) and a stream looked for by type (eegviz.sources.lsl) are compared by this one rule."""
    return a.strip().lower() == b.strip().lower()



def same_stream(old: pylsl.StreamInfo, new: pylsl.StreamInfo) -> bool:
    """Is `new` the lost stream come back? Name and source_id must agree (source_id alone is not enough:
    mne-lsl's PlayerLSL publishes EEG and annotations under one source_id)."""
    return new.name() == old.name() and new.source_id() == old.source_id()


def marker_stand_in(old: pylsl.StreamInfo, new: pylsl.StreamInfo) -> bool:
    """May `new`, from another source_id, take over from the lost marker stream `old`? Its name must agree (and
    misfit its type, format, channel count and rate). Markers carry no channels or units to be mapped, and their
    stamps are put in this machine's clock by the new inlet's own clock offset, so only which program sends them
    changes, and a program that does not set a source_id (PsychoPy's and most scripts' pylsl outlets get a random
    one, or a uuid per run) comes back under another after every restart. The EEG is never taken so: another
    source_id there is another amplifier, whose channels and clock differ."""
    return new.name() == old.name() and new.source_id() != old.source_id()


def misfit(old: pylsl.StreamInfo, new: pylsl.StreamInfo) -> str | None:
    """Why `new` cannot replace `old` (one-line notice), or None when it fits: the rest of liblsl's recovery
    rule (type in any case, channel count, channel format) plus the rate, which the epocher relies on."""
    parts = []
    if not same_type(new.type(), old.type()):
        parts.append(f"type '{new.type()}' instead of '{old.type()}'")
    if new.channel_count() != old.channel_count():
        parts.append(f"{new.channel_count()} channels instead of {old.channel_count()}")
    if new.channel_format() != old.channel_format():
        parts.append(f"{format_name(new)} samples instead of {format_name(old)}")
    if abs(new.nominal_srate() - old.nominal_srate()) > 1e-9 * max(1.0, old.nominal_srate()):
        parts.append(f"{new.nominal_srate():g} Hz instead of {old.nominal_srate():g} Hz")
    if not parts:
        return None
    return f"LSL stream '{old.name()}' came back with {' and '.join(parts)}; {WAITING}"


def channel_header(full: pylsl.StreamInfo) -> list[tuple[str, str]]:
    """(label, unit) of each channel as a full header's desc declares them (empty strings where it does not)."""
    channels = []
    ch = full.desc().child("channels").child("channel")
    while not ch.empty():
        channels.append((ch.child_value("label").strip(), ch.child_value("unit").strip()))
        ch = ch.next_sibling("channel")
    return channels


def header_misfit(name: str, old: list[tuple[str, str]], new_full: pylsl.StreamInfo) -> str | None:
    """Why a returning stream whose short header fits (misfit) still cannot replace the lost one: its channels
    are labelled or scaled otherwise, so the channel map and unit scale made at open() would be wrong."""
    new = channel_header(new_full)
    if new == old:
        return None
    if len(new) != len(old):
        what = f"{len(new)} channel descriptions instead of {len(old)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(new, old)) if a != b)
        (label, unit), (old_label, old_unit) = new[i], old[i]
        if label != old_label:
            what = f"channel {i + 1} labelled '{label}' instead of '{old_label}'"
        else:
            what = f"channel {i + 1} ('{label}') in '{unit}' instead of '{old_unit}'"
    return f"LSL stream '{name}' came back with {what}; {WAITING}"


def _literal(text: str) -> str:
    """text as an XPath 1.0 string literal (which has no escapes: a quote is written with the other quote)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


def _query(info: pylsl.StreamInfo) -> str:
    """LSL predicate for the streams that may be this one come back: the same name. source_id (same_stream),
    type, channel count and format are checked in Python, so that a stream that does not fit can be told, not
    ignored (one from another source_id waited on silently for ever)."""
    return f"name={_literal(info.name())}"


def new_inlet(info: pylsl.StreamInfo) -> pylsl.StreamInlet:
    """An inlet with raw stamps (no liblsl processing and no recovery: see the lsl module), not yet connected:
    liblsl sends it no samples until open_stream(), while inlet.info() can already fetch the full header.

    Every inlet a RecoveringInlet may hold is made here, by its sources too (EEG and markers, LSL or beside a
    BrainFlow board): one made with liblsl's recover=True would block a read while liblsl looks for the outlet."""
    return pylsl.StreamInlet(info, max_buflen=360, recover=False, processing_flags=0)


def connect_inlet(inlet: pylsl.StreamInlet, timeout: float) -> float | None:
    """Start the inlet's data and take its first clock-offset measurement now (the only one that blocks,
    ~0.65 s); returns that offset, None if the peer did not answer."""
    inlet.open_stream(timeout=timeout)
    return first_offset(inlet, timeout)


def begin_offset(inlet: pylsl.StreamInlet) -> None:
    """Start the inlet's first clock-offset measurement without waiting for it: liblsl probes in the background,
    and first_offset() then collects the result. A source with several inlets begins them all before it waits
    on any, so their ~0.65 s probes overlap (EEG and markers measured one after the other made every session
    start 0.65 s later than it had to)."""
    try:
        inlet.time_correction(timeout=0.0)
    except (pylsl.util.TimeoutError, pylsl.util.LostError):
        pass  # not measured yet (the usual answer), or gone: first_offset says which


def first_offset(inlet: pylsl.StreamInlet, timeout: float) -> float | None:
    """The inlet's first clock-offset measurement (blocks ~0.65 s); None if the peer did not answer.

    Apart from open_stream() (connect_inlet) for a source that starts several streams (EEG and markers, a board and
    markers): all are started first and measured after, or the markers of the first ~0.65 s had no EEG to cut from."""
    try:
        return inlet.time_correction(timeout=timeout)
    except (pylsl.util.TimeoutError, pylsl.util.LostError):
        return None  # a peer that cannot answer now is found again by the RecoveringInlet when it is lost


def close_inlet(inlet: pylsl.StreamInlet | None) -> None:
    """Close an inlet that may be dead already (its outlet gone) or never opened: closing is cleanup, on the way
    out of a failure or a stop, and must not raise over what is being cleaned up after."""
    if inlet is not None:
        try:
            inlet.close_stream()
        except Exception:  # noqa: BLE001 - closing a dead inlet must never fail
            pass


class _OutletSearch(threading.Thread):
    """Background search for a stream's outlet; leaves an opened inlet in `found` for the reading thread.

    A stream of this name that is not taken (another source_id, or this one come back but no longer fitting)
    is not connected; why is put in `notices` once per outlet (`told` holds the uids already announced and
    outlives the search). `channels` is the original full header's (label, unit) list, None: not compared.
    other_sources: a stream of this name from another source_id may be taken (marker_stand_in) once the original
    is gone (accept_same), the original preferred where both answer; the uids in `told` are never taken, which is
    how same-named streams passed over when the session chose among them stay passed over."""

    RESOLVE_S = 1.0  # one query's wait (see run)

    def __init__(self, old: pylsl.StreamInfo, accept_same: bool, told: set[str],
                 channels: list[tuple[str, str]] | None = None, other_sources: bool = False) -> None:
        super().__init__(name="eegviz-lsl-reconnect", daemon=True)
        self._old, self.accept_same, self._told, self._channels = old, accept_same, told, channels
        self._other_sources = other_sources
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # orders "found an inlet" against "dropped": see RecoveringInlet._drop_search()
        self.found: tuple[pylsl.StreamInlet, pylsl.StreamInfo, float | None] | None = None
        self.notices: deque[str] = deque()  # appended here, taken by the reading thread

    def _tell(self, s: pylsl.StreamInfo, why: str) -> None:
        """Announce once per outlet why it is not taken; an outlet's header never changes, so it stays refused."""
        if s.uid() not in self._told:
            self._told.add(s.uid())
            self.notices.append(why)

    def _usable(self, streams: list[pylsl.StreamInfo]) -> tuple[list[pylsl.StreamInfo], int]:
        """The streams that can replace the lost one, and how many same-named ones are not taken."""
        usable, refused = [], 0
        old = self._old
        for s in streams:
            if s.name() != old.name():
                continue
            if s.uid() in self._told:  # announced already (misfit, other source_id, other channels)
                refused += 1
                continue
            if not same_stream(old, s) and not (self._other_sources and self.accept_same and marker_stand_in(old, s)):
                refused += 1
                self._tell(s, f"LSL stream '{s.name()}' with source_id '{s.source_id()}' is not taken for the one "
                              f"eegviz reads (source_id '{old.source_id()}'): another source_id is another "
                              "device or sender, whose channels and clock need not match; restart eegviz to use it")
                continue
            why = misfit(old, s)
            if why is not None:
                refused += 1
                self._tell(s, why)
            elif self.accept_same or s.uid() != old.uid():
                usable.append(s)
        usable.sort(key=lambda s: not same_stream(old, s))  # the original itself first, where it is back too
        return usable, refused

    def _open_fitting(self, s: pylsl.StreamInfo) -> tuple[pylsl.StreamInlet, float | None] | None:
        """A connected inlet on `s`, or None when its full header (fetched before any data is asked for) has
        other channel labels or units than the original's: then it is announced and refused like a misfit."""
        inlet = new_inlet(s)
        try:
            if self._channels is not None:
                why = header_misfit(s.name(), self._channels, inlet.info(timeout=2.0))
                if why is not None:
                    close_inlet(inlet)
                    self._tell(s, why)
                    return None
            return inlet, connect_inlet(inlet, 2.0)
        except BaseException:
            close_inlet(inlet)
            raise

    def run(self) -> None:
        # resolve_bypred returns once `minimum` streams answered. Peers in another process (another liblsl)
        # answer only in the unicast wave, ~0.5 s in on loopback, so each query may take up to RESOLVE_S. When
        # only misfits answered, the next query waits for one more so the original is not crowded out.
        minimum = 1
        while not self.stopping.is_set():
            try:
                streams = pylsl.resolve_bypred(_query(self._old), minimum=minimum, timeout=self.RESOLVE_S)
                usable, refused = self._usable(streams)
                opened = self._open_fitting(usable[0]) if usable else None
                if opened is not None:
                    inlet, offset = opened
                    with self._lock:  # a search dropped meanwhile (stopping set) must not leave an inlet open
                        if self.stopping.is_set():
                            close_inlet(inlet)
                        else:
                            self.found = (inlet, usable[0], offset)
                    return
                minimum = refused + len(usable) + 1
            except Exception:  # noqa: BLE001 - the outlet vanished again mid-open: keep looking
                pass
            self.stopping.wait(0.25)  # a few queries a second: cheap on a LAN while an amplifier is paused

    def cancel(self) -> None:
        self.stopping.set()
        self.join(timeout=3.0)
        if self.found is not None:
            close_inlet(self.found[0])
            self.found = None


class RecoveringInlet:
    """One stream's inlet plus its reconnection and clock-offset state, so EEG and markers recover the same way.

    `label` is the ClockOffset stream name ("eeg" or "markers"); `offset` the latest measurement (sender clock +
    offset = local clock), 0 until the first one arrives, which is right for a sender on this machine. `full`
    is the stream's full header as it was opened: a returning stream must have the same channel labels and
    units (None: not compared). A lost marker stream may come back from another source_id (marker_stand_in);
    `passed_over` are the uids of same-named streams the session chose against, which are never taken.
    """

    def __init__(self, inlet: pylsl.StreamInlet, info: pylsl.StreamInfo, offset: float | None, label: str,
                 full: pylsl.StreamInfo | None = None, passed_over: set[str] | frozenset[str] = frozenset()) -> None:
        self.inlet, self.info, self.label = inlet, info, label
        self.channels = channel_header(full) if full is not None else None
        self.offset = 0.0 if offset is None else offset
        self._next_offset_at = 0.0  # monotonic time of the next measurement; 0: at the next read
        self.lost = False
        self.search_thread: _OutletSearch | None = None
        self.reconnects = 0
        self._told: set[str] = set(passed_over) - {info.uid()}
        self._notices: deque[str] = deque()  # from finished searches, not yet handed out

    def swap_if_found(self) -> bool:
        """Take the outlet search's fresh inlet, if there is one; True when the inlet was replaced."""
        f = self.search_thread
        if f is None or f.found is None:
            return False
        self._notices.extend(f.notices)
        close_inlet(self.inlet)
        old = self.info
        self.inlet, self.info, offset = f.found
        if offset is not None:
            self.offset = offset
        self._next_offset_at = 0.0  # hand out the new inlet's offset at once: the sender may be another machine
        if self.lost and not same_stream(old, self.info):
            self._notices.append(f"{self._what} is back from another sender (source_id '{self.info.source_id()}' "
                                 f"instead of '{old.source_id()}'; same name and type): its markers are used from "
                                 "now on")
        elif self.lost:
            self._notices.append(f"{self._what} is back")
        f.found, self.search_thread, self.lost = None, None, False
        self.reconnects += 1
        return True

    @property
    def _what(self) -> str:
        return f"LSL {'marker ' if self.label == 'markers' else ''}stream '{self.info.name()}'"

    def take_notices(self, result: ReadResult) -> None:
        while self._notices:
            result.notices.append(self._notices.popleft())
        if self.search_thread is not None:
            while self.search_thread.notices:
                result.notices.append(self.search_thread.notices.popleft())

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
        if self.search_thread is None:
            self.search_thread = _OutletSearch(self.info, accept_same, self._told, self.channels,
                                               other_sources=self.label == "markers")
            self.search_thread.start()

    def _drop_search(self) -> None:
        """Stop the outlet search without joining (it finishes its current resolve and exits on its own); an inlet it
        had already opened is closed, as is one it opens later (it checks `stopping` under the same lock)."""
        f = self.search_thread
        if f is not None:
            with f._lock:
                f.stopping.set()
                if f.found is not None:
                    close_inlet(f.found[0])
                    f.found = None
            self._notices.extend(f.notices)
            self.search_thread = None

    def mark_lost(self) -> None:
        """The inlet raised LostError: look for the outlet again, the same one included (the connection may
        have broken while the outlet lives); a search for a *new* outlet only is replaced."""
        if not self.lost:
            came_back = "same name and type" if self.label == "markers" else "same name and source_id"
            self._notices.append(f"{self._what} lost; waiting for it to come back ({came_back})")
        self.lost = True
        if self.search_thread is not None and not self.search_thread.accept_same:
            self._drop_search()
        self.search(accept_same=True)

    def stop_search(self) -> None:
        """Data flows on the current inlet again: a search for a replacement is no longer needed."""
        if not self.lost:
            self._drop_search()

    def close(self) -> None:
        if self.search_thread is not None:
            self.search_thread.cancel()
            self.search_thread = None
        close_inlet(self.inlet)


