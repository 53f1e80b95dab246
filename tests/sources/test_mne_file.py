"""Replaying the files labs keep (FIF, EDF, BrainVision...) through MNE's readers, annotations as markers."""

from __future__ import annotations

import json
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


def test_cli_replays_fif_onto_the_default_model(tmp_path, capsys, caplog):
    """A 32-channel 10-20 FIF through `eegviz replay`: interpolated onto biosemi128, one result per event."""
    from eegviz.cli import main

    path = tmp_path / "rec_raw.fif"
    _raw().save(path, verbose="error")
    out = tmp_path / "out"
    # in-process (a subprocess paid ~5 s of imports); the montage warning is logged, which under pytest reaches
    # caplog rather than stderr
    code = main(["replay", str(path), "--headless", "--out", str(out), "--speed", "0", "--montage", "standard_1020",
                 "--no-capture"])
    assert code == 0, capsys.readouterr().err
    assert "interpolated" in caplog.text and "trained on other" in caplog.text
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [line["marker"] for line in lines] == EVENTS
    assert all((out / line["reconstruction"]).exists() for line in lines if line.get("reconstruction"))
    assert sum(bool(line.get("reconstruction")) for line in lines) == len(EVENTS)


def _write_brainvision(stem: Path, data: np.ndarray, names: list[str], sfreq: float, events: dict[int, str]):
    """A minimal BrainVision recording (float32, multiplexed, microvolts), written by hand so the test needs
    no writer package; events: sample index (0-based) -> 'S  1'-style stimulus code, "New Segment" where the
    recorder resumed after a pause, or "Type/description" ("Comment/anchor_000") for another marker type."""
    (stem.with_suffix(".eeg")).write_bytes((data.T * 1e6).astype("<f4").tobytes())
    chans = "\n".join(f"Ch{i + 1}={n},,1,µV" for i, n in enumerate(names))
    stem.with_suffix(".vhdr").write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem.name}.eeg\nMarkerFile={stem.name}.vmrk\nDataFormat=BINARY\n"
        f"DataOrientation=MULTIPLEXED\nNumberOfChannels={len(names)}\nSamplingInterval={1e6 / sfreq:g}\n"
        f"[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n[Channel Infos]\n{chans}\n", encoding="utf-8")
    marks = "\n".join(f"Mk{k + 2}=New Segment,,{i + 1},1,0" if code == "New Segment" else
                      f"Mk{k + 2}={code.replace('/', ',', 1) if '/' in code else 'Stimulus,' + code},{i + 1},1,0"
                      for k, (i, code) in enumerate(events.items()))
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


def test_brainvision_comment_markers_are_their_text(tmp_path):
    """A BrainVision Comment marker's text is the image id a stimulus program wrote (mne.export writes image-id
    annotations so too); MNE reads it as "Comment/anchor_000", which named no stimulus: the replay had no ground
    truth, no --images-dir image and no score. The payload is the comment's text now; Stimulus markers keep their
    type."""
    from eegviz.stimulus_truth import synthetic_shown

    data = np.random.default_rng(1).standard_normal((len(CAP32), 5000)) * 5e-6
    _write_brainvision(tmp_path / "rec", data, CAP32, 500.0,
                       {1000: "Comment/anchor_000", 2000: "S  1", 3000: "Comment/arrow_001"})
    src = MneFileSource(tmp_path / "rec.vhdr", speed=0)
    src.start()
    markers = _drain(src)[1]
    assert [m.payload for m in markers] == ["anchor_000", "Stimulus/S  1", "arrow_001"]
    assert [m.timestamp for m in markers] == pytest.approx([2.0, 4.0, 6.0])
    assert synthetic_shown(markers[0].payload).class_name == "anchor"


def test_a_missing_marker_file_is_named_in_the_no_markers_line(tmp_path, caplog):
    """A BrainVision header copied without its .vmrk: MNE reads it with no annotations and says why in a warning,
    which eegviz silenced, so the replay only said "no annotations to use as markers" and ran the whole file. The
    line now gives MNE's reason."""
    data = np.random.default_rng(1).standard_normal((len(CAP32), 2500)) * 5e-6
    _write_brainvision(tmp_path / "rec", data, CAP32, 500.0, {1000: "S  1"})
    (tmp_path / "rec.vmrk").unlink()
    MneFileSource(tmp_path / "rec.vhdr", speed=0).open()
    line = next(r.getMessage() for r in caplog.records if "no annotations to use as markers" in r.getMessage())
    assert "MarkerFile 'rec.vmrk' not found" in line and "\n" not in line


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


def test_a_file_no_reader_knows_points_to_source_plugins(tmp_path):
    """`eegviz replay rec.csv` (without --source csv) was told the file is neither XDF nor MNE's, and not that a
    source plugin reads it."""
    csv = tmp_path / "rec.csv"
    csv.write_text("Fz,Cz,marker\n1,2,\n3,4,star_000\n")
    with pytest.raises(EegvizError, match="--source NAME \\(`eegviz plugins` lists them\\)"):
        MneFileSource(csv).start()


def test_registered_as_source_plugin_mne():
    meta = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["eegviz.sources"]
    assert eps["mne"] == "eegviz.sources.mne_file:MneFileSource"
    module, _, name = eps["mne"].partition(":")
    assert getattr(__import__(module, fromlist=[name]), name) is MneFileSource


def _write_plain_edf(path: Path, labels: list[str], data_uv: np.ndarray, sfreq: int, unit: str = "uV") -> None:
    """A plain EDF file (no annotations), written by hand: the 256-byte header, one 256-byte header per signal,
    then 1 s records of little-endian int16 at 0.1 uV per step; unit: the physical dimension the header gives."""
    ns, n = len(labels), data_uv.shape[1] // sfreq

    def field(value, width: int) -> bytes:
        return str(value).ljust(width).encode("ascii")

    head = (field(0, 8) + field("X X X X", 80) + field("Startdate 01-JAN-2024 X X X", 80) + field("01.01.24", 8)
            + field("00.00.00", 8) + field(256 * (ns + 1), 8) + field("", 44) + field(n, 8) + field(1, 8)
            + field(ns, 4))
    for width, values in ((16, labels), (80, [""] * ns), (8, [unit] * ns), (8, [-3276.8] * ns), (8, [3276.7] * ns),
                          (8, [-32768] * ns), (8, [32767] * ns), (80, [""] * ns), (8, [sfreq] * ns), (32, [""] * ns)):
        head += b"".join(field(v, width) for v in values)
    digital = np.clip(np.round(data_uv[:, : n * sfreq] * 10), -32768, 32767).astype("<i2")
    records = digital.reshape(ns, n, sfreq).transpose(1, 0, 2)  # record-major, each signal's samples in turn
    path.write_bytes(head + records.tobytes())


def _write_edf_plus(path: Path, labels: list[str], data_uv: np.ndarray, sfreq: int, starts: list[float],
                    events: dict[float, str], reserved: str = "EDF+D") -> None:
    """An EDF+ file written by hand: as _write_plain_edf, plus the "EDF Annotations" signal whose first TAL in each
    1 s record gives the record's start time (starts: EDF+D's records need not be back to back); events: onset
    (in that time) -> text, each written into the record it falls in."""
    ns, n, width = len(labels), data_uv.shape[1] // sfreq, 64  # 64 bytes of TALs per record

    def field(value, w: int) -> bytes:
        return str(value).ljust(w).encode("ascii")

    head = (field(0, 8) + field("X X X X", 80) + field("Startdate 01-JAN-2024 X X X", 80) + field("01.01.24", 8)
            + field("00.00.00", 8) + field(256 * (ns + 2), 8) + field(reserved, 44) + field(n, 8) + field(1, 8)
            + field(ns + 1, 4))
    for w, values in ((16, [*labels, "EDF Annotations"]), (80, [""] * (ns + 1)), (8, ["uV"] * ns + [""]),
                      (8, [-3276.8] * ns + [-1]), (8, [3276.7] * ns + [1]), (8, [-32768] * (ns + 1)),
                      (8, [32767] * (ns + 1)), (80, [""] * (ns + 1)), (8, [sfreq] * ns + [width // 2]),
                      (32, [""] * (ns + 1))):
        head += b"".join(field(v, w) for v in values)
    digital = np.clip(np.round(data_uv[:, : n * sfreq] * 10), -32768, 32767).astype("<i2")
    body = b""
    for k in range(n):
        tals = f"+{starts[k]:g}\x14\x14\x00" + "".join(f"+{t:g}\x14{text}\x14\x00" for t, text in events.items()
                                                     if starts[k] <= t < starts[k] + 1)
        body += digital[:, k * sfreq:(k + 1) * sfreq].tobytes() + tals.encode("ascii").ljust(width, b"\x00")
    path.write_bytes(head + body)


def test_edf_plus_d_with_gaps_is_refused_in_one_line(tmp_path):
    """An EDF+D file's records may have gaps between them (a recording paused): MNE reads its records as one
    continuous run, so the samples after a 7 s pause were stamped 7 s early and the annotations, which keep the
    true time, fell on the wrong samples or, past the shortened end, were dropped, without a word. Such a file is
    refused, naming the first gap; an EDF+D whose records are back to back replays as before."""
    data = np.random.default_rng(5).standard_normal((8, 6 * 256)) * 20
    events = {1.5: "anchor_000", 10.5: "arrow_001"}
    _write_edf_plus(tmp_path / "paused.edf", CAP8, data, 256, [0, 1, 2, 10, 11, 12], events)
    with pytest.raises(EegvizError) as e:
        MneFileSource(tmp_path / "paused.edf", speed=0).open()
    msg = str(e.value)
    assert "\n" not in msg and "EDF+D (discontinuous)" in msg and "+7.000 s at 3.000 s" in msg
    _write_edf_plus(tmp_path / "whole.edf", CAP8, data, 256, [0, 1, 2, 3, 4, 5], {1.5: "anchor_000", 4.5: "arrow_001"})
    src = MneFileSource(tmp_path / "whole.edf", speed=0)
    src.start()
    assert [(m.payload, m.timestamp) for m in _drain(src)[1]] == [("anchor_000", 1.5), ("arrow_001", 4.5)]


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


@pytest.mark.parametrize("unit", ["", "uv", "UV", "-"])
def test_edf_microvolts_mne_takes_for_volts_are_read_as_microvolts(tmp_path, caplog, unit):
    """MNE's EDF reader converts only "uV"/"µV" and "mV" spelled so; an empty physical dimension (some exporters
    leave it blank) and any other spelling it takes for volts, so the file's microvolts reached the model a
    million times too large, without a word. A unit eegviz knows is applied; no unit is judged from the values
    (as for XDF and LSL channels without one), with a line saying so."""
    data = np.random.default_rng(4).standard_normal((8, 4 * 256)) * 20
    _write_plain_edf(tmp_path / "rec.edf", CAP8, data, 256, unit=unit)
    src = MneFileSource(tmp_path / "rec.edf", speed=0)
    src.start()
    samples = np.concatenate([c.samples for c in _drain(src)[0]])
    np.testing.assert_allclose(samples, data.T * 1e-6, atol=0.06e-6)
    judged = "declare no unit that says volts" in caplog.text
    assert judged == (unit in ("", "-")) and ("read as microvolts" in caplog.text) == judged


def test_xdf_stream_options_on_an_mne_file_are_refused():
    """--stream / --markers name streams inside an XDF file; on a FIF/EDF they were silently ignored."""
    from eegviz.settings import SourceSettings

    with pytest.raises(EegvizError, match="--stream and --markers pick streams inside an XDF file"):
        MneFileSource.from_cli(SourceSettings(command="replay", file="rec.fif", stream="foo", markers="bar"))
    assert MneFileSource.from_cli(SourceSettings(command="replay", file="rec.fif")).path.name == "rec.fif"


CAP8 = ["Fp1", "Fp2", "C3", "C4", "O1", "O2", "P3", "P4"]


class _Lines:
    """A sink that keeps each marker's outcome: payload -> "decoded", or (reason, kind) for a skip."""

    def __init__(self):
        self.got = {}

    def on_result(self, rec, stimulus=None):
        self.got[rec.marker.payload] = "decoded"

    def on_skipped(self, marker, reason, kind):
        self.got[marker.payload] = (reason, kind)

    def close(self):
        pass


def _session(path, sfreq=250.0, montage=""):
    """Replays path through a whole Pipeline onto a toy model of CAP8 at sfreq (epochs -0.1 .. 0.4 s), its
    montage as named ("": guessed from CAP8's names)."""
    import torch
    from test_pipeline import Recorder
    from tiny_models import tiny_embedded_generator

    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.pipeline import Pipeline
    from eegviz.stream.preprocess import InputSpec

    spec = InputSpec(ch_names=tuple(CAP8), sfreq=sfreq, tmin=-0.1, tmax=0.4, montage=montage)
    dec = TwoBranchDecoder(spec, ["a", "b"], feat_dim=16, z_dim=4, saliency_size=16, n_tokens=8, text_dim=64)
    dec.prototypes = torch.randn(2, 16)
    sink, rec = _Lines(), Recorder()  # counts what it was given
    stats = Pipeline(MneFileSource(path, speed=0), dec, tiny_embedded_generator(ctx_dim=64, size=16), [sink],
                     recorder=rec, paced=False).run()
    return sink.got, rec, stats


def test_epochs_across_a_brainvision_pause_are_skipped_as_gaps(tmp_path):
    """A BrainVision recording paused and resumed ("New Segment" at sample 2500): its times run on across the
    pause, so the epoch of a stimulus 52 ms after the resume took its baseline and first samples from before the
    pause (+100 uV there, -100 uV after) and was decoded. It is skipped as a gap now, its line naming the break;
    the stimuli away from the pause are decoded and every sample is still recorded."""
    data = np.concatenate([np.full((8, 2500), 100e-6), np.full((8, 2500), -100e-6)], axis=1)
    _write_brainvision(tmp_path / "paused", data, CAP8, 250.0,
                       {1250: "S  1", 2500: "New Segment", 2513: "S  2", 3750: "S  3"})
    got, rec, stats = _session(tmp_path / "paused.vhdr")
    assert got["Stimulus/S  1"] == got["Stimulus/S  3"] == "decoded"
    reason, kind = got["Stimulus/S  2"]
    assert kind == "gap" and "'New Segment/' at 10.000 s" in reason and "break" in reason
    assert stats.skip_kinds == {"gap": 1} and stats.results == 2
    assert rec.samples == 5000 and len(rec.markers) == 3  # replayed and recorded in full


def test_epochs_across_a_join_or_into_a_bad_span_are_skipped_as_gaps(tmp_path):
    """Two recordings joined by mne.concatenate_raws (MNE marks the join "BAD boundary"/"EDGE boundary") and BAD_
    spans: an epoch across the join, one inside a BAD_ span and one reaching into another were decoded, as if the
    samples were continuous and good. They are skipped as gaps (as MNE's Epochs rejects them by annotation); the
    one clear of them all is decoded, and a window that starts on the first sample after the join is fine."""
    import mne

    sf = 250.0

    def rec(level):
        info = mne.create_info(CAP8, sf, "eeg")
        return mne.io.RawArray(np.full((8, int(10 * sf)), level), info, verbose="error")

    raw = mne.concatenate_raws([rec(100e-6), rec(-100e-6)], verbose="error")  # joined at 10 s
    raw.set_annotations(raw.annotations + mne.Annotations(
        [10.05, 10.1, 13.0, 14.0, 15.3, 15.5, 17.0], [0, 0, 2.0, 0, 0, 0.5, 0],
        ["across", "after", "BAD_movement", "inside", "into", "BAD_blink", "clear"]))
    path = tmp_path / "joined_raw.fif"
    raw.save(path, verbose="error")
    got, rec, stats = _session(path)
    assert got["clear"] == got["after"] == "decoded"  # "after": its window starts exactly at the join
    assert "'BAD boundary' at 10.000 s" in got["across"][0]
    assert "'BAD_movement' (13.000-15.000 s)" in got["inside"][0] and "'BAD_blink' (15.500-16.000 s)" in got["into"][0]
    assert {got[m][1] for m in ("across", "inside", "into")} == {"gap"} and stats.skip_kinds == {"gap": 3}
    assert rec.samples == 5000


@pytest.mark.parametrize("kind", ["bdf", "fif"])
def test_trigger_channel_events_without_annotations_are_refused_in_one_line(tmp_path, kind):
    """A BioSemi BDF keeps its triggers in the "Status" channel, a Neuromag FIF in STI channels, and neither has
    annotations: replayed, such a file ran to its end with 0 markers and exit 0. A trigger code is a number, not
    the image id eegviz decodes by, so the file is refused, naming the channel, its events and how to add
    annotations."""
    import mne

    sf, n = 256, 256 * 16
    status = np.zeros(n)
    for code, t in ((1, 4), (2, 8), (3, 12)):
        status[t * sf : t * sf + 10] = code
    eeg = np.random.default_rng(3).standard_normal((8, n)) * 10e-6
    if kind == "bdf":
        path, stim = tmp_path / "rec.bdf", "Status"
        _write_bdf(path, CAP8 + [stim], np.vstack([eeg * 1e6, status]), sf)
    else:
        path, stim = tmp_path / "rec_raw.fif", "STI 014"
        info = mne.create_info(CAP8 + [stim], float(sf), ["eeg"] * 8 + ["stim"])
        mne.io.RawArray(np.vstack([eeg, status]), info, verbose="error").save(path, verbose="error")
    with pytest.raises(EegvizError) as e:
        MneFileSource(path, speed=0).open()
    msg = str(e.value)
    assert "\n" not in msg and f"trigger channel '{stim}' holds 3 events (codes 1, 2, 3)" in msg
    assert "no annotations" in msg and "image id" in msg and "raw.set_annotations" in msg


def test_trigger_channel_is_no_matter_when_annotations_name_the_images(tmp_path):
    import mne

    info = mne.create_info(CAP8 + ["STI 014"], 250.0, ["eeg"] * 8 + ["stim"])
    data = np.zeros((9, 2500))
    data[8, 1000:1005] = 5
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([4.0], [0], ["star_0001"]))
    raw.save(tmp_path / "both_raw.fif", verbose="error")
    src = MneFileSource(tmp_path / "both_raw.fif", speed=0)
    src.start()
    assert [m.payload for m in _drain(src)[1]] == ["star_0001"] and src.info.ch_names == tuple(CAP8)


def _write_bdf(path: Path, labels: list[str], data: np.ndarray, sfreq: int) -> None:
    """A BioSemi BDF file, written by hand as ActiView writes it: 24-bit samples in 1 s records, the EEG in uV
    (31.25 nV per step) and the last channel "Status" as the raw trigger code."""
    ns, n = len(labels), data.shape[1] // sfreq

    def field(value, width: int) -> bytes:
        return str(value).ljust(width).encode("ascii")

    head = (b"\xff" + b"BIOSEMI" + field("X X X X", 80) + field("Startdate 01-JAN-2024 X X X", 80)
            + field("01.01.24", 8) + field("00.00.00", 8) + field(256 * (ns + 1), 8) + field("24BIT", 44)
            + field(n, 8) + field(1, 8) + field(ns, 4))
    pmin, pmax = [-262144] * (ns - 1) + [-8388608], [262143] * (ns - 1) + [8388607]
    for width, values in ((16, labels), (80, [""] * ns), (8, ["uV"] * (ns - 1) + ["Boolean"]), (8, pmin),
                          (8, pmax), (8, [-8388608] * ns), (8, [8388607] * ns), (80, [""] * ns), (8, [sfreq] * ns),
                          (32, [""] * ns)):
        head += b"".join(field(v, width) for v in values)
    gain = np.array([(hi - lo) / (2**24 - 1) for lo, hi in zip(pmin, pmax)])
    digital = np.round(data[:, : n * sfreq] / gain[:, None]).astype("<i4")
    records = digital.reshape(ns, n, sfreq).transpose(1, 0, 2).reshape(-1)
    path.write_bytes(head + (records & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes())


def _write_eeglab(path: Path, data_uv: np.ndarray, names: list[str], sfreq: float,
                  events: list[tuple[str, float]]) -> None:
    """A minimal EEGLAB .set (MATLAB 5 file, data inside, in microvolts), written with scipy so the test needs no
    writer package; events: (type, latency), the latency 1-based in samples as EEGLAB keeps it."""
    import scipy.io

    empty = np.array([])
    loc_fields = ("X", "Y", "Z", "theta", "radius", "sph_theta", "sph_phi", "sph_radius")
    chanlocs = np.array([(n, *[empty] * len(loc_fields), "EEG") for n in names],
                        dtype=[("labels", "O"), *[(f, "O") for f in loc_fields], ("type", "O")])
    event = np.array([(t, float(lat), 0.0) for t, lat in events],
                     dtype=[("type", "O"), ("latency", "O"), ("duration", "O")])
    n = data_uv.shape[1]
    eeg = dict(setname="rec", nbchan=len(names), pnts=n, trials=1, srate=float(sfreq), xmin=0.0,
               xmax=(n - 1) / sfreq, data=data_uv.astype(np.float32), chanlocs=chanlocs, event=event,
               icawinv=empty, icasphere=empty, icaweights=empty, ref="common", chaninfo={"nodatchans": empty},
               epoch=empty)
    scipy.io.savemat(path, {"EEG": eeg}, appendmat=False, oned_as="row")


def test_eeglab_boundary_is_a_break_not_a_stimulus(tmp_path):
    """EEGLAB writes a "boundary" event where it cut data out (rejected segments) or joined datasets: the samples
    either side are not continuous. It was replayed as a stimulus (a reconstruction of the image "boundary"), and
    the epoch of a stimulus 52 ms after it took its baseline from before the cut (+100 uV there, -100 uV after)
    and was decoded. It is a break now, as BrainVision's "New Segment" is: not a marker, and the epoch reaching
    across it is skipped as a gap naming it; every sample is still replayed and recorded."""
    data = np.concatenate([np.full((8, 2500), 100.0), np.full((8, 2500), -100.0)], axis=1)
    # EEGLAB puts a boundary between two samples: latency 2500.5 lies between the 2500th and the 2501st
    _write_eeglab(tmp_path / "cut.set", data, CAP8, 250.0,
                  [("s1", 1251), ("boundary", 2500.5), ("s2", 2514), ("s3", 3751)])
    got, rec, stats = _session(tmp_path / "cut.set")
    assert "boundary" not in got and got["s1"] == got["s3"] == "decoded"
    reason, kind = got["s2"]
    assert kind == "gap" and "'boundary' at 10.000 s" in reason
    assert stats.skip_kinds == {"gap": 1} and stats.results == 2
    assert rec.samples == 5000 and rec.markers == ["s1", "s2", "s3"]
    from eegviz.messages import why_no_image  # streamed by mne-lsl's PlayerLSL, it is no stimulus either

    assert why_no_image("boundary") and why_no_image("boundary_12") is None


def test_all_eeg_channels_marked_bad_is_said_so(tmp_path):
    """Every EEG channel in info['bads'] was refused as "holds no (good) EEG channels; its channel types: eeg",
    which left the user to work out why; the line says they are all marked bad now, and how to unmark them."""
    import mne

    raw = mne.io.RawArray(np.zeros((8, 2500)), mne.create_info(CAP8, 250.0, "eeg"), verbose="error")
    raw.info["bads"] = list(CAP8)
    raw.set_annotations(mne.Annotations([4.0], [0], ["star_0001"]))
    raw.save(tmp_path / "allbad_raw.fif", verbose="error")
    with pytest.raises(EegvizError) as e:
        MneFileSource(tmp_path / "allbad_raw.fif", speed=0).open()
    assert "all 8 EEG channels of allbad_raw.fif are marked bad (info['bads']: Fp1, Fp2, C3, C4, O1, ...)" in str(
        e.value) and "raw.info['bads']" in str(e.value)


def test_a_cap_named_in_no_montage_is_placed_by_the_positions_the_file_carries(tmp_path, caplog):
    """A FIF (or EEGLAB, BrainVision) file of a cap whose names no built-in montage knows (an EGI net's E1..E128)
    carries its electrodes' positions, but the session looked only at the names and refused the file "no position
    in any montage tried". With no --montage given, a refusal is retried on the file's own positions: here a
    32-electrode 10-20 cap renamed E1..E32 is mapped as its 10-20 names are, and its stimulus decoded."""
    import mne

    from eegviz.stream.montage import build_channel_map
    from eegviz.stream.preprocess import InputSpec

    names = [f"E{i + 1}" for i in range(len(CAP32))]
    where = mne.channels.make_standard_montage("easycap-M1").get_positions()["ch_pos"]
    raw = mne.io.RawArray(np.random.default_rng(6).standard_normal((32, 2500)) * 10e-6,
                          mne.create_info(names, 250.0, "eeg"), verbose="error")
    raw.set_montage(mne.channels.make_dig_montage({e: where[c] for e, c in zip(names, CAP32)}, coord_frame="head"))
    raw.set_annotations(mne.Annotations([4.0], [0], ["s1"]))
    raw.save(tmp_path / "net_raw.fif", verbose="error")

    got, _, _ = _session(tmp_path / "net_raw.fif", montage="easycap-M1")
    assert got == {"s1": "decoded"} and "placed by the electrode positions the file carries" in caplog.text

    src = MneFileSource(tmp_path / "net_raw.fif", speed=0)
    src.open()
    model = InputSpec(ch_names=tuple(CAP8), sfreq=250.0, montage="easycap-M1")
    by_position = build_channel_map(CAP8, model.montage, names, str(src.positions_file), warn=False)
    by_name = build_channel_map(CAP8, model.montage, CAP32, "easycap-M1", warn=False)
    np.testing.assert_allclose(by_position.apply(raw.get_data()), by_name.apply(raw.get_data()), atol=1e-8)
    folder = src.positions_file.parent
    src.stop()
    assert not folder.exists()  # the positions written for the session go with it


@pytest.mark.parametrize("unit", ["μV", "uv", "microvolts"])
def test_brainvision_units_mne_does_not_know_are_eeg_in_volts(tmp_path, unit):
    """MNE's BrainVision reader knows "µV" (the micro sign) and "uV", not "μV" (the Greek mu, which Unicode
    normalisation makes of the micro sign), "uv" or "microvolts": it typed such channels misc, at scale 1, and the
    file was refused as "holds no EEG channels; its channel types: misc". They are EEG in volts now."""
    data = np.random.default_rng(1).standard_normal((8, 2500)) * 5e-6
    _write_brainvision(tmp_path / "rec", data, CAP8, 250.0, {1000: "Comment/star_0001"})
    header = tmp_path / "rec.vhdr"
    header.write_text(header.read_text(encoding="utf-8").replace(",,1,µV", f",,1,{unit}"), encoding="utf-8")
    src = MneFileSource(header, speed=0)
    src.start()
    chunks, markers = _drain(src)
    assert src.info.ch_names == tuple(CAP8) and [m.payload for m in markers] == ["star_0001"]
    np.testing.assert_allclose(np.concatenate([c.samples for c in chunks]).T, data, rtol=1e-5, atol=1e-12)


def test_each_epoch_holds_the_waveform_placed_at_its_annotation_onset(tmp_path, monkeypatch):
    """End to end, the epoch the decoder gets starts at its annotation's onset + tmin: a FIF at 500 Hz (resampled
    to the model's 250 Hz) whose recording starts at first_samp 1234 (2.468 s), with a 40 uV Gaussian bump 100 ms
    after each annotation's onset (some annotations with a duration, one between two model samples), gives every
    epoch that bump where the model's grid puts it. A one-sample (2 ms) slip leaves about 5 uV off somewhere."""
    import datetime

    import mne

    sf, amp, sigma, delay = 500.0, 40e-6, 0.01, 0.1
    onsets = [3.002, 6.5, 9.25]  # in the recording's clock (meas_date frame)
    raw = mne.io.RawArray(np.zeros((8, int(12 * sf))), mne.create_info(CAP8, sf, "eeg"), first_samp=1234,
                          verbose="error")
    raw.set_meas_date(datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc))
    t = raw.first_time + raw.times
    for onset in onsets:
        raw._data += amp * np.exp(-0.5 * ((t - onset - delay) / sigma) ** 2)
    raw.set_annotations(mne.Annotations([o - raw.first_time for o in onsets], [0.5, 0.0, 1.0], ["e1", "e2", "e3"]))
    raw.save(tmp_path / "bumps_raw.fif", verbose="error")

    from eegviz.decoders.two_branch import TwoBranchDecoder

    seen, original = [], TwoBranchDecoder.decode_batch

    def keep(self, epochs, latent=True):
        seen.extend(epochs)
        return original(self, epochs, latent=latent)

    monkeypatch.setattr(TwoBranchDecoder, "decode_batch", keep)
    got, _, _ = _session(tmp_path / "bumps_raw.fif")
    assert got == {"e1": "decoded", "e2": "decoded", "e3": "decoded"}
    assert [ep.marker.timestamp for ep in seen] == pytest.approx(onsets)
    grid = -0.1 + np.arange(125) / 250.0  # the model's epoch: -0.1 .. 0.4 s at 250 Hz
    expected = amp * np.exp(-0.5 * ((grid - delay) / sigma) ** 2)
    for ep in seen:
        volts = ep.data / 1e5  # InputSpec's scale
        assert np.argmax(volts[0]) == 50
        np.testing.assert_allclose(volts, np.broadcast_to(expected, volts.shape), atol=0.5e-6)


def test_a_long_recording_is_read_into_float32_without_float64_copies(tmp_path, monkeypatch):
    """MNE's preload held a recording as float64, get_data() copied it and the float32 array replayed was a third
    copy: five times the float32 size at once (a 2 h BioSemi file of 128 channels at 2048 Hz, 7.5 GB as float32,
    needed some 38 GB). It is read block by block into the float32 array now: the peak is that array, the
    stamps and one block. (Blocks of 1 s here, so a 60 s file shows it.)"""
    import tracemalloc

    import mne

    import eegviz.sources.mne_file as mne_file

    monkeypatch.setattr(mne_file, "READ_BLOCK_VALUES", 32 * 250, raising=False)
    monkeypatch.setattr(mne_file, "JUDGE_VALUES", 32 * 250, raising=False)  # what the units are judged by
    raw = mne.io.RawArray(np.random.default_rng(7).standard_normal((32, 60 * 250)) * 1e-5,
                          mne.create_info(CAP32, 250.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([5.0], [0], ["s1"]))
    raw.save(tmp_path / "long_raw.fif", fmt="single", verbose="error")
    MneFileSource(tmp_path / "long_raw.fif", speed=0).open()  # MNE's modules imported before measuring
    tracemalloc.start()
    try:
        src = MneFileSource(tmp_path / "long_raw.fif", speed=0)
        src.open()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    data = src._recording[0]
    assert data.dtype == np.float32 and data.shape == (60 * 250, 32)
    np.testing.assert_allclose(data.T, raw.get_data(), rtol=1e-6)
    assert peak < 1.6 * data.nbytes, f"{peak / data.nbytes:.1f} times the float32 samples"


def test_a_file_cut_short_is_one_line(tmp_path):
    """The samples are read after the header now (block by block): a FIF cut off mid-way still fails in one line."""
    import mne

    raw = mne.io.RawArray(np.zeros((8, 5000)), mne.create_info(CAP8, 250.0, "eeg"), verbose="error")
    raw.save(tmp_path / "whole_raw.fif", verbose="error")
    whole = (tmp_path / "whole_raw.fif").read_bytes()
    (tmp_path / "cut_raw.fif").write_bytes(whole[: len(whole) // 2 + 3])
    with pytest.raises(EegvizError) as e:
        MneFileSource(tmp_path / "cut_raw.fif", speed=0).open()
    assert "cut_raw.fif" in str(e.value) and "\n" not in str(e.value)


def test_a_channel_with_no_finite_sample_is_left_out_as_a_bad_one(tmp_path, caplog):
    """A channel stored as NaN throughout (an electrode blanked out rather than marked bad) put NaN into every epoch
    the montage made from it: each marker was skipped for "NaN/inf in N of N samples", the channel never named. It
    is left out as a bad channel is, with a line naming it, and the stimuli are decoded; a file with no finite
    channel at all is refused in one line."""
    import mne

    data = np.random.default_rng(8).standard_normal((32, 2500)) * 10e-6
    data[CAP32.index("C3")] = np.nan
    raw = mne.io.RawArray(data, mne.create_info(CAP32, 250.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([3.0, 6.0], [0, 0], ["s1", "s2"]))
    raw.save(tmp_path / "blank_raw.fif", verbose="error")
    got, _, _ = _session(tmp_path / "blank_raw.fif", montage="standard_1020")  # the model's C3 interpolated
    assert got == {"s1": "decoded", "s2": "decoded"}
    assert "no finite sample (all NaN/inf) are left out, as bad ones are: C3" in caplog.text

    raw._data[:] = np.nan
    raw.save(tmp_path / "void_raw.fif", verbose="error")
    with pytest.raises(EegvizError, match=r"none of the 32 EEG channels of void_raw.fif holds a finite sample"):
        MneFileSource(tmp_path / "void_raw.fif", speed=0).open()


def test_epochs_and_averages_are_refused_as_not_continuous(tmp_path):
    """A lab's -epo.fif (or -ave.fif, or an epoched EEGLAB set) was refused as "cannot read x-epo.fif with MNE (No raw
    data in ...); readable: FIF, ...", naming as readable the format it had just refused. It says what the file
    holds now, and what eegviz replays instead."""
    import mne
    import scipy.io

    raw = mne.io.RawArray(np.zeros((8, 2500)), mne.create_info(CAP8, 250.0, "eeg"), verbose="error")
    epochs = mne.Epochs(raw, np.array([[500, 0, 1], [1500, 0, 1]]), tmin=-0.1, tmax=0.4, baseline=None,
                        verbose="error")
    epochs.save(tmp_path / "rec-epo.fif", verbose="error")
    epochs.average().save(tmp_path / "rec-ave.fif", verbose="error")
    _write_eeglab(tmp_path / "rec.set", np.zeros((8, 2500)), CAP8, 250.0, [("s1", 501.0)])
    eeg = scipy.io.loadmat(tmp_path / "rec.set", squeeze_me=False)["EEG"][0, 0]
    fields = {name: eeg[name] for name in eeg.dtype.names}
    fields.update(trials=5, pnts=500, data=np.zeros((8, 500, 5), np.float32))
    scipy.io.savemat(tmp_path / "rec.set", {"EEG": fields}, appendmat=False, oned_as="row")
    for name in ("rec-epo.fif", "rec-ave.fif", "rec.set"):
        with pytest.raises(EegvizError) as e:
            MneFileSource(tmp_path / name, speed=0).open()
        assert str(e.value).startswith(f"{name} holds epochs (or an average), not a continuous recording")


def test_a_part_of_a_recording_names_its_header(tmp_path):
    """Given a BrainVision recording's .eeg, MNE took it for a Nihon Kohden file ("UnicodeDecodeError: 'ascii'
    codec can't decode byte ..."); its .vmrk, or an EEGLAB dataset's .fdt, was "not a file MNE reads". Each names
    the header beside it to replay instead."""
    data = np.random.default_rng(1).standard_normal((8, 1000)) * 5e-6
    _write_brainvision(tmp_path / "rec", data, CAP8, 250.0, {500: "S  1"})
    (tmp_path / "cut.set").write_bytes(b"")
    (tmp_path / "cut.fdt").write_bytes(np.zeros(80, "<f4").tobytes())
    for part, header in (("rec.eeg", "rec.vhdr"), ("rec.vmrk", "rec.vhdr"), ("cut.fdt", "cut.set")):
        with pytest.raises(EegvizError) as e:
            MneFileSource(tmp_path / part, speed=0).open()
        assert str(e.value).startswith(f"{part} holds the ") and f"replay its header, {header}," in str(e.value)


@pytest.mark.parametrize("scale", [1e-6, 1.0])
def test_microvolts_saved_as_volts_are_said_so(tmp_path, caplog, scale):
    """mne.io.RawArray takes volts; a lab that built one from microvolts saved EEG a million times too large, and
    it reached the model so without a word. It is replayed as the file says, with one line saying it looks like
    microvolts saved as volts; EEG in volts gets no such line."""
    import mne

    data = np.random.default_rng(9).standard_normal((8, 2500)) * 20 * scale
    raw = mne.io.RawArray(data, mne.create_info(CAP8, 250.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([4.0], [0], ["s1"]))
    raw.save(tmp_path / "rec_raw.fif", verbose="error")
    MneFileSource(tmp_path / "rec_raw.fif", speed=0).open()
    said = [r.getMessage() for r in caplog.records if "microvolts saved as volts" in r.getMessage()]
    assert len(said) == (scale == 1.0)
    assert all(line.startswith("rec_raw.fif: its EEG, in volts as the file says, varies by 13.") for line in said)


def test_biosemi_status_bits_are_not_trigger_codes(tmp_path):
    """A BioSemi Status channel's triggers are its low 16 bits; the high ones are the amplifier's (new epoch, CMS in
    range). Triggers 1, 2, 3 beside them were refused as "codes 65537, 65538, 65539", and a recording with no
    triggers at all, only the CMS bit flickering, was refused as holding events."""
    sf, n = 256, 256 * 16
    eeg = np.random.default_rng(3).standard_normal((8, n)) * 10
    status = np.full(n, float((1 << 20) | (1 << 16)))
    for code, t in ((1, 4), (2, 8), (3, 12)):
        status[t * sf : t * sf + 10] += code
    _write_bdf(tmp_path / "rec.bdf", CAP8 + ["Status"], np.vstack([eeg, status]), sf)
    with pytest.raises(EegvizError, match=r"trigger channel 'Status' holds 3 events \(codes 1, 2, 3\)"):
        MneFileSource(tmp_path / "rec.bdf", speed=0).open()
    cms = np.full(n, float(1 << 16))
    cms[5 * sf : 6 * sf] = 0  # CMS out of range for a second: no trigger
    _write_bdf(tmp_path / "quiet.bdf", CAP8 + ["Status"], np.vstack([eeg, cms]), sf)
    src = MneFileSource(tmp_path / "quiet.bdf", speed=0)
    src.open()
    assert src.info.ch_names == tuple(CAP8)


def test_a_file_of_misc_channels_says_how_to_mark_the_eeg(tmp_path):
    """mne.create_info types every channel misc unless told otherwise: a RawArray built without ch_types was refused
    as "holds no EEG channels; its channel types: misc", with no word on how to mark them."""
    import mne

    raw = mne.io.RawArray(np.zeros((8, 2500)), mne.create_info(CAP8, 250.0), verbose="error")
    raw.set_annotations(mne.Annotations([4.0], [0], ["s1"]))
    raw.save(tmp_path / "misc_raw.fif", verbose="error")
    with pytest.raises(EegvizError) as e:
        MneFileSource(tmp_path / "misc_raw.fif", speed=0).open()
    assert str(e.value) == ("misc_raw.fif holds no EEG channels; its channel types: misc; if some are EEG, mark them "
                            "(raw.set_channel_types({name: 'eeg', ...})) and save it again")


def test_brainvision_sync_status_is_no_stimulus_and_dc_correction_a_break(tmp_path):
    """BrainVision Recorder writes "SyncStatus,Sync On" markers (by the thousand in an EEG-fMRI recording) and
    "DC Correction" where a DC amplifier's offset was reset, the samples jumping there. Each SyncStatus was decoded
    as a stimulus, and the epoch across a DC correction (+100 uV before, -100 uV after) was decoded as if the
    samples were continuous. SyncStatus is no marker now, and a DC correction is a break, as "New Segment" is."""
    data = np.concatenate([np.full((8, 2500), 100e-6), np.full((8, 2500), -100e-6)], axis=1)
    _write_brainvision(tmp_path / "dc", data, CAP8, 250.0,
                       {1250: "S  1", 1500: "SyncStatus/Sync On", 2500: "DC Correction/", 2513: "S  2",
                        3750: "S  3"})
    got, rec, stats = _session(tmp_path / "dc.vhdr")
    assert set(got) == {"Stimulus/S  1", "Stimulus/S  2", "Stimulus/S  3"}
    assert got["Stimulus/S  1"] == got["Stimulus/S  3"] == "decoded"
    reason, kind = got["Stimulus/S  2"]
    assert kind == "gap" and "'DC Correction/' at 10.000 s" in reason
    assert rec.samples == 5000


def test_a_bids_recording_without_annotations_names_its_events_file(tmp_path, caplog):
    """A BIDS dataset often keeps its stimuli in sub-XX_..._events.tsv only: its EDF replayed with "no annotations
    to use as markers" and no word of the events file beside it, which eegviz does not read."""
    data = np.random.default_rng(4).standard_normal((8, 4 * 256)) * 20
    _write_plain_edf(tmp_path / "sub-01_task-view_eeg.edf", CAP8, data, 256)
    (tmp_path / "sub-01_task-view_events.tsv").write_text("onset\tduration\ttrial_type\n1.0\t0.5\tstar_0001\n")
    MneFileSource(tmp_path / "sub-01_task-view_eeg.edf", speed=0).open()
    line = next(r.getMessage() for r in caplog.records if "no annotations to use as markers" in r.getMessage())
    assert "the BIDS events file beside it, sub-01_task-view_events.tsv, is not read" in line and "\n" not in line


def test_bads_naming_a_channel_the_file_itself_marks_bad_is_not_refused(tmp_path):
    """`--bads C3` for a file whose info['bads'] holds C3 (a lab's own notes agreeing with the file) was refused as
    "--bads names C3, which is not a channel of the source": the replay had left it out already. It is taken as
    out; the other names are marked bad as usual."""
    from types import SimpleNamespace

    import mne

    from eegviz.pipeline import Pipeline
    from eegviz.stream.preprocess import InputSpec

    names = [*CAP8, "Cz", "Pz"]
    raw = mne.io.RawArray(np.random.default_rng(1).standard_normal((10, 500)) * 1e-5,
                          mne.create_info(names, 250.0, "eeg"), verbose="error")
    raw.info["bads"] = ["C3"]
    raw.set_annotations(mne.Annotations([1.0], [0], ["star_0001"]))
    raw.save(tmp_path / "noted_raw.fif", verbose="error")
    source = MneFileSource(tmp_path / "noted_raw.fif", speed=0)
    source.open()
    pipe = Pipeline.__new__(Pipeline)  # only what _preprocessor reads
    spec = InputSpec(ch_names=tuple(CAP8), sfreq=250.0, tmin=-0.1, tmax=0.4, montage="standard_1020")
    pipe.decoder, pipe.montage, pipe.source, pipe.bads = SimpleNamespace(spec=spec), None, source, ("c3", "O1")
    cmap = pipe._preprocessor(source.info).channel_map
    assert cmap.bads == ("O1",) and cmap.replaced == ("O1",) and cmap.n_interpolated == 2  # C3 and O1


def test_each_stimulus_on_a_status_channel_is_one_event(tmp_path):
    """find_events' default onsets are the changes up: a code written over a higher one without a return to zero
    (5, then 2) lost the second stimulus, and a code whose port lines rose a sample apart (0, 1, 3) was two
    stimuli, 1 and 3. Each stimulus is one event now: a code held for many samples, a code over a code, a value
    the lines only pass through (up or down) left out, and a genuine one-sample pulse kept; the amplifier's high
    Status bits stay out of the codes."""
    sf = 2048
    status = np.full(3 * sf, float((1 << 20) | (1 << 16)))  # CMS in range, new epoch: no triggers

    def put(at_s, *levels):  # (code, samples) one after another from at_s
        i = int(at_s * sf)
        for code, n in levels:
            status[i:i + n] += code
            i += n

    put(1.0, (1, 1), (3, 40))  # 3 rising through 1
    put(1.5, (5, 40), (2, 40))  # 2 written over 5
    put(2.0, (6, 40), (4, 1))  # 6 falling through 4
    put(2.5, (7, 1))  # a one-sample pulse
    eeg = np.random.default_rng(4).standard_normal((8, 3 * sf)) * 10
    _write_bdf(tmp_path / "rec.bdf", CAP8 + ["Status"], np.vstack([eeg, status]), sf)
    (tmp_path / "codes.csv").write_text("code,image_id\n2,two_1\n3,three_1\n5,five_1\n6,six_1\n7,seven_1\n")
    src = MneFileSource(tmp_path / "rec.bdf", speed=0, event_ids=tmp_path / "codes.csv")
    markers = [(round(m.timestamp * sf), m.payload) for m in src.load()[2]]
    assert markers == [(int(1.0 * sf), "three_1"), (int(1.5 * sf), "five_1"), (int(1.5 * sf) + 40, "two_1"),
                       (int(2.0 * sf), "six_1"), (int(2.5 * sf), "seven_1")]
