"""XdfWriter: a minimal, crash-tolerant XDF 1.0 writer; SessionRecorder: records a live session into one file.

No maintained Python XDF writer exists, so this follows the spec (https://github.com/sccn/xdf/wiki/Specifications)
and pyxdf's reader. Design choices, and why:

* Every chunk is written whole and the file is flushed after it, so a crash loses at most the chunk in flight
  and the file on disk is readable by pyxdf up to that point (footers are optional in XDF).
* Every sample carries its full 8-byte timestamp (no delta compression): recordings keep the exact LSL
  timestamps, and readers never have to deduce a timestamp from the nominal rate.
* One lock guards the file: acquisition threads write samples while another thread may close the writer.
* A file is created exclusively: an existing file is never truncated (FileExistsError instead), so no code
  path can overwrite a recording by accident.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import numpy as np

from eegviz.channel_formats import BY_NAME
from eegviz.errors import EegvizError, naming
from eegviz.messages import Chunk, ClockOffset, Marker, StreamInfo, default_ch_names
from eegviz.sources.xdf_chunks import (
    TAG_BOUNDARY, TAG_CLOCK_OFFSET, TAG_FILE_HEADER, TAG_SAMPLES, TAG_STREAM_FOOTER, TAG_STREAM_HEADER, varlen
)

log = logging.getLogger(__name__)

MAGIC = b"XDF:"
# Fixed UUID of Boundary chunks (XDF spec); readers scan for it to resynchronise after corruption.
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")


def chunk_tags(path: str | Path, bodies: dict | None = None) -> tuple[dict[int, int], bool]:
    """How many chunks of each tag the XDF file holds, read from the chunk headers alone (a seek past each
    body: seconds for an hour's recording), and whether it ends inside a chunk (a torn write). With `bodies`
    ({tag: []}), the bodies of chunks of those tags are read into its lists (the stream headers and footers:
    a few kB)."""
    counts: dict[int, int] = {}
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(4) != MAGIC:
            return counts, True
        pos = 4
        while pos < size:
            head = f.read(1)
            width = head[0] if head else 0
            if width not in (1, 4, 8) or pos + 1 + width + 2 > size:
                return counts, True
            length = int.from_bytes(f.read(width), "little")
            tag = int.from_bytes(f.read(2), "little")
            end = pos + 1 + width + length
            if length < 2 or end > size:
                return counts, True
            counts[tag] = counts.get(tag, 0) + 1
            if bodies is not None and tag in bodies:
                bodies[tag].append(f.read(length - 2))
            pos = end
            f.seek(pos)
    return counts, False


def check_footers(path: str | Path, n_streams: int, by: str) -> list[tuple[str, int | None]]:
    """Raise EegvizError unless the file ends whole with a footer for each of its n_streams: a recorder that
    stopped writing (a full disk) may still exit 0, and LabRecorderCLI did, its file a third short and no
    footers, with eegviz saying "recorded". What was written stays; the message says how much.

    Returns each stream's (name, sample count from its footer; None without one), in file order, read in the
    same pass over the file (seconds for an hour's recording): what a recorder that keeps its own counts to
    itself (LabRecorderCLI) wrote."""
    bodies: dict = {TAG_STREAM_HEADER: [], TAG_STREAM_FOOTER: []}
    counts, torn = chunk_tags(path, bodies)
    footers = counts.get(TAG_STREAM_FOOTER, 0)
    if torn or footers < n_streams:
        free = shutil.disk_usage(Path(path).parent).free
        raise EegvizError(f"{by} did not finish {path}: {footers} of {n_streams} stream footers"
                          f"{', the last chunk torn' if torn else ''} ({counts.get(TAG_SAMPLES, 0)} sample chunks "
                          f"kept, readable with pyxdf; {free / 2**20:.0f} MiB free on its disk)")
    return _sample_counts(bodies)


def _sample_counts(bodies: dict) -> list[tuple[str, int | None]]:
    """(name, footer sample count or None) per stream, from the header and footer bodies chunk_tags read."""
    def parsed(body: bytes):  # 4-byte stream id, then the XML
        try:
            return int.from_bytes(body[:4], "little"), ET.fromstring(body[4:])
        except ET.ParseError:
            return None, None

    names, counts = {}, {}
    for body in bodies[TAG_STREAM_HEADER]:
        sid, root = parsed(body)
        if root is not None:
            names[sid] = root.findtext("name") or f"stream {sid}"
    for body in bodies[TAG_STREAM_FOOTER]:
        sid, root = parsed(body)
        if root is not None and (root.findtext("sample_count") or "").strip().isdigit():
            counts[sid] = int(root.findtext("sample_count"))
    return [(name, counts.get(sid)) for sid, name in names.items()]


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0"?>' + ET.tostring(root, encoding="utf-8")


def _one_channel(header_xml: str) -> bytes:
    """A string stream's header declaring one channel: what is recorded of a marker stream is its first channel
    (the image id), and a reader parses the samples by the header's channel count."""
    root = ET.fromstring(header_xml)
    count = root.find("channel_count")
    if count is None:
        count = _sub(root, "channel_count")
    count.text = "1"
    return _xml(root)


def _sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


class _Stream:
    """Per-stream bookkeeping the footer needs."""

    def __init__(self, stream_id: int, channel_count: int, fmt: str) -> None:
        self.stream_id = stream_id
        self.channel_count = channel_count
        self.fmt = fmt
        self.first_timestamp: float | None = None
        self.last_timestamp: float | None = None
        self.sample_count = 0
        self.offsets: list[tuple[float, float]] = []


class XdfWriter:
    """Writes an XDF file chunk by chunk; use as a context manager or call close() (which writes the footers)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = open(self.path, "xb")
        self._streams: dict[int, _Stream] = {}
        self._next_id = 1
        self._closed = False
        info = ET.Element("info")
        _sub(info, "version", "1.0")
        _sub(info, "datetime", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        try:
            with self._lock:
                self._file.write(MAGIC)
                self._write_chunk(TAG_FILE_HEADER, None, _xml(info))
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Close the file without footers, after its header could not be written (a full disk): the file is the
        caller's to remove, and its descriptor must not stay open until garbage collection."""
        self._closed = True
        try:
            self._file.close()
        except OSError:  # the rest of the header, still buffered, fails again
            pass

    # -- low level -------------------------------------------------------------------------------------------
    def _write_chunk(self, tag: int, stream_id: int | None, content: bytes) -> None:
        """One whole chunk in a single write, then flush (caller holds the lock)."""
        if self._closed:
            raise ValueError(f"XDF writer for {self.path} is closed")
        body = struct.pack("<H", tag) + (struct.pack("<I", stream_id) if stream_id is not None else b"") + content
        with naming(self.path):
            self._file.write(varlen(len(body)) + body)
            self._file.flush()

    def _stream(self, stream_id: int) -> _Stream:
        try:
            return self._streams[stream_id]
        except KeyError:
            raise ValueError(f"unknown XDF stream id {stream_id}") from None

    # -- public API ------------------------------------------------------------------------------------------
    def add_stream(
        self,
        name: str,
        stream_type: str,
        channel_count: int,
        nominal_srate: float,
        channel_format: str,
        source_id: str = "",
        ch_names: Sequence[str] | None = None,
        unit: str | Sequence[str] | None = None,
    ) -> int:
        """Declare a stream and write its StreamHeader now; returns the stream id for write_samples()."""
        if channel_format not in BY_NAME:
            raise ValueError(f"channel_format must be one of {sorted(BY_NAME)}, got {channel_format!r}")
        if channel_count < 1:
            raise ValueError("channel_count must be >= 1")
        if ch_names is not None and len(ch_names) != channel_count:
            raise ValueError(f"{len(ch_names)} channel names for {channel_count} channels")
        units = [unit] * channel_count if unit is None or isinstance(unit, str) else list(unit)
        info = ET.Element("info")
        _sub(info, "name", name)
        _sub(info, "type", stream_type)
        _sub(info, "channel_count", channel_count)
        _sub(info, "channel_format", channel_format)
        _sub(info, "source_id", source_id)
        _sub(info, "nominal_srate", repr(float(nominal_srate)))
        _sub(info, "version", "1.1")
        _sub(info, "created_at", repr(time.perf_counter()))
        _sub(info, "uid", str(uuid.uuid4()))
        _sub(info, "session_id", "default")
        _sub(info, "hostname", socket.gethostname())
        desc = _sub(info, "desc")
        if ch_names is not None or unit is not None:
            channels = _sub(desc, "channels")
            labels = list(ch_names) if ch_names is not None else default_ch_names(channel_count)
            for i in range(channel_count):
                ch = _sub(channels, "channel")
                _sub(ch, "label", labels[i])
                if units[i] is not None:
                    _sub(ch, "unit", units[i])
                _sub(ch, "type", stream_type)
        return self.add_stream_header(_xml(info), channel_count, channel_format)

    def add_stream_header(self, header_xml: str | bytes, channel_count: int, channel_format: str) -> int:
        """Declare a stream whose StreamHeader XML is given whole; returns its stream id.

        A recorder of LSL streams stores the sender's own stream info (inlet.info().as_xml(), desc included)
        as LabRecorder does, so channel labels, units and any vendor metadata reach the file unchanged.
        """
        if channel_format not in BY_NAME:
            raise ValueError(f"channel_format must be one of {sorted(BY_NAME)}, got {channel_format!r}")
        if channel_count < 1:
            raise ValueError("channel_count must be >= 1")
        content = header_xml.encode("utf-8") if isinstance(header_xml, str) else bytes(header_xml)
        with self._lock:
            stream_id = self._next_id
            self._next_id += 1
            self._write_chunk(TAG_STREAM_HEADER, stream_id, content)
            self._streams[stream_id] = _Stream(stream_id, channel_count, channel_format)
        return stream_id

    def write_samples(self, stream_id: int, samples: np.ndarray | Sequence, timestamps: np.ndarray) -> None:
        """Write one Samples chunk (n samples, each with its timestamp) and flush."""
        timestamps = np.asarray(timestamps, dtype="<f8").reshape(-1)
        n = timestamps.shape[0]
        with self._lock:
            s = self._stream(stream_id)
            if n == 0:
                return
            if s.fmt == "string":
                rows = [[v] if isinstance(v, (str, bytes)) else list(v) for v in samples]
                if len(rows) != n or any(len(r) != s.channel_count for r in rows):
                    raise ValueError(f"expected {n} string samples of {s.channel_count} channel(s)")
                parts = [varlen(n)]
                for t, row in zip(timestamps, rows):
                    parts.append(b"\x08" + struct.pack("<d", t))
                    for v in row:  # bytes are stored as they came (a recorder keeps what the sender sent)
                        raw = bytes(v) if isinstance(v, (bytes, bytearray)) else str(v).encode("utf-8")
                        parts.append(varlen(len(raw)) + raw)
                content = b"".join(parts)
            else:
                arr = np.asarray(samples)
                if arr.ndim == 1 and s.channel_count == 1:
                    arr = arr.reshape(-1, 1)
                if arr.shape != (n, s.channel_count):
                    raise ValueError(f"samples shape {arr.shape} != ({n}, {s.channel_count})")
                # One packed record per sample: [TimestampBytes=8][timestamp][values], built in one go.
                rec = np.dtype([("nb", "u1"), ("t", "<f8"), ("v", BY_NAME[s.fmt].dtype, (s.channel_count,))])
                buf = np.empty(n, dtype=rec)
                buf["nb"] = 8
                buf["t"] = timestamps
                buf["v"] = arr
                content = varlen(n) + buf.tobytes()
            self._write_chunk(TAG_SAMPLES, stream_id, content)
            if s.first_timestamp is None:
                s.first_timestamp = float(timestamps[0])
            s.last_timestamp = float(timestamps[-1])
            s.sample_count += n

    def write_clock_offset(self, stream_id: int, collection_time: float, offset: float) -> None:
        """Record one clock offset measurement (remote clock + offset = this machine's clock)."""
        with self._lock:
            s = self._stream(stream_id)
            self._write_chunk(TAG_CLOCK_OFFSET, stream_id, struct.pack("<dd", collection_time, offset))
            s.offsets.append((float(collection_time), float(offset)))

    def write_boundary(self) -> None:
        """A Boundary chunk: lets readers resynchronise after a corrupt region (LabRecorder writes one every 10 s)."""
        with self._lock:
            self._write_chunk(TAG_BOUNDARY, None, BOUNDARY_UUID)

    def close(self) -> None:
        """Write one StreamFooter per stream and close the file; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                for s in self._streams.values():
                    info = ET.Element("info")
                    _sub(info, "first_timestamp", repr(s.first_timestamp or 0.0))
                    _sub(info, "last_timestamp", repr(s.last_timestamp or 0.0))
                    _sub(info, "sample_count", s.sample_count)
                    offsets = _sub(info, "clock_offsets")
                    for t, v in s.offsets:
                        off = _sub(offsets, "offset")
                        _sub(off, "time", repr(t))
                        _sub(off, "value", repr(v))
                    self._write_chunk(TAG_STREAM_FOOTER, s.stream_id, _xml(info))
            finally:
                self._closed = True
                with naming(self.path):
                    self._file.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "XdfWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def eeg_bytes_per_second(info: StreamInfo) -> float:
    """How fast a session's session.xdf grows with this EEG stream, in bytes a second at its nominal rate: each
    sample's timestamp (1 + 8 bytes, XdfWriter's layout) and its values in the format SessionRecorder keeps (a live
    LSL stream's own, else float32). Chunk headers (~20 bytes a chunk) and markers are left out: a kiosk that
    records for days is told what to expect from this (eegviz.app.run_window)."""
    width = np.dtype(BY_NAME[kept_format(info)].dtype).itemsize
    return float(info.sfreq) * (1 + 8 + info.n_channels * width)


def kept_format(info: StreamInfo) -> str:
    """The sample format session.xdf keeps the EEG in: a live LSL stream's own (its header and format name, not
    string), as it came; float32 volts for every other source."""
    header, fmt = getattr(info, "eeg_header", ""), getattr(info, "eeg_format", "")
    return fmt if header and fmt in BY_NAME and fmt != "string" else "float32"


class SessionRecorder:
    """Records every raw EEG chunk and marker of a live session, as they arrive, into one XDF file.

    What is kept, as LabRecorder keeps it: every sample as it came (NaN included), with the stamp the sender
    gave it (Chunk.raw_timestamps, in the sender's clock, jitter and all), and every clock-offset measurement
    the source made, so pyxdf can synchronise the streams and dejitter on load (its defaults). eegviz's own
    dejittered, synchronised stamps are what epochs are cut in; they are derived, and not stored. Replays and
    BrainFlow store their raw stamps too (the file's, the board's); the simulator gives one kind, stored as it is.
    The EEG of a live LSL stream is stored as it came, under its sender's own header (format, units, desc), as
    LabRecorder stores it; other sources' (BrainFlow, replays, the simulator) as float32 volts (unit "volts" in
    the channel description, so loaders need not guess). Markers are a one-channel string stream.
    """

    def __init__(self, path: str | Path, info: StreamInfo, marker_stream_name: str = "eegviz-markers") -> None:
        self.writer = XdfWriter(path)
        self.path = self.writer.path
        try:
            self._add_streams(info, marker_stream_name)
        except BaseException:
            self.writer._abandon()  # a full disk at the stream headers: the caller removes the file
            raise

    def _add_streams(self, info: StreamInfo, marker_stream_name: str) -> None:
        header, fmt = getattr(info, "eeg_header", ""), kept_format(info)
        self._as_sent = bool(header) and fmt == getattr(info, "eeg_format", "")
        self._told_volts = False
        if self._as_sent:  # a live LSL stream: its own header, its samples as they came (Chunk.raw_samples)
            self._eeg = self.writer.add_stream_header(header, info.n_channels, fmt)
        else:
            self._eeg = self.writer.add_stream(
                info.name,
                info.ch_type or "EEG",
                info.n_channels,
                info.sfreq,
                "float32",
                source_id=info.source_id,
                ch_names=list(info.ch_names),
                unit="volts",
            )
        # A live LSL source says which marker stream it reads (eegviz.sources.lsl.LslStreamInfo.marker_header):
        # its sender's header is stored, as LabRecorder stores it, so the file names the stream that was read.
        header = getattr(info, "marker_header", "")
        if header:
            self._markers = self.writer.add_stream_header(_one_channel(header), 1, "string")
        else:
            self._markers = self.writer.add_stream(
                marker_stream_name, "Markers", 1, 0.0, "string", source_id=f"{info.source_id or info.name}-markers"
            )

    def add_chunk(self, chunk: Chunk) -> None:
        stamps = chunk.timestamps if chunk.raw_timestamps is None else chunk.raw_timestamps
        samples = chunk.samples
        if self._as_sent:
            if chunk.raw_samples is not None:
                samples = chunk.raw_samples
            elif not self._told_volts:  # never from the LSL source; a sample is kept either way, never dropped
                self._told_volts = True
                log.warning("%s: a chunk came without the sender's samples; stored in volts under the sender's "
                            "header", self.path)
        self._write(self.writer.write_samples, self._eeg, samples, stamps)

    def add_marker(self, marker: Marker) -> None:
        stamp = marker.timestamp if marker.raw_timestamp is None else marker.raw_timestamp
        self._write(self.writer.write_samples, self._markers, [marker.payload], np.array([stamp]))

    def add_clock_offset(self, offset: ClockOffset) -> None:
        """Stored as LabRecorder stores it: the measurement's time in the SENDER's clock (local time - offset),
        since pyxdf fits the offsets against the sender's stamps."""
        stream_id = self._markers if offset.stream == "markers" else self._eeg
        self._write(self.writer.write_clock_offset, stream_id, offset.collection_time - offset.value, offset.value)

    def _write(self, write, *args) -> None:
        """Writes that race with close() (an acquisition thread one chunk late) are dropped, not raised."""
        if self.writer.closed:
            return
        try:
            write(*args)
        except ValueError:
            if not self.writer.closed:
                raise

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "SessionRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
