"""XDF's chunks read from the bytes themselves: where each lies, whether a samples chunk parses, and the repair of a
file whose samples chunks are damaged inside.

pyxdf reads the samples; this module is for what it cannot say. A file cut short (a crash while recording) has
its complete chunks found here, so pyxdf is given those (complete_prefix). A samples chunk damaged inside (a
sample count or a timestamp flag no writer writes) makes pyxdf log a traceback and scan forward to the next
boundary chunk, which LabRecorder and eegviz write every 10 s, so up to 10 s of every stream were lost for one
bad chunk; and pyxdf dates a sample written without its own timestamp from the one before it, so samples after
the loss were dated as if nothing had been lost (LabRecorder leaves regular samples unstamped). drop_damaged
takes out just the damaged chunks and stamps the first sample after each loss with the time it had, so pyxdf
reads everything else, in its place.

A chunk is [length width: 1, 4 or 8][length][tag: 2 bytes][content]; a samples chunk (tag 3) holds the stream id
(4 bytes), a sample count (the same variable-length integer) and the samples, each a timestamp flag (0, or 8
followed by the stamp as a double) and the values: fixed-width numbers, or for strings a length and the bytes
per channel.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

# bytes per value of XDF's numeric channel formats
VALUE_BYTES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4, "double64": 8}
# the chunk tags (eegviz.record.xdf_writer writes them, the readers here walk them)
TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6
# names of XDF recordings: plain, and gzip-compressed as pyxdf and SigViewer read them (LabRecorder's .xdfz)
XDF_SUFFIXES = (".xdf", ".xdfz", ".xdf.gz")


def is_xdf_name(path) -> bool:
    """Does the file name say XDF (XDF_SUFFIXES, any case)? Judged from the name only, as file readers are chosen."""
    return str(path).lower().endswith(XDF_SUFFIXES)


def xdf_files_in(folder):
    """The XDF recordings under `folder`, subfolders included (files whose names say XDF), in no set order."""
    return (f for f in Path(folder).rglob("*") if is_xdf_name(f) and f.is_file())


def varlen(n: int) -> bytes:
    """XDF variable-length integer: a byte with the width (1, 4 or 8), then the value little-endian."""
    if n < 0:
        raise ValueError(f"negative length {n}")
    if n <= 0xFF:
        return b"\x01" + struct.pack("<B", n)
    if n <= 0xFFFFFFFF:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def read_varlen(raw: bytes, pos: int, end: int | None = None) -> tuple[int, int]:
    """An XDF variable-length integer at pos (a width byte, 1, 4 or 8, then that many little-endian bytes): its
    value and the next position. IndexError past `end` (default: raw's end), ValueError for another width."""
    end = len(raw) if end is None else end
    if pos >= end:
        raise IndexError("a variable-length integer past the end")
    width = raw[pos]
    if width not in (1, 4, 8):
        raise ValueError(f"a variable-length integer {width} bytes wide")
    if pos + 1 + width > end:
        raise IndexError("a variable-length integer past the end")
    return int.from_bytes(raw[pos + 1 : pos + 1 + width], "little"), pos + 1 + width


def walk_chunks(raw: bytes):
    """(tag, position of the tag, end) of each complete chunk from the start of the file (past 'XDF:'), in order,
    stopping at the first that is not: cut short, or a length no chunk can have."""
    pos = 4
    while pos < len(raw):
        try:
            length, body = read_varlen(raw, pos)
        except (ValueError, IndexError):
            return
        end = body + length
        if length < 2 or end > len(raw):
            return
        yield int.from_bytes(raw[body : body + 2], "little"), body, end
        pos = end


def complete_prefix(raw: bytes) -> tuple[int, int]:
    """Length of the run of complete chunks at the start of the file, and how many stream headers it holds."""
    end, headers = 4, 0
    for tag, _, end in walk_chunks(raw):
        headers += tag == TAG_STREAM_HEADER
    return end, headers


def stream_of(raw: bytes, body: int) -> int:
    """The stream id of a samples chunk whose tag is at `body`."""
    return int.from_bytes(raw[body + 2 : body + 6], "little")


def sample_stamps(raw: bytes, body: int, end: int, n_channels: int, value_bytes: int | None) -> list | None:
    """Each sample's own timestamp (None where it was written without one) of a samples chunk that parses to its
    exact length, or None where it does not (damaged). value_bytes: bytes a value, None for strings."""
    try:
        count, at = read_varlen(raw, body + 6, end)
        stamps: list[float | None] = []
        for _ in range(count):
            flag = raw[at] if at < end else -1
            if flag == 8 and at + 9 <= end:
                stamps.append(struct.unpack_from("<d", raw, at + 1)[0])
            elif flag == 0:
                stamps.append(None)
            else:
                return None
            at += 1 + flag
            if value_bytes is None:
                for _ in range(n_channels):
                    length, at = read_varlen(raw, at, end)
                    at += length
            else:
                at += n_channels * value_bytes
            if at > end:
                return None
    except (ValueError, IndexError):
        return None
    return stamps if at == end else None


def first_string_values(raw: bytes, stream_id: int, n_channels: int) -> list[bytes] | None:
    """The first channel of each sample of a string stream, as the bytes stored, in the file's order (pyxdf's
    order too); None where a samples chunk of it does not parse. pyxdf decodes strings as UTF-8, replacing what
    is not ('Bild_\\xe4', Windows-1252, becomes 'Bild_\\ufffd'), so what was sent is read here."""
    out: list[bytes] = []
    for tag, body, end in walk_chunks(raw):
        if tag != TAG_SAMPLES or stream_of(raw, body) != stream_id:
            continue
        try:
            count, at = read_varlen(raw, body + 6, end)
            for _ in range(count):
                if raw[at] not in (0, 8):  # the timestamp flag: none, or 8 bytes of it
                    return None
                at += 1 + raw[at]
                for ch in range(n_channels):
                    length, at = read_varlen(raw, at, end)
                    if ch == 0:
                        out.append(raw[at : at + length])
                    at += length
                if at > end:
                    return None
        except (ValueError, IndexError):
            return None
        if at != end:
            return None
    return out


def _claimed_count(raw: bytes, body: int, end: int, n_channels: int, value_bytes: int | None) -> int | None:
    """The sample count a damaged samples chunk declares, where it can be true (each sample takes at least its
    flag and its values); None where it cannot be read or cannot be."""
    try:
        count, at = read_varlen(raw, body + 6, end)
    except (ValueError, IndexError):
        return None
    smallest = 1 + n_channels * (2 if value_bytes is None else value_bytes)
    return count if count * smallest <= end - at else None


def _first_stamp(raw: bytes, body: int, end: int) -> float | None:
    """The own timestamp of a damaged samples chunk's first sample, where its count can be read and the writer
    stamped it (the first sample of a stream, or the first after a clock reset); None otherwise."""
    try:
        count, at = read_varlen(raw, body + 6, end)
    except (ValueError, IndexError):
        return None
    if count and at + 9 <= end and raw[at] == 8:
        stamp = struct.unpack_from("<d", raw, at + 1)[0]
        return stamp if math.isfinite(stamp) else None
    return None


def _stamped_first(raw: bytes, body: int, end: int, stamp: float) -> bytes:
    """The samples chunk at `body` rewritten whole with its first sample (written without a timestamp) stamped."""
    _, first = read_varlen(raw, body + 6, end)
    content = raw[body:first] + b"\x08" + struct.pack("<d", stamp) + raw[first + 1 : end]
    return varlen(len(content)) + content


def drop_damaged(raw: bytes, streams: dict[int, tuple[int, int | None, float]]) -> tuple[bytes, dict[int, list]]:
    """The file's complete chunks without the damaged samples chunks of `streams` (stream id -> (channels, bytes
    a value or None for strings, nominal rate)), and per stream that lost any, [chunks dropped, samples lost or
    None where a damaged chunk's count could not be read].

    pyxdf dates a sample written without its own stamp as the one before it plus a sample period. So the first
    sample after a dropped chunk, where it has no stamp, is given the stamp it had: the last sample before the
    loss plus (the samples lost + 1) periods, as the writer left it unstamped because it followed the lost ones
    at the stream's rate; where the damaged chunk's own first sample is stamped (a stream's first, the first
    after a clock reset), from that stamp instead. Where the count lost is unknown it is left as it was (dated as if
    nothing were lost). A chunk of no samples passes the loss on to the next.
    Only streams whose chunks otherwise parse belong in `streams`: a stream whose every chunk fails was written
    with a wrong header, and is not repaired but refused (eegviz.sources.xdf)."""
    out = bytearray(raw[:4])
    pos = 4
    last: dict[int, float] = {}  # each stream's last sample's stamp so far, as pyxdf dates it (from 0)
    lost_since: dict[int, int | None] = {}  # samples lost since the stream's last kept chunk (None: unknown)
    report: dict[int, list] = {}
    for tag, body, end in walk_chunks(raw):
        start, pos = pos, end
        sid = stream_of(raw, body) if tag == TAG_SAMPLES else None
        if sid not in streams:
            out += raw[start:end]
            continue
        n_channels, value_bytes, srate = streams[sid]
        period = 1.0 / srate if srate > 0 else 0.0
        stamps = sample_stamps(raw, body, end, n_channels, value_bytes)
        if stamps is None:
            count = _claimed_count(raw, body, end, n_channels, value_bytes)
            done = report.setdefault(sid, [0, 0])
            done[0] += 1
            done[1] = None if done[1] is None or count is None else done[1] + count
            first = _first_stamp(raw, body, end)
            if first is not None:  # the chunk's own first stamp dates what follows (a first chunk, a clock reset)
                last[sid], lost_since[sid] = first - period, count
            else:
                before = lost_since.get(sid, 0)
                lost_since[sid] = None if before is None or count is None else before + count
            continue
        if not stamps:  # a chunk of no samples: nothing to date, the loss carries on to the next chunk
            out += raw[start:end]
            continue
        lost = lost_since.pop(sid, 0)
        if stamps and stamps[0] is None and lost and period:
            stamps[0] = last.get(sid, 0.0) + (lost + 1) * period
            out += _stamped_first(raw, body, end, stamps[0])
        else:
            out += raw[start:end]
        for stamp in stamps:
            last[sid] = stamp if stamp is not None else last.get(sid, 0.0) + period
    out += raw[pos:]
    return bytes(out), report
