"""Replaying the files labs keep (FIF, EDF, BrainVision...) through MNE's readers, annotations as markers."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.sources.mne_file import MneFileSource

# 32 channels of a 10-20 cap (standard_1020 names): not the default model's biosemi128
CAP32 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7", "C3", "Cz", "C4", "T8",
         "TP9", "CP5", "CP1", "CP2", "CP6", "TP10", "P7", "P3", "Pz", "P4", "P8", "PO9", "O1", "Oz", "O2", "PO10"]
EVENTS = ["circle_0001", "square_0002", "badger_0003", "star_0004"]  # an id starting "bad" is an event
SFREQ = 500.0  # not the model's 250 Hz, so the replay resamples too


def _raw(first_samp=1000):
    import datetime

    import mne

    rng = np.random.default_rng(0)
    n = int(12 * SFREQ)
    data = rng.standard_normal((len(CAP32) + 1, n)) * 5e-6
    info = mne.create_info(CAP32 + ["EOG1"], SFREQ, ["eeg"] * len(CAP32) + ["eog"])
    raw = mne.io.RawArray(data, info, first_samp=first_samp, verbose="error")
    raw.set_meas_date(datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc))
    t0 = raw.first_time
    onsets = [t0 + 1.0 + 2.0 * i for i in range(len(EVENTS))]
    for t in onsets:  # a pulse on Cz exactly at each event, to check marker and sample clocks agree
        raw._data[CAP32.index("Cz"), int(round((t - t0) * SFREQ))] = 1e-3
    ann = mne.Annotations([o - t0 for o in onsets] + [0.3, 9.5], [0] * len(EVENTS) + [0.5, 0.0],
                          EVENTS + ["BAD_blink", "EDGE boundary"])
    raw.set_annotations(ann)
    return raw


def _drain(src):
    chunks, markers = [], []
    while True:
        r = src.read(timeout=0.01)
        chunks += r.chunks
        markers += r.markers
        if r.finished:
            return chunks, markers


def test_fif_replays_eeg_in_volts_with_annotations_as_markers(tmp_path):
    path = tmp_path / "rec_raw.fif"
    _raw().save(path, verbose="error")
    src = MneFileSource(path, speed=0)
    src.start()
    chunks, markers = _drain(src)
    src.stop()
    assert src.info.ch_names == tuple(CAP32) and src.info.sfreq == SFREQ  # EOG left out
    assert [m.payload for m in markers] == EVENTS  # BAD_/EDGE skipped
    data = np.concatenate([c.samples for c in chunks])
    ts = np.concatenate([c.timestamps for c in chunks])
    assert data.shape == (int(12 * SFREQ), 32) and abs(np.median(np.abs(data))) < 1e-4  # volts
    assert ts[0] == pytest.approx(1000 / SFREQ)  # the recording's clock: first_samp / sfreq
    cz = data[:, CAP32.index("Cz")]
    pulses = ts[np.flatnonzero(cz > 5e-4)]
    np.testing.assert_allclose([m.timestamp for m in markers], pulses, atol=1e-9)


def test_cli_replays_fif_onto_the_default_model(tmp_path):
    """A 32-channel 10-20 FIF through `eegviz replay`: interpolated onto biosemi128, one result per event."""
    path = tmp_path / "rec_raw.fif"
    _raw().save(path, verbose="error")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "eegviz.cli", "replay", str(path), "--headless", "--out", str(out),
                        "--speed", "0", "--montage", "standard_1020", "--no-capture"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "interpolated" in r.stderr and "trained on other" in r.stderr
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [line["marker"] for line in lines] == EVENTS
    assert all((out / line["reconstruction"]).exists() for line in lines if line.get("reconstruction"))
    assert sum(bool(line.get("reconstruction")) for line in lines) == len(EVENTS)


def _write_brainvision(stem: Path, data: np.ndarray, names: list[str], sfreq: float, events: dict[int, str]):
    """A minimal BrainVision recording (float32, multiplexed, microvolts), written by hand so the test needs
    no writer package; events: sample index (0-based) -> 'S  1'-style stimulus code."""
    (stem.with_suffix(".eeg")).write_bytes((data.T * 1e6).astype("<f4").tobytes())
    chans = "\n".join(f"Ch{i + 1}={n},,1,µV" for i, n in enumerate(names))
    stem.with_suffix(".vhdr").write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem.name}.eeg\nMarkerFile={stem.name}.vmrk\nDataFormat=BINARY\n"
        f"DataOrientation=MULTIPLEXED\nNumberOfChannels={len(names)}\nSamplingInterval={1e6 / sfreq:g}\n"
        f"[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n[Channel Infos]\n{chans}\n", encoding="utf-8")
    marks = "\n".join(f"Mk{k + 2}=Stimulus,{code},{i + 1},1,0" for k, (i, code) in enumerate(events.items()))
    stem.with_suffix(".vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem.name}.eeg\n[Marker Infos]\nMk1=New Segment,,1,1,0\n{marks}\n", encoding="utf-8")


def test_brainvision_replays(tmp_path):
    data = np.random.default_rng(1).standard_normal((len(CAP32), 5000)) * 5e-6
    _write_brainvision(tmp_path / "rec", data, CAP32, 500.0, {1000: "S  1", 3000: "S  2"})
    src = MneFileSource(tmp_path / "rec.vhdr", speed=0)
    src.start()
    chunks, markers = _drain(src)
    assert [m.payload for m in markers] == ["Stimulus/S  1", "Stimulus/S  2"]  # "New Segment" skipped
    assert [m.timestamp for m in markers] == pytest.approx([2.0, 6.0])
    np.testing.assert_allclose(np.concatenate([c.samples for c in chunks]).T, data, rtol=1e-5, atol=1e-12)


def test_edf_replays(tmp_path):
    pytest.importorskip("edfio")  # mne.export writes EDF with it
    import mne

    raw = _raw(first_samp=0).pick("eeg")
    raw.set_annotations(raw.annotations[: len(EVENTS)])
    path = tmp_path / "rec.edf"
    mne.export.export_raw(path, raw, verbose="error")
    src = MneFileSource(path, speed=0)
    src.start()
    _, markers = _drain(src)
    assert [m.payload for m in markers] == EVENTS and len(src.info.ch_names) == 32


def test_unreadable_files_are_one_line(tmp_path):
    bad = tmp_path / "broken_raw.fif"
    bad.write_bytes(b"not a fif file" * 10)
    for path, needle in ((bad, "cannot read broken_raw.fif with MNE"), (tmp_path / "none.edf", "does not exist"),
                         (Path(__file__), "not an XDF recording nor a file MNE reads")):
        with pytest.raises(EegvizError) as e:
            MneFileSource(path).start()
        assert needle in str(e.value) and "\n" not in str(e.value)


def test_registered_as_source_plugin_mne():
    meta = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["eegviz.sources"]
    assert eps["mne"] == "eegviz.sources.mne_file:MneFileSource"
    module, _, name = eps["mne"].partition(":")
    assert getattr(__import__(module, fromlist=[name]), name) is MneFileSource


def _write_plain_edf(path: Path, labels: list[str], data_uv: np.ndarray, sfreq: int) -> None:
    """A plain EDF file (no annotations), written by hand: the 256-byte header, one 256-byte header per signal,
    then 1 s records of little-endian int16 at 0.1 uV per step."""
    ns, n = len(labels), data_uv.shape[1] // sfreq

    def field(value, width: int) -> bytes:
        return str(value).ljust(width).encode("ascii")

    head = (field(0, 8) + field("X X X X", 80) + field("Startdate 01-JAN-2024 X X X", 80) + field("01.01.24", 8)
            + field("00.00.00", 8) + field(256 * (ns + 1), 8) + field("", 44) + field(n, 8) + field(1, 8)
            + field(ns, 4))
    for width, values in ((16, labels), (80, [""] * ns), (8, ["uV"] * ns), (8, [-3276.8] * ns), (8, [3276.7] * ns),
                          (8, [-32768] * ns), (8, [32767] * ns), (80, [""] * ns), (8, [sfreq] * ns), (32, [""] * ns)):
        head += b"".join(field(v, width) for v in values)
    digital = np.clip(np.round(data_uv[:, : n * sfreq] * 10), -32768, 32767).astype("<i2")
    records = digital.reshape(ns, n, sfreq).transpose(1, 0, 2)  # record-major, each signal's samples in turn
    path.write_bytes(head + records.tobytes())


def test_edf_labels_with_their_type_prefix_are_read_as_typed_channels(tmp_path):
    """EDF+ recommends labels such as "EEG Fp1" and "ECG ECG": the type prefix is read as the channel's type, so the
    EEG channels come out with their 10-20 names and the ECG is dropped (it used to be read as an EEG channel
    called "ECG ECG" and every channel was refused as having no montage position)."""
    labels = [f"EEG {c}" for c in CAP32[:19]] + ["ECG ECG"]
    data = np.random.default_rng(2).standard_normal((len(labels), 4 * 256)) * 20
    _write_plain_edf(tmp_path / "typed.edf", labels, data, 256)
    src = MneFileSource(tmp_path / "typed.edf", speed=0)
    src.open()
    assert src.info.ch_names == tuple(CAP32[:19])
    src.start()
    samples = np.concatenate([c.samples for c in _drain(src)[0]])
    np.testing.assert_allclose(samples, data[:19].T * 1e-6, atol=0.06e-6)  # 0.1 uV steps


def test_xdf_stream_options_on_an_mne_file_are_refused():
    """--stream / --markers name streams inside an XDF file; on a FIF/EDF they were silently ignored."""
    from eegviz.settings import SourceSettings

    with pytest.raises(EegvizError, match="--stream and --markers pick streams inside an XDF file"):
        MneFileSource.from_cli(SourceSettings(command="replay", file="rec.fif", stream="foo", markers="bar"))
    assert MneFileSource.from_cli(SourceSettings(command="replay", file="rec.fif")).path.name == "rec.fif"
