"""eegviz.sources.xdf_chunks: XDF chunks read from the bytes, and damaged samples chunks left out without losing
what follows them or its dates (pyxdf alone skipped to the next boundary chunk and misdated what came after)."""

from __future__ import annotations

import logging
import struct

import numpy as np
import pytest

from eegviz.record.xdf_writer import XdfWriter
from eegviz.sources.xdf import load_xdf_session
from eegviz.sources.xdf_chunks import TAG_SAMPLES, drop_damaged, sample_stamps, stream_of, varlen, walk_chunks

FS = 250.0
T0 = 100.0
N_CH = 4
PER_CHUNK = 25


def _labrecorder_like(path, seconds=4.0, markers=("a_001", "b_002", "c_003", "d_004")):
    """EEG chunks as LabRecorder writes a regular stream: only the first sample stamped, every later one written
    without a stamp (it follows the one before at the stream's rate); one marker a chunk, each stamped."""
    n = int(seconds * FS)
    data = (np.arange(n * N_CH).reshape(n, N_CH) % 97).astype(np.float32) + 1.0
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", N_CH, FS, "float32", ch_names=["Fz", "Cz", "Pz", "Oz"], unit="microvolts")
        mk = w.add_stream("stim", "Markers", 1, 0.0, "string")
        for i in range(0, n, PER_CHUNK):
            samples = b"".join((b"\x08" + struct.pack("<d", T0) if i + k == 0 else b"\x00") + row.tobytes()
                               for k, row in enumerate(data[i : i + PER_CHUNK]))
            with w._lock:
                w._write_chunk(TAG_SAMPLES, eeg, varlen(len(data[i : i + PER_CHUNK])) + samples)
        for j, m in enumerate(markers):
            w.write_samples(mk, [m], np.array([T0 + 0.5 + j * 0.8]))
    return data


def _samples_chunks(raw: bytes, stream_id: int) -> list[tuple[int, int]]:
    return [(body, end) for tag, body, end in walk_chunks(raw)
            if tag == TAG_SAMPLES and stream_of(raw, body) == stream_id]


def _damage(path, stream_id: int, which: int, how: str) -> None:
    """The `which`-th samples chunk of a stream: its count field unreadable ("count": a width no writer uses) or
    its last sample's timestamp flag neither 0 nor 8 ("flag"; that sample is written without a stamp)."""
    raw = bytearray(path.read_bytes())
    body, end = _samples_chunks(bytes(raw), stream_id)[which]
    if how == "count":
        raw[body + 6] = 3
    else:
        assert raw[end - (1 + N_CH * 4)] == 0
        raw[end - (1 + N_CH * 4)] = 5
    path.write_bytes(bytes(raw))


def test_a_file_without_damage_is_left_byte_for_byte(tmp_path):
    _labrecorder_like(tmp_path / "ok.xdf")
    raw = (tmp_path / "ok.xdf").read_bytes()
    assert drop_damaged(raw, {1: (N_CH, 4, FS), 2: (1, None, 0.0)}) == (raw, {})
    stamps = [sample_stamps(raw, b, e, N_CH, 4) for b, e in _samples_chunks(raw, 1)]
    assert stamps[0][:2] == [T0, None] and all(s == [None] * PER_CHUNK for s in stamps[1:])


def test_a_damaged_eeg_chunk_loses_its_own_samples_only_and_what_follows_keeps_its_time(tmp_path, caplog):
    """LabRecorder's unstamped samples: pyxdf lost everything up to the next boundary chunk (here: to the end), and
    had dated the samples after a loss as if nothing were lost. The chunk's own 25 samples are a gap now."""
    data = _labrecorder_like(tmp_path / "d.xdf")
    _damage(tmp_path / "d.xdf", 1, which=10, how="flag")
    with caplog.at_level(logging.WARNING, logger="eegviz.sources.xdf"):
        s = load_xdf_session(tmp_path / "d.xdf")
    kept = np.r_[0 : 10 * PER_CHUNK, 11 * PER_CHUNK : len(data)]
    np.testing.assert_allclose(s.timestamps, T0 + kept / FS, atol=1e-9)  # each sample at its own time
    np.testing.assert_allclose(s.data, data[kept] * 1e-6, rtol=1e-6)
    assert "1 damaged chunk(s) left out" in caplog.text and "stream 'amp' lost 25 samples (a gap" in caplog.text
    assert len(s.markers) == 4


def test_a_chunk_whose_count_is_unreadable_is_left_out_and_the_dates_after_it_are_said_to_be_off(tmp_path, caplog):
    """How many samples it held is lost with its count: what follows is kept, but an unstamped sample after it can
    only be dated from the one before the loss, and the warning says so."""
    data = _labrecorder_like(tmp_path / "d.xdf")
    _damage(tmp_path / "d.xdf", 1, which=10, how="count")
    with caplog.at_level(logging.WARNING, logger="eegviz.sources.xdf"):
        s = load_xdf_session(tmp_path / "d.xdf")
    assert len(s.timestamps) == len(data) - PER_CHUNK
    np.testing.assert_allclose(np.diff(s.timestamps), 1 / FS, atol=1e-9)  # dated on, as if none were lost
    assert "stream 'amp' lost the samples of 1 chunk(s), some of an unreadable count" in caplog.text
    assert "dated as if none were lost" in caplog.text


def test_a_damaged_marker_chunk_loses_that_marker_only(tmp_path, caplog):
    _labrecorder_like(tmp_path / "d.xdf")
    raw = bytearray((tmp_path / "d.xdf").read_bytes())
    body, _ = _samples_chunks(bytes(raw), 2)[1]
    raw[body + 6] = 3
    (tmp_path / "d.xdf").write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="eegviz.sources.xdf"):
        s = load_xdf_session(tmp_path / "d.xdf")
    assert [m.payload for m in s.markers] == ["a_001", "c_003", "d_004"]
    assert "stream 'stim' lost the markers of 1 chunk(s)" in caplog.text
    assert len(s.timestamps) == 1000


@pytest.mark.parametrize("how", ["count", "flag"])
def test_every_chunk_damaged_is_a_wrong_header_refused_not_repaired(tmp_path, how):
    """A stream none of whose chunks parse was written with a wrong header: left to the width check's refusal."""
    from eegviz.errors import EegvizError

    path = tmp_path / "d.xdf"
    _labrecorder_like(path)
    for which in range(len(_samples_chunks(path.read_bytes(), 1))):
        _damage(path, 1, which, how)
    with pytest.raises(EegvizError, match="declares 4 channels, but its samples are not 4 values wide"):
        load_xdf_session(path)


def _stamped_chunks(path, stamped_at, n=1000, t=None):
    """Like _labrecorder_like (no markers), but the samples at `stamped_at` are stamped too (a clock reset there:
    `t` gives every sample's time), and a chunk of no samples follows the 11th chunk (the XDF spec allows it)."""
    t = T0 + np.arange(n) / FS if t is None else t
    data = (np.arange(n * N_CH).reshape(n, N_CH) % 97).astype(np.float32) + 1.0
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", N_CH, FS, "float32", ch_names=["Fz", "Cz", "Pz", "Oz"], unit="microvolts")
        for c, i in enumerate(range(0, n, PER_CHUNK)):
            samples = b"".join((b"\x08" + struct.pack("<d", t[i + k]) if i + k in stamped_at else b"\x00")
                               + row.tobytes() for k, row in enumerate(data[i : i + PER_CHUNK]))
            with w._lock:
                w._write_chunk(TAG_SAMPLES, eeg, varlen(len(data[i : i + PER_CHUNK])) + samples)
                if c == 10:
                    w._write_chunk(TAG_SAMPLES, eeg, varlen(0))
    return t


def _count_less(path, which: int) -> None:
    """The `which`-th samples chunk's count one short of its samples (pyxdf stops inside it and logs)."""
    raw = bytearray(path.read_bytes())
    body, _ = _samples_chunks(bytes(raw), 1)[which]
    assert raw[body + 6] == 1
    raw[body + 7] -= 1
    path.write_bytes(bytes(raw))


def test_a_chunk_of_no_samples_after_the_damaged_one_does_not_swallow_the_loss(tmp_path):
    """The loss is carried to the next chunk that holds samples: the empty chunk had taken it, and what followed
    was dated 24 samples early."""
    t = _stamped_chunks(tmp_path / "d.xdf", {0})
    _count_less(tmp_path / "d.xdf", 10)  # the 11th chunk, followed by the empty one
    s = load_xdf_session(tmp_path / "d.xdf")
    np.testing.assert_allclose(s.timestamps, t[np.r_[0:250, 275:1000]] - 1 / FS * (s.timestamps > t[260]),
                               atol=1e-9)  # one count short: the 24 said lost, so one period early after it


@pytest.mark.parametrize("first", [0, 500])
def test_what_follows_a_damaged_chunk_is_dated_from_its_own_first_stamp(tmp_path, first):
    """A damaged first chunk (first=0), or one that begins at a clock reset (first=500: the clock jumps 5000 s):
    its first sample's own stamp dates what follows. Dated from the last kept sample, the stream began at 0.1 s
    (every marker outside it), or went on in the clock before the reset."""
    t = T0 + np.arange(1000) / FS
    t[500:] += 5000.0
    _stamped_chunks(tmp_path / "d.xdf", {0, 500}, t=t)
    _count_less(tmp_path / "d.xdf", first // PER_CHUNK + (first > 10 * PER_CHUNK))  # the empty chunk counts
    s = load_xdf_session(tmp_path / "d.xdf")
    kept = np.r_[0:first, first + PER_CHUNK : 1000]
    early = (kept > first) & ((kept < 500) | (first == 500))  # one count short: one period early, to a stamp
    np.testing.assert_allclose(s.timestamps, t[kept] - early / FS, atol=1e-9)
