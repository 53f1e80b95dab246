"""The soak benchmark, shortened: a publisher process on loopback LSL, eegviz's LslSource + Epocher + recorder.

Exactness (every sample recorded once, in order; every marker recorded) is asserted; the speed targets are only
checked for presence, since this machine is small and loaded (the figures belong to `eegviz bench --soak`).
"""

import json
import math

import pytest

from eegviz.bench.soak import run_soak


MARKER_HZ, TMAX = 5.0, 0.6


@pytest.fixture(scope="module")
def short_soak(tmp_path_factory):
    """One short soak, run by a bench holding 400 MB (as `eegviz bench` holds torch's 600 MB), for the two tests
    below: the report's checks and the publisher's own peak memory each ran a soak of their own (~4 s apiece of
    publisher start-up and stream resolving). Held before the soak starts, the 400 MB are no growth during it."""
    out = tmp_path_factory.mktemp("soak")
    held = bytearray(400 * 2**20)
    held[:: 4096] = b"\1" * len(held[:: 4096])  # touched, so resident
    try:
        return run_soak(duration_s=4, n_channels=16, sfreq=500, marker_hz=MARKER_HZ, tmax=TMAX, out_dir=out), out
    finally:
        del held


def test_short_soak_is_lossless_and_reports_targets(short_soak):
    marker_hz, tmax = MARKER_HZ, TMAX
    r, tmp_path = short_soak
    json.dumps(r)  # JSON-serialisable as is
    assert (tmp_path / "session.xdf").is_file() and r["config"]["xdf"] == str(tmp_path / "session.xdf")

    assert r["samples_sent"] == 4 * 500
    assert r["samples_received"] == r["samples_sent"]
    assert r["samples_recorded"] == r["samples_sent"] and r["samples_lost"] == 0
    assert r["xdf_footer_sample_count"] == r["samples_sent"]
    c = r["recorded_counter"]
    assert c["contiguous"] and c["first"] == 0 and c["last"] == r["samples_sent"] - 1
    assert c["gaps"] == c["missing"] == c["duplicates_or_reorders"] == 0
    assert r["live_counter_errors"] == 0 and r["gaps_flagged"] == 0 and r["drained"]

    assert r["markers_sent"] >= 15
    assert r["markers_received"] == r["markers_recorded"] == r["markers_sent"]
    assert r["markers_recorded_match_sent"]

    # Only markers whose window runs past the end of the stream may be lost, and the report says so.
    assert r["epochs_lost"] == r["epochs_lost_tail"] <= math.ceil(marker_hz * tmax) + 1
    assert r["epochs_lost_mid_stream"] == 0
    assert r["epochs_ready"] + r["epochs_lost"] == r["markers_sent"]
    if r["epochs_lost"]:
        assert set(r["epochs_lost_reasons"]) == {"window incomplete at end of stream"}
        assert "stream ends inside their window" in r["epochs_lost_note"]

    lat = r["latency_ms"]["marker_to_epoch_ready"]
    over = r["latency_ms"]["epoch_ready_over_tmax"]
    assert lat["n"] == over["n"] == r["epochs_ready"]
    assert lat["p50"] >= tmax * 1e3 - 5  # an epoch cannot be ready before its window has been sampled
    assert over["p50"] == pytest.approx(lat["p50"] - tmax * 1e3)
    assert 0 < r["cpu"]["ingest_cpu_s"] <= r["cpu"]["consumer_process_cpu_s"] + 0.05
    assert r["cpu"]["publisher_cpu_s"] > 0 and r["memory"]["consumer_peak_rss_mb_during_soak"] > 10
    # what the soak added to the process, apart from what it held before (in `eegviz bench`, torch's 600 MB)
    mem = r["memory"]
    assert 0 <= mem["consumer_rss_growth_mb_during_soak"] < 100
    assert mem["consumer_rss_mb_at_start"] + mem["consumer_rss_growth_mb_during_soak"] == pytest.approx(
        mem["consumer_peak_rss_mb_during_soak"], abs=0.2)
    assert r["publisher_exit_code"] == 0
    assert set(r["targets"]) >= {"samples_lost_zero", "ingest_cpu_under_10pct_one_core",
                                 "epoch_ready_over_tmax_p99_le_20ms"}
    assert all(isinstance(v, bool) for v in r["targets"].values())
    assert r["targets"]["samples_lost_zero"] and r["targets"]["no_epochs_lost_mid_stream"]


def test_bad_arguments_fail_before_starting_anything():
    with pytest.raises(ValueError, match="float32 counter"):
        run_soak(duration_s=20000, sfreq=1000.0)
    with pytest.raises(ValueError, match="marker_hz > 0"):
        run_soak(duration_s=1, marker_hz=0)


def test_publisher_process_is_ended_when_the_bench_fails(monkeypatch, tmp_path):
    import eegviz.bench.soak as soak
    from eegviz.errors import EegvizError
    from eegviz.sources.lsl import LslSource

    started = []
    real = soak.Publisher

    class Spy(real):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)

    def broken_start(self):
        raise EegvizError("no LSL stream (simulated failure)")

    monkeypatch.setattr(soak, "Publisher", Spy)
    monkeypatch.setattr(LslSource, "start", broken_start)
    with pytest.raises(EegvizError, match="simulated failure"):
        run_soak(duration_s=2, n_channels=4, sfreq=100, marker_hz=2, out_dir=tmp_path)
    assert len(started) == 1 and started[0].proc.poll() == 0  # it saw EOF and left on its own


def test_the_publisher_reports_its_own_peak_memory_not_the_bench_s(short_soak):
    """ru_maxrss survives exec on Linux: the publisher a bench started after loading torch reported the bench's
    600 MB as its own. A bench holding 400 MB here (short_soak); the publisher (numpy and liblsl) is far below that."""
    r, _ = short_soak
    assert 10 < r["memory"]["publisher_peak_rss_mb"] < 300


def test_a_publisher_stopped_mid_stream_leaves_at_once(tmp_path):
    """EOF on its stdin (the bench stopped early, or was killed) ends the publisher's streaming: it slept between
    chunks without listening, and streamed on for the rest of its duration (the bench's stop() waited 10 s and
    then terminated it; a killed bench left it an orphan)."""
    import time

    from eegviz.bench.publisher import READY_TIMEOUT_S, Publisher

    import pylsl

    name = f"eegviz-test-stop-{time.monotonic_ns()}"
    pub = Publisher(name, 2, 100.0, 1.0, 60.0, 0.5, tmp_path)
    try:
        pub.expect("ready", READY_TIMEOUT_S)
        inlets = [pylsl.StreamInlet(pylsl.resolve_byprop("name", n, 1, 10.0)[0]) for n in (name, f"{name}-markers")]
        for inlet in inlets:
            inlet.open_stream(5.0)
        pub.go()
        # its first sample, within the 2 s the sleep (1 s) and the pull (a pull_chunk waits out its whole timeout
        # unless max_samples have come) gave: the publisher is streaming, 60 s of it ahead
        assert inlets[0].pull_chunk(timeout=2.0, max_samples=1)[1], "streaming"
    finally:
        t0 = time.monotonic()
        code = pub.stop()
    assert code == 0 and time.monotonic() - t0 < 5


def test_a_soak_stopped_early_hands_back_what_it_counted(monkeypatch, tmp_path):
    """Ctrl-C (or SIGTERM, as one) while the soak streams: the publisher is ended and the live counts come back
    with the KeyboardInterrupt, marked as a part run with no targets judged; they were lost with the run."""
    import time

    import eegviz.bench.soak as soak

    def stopped_by_the_user(pub, consumer, *a):
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            consumer.read_once()
        raise KeyboardInterrupt

    monkeypatch.setattr(soak, "_drain", stopped_by_the_user)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_soak(duration_s=30, n_channels=4, sfreq=250, marker_hz=5, out_dir=tmp_path)
    report = getattr(stopped.value, "report", None)
    assert report is not None, "the counts were lost"
    json.dumps(report)
    assert 1.4 < report["stopped_early_after_s"] < 10 and report["samples_received"] > 0
    assert report["live_counter_errors"] == 0 and report["targets"] == {}
    assert "stopped early" in report["note"] and (tmp_path / "session.xdf").is_file()


def test_a_publisher_that_dies_at_start_is_one_line_not_a_traceback(monkeypatch, tmp_path):
    """The publisher process failing (here: it exits at once, saying why on stderr) was a RuntimeError, which the
    command line shows as a traceback; it is an EegvizError, its stderr's last line in it."""
    import subprocess
    import sys

    import eegviz.bench.publisher as publisher
    from eegviz.errors import EegvizError

    real = subprocess.Popen

    def dying(cmd, **kw):
        return real([sys.executable, "-c", "import sys; sys.stderr.write('no outlet for you\\n'); sys.exit(3)"], **kw)

    monkeypatch.setattr(publisher.subprocess, "Popen", dying)
    with pytest.raises(EegvizError, match="exited with code 3: no outlet for you"):
        run_soak(duration_s=2, n_channels=4, sfreq=100, marker_hz=2, out_dir=tmp_path)


def test_a_soak_into_a_folder_with_an_earlier_recording_is_one_line(tmp_path, capsys):
    """`python -m eegviz.bench.soak --out DIR` a second time: the recorder refused DIR/session.xdf in a
    FileExistsError traceback, after the publisher had started; now one line, before anything starts."""
    from eegviz.bench.soak import main

    (tmp_path / "session.xdf").write_bytes(b"an earlier soak")
    assert main(["--duration", "1", "--reconnect-trials", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "session.xdf already exists" in err and "Traceback" not in err
    assert (tmp_path / "session.xdf").read_bytes() == b"an earlier soak"
    assert not (tmp_path / "publisher.stderr").exists()  # nothing started


@pytest.mark.parametrize("argv, said", [
    (["--duration", "0"], "--duration must be a finite number > 0 s"),
    (["--channels", "0"], "--channels must be >= 1"),
    (["--sfreq", "nan"], "--sfreq must be a finite number > 0 Hz"),
    (["--marker-hz", "-1"], "--marker-hz must be a finite number > 0 Hz"),
    (["--reconnect-trials", "-1"], "--reconnect-trials must be >= 0"),
    (["--duration", "20000"], "must stay below 16777216 samples"),
])
def test_soak_command_line_refuses_bad_options_in_one_line(argv, said, capsys):
    """`python -m eegviz.bench.soak` (the README's way to run the soak alone): --duration 0 or --channels 0 ended
    in run_soak's ValueError traceback, --sfreq nan passed it and failed 10 s later as "no LSL stream named ...",
    and --reconnect-trials -1 failed in max() after the whole soak, its figures lost. One line, nothing started."""
    from eegviz.bench.soak import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_soak_into_a_file_is_one_line(tmp_path, capsys):
    """--out naming a file: mkdir's FileExistsError traceback, after the publisher had started."""
    from eegviz.bench.soak import main

    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert main(["--duration", "1", "--reconnect-trials", "0", "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert f.read_text() == "mine" and not (tmp_path / "publisher.stderr").exists()


def test_run_soak_refuses_nan():
    with pytest.raises(ValueError, match="all finite"):
        run_soak(duration_s=1, sfreq=float("nan"))


def test_the_publisher_reads_a_relative_lslapicfg_as_the_bench_does(monkeypatch, tmp_path):
    """`LSLAPICFG=lsl_api.cfg eegviz bench --soak`, run beside the file: the publisher process runs in the
    package's folder, where that relative name is another file or none, and it died saying LSLAPICFG 'is not a
    file'. It gets the bench's file, made absolute."""
    import os
    import shutil
    import uuid

    from eegviz.bench.publisher import READY_TIMEOUT_S, Publisher

    here = tmp_path / "lab"
    here.mkdir()
    shutil.copy(os.environ["LSLAPICFG"], here / "my-lsl.cfg")
    monkeypatch.chdir(here)
    monkeypatch.setenv("LSLAPICFG", "my-lsl.cfg")
    pub = Publisher(f"hJ-relcfg-{uuid.uuid4().hex[:8]}", 2, 100.0, 1.0, 1.0, 0.5, tmp_path)
    try:
        assert pub.expect("ready", READY_TIMEOUT_S)["pid"] == pub.proc.pid
    finally:
        assert pub.stop() == 0


@pytest.mark.parametrize("stop, code, said", [
    (KeyboardInterrupt(), 130, "stopped (Ctrl-C)"),
    (None, 2, "failed: no outlet back (hJ)"),
], ids=["ctrl-c", "lsl-error"])
def test_the_soak_report_survives_its_reconnect_trials_stopping(stop, code, said, monkeypatch, capsys):
    """`python -m eegviz.bench.soak`: Ctrl-C, or an LSL error, in the reconnect trials after a finished soak
    was a traceback, and the soak's minutes of figures were never printed. They are, marked."""
    import eegviz.bench.reconnect as reconnect
    import eegviz.bench.soak as soak
    from eegviz.errors import EegvizError

    def trials(**k):
        raise stop if stop is not None else EegvizError("no outlet back (hJ)")

    monkeypatch.setattr(soak, "run_soak", lambda *a, **k: {"samples_sent": 7, "targets": {}})
    monkeypatch.setattr(reconnect, "measure_reconnect", trials)
    try:
        assert soak.main(["--duration", "1"]) == code
    except KeyboardInterrupt:  # not let on to pytest, which would stop the whole run
        pytest.fail("the Ctrl-C went out as a traceback, the soak's report unprinted")
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["samples_sent"] == 7 and said in report["stopped_early"]
    assert said in err and "Traceback" not in err
