"""The Source protocol every acquisition backend implements (built-ins and plugins alike).

A source is polled from one acquisition thread: read() returns whatever arrived since the last call, never
blocks longer than its timeout, and never drops samples. Timestamps of chunks and markers share one clock
(the LSL clock, or the recording's clock for replays) so epochs are cut in the marker's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from eegviz.errors import EegvizError
from eegviz.messages import Break, Chunk, ClockOffset, Marker, StreamInfo


def first_channel(row, empty=""):
    """A string marker sample's image id: its first channel, the rest (a condition, a trial number) unread; the
    rule live LSL (eegviz.sources.lsl.pull_marker_chunk) and XDF files (eegviz.sources.xdf._payload) both read
    by, so a replay or `eegviz train` of a recording names the same images the live session did. (XDF once
    joined every channel, 'bell_000,attend', which named no image.) `empty` for a sample of no channels."""
    return row[0] if len(row) else empty


def marker_text(raw: bytes) -> tuple[str, bool]:
    """A string marker's bytes as text, and whether they were not UTF-8: such an id (a Windows program's
    'Bild_\\xe4') is read as Windows-1252, Latin-1 where that has no character, so it can still name its file
    in --images-dir. The rule live LSL (eegviz.sources.lsl.pull_marker_chunk) and XDF files both read by."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252"), True
        except UnicodeDecodeError:
            return raw.decode("latin-1"), True


def sender_kinship(marker: tuple[str, str, str], eeg: tuple[str, str, str]) -> int:
    """How surely a marker stream comes from the device or program that sends an EEG stream, each given as
    (hostname, source_id, name); the rule live LSL (eegviz.sources.lsl._choose_markers) and XDF files
    (eegviz.sources.xdf) choose markers by. On the same host only: 2 for the EEG's source_id (whole, as mne-lsl's
    PlayerLSL gives both its streams, or followed by "-", as `eegviz simulate --stream` names
    'eegviz-sim-0-markers' after 'eegviz-sim-0'), plus 1 for the EEG's name within the marker stream's; else 0.
    Both count: every PlayerLSL shares the default source_id 'MNE-LSL', so two players on one machine differ only
    by name ('A' and 'A-annotations'), while two simulators publish the same names and differ by source_id."""
    (host, msid, mname), (eeg_host, sid, eeg_name) = marker, eeg
    if host != eeg_host:
        return 0
    same_sender = bool(sid) and (msid == sid or msid.startswith(sid + "-"))
    return 2 * same_sender + (bool(eeg_name) and eeg_name in mname)


def nan_notice(sender: str, ch_names, samples) -> str | None:
    """The one notice a live source gives the first time `sender` ("LSL stream 'X'", "BrainFlow board Y") sends
    NaN/inf in `samples` (samples x channels, named by ch_names), else None; the rule LSL (eegviz.sources.lsl) and
    BrainFlow (eegviz.sources.brainflow) both say it by. It names the channels, so the lab can fix that electrode,
    and says what the session does with them (eegviz.stream.epocher): an electrode the model's channels are made of
    whose NaN fills the first seconds or an epoch's window is marked bad and interpolated, and only an epoch holding
    shorter NaN in one is skipped; NaN in a channel the session leaves out (an AUX or status channel no montage
    places) skips none. It said every epoch holding them was skipped, which a dead electrode no longer costs."""
    finite = np.isfinite(samples)
    if finite.all():
        return None
    bad = [ch_names[i] for i in np.flatnonzero(~finite.all(axis=0))]
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    return (f"{sender} sends NaN/inf samples, first in {shown} (a disconnected or saturated electrode?); they are "
            "recorded as sent; an electrode the model uses whose NaN fills the first seconds or an epoch is marked "
            "bad and interpolated, and an epoch they reach only in part is skipped")


@dataclass
class ReadResult:
    chunks: list[Chunk] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    gap: bool = False  # the source lost its signal since the last read (reconnect, clock jump)
    finished: bool = False  # a finite source (a replay) has delivered everything
    clock_offsets: list[ClockOffset] = field(default_factory=list)  # for the recording (sources with raw stamps)
    notices: list[str] = field(default_factory=list)  # one-line news for the user (e.g. a stream that no longer fits)
    # places no epoch may reach (a file's pauses, joins and BAD_ spans), given before the samples around them
    breaks: list[Break] = field(default_factory=list)


# what a ReadResult's lists must hold: the session records, counts and cuts epochs from these types
READ_ITEMS = (("chunks", Chunk), ("markers", Marker), ("clock_offsets", ClockOffset), ("breaks", Break),
              ("notices", str))


def check_info(info) -> StreamInfo:
    """A source's `info` as the protocol promises it, or one EegvizError line saying what is not; eegviz.plugins
    .Named checks a source plugin's each time it is read. A dict, or a rate given as text, failed in the session's
    channel mapping with a traceback that named no plugin."""
    if not isinstance(info, StreamInfo):
        raise EegvizError(f"its info is {type(info).__name__}, not an eegviz.messages.StreamInfo")
    if isinstance(info.sfreq, bool) or not isinstance(info.sfreq, (int, float, np.integer, np.floating)):
        raise EegvizError(f"its info's sfreq is {info.sfreq!r}, not a number (Hz)")
    if isinstance(info.ch_names, str) or not all(isinstance(c, str) for c in info.ch_names):
        raise EegvizError(f"its info's ch_names are {info.ch_names!r:.80}, not a sequence of channel names (str)")
    from eegviz.sources.units import volts_per_unit

    scale = volts_per_unit(info.unit if isinstance(info.unit, str) else None)
    if scale is not None and scale != 1.0:
        # the unit is a label (session.json's); a session scales nothing by it, so a plugin declaring its chunks
        # microvolts had them decoded as volts, 10^6 too large, without a word
        raise EegvizError(f"its info's unit is '{info.unit}', but a session takes chunks in volts as they are "
                          f"(eegviz.messages.Chunk): multiply the samples by {scale:g} and leave unit 'volts'")
    return info


def check_read(result, n_channels: int, call: str = "read") -> ReadResult:
    """A source's read() (or drain(), `call`) result as the protocol promises it, or one EegvizError line saying
    what is not; eegviz.plugins.Named checks every result of a source plugin with it.

    A plugin returning None, a tuple, a bare array among its chunks, a chunk of other channels than its `info`
    names (`n_channels`) or a marker whose id is not text failed deep in the session (the recorder, the epocher,
    stimulus_id) with a traceback that named no plugin, and the markers it held had no line."""
    if not isinstance(result, ReadResult):
        raise EegvizError(f"{call}() returned {type(result).__name__}, not an eegviz.sources.base.ReadResult")
    for field_name, kind in READ_ITEMS:
        items = getattr(result, field_name)
        if not isinstance(items, (list, tuple)):
            raise EegvizError(f"{call}() returned a ReadResult whose {field_name} is {type(items).__name__}, not a "
                              "list")
        bad = next((x for x in items if not isinstance(x, kind)), None)
        if bad is not None:
            raise EegvizError(f"{call}() returned {field_name} holding a value of type {type(bad).__name__}, not "
                              f"{'str' if kind is str else 'eegviz.messages.' + kind.__name__}")
    for c in result.chunks:
        if not np.issubdtype(c.samples.dtype, np.number):
            raise EegvizError(f"{call}() returned a chunk of {c.samples.dtype} samples; they must be numbers")
        if c.samples.shape[1] != n_channels:
            raise EegvizError(f"{call}() returned a chunk of {c.samples.shape[1]} channels, and its info names "
                              f"{n_channels}; samples are (n_times, n_channels)")
    for m in result.markers:
        if not isinstance(m.payload, str) or isinstance(m.timestamp, bool) \
                or not isinstance(m.timestamp, (int, float, np.integer, np.floating)):
            raise EegvizError(f"{call}() returned a marker of payload {m.payload!r} at {m.timestamp!r}; a marker is "
                              "the image id (str) at a time in seconds (float)")
    return result


@runtime_checkable
class Source(Protocol):
    info: StreamInfo

    def start(self) -> None:
        """Open the connection / file; raise EegvizError with one line if that fails.

        A source may also have `open()`, which sets `info` without starting to deliver (a file source reads its
        recording; an LSL source reads the stream's header, which liblsl sends before any sample; a BrainFlow
        board prepares its session but does not stream yet): a session calls it first and checks the channels
        against its model before it spends seconds warming the generator up, so a source the model cannot use
        is refused at once. Nothing may be delivered or pile up between open() and start(). Sources without
        it are checked after start().

        A source may also have `drain()`, returning a ReadResult of what it still holds back when reading ends
        (LslSource's chunks awaiting their units judgement): a session takes it after its last read(), before it
        cuts the last epochs, so those samples are not lost at a stop or the end of a stream."""

    def read(self, timeout: float = 0.05) -> ReadResult:
        """Everything that arrived since the last call."""

    def stop(self) -> None:
        """Release resources; safe to call twice."""
