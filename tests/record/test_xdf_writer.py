"""XdfWriter / SessionRecorder: files must round-trip through pyxdf, stay readable while open, and survive crashes."""

import threading

import numpy as np
import pyxdf
import pytest

from eegviz.messages import Chunk, Marker, StreamInfo
from eegviz.record.xdf_writer import SessionRecorder, XdfWriter, varlen


def _load(path, **kw):
    kw.setdefault("dejitter_timestamps", False)
    streams, header = pyxdf.load_xdf(str(path), **kw)
    return {s["info"]["name"][0]: s for s in streams}, header


def test_varlen_widths():
    assert varlen(5) == b"\x01\x05"
    assert varlen(300)[:1] == b"\x04"
    assert varlen(2**33)[:1] == b"\x08"


def test_round_trip_formats_markers_empty_stream_and_offsets(tmp_path):
    path = tmp_path / "rt.xdf"
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((250, 4)).astype(np.float32)
    i16 = rng.integers(-30000, 30000, size=(100, 2)).astype(np.int16)
    ts = 100.0 + np.arange(250) / 250.0
    with XdfWriter(path) as w:
        a = w.add_stream("eeg32", "EEG", 4, 250.0, "float32", "src-a", ["Fz", "Cz", "Pz", "Oz"], "microvolts")
        b = w.add_stream("eeg16", "EEG", 2, 100.0, "int16", ch_names=["A", "B"])
        m = w.add_stream("markers", "Markers", 1, 0.0, "string")
        w.add_stream("empty", "Misc", 3, 10.0, "double64")
        w.write_samples(a, f32[:100], ts[:100])
        w.write_samples(a, f32[100:], ts[100:])
        w.write_samples(b, i16, 100.0 + np.arange(100) / 100.0)
        w.write_samples(m, ["img_1", "ünïcode <&>"], np.array([100.1, 100.5]))
        w.write_samples(m, [["img_3"]], np.array([100.9]))
        w.write_boundary()
        for t in (100.0, 105.0, 110.0):
            w.write_clock_offset(a, t, 0.25)
    streams, header = _load(path)
    assert header["info"]["version"][0] == "1.0"
    s = streams["eeg32"]
    assert s["time_series"].dtype == np.float32
    np.testing.assert_array_equal(s["time_series"], f32)
    np.testing.assert_allclose(s["time_stamps"], ts + 0.25, atol=1e-9)  # clock offset applied
    labels = [c["label"][0] for c in s["info"]["desc"][0]["channels"][0]["channel"]]
    assert labels == ["Fz", "Cz", "Pz", "Oz"]
    assert s["info"]["desc"][0]["channels"][0]["channel"][0]["unit"][0] == "microvolts"
    assert s["footer"]["info"]["sample_count"][0] == "250"
    np.testing.assert_array_equal(streams["eeg16"]["time_series"], i16)
    assert streams["markers"]["time_series"] == [["img_1"], ["ünïcode <&>"], ["img_3"]]
    assert len(streams["empty"]["time_stamps"]) == 0
    # without synchronisation the raw timestamps and offsets come back exactly
    raw, _ = _load(path, synchronize_clocks=False)
    np.testing.assert_array_equal(raw["eeg32"]["time_stamps"], ts)
    assert raw["eeg32"]["clock_values"] == [0.25, 0.25, 0.25]


def test_readable_while_open_and_after_crash(tmp_path):
    path = tmp_path / "open.xdf"
    w = XdfWriter(path)
    sid = w.add_stream("eeg", "EEG", 2, 100.0, "float32")
    w.write_samples(sid, np.ones((10, 2), np.float32), np.arange(10) / 100.0)
    streams, _ = _load(path)
    assert streams["eeg"]["time_series"].shape == (10, 2)
    w.write_samples(sid, np.zeros((5, 2), np.float32), 0.1 + np.arange(5) / 100.0)
    streams, _ = _load(path)
    assert streams["eeg"]["time_series"].shape == (15, 2)  # no footer yet: still readable
    w.close()
    w.close()  # twice is fine
    with pytest.raises(ValueError):
        w.write_samples(sid, np.zeros((1, 2), np.float32), np.zeros(1))


def test_bad_input_rejected(tmp_path):
    with XdfWriter(tmp_path / "bad.xdf") as w:
        with pytest.raises(ValueError):
            w.add_stream("x", "EEG", 2, 100.0, "float16")
        sid = w.add_stream("x", "EEG", 2, 100.0, "float32")
        with pytest.raises(ValueError):
            w.write_samples(sid, np.zeros((3, 3)), np.zeros(3))
        with pytest.raises(ValueError):
            w.write_samples(99, np.zeros((3, 2)), np.zeros(3))
        w.write_samples(sid, np.zeros((0, 2)), np.zeros(0))  # empty chunk: nothing written


def test_session_recorder_threads(tmp_path):
    info = StreamInfo(name="amp", ch_names=("C3", "C4", "Cz"), sfreq=200.0, source_id="amp-1")
    path = tmp_path / "session.xdf"
    rec = SessionRecorder(path, info)
    chunks = [np.full((20, 3), k, np.float32) * 1e-6 for k in range(10)]

    def acquire():
        for k, c in enumerate(chunks):
            rec.add_chunk(Chunk(samples=c, timestamps=k * 0.1 + np.arange(20) / 200.0))

    t = threading.Thread(target=acquire)
    t.start()
    rec.add_marker(Marker(0.05, "img_a"))
    rec.add_marker(Marker(0.55, "img_b"))
    t.join()
    rec.close()
    rec.add_chunk(Chunk(samples=chunks[0], timestamps=np.arange(20) / 200.0))  # late write after close: dropped
    streams, _ = _load(path)
    np.testing.assert_array_equal(streams["amp"]["time_series"], np.concatenate(chunks))
    assert streams["amp"]["info"]["desc"][0]["channels"][0]["channel"][0]["unit"][0] == "volts"
    assert streams["eegviz-markers"]["time_series"] == [["img_a"], ["img_b"]]


def test_chunk_tags_count_footers_and_see_a_torn_end(tmp_path):
    from eegviz.record.xdf_writer import TAG_SAMPLES, TAG_STREAM_FOOTER, TAG_STREAM_HEADER, chunk_tags

    path = tmp_path / "s.xdf"
    with XdfWriter(path) as w:
        for k in range(2):
            sid = w.add_stream(f"s{k}", "EEG", 2, 100.0, "float32")
            for i in range(3):
                w.write_samples(sid, np.zeros((10, 2), np.float32), 10.0 + i * 0.1 + np.arange(10) / 100.0)
    counts, torn = chunk_tags(path)
    assert not torn and counts[TAG_STREAM_HEADER] == 2 and counts[TAG_SAMPLES] == 6
    assert counts[TAG_STREAM_FOOTER] == 2
    path.write_bytes(path.read_bytes()[:-5])
    counts, torn = chunk_tags(path)
    assert torn and counts.get(TAG_STREAM_FOOTER, 0) == 1


def test_a_full_disk_names_the_file(tmp_path):
    """A write to a full disk fails with ENOSPC and no file name; the error eegviz prints must say which file."""
    import errno

    w = XdfWriter(tmp_path / "s.xdf")
    w._file.close()
    w._file = open("/dev/full", "wb")
    with pytest.raises(OSError) as e:
        w.write_boundary()
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "s.xdf")


def test_eeg_bytes_per_second_is_what_session_xdf_grows_by(tmp_path):
    """A recording kiosk says how fast its session.xdf grows (eegviz.app.run_window.disk_use_note): 9 bytes of
    timestamp a sample and the values as kept, float32 unless a live LSL stream's own format is kept."""
    from dataclasses import replace

    from eegviz.record.xdf_writer import eeg_bytes_per_second, kept_format
    from eegviz.sources.lsl import LslStreamInfo

    info = StreamInfo(name="amp", ch_names=("C3", "C4", "Cz"), sfreq=200.0, source_id="amp-1")
    assert eeg_bytes_per_second(info) == 200 * (1 + 8 + 3 * 4) == 4200
    sizes = []
    for n in (0, 200, 400):  # one chunk of 0, 1 and 2 seconds
        rec = SessionRecorder(tmp_path / f"s{n}.xdf", info)
        if n:
            rec.add_chunk(Chunk(samples=np.zeros((n, 3), np.float32), timestamps=np.arange(n) / 200.0))
        rec.close()
        sizes.append((tmp_path / f"s{n}.xdf").stat().st_size)
    assert 4200 <= sizes[2] - sizes[1] <= 4216  # a second more: 4200 bytes, and the footer's numbers' digits
    lsl = LslStreamInfo("amp", ("C3", "C4", "Cz"), 200.0, eeg_header="<info/>", eeg_format="double64")
    assert (kept_format(lsl), eeg_bytes_per_second(lsl)) == ("double64", 200 * (9 + 3 * 8))
    assert kept_format(replace(lsl, eeg_format="string")) == kept_format(replace(lsl, eeg_header="")) == "float32"
