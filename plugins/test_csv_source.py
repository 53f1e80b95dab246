import time
from pathlib import Path

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.plugins import available, get, load_plugin_dir
from eegviz.sources.base import Source

HERE = Path(__file__).parent
SFREQ = 100.0


def _csv_cls():
    load_plugin_dir(HERE)
    return get("sources", "csv")


def _write(tmp_path, text: str, name: str = "rec.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _sample_file(tmp_path, n: int = 250, delim: str = ",", name: str = "rec.csv"):
    """n rows of 3 channels (row i: i, -i/2, 0.25*i microvolts) with markers on rows 10, 120 and 240."""
    rows = [delim.join(["Fz", "Cz", "Pz", "Marker"])]
    marks = {10: "star_003", 120: "circle_001", 240: "ring_007"}
    for i in range(n):
        rows.append(delim.join([repr(float(i)), repr(-i / 2), repr(0.25 * i), marks.get(i, "")]))
    expected = np.stack([np.arange(n), -np.arange(n) / 2, 0.25 * np.arange(n)], axis=1)
    return _write(tmp_path, "\n".join(rows) + "\n", name), expected, marks


def _drain(src, timeout: float = 5.0):
    chunks, markers, reads = [], [], 0
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        r = src.read(timeout=0.05)
        reads += 1
        chunks += r.chunks
        markers += r.markers
        if r.finished:
            return chunks, markers, reads
    raise AssertionError("source never finished")


def test_csv_source_is_a_discoverable_plugin():
    cls = _csv_cls()
    assert cls.__name__ == "CsvSource"
    assert available("sources")["csv"].endswith(":CsvSource")
    assert isinstance(cls("x.csv", sfreq=SFREQ), Source)


@pytest.mark.parametrize("delim, name", [(",", "rec.csv"), ("\t", "rec.tsv"), (";", "rec.txt")])
def test_reads_every_sample_and_marker_exactly_at_speed_0(tmp_path, delim, name):
    path, expected, marks = _sample_file(tmp_path, delim=delim, name=name)
    src = _csv_cls()(path, sfreq=SFREQ, speed=0)
    src.start()
    assert src.info.ch_names == ("Fz", "Cz", "Pz") and src.info.sfreq == SFREQ and src.info.unit == "volts"
    chunks, markers, reads = _drain(src)
    src.stop()
    data = np.concatenate([c.samples for c in chunks])
    ts = np.concatenate([c.timestamps for c in chunks])
    assert data.dtype == np.float32 and data.shape == (250, 3)
    np.testing.assert_allclose(data, (expected * 1e-6).astype(np.float32), rtol=0, atol=0)  # uV -> V
    np.testing.assert_array_equal(ts, np.arange(250) / SFREQ)
    assert [(m.timestamp, m.payload) for m in markers] == [(k / SFREQ, v) for k, v in sorted(marks.items())]
    assert reads >= 3  # 2.5 s of data in at most 1 s per read: a steady flow, not one huge chunk
    assert src.read().finished  # after stop()


def test_unit_option_and_time_column(tmp_path):
    text = "time,A,B,marker\n0.000,1,2,\n0.004,3,4,img_1\n0.008,5,6,0\n0.012,7,8,\n"
    src = _csv_cls()(_write(tmp_path, text), unit="mV", speed=0)
    src.start()
    chunks, markers, _ = _drain(src)
    assert src.info.ch_names == ("A", "B") and src.info.sfreq == 250.0
    np.testing.assert_allclose(np.concatenate([c.samples for c in chunks]),
                               np.array([[1, 2], [3, 4], [5, 6], [7, 8]], np.float32) * np.float32(1e-3))
    np.testing.assert_array_equal(np.concatenate([c.timestamps for c in chunks]), [0.0, 0.004, 0.008, 0.012])
    assert [(m.timestamp, m.payload) for m in markers] == [(0.004, "img_1")]  # "0" is no marker


def test_real_time_pacing(tmp_path):
    path, _, _ = _sample_file(tmp_path, n=50)  # 0.5 s at 100 Hz
    src = _csv_cls()(path, sfreq=SFREQ, speed=2.0)
    src.start()
    t0 = time.perf_counter()
    chunks, markers, _ = _drain(src)
    took = time.perf_counter() - t0
    assert sum(len(c.timestamps) for c in chunks) == 50 and len(markers) == 1
    assert 0.2 <= took < 1.5  # 0.49 s of data at 2x is ~0.25 s; generous ceiling for a loaded machine


@pytest.mark.parametrize("text, kwargs, match", [
    ("1,2,3\n4,5,6\n", {"sfreq": SFREQ}, "has no header row"),
    ("Fz,Cz\n1,2\n3,oops\n", {"sfreq": SFREQ}, r"line 3, column 'Cz': value 'oops' is not a finite number"),
    ("Fz,Cz\n1,2\n3,nan\n", {"sfreq": SFREQ}, "value 'nan' is not a finite number"),
    ("Fz,Cz\n1,2\n3\n", {"sfreq": SFREQ}, "line 3 has 1 fields, the header has 2"),
    ("Fz,Cz,marker\n", {"sfreq": SFREQ}, "has a header but no sample rows"),
    ("", {"sfreq": SFREQ}, "is empty"),
    ("Fz,Cz\n1,2\n", {}, r"no time column, so the sampling rate must be given \(--sfreq HZ; sfreq= in Python\)"),
    ("time,Fz\n0.1,1\n", {}, r"has a single row, so the sampling rate must be given \(--sfreq HZ"),
    ("Fz,fz\n1,2\n", {"sfreq": SFREQ}, "appear more than once"),
    ("time,Fz\n0.1,1\n0.1,2\n", {}, "must increase strictly"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, kwargs, match):
    src = _csv_cls()(_write(tmp_path, text), **kwargs)
    with pytest.raises(EegvizError, match=match) as exc:
        src.start()
    assert "\n" not in str(exc.value) and "rec.csv" in str(exc.value)


def test_bad_options_and_missing_file(tmp_path):
    cls = _csv_cls()
    with pytest.raises(EegvizError, match="unknown unit 'furlongs'"):
        cls(tmp_path / "a.csv", sfreq=SFREQ, unit="furlongs")
    with pytest.raises(EegvizError, match="speed must be a finite number >= 0"):
        cls(tmp_path / "a.csv", sfreq=SFREQ, speed=-1)
    with pytest.raises(EegvizError, match="does not exist"):
        cls(tmp_path / "missing.csv", sfreq=SFREQ).start()


def test_replay_cli_runs_a_csv_recording_through_the_pipeline(tmp_path):
    """`eegviz replay --source csv`: the plugin feeds the whole pipeline like a built-in source."""
    import json

    from eegviz.cli import main
    from eegviz.paths import demo_recording
    from eegviz.sources.xdf import load_xdf_session

    ses = load_xdf_session(demo_recording())
    n = int(6 * ses.info.sfreq)
    t0 = ses.timestamps[0]
    marks = {int(round((m.timestamp - t0) * ses.info.sfreq)): m.payload for m in ses.markers}
    marks = {i: p for i, p in marks.items() if i < n - int(0.7 * ses.info.sfreq)}
    lines = [",".join(list(ses.info.ch_names) + ["marker"])]
    for i in range(n):
        lines.append(",".join(f"{v * 1e6:.3f}" for v in ses.data[i]) + "," + marks.get(i, ""))
    path = _write(tmp_path, "\n".join(lines) + "\n", "demo.csv")
    out = tmp_path / "out"
    assert main(["replay", "--source", "csv", str(path), "--sfreq", str(ses.info.sfreq), "--speed", "0",
                 "--headless", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["marker"] for r in rows] == list(marks.values()) and len(rows) >= 3


def test_a_file_without_markers_is_said_when_it_loads(tmp_path, caplog):
    """A CSV without a marker column (or with one that names no stimulus) was replayed to its end without a word;
    an XDF or MNE file without markers is said at its start, and so is a CSV now."""
    rows = "\n".join(["Fz,Cz,Trigger"] + [f"{i},{-i},0" for i in range(20)]) + "\n"
    src = _csv_cls()(_write(tmp_path, rows), sfreq=SFREQ)
    src.open()
    assert "rec.csv: it has no 'marker' column (header: Fz, Cz, Trigger), so nothing will be decoded" in caplog.text
    caplog.clear()
    rows = "\n".join(["Fz,Cz,marker"] + [f"{i},{-i},0" for i in range(20)]) + "\n"
    _csv_cls()(_write(tmp_path, rows, "b.csv"), sfreq=SFREQ).open()
    assert "b.csv: its 'marker' column names no stimulus, so nothing will be decoded" in caplog.text
    caplog.clear()
    path, _, _ = _sample_file(tmp_path, name="c.csv")
    _csv_cls()(path, sfreq=SFREQ).open()
    assert "nothing will be decoded" not in caplog.text
