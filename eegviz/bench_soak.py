"""Soak benchmark: a live LSL session (default 128 ch x 1 kHz plus 10 Hz markers) for minutes, checked exactly.

A separate publisher process plays an amplifier: a float32 EEG outlet pushed in ~10 ms chunks on a regular
sample clock, channel 0 carrying a running sample counter, and a string marker outlet at marker_hz. This
process consumes with eegviz's own acquisition path (LslSource -> SessionRecorder + Epocher, in the order
Pipeline's acquisition thread uses) and then reads the written XDF back with pyxdf. The report says:

* samples sent (counted by the publisher) vs received vs recorded, and whether the recorded counter channel is
  exactly 0, 1, 2, ... (no gap, no duplicate);
* markers sent / received / recorded, epochs ready, epochs lost and why (a marker in the last tmax seconds
  cannot complete because the stream ends inside its window: that tail loss is expected and reported apart);
* marker -> epoch-ready latency: wall clock (LSL local_clock) when the epoch was cut minus the marker's
  timestamp, raw and minus tmax (the part that is eegviz's and LSL's, not the window's own length);
* CPU seconds of the publisher and of the consumer's ingest (LslSource.read in the acquisition thread plus the
  liblsl threads the inlets start), as percent of one core, and peak RSS.

`python -m eegviz.bench_soak --duration 20` prints the JSON; `eegviz bench --soak S` embeds it.
The counter rides in a float32 channel, exact up to 2**24 samples (4.6 h at 1 kHz).
"""

from __future__ import annotations

import json
import math
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from eegviz.latency import percentiles

PKG_ROOT = Path(__file__).resolve().parent.parent  # the folder holding the eegviz package (child's PYTHONPATH)
PREFIX = "SOAK "  # publisher -> bench protocol lines on stdout: PREFIX + JSON
CHUNK_S = 0.01
COUNTER_LIMIT = 2**24  # float32 holds every integer below this exactly
READY_TIMEOUT_S = 60.0  # a cold Python start with numpy + liblsl on a loaded 2-core machine
DRAIN_TIMEOUT_S = 10.0  # after the publisher says it is done, wait this long for the last samples
SETTLE_S = 2.0  # latency is also reported for markers after this many seconds (start-up effects excluded)


def _confine_lsl() -> None:
    """Keep liblsl on this machine unless the caller chose a config (set before pylsl is imported)."""
    from eegviz.paths import project_root

    cfg = project_root() / "lsl_api.cfg"
    if cfg.exists():
        os.environ.setdefault("LSLAPICFG", str(cfg))


def _mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


# -- publisher (runs in its own process) ---------------------------------------------------------------------------
def _emit(kind: str, **fields) -> None:
    sys.stdout.write(PREFIX + json.dumps({"kind": kind, **fields}) + "\n")
    sys.stdout.flush()


def _wait_stdin(timeout: float) -> bytes | None:
    """Bytes from stdin within timeout (b"" at EOF: the bench is gone), None on timeout."""
    import select

    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    return os.read(fd, 4096) if ready else None


def publish(name: str, n_channels: int, sfreq: float, marker_hz: float, duration_s: float,
            first_marker_s: float, linger_s: float = 60.0) -> None:
    """The publisher process: outlets, wait for GO on stdin, stream duration_s, report, wait for EOF, exit."""
    _confine_lsl()
    import pylsl

    info = pylsl.StreamInfo(name, "EEG", n_channels, sfreq, pylsl.cf_float32, f"{name}-sid")
    chans = info.desc().append_child("channels")
    for i in range(n_channels):
        ch = chans.append_child("channel")
        # channel 0 is the sample counter, in "volts" so LslSource scales it by exactly 1
        ch.append_child_value("label", "counter" if i == 0 else f"E{i}")
        ch.append_child_value("unit", "volts" if i == 0 else "microvolts")
        ch.append_child_value("type", "MISC" if i == 0 else "EEG")
    eeg = pylsl.StreamOutlet(info)
    minfo = pylsl.StreamInfo(f"{name}-markers", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                             f"{name}-markers-sid")
    markers = pylsl.StreamOutlet(minfo)
    _emit("ready", pid=os.getpid())

    got = b""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while b"GO" not in got:
        chunk = _wait_stdin(deadline - time.monotonic())
        if not chunk:  # EOF or timeout: the bench gave up before starting
            return
        got += chunk
    eeg.wait_for_consumers(5.0)
    markers.wait_for_consumers(5.0)

    n_total = int(round(duration_s * sfreq))
    per_chunk = max(1, int(round(CHUNK_S * sfreq)))
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 10.0, (int(sfreq), n_channels)).astype(np.float32)  # microvolts, cycled
    t0 = pylsl.local_clock() + 0.05
    t_last_sample = t0 + (n_total - 1) / sfreq
    m_times = t0 + first_marker_s + np.arange(int(duration_s * marker_hz) + 1) / marker_hz
    m_times = m_times[m_times <= t_last_sample]
    cpu0 = time.process_time()
    sent = m_sent = 0
    while sent < n_total or m_sent < len(m_times):
        now = pylsl.local_clock()
        while m_sent < len(m_times) and m_times[m_sent] <= now:
            markers.push_sample([f"m{m_sent:06d}"], float(m_times[m_sent]))
            m_sent += 1
        due = min(n_total, int(math.floor((now - t0) * sfreq)) + 1) if now >= t0 else 0
        if due > sent:
            idx = np.arange(sent, due)
            block = noise[idx % len(noise)]
            block[:, 0] = idx  # exact in float32 below 2**24
            eeg.push_chunk(block, float(t0 + (due - 1) / sfreq))
            sent = due
        wake = [t0 + (min(sent + per_chunk, n_total) - 1) / sfreq] if sent < n_total else []
        if m_sent < len(m_times):
            wake.append(float(m_times[m_sent]))
        if wake:
            pause = min(wake) - pylsl.local_clock()
            if pause > 0:
                time.sleep(pause)
    cpu_s = time.process_time() - cpu0
    _emit("done", samples_sent=sent, markers_sent=m_sent, t0=t0, t_last_sample=t_last_sample,
          cpu_s=cpu_s, wall_s=pylsl.local_clock() - t0,
          peak_rss_mb=_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    # keep the outlets alive until the bench has drained them and closes our stdin
    end = time.monotonic() + linger_s
    while time.monotonic() < end:
        if _wait_stdin(end - time.monotonic()) in (b"", None):
            break
    del eeg, markers


class _Publisher:
    """The publisher subprocess and its protocol lines; stop() always ends it (EOF, then terminate, then kill)."""

    def __init__(self, name: str, n_channels: int, sfreq: float, marker_hz: float, duration_s: float,
                 first_marker_s: float, workdir: Path) -> None:
        _confine_lsl()
        env = os.environ.copy()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PKG_ROOT), env.get("PYTHONPATH", "")) if p)
        args = json.dumps({"name": name, "n_channels": n_channels, "sfreq": sfreq, "marker_hz": marker_hz,
                           "duration_s": duration_s, "first_marker_s": first_marker_s})
        self.stderr_path = workdir / "publisher.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eegviz.bench_soak", "--publish", args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=str(PKG_ROOT),
        )
        self.lines: queue.Queue[dict] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="soak-publisher-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(PREFIX):
                try:
                    self.lines.put(json.loads(line[len(PREFIX):]))
                except json.JSONDecodeError:
                    pass

    def expect(self, kind: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.poll(min(0.2, max(0.0, deadline - time.monotonic())))
            if msg is not None:
                if msg.get("kind") == kind:
                    return msg
                continue
            self.check_alive()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"soak publisher sent no '{kind}' within {timeout:g} s")

    def poll(self, timeout: float = 0.0) -> dict | None:
        try:
            return self.lines.get(timeout=timeout) if timeout > 0 else self.lines.get_nowait()
        except queue.Empty:
            return None

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None and self.lines.empty():
            raise RuntimeError(f"soak publisher exited with code {code}: {self.stderr_tail() or 'no stderr'}")

    def stderr_tail(self) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def go(self) -> None:
        self.proc.stdin.write(b"GO\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def stop(self) -> int | None:
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        for action, wait in ((None, 10.0), ("terminate", 5.0), ("kill", 5.0)):
            if action:
                getattr(self.proc, action)()
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._reader.join(2.0)
        self._stderr.close()
        return self.proc.returncode


# -- consumer (this process) ---------------------------------------------------------------------------------------
def _thread_cpu(proc) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in proc.threads()}


def _counter_check(counter: np.ndarray, expected_n: int) -> dict:
    """Is the counter exactly 0..expected_n-1? Counts gaps (missing runs) and duplicates (repeats)."""
    c = np.rint(np.asarray(counter, dtype=np.float64)).astype(np.int64)
    d = np.diff(c)
    return {
        "first": int(c[0]) if len(c) else None,
        "last": int(c[-1]) if len(c) else None,
        "gaps": int((d > 1).sum()),
        "missing": int(np.clip(d - 1, 0, None).sum()) + (int(c[0]) if len(c) else 0),
        "duplicates_or_reorders": int((d < 1).sum()),
        "contiguous": bool(len(c) == expected_n and (len(c) == 0 or (c[0] == 0 and (d == 1).all()))),
    }


def _read_back(path: Path, eeg_name: str, marker_name: str, n_sent: int) -> dict:
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False,
                                handle_clock_resets=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    eeg, mk = by_name.get(eeg_name), by_name.get(marker_name)
    out: dict = {"file_mb": _mb(path.stat().st_size)}
    if eeg is None:
        out.update(samples_recorded=0, counter={"contiguous": False})
    else:
        ts = np.asarray(eeg["time_stamps"])
        data = np.asarray(eeg["time_series"])
        out["samples_recorded"] = int(len(ts))
        out["footer_sample_count"] = int(eeg.get("footer", {}).get("info", {}).get("sample_count", ["-1"])[0])
        out["counter"] = _counter_check(data[:, 0] if len(ts) else np.zeros(0), n_sent)
        out["timestamps_increasing"] = bool(np.all(np.diff(ts) > 0))
    out["markers_recorded"] = 0 if mk is None else int(len(mk["time_stamps"]))
    out["marker_payloads"] = [] if mk is None else [row[0] for row in mk["time_series"]]
    return out


def run_soak(duration_s: float = 300, n_channels: int = 128, sfreq: float = 1000.0, marker_hz: float = 10.0,
             tmin: float = -0.1, tmax: float = 0.6, out_dir: str | Path | None = None) -> dict:
    """Run the soak (see module doc) and return a JSON-serialisable report with a "targets" dict of booleans."""
    if n_channels < 1 or sfreq <= 0 or marker_hz <= 0 or duration_s <= 0 or tmax <= tmin:
        raise ValueError("need n_channels >= 1, sfreq > 0, marker_hz > 0, duration_s > 0 and tmax > tmin")
    if duration_s * sfreq >= COUNTER_LIMIT:
        raise ValueError(f"duration_s * sfreq must stay below {COUNTER_LIMIT} (float32 counter channel)")
    _confine_lsl()
    if out_dir is not None:
        return _soak(Path(out_dir), False, duration_s, n_channels, sfreq, marker_hz, tmin, tmax)
    with tempfile.TemporaryDirectory(prefix="eegviz-soak-") as tmp:
        return _soak(Path(tmp), True, duration_s, n_channels, sfreq, marker_hz, tmin, tmax)


def _soak(out_dir: Path, is_tmp: bool, duration_s: float, n_channels: int, sfreq: float, marker_hz: float,
          tmin: float, tmax: float) -> dict:
    import psutil
    import pylsl

    from eegviz.record.xdf_writer import SessionRecorder
    from eegviz.sources.lsl import LslSource
    from eegviz.stream.epocher import Epocher
    from eegviz.stream.preprocess import InputSpec, Preprocessor

    out_dir.mkdir(parents=True, exist_ok=True)
    xdf_path = out_dir / "session.xdf"
    name = f"eegviz-soak-{uuid.uuid4().hex[:10]}"
    first_marker_s = max(0.5, -tmin + 0.1)
    me = psutil.Process()

    pub = _Publisher(name, n_channels, sfreq, marker_hz, duration_s, first_marker_s, out_dir)
    src = recorder = None
    stats = {"samples_received": 0, "markers_received": 0, "gaps_flagged": 0, "chunks": 0}
    live_counter_errors = 0
    next_counter = 0
    latencies, seen_lat, marker_ts, lost = [], [], [], []
    cpu = {"read_s": 0.0, "record_s": 0.0, "epoch_s": 0.0}
    rss_peak = me.memory_info().rss
    done: dict | None = None
    drained = True
    read_block_max, reads_over_100ms = 0.0, 0
    try:
        ready = pub.expect("ready", READY_TIMEOUT_S)
        threads_before = {t.id for t in me.threads()}
        src = LslSource(stream_name=name, marker_name=f"{name}-markers", resolve_timeout=10.0)
        src.start()
        spec = InputSpec(ch_names=src.info.ch_names, sfreq=src.info.sfreq, tmin=tmin, tmax=tmax,
                         baseline=(tmin, min(0.0, tmax)) if tmin < 0 else (tmin, tmin + 1.0 / sfreq))
        epocher = Epocher(Preprocessor(spec, src.info.ch_names, src.info.sfreq), src.info.ch_names)
        recorder = SessionRecorder(xdf_path, src.info, marker_stream_name=f"{name}-markers")
        time.sleep(0.2)  # let the inlets' connections settle before the publisher's clock starts
        clock_offset = pylsl.local_clock() - time.perf_counter()  # perf_counter (Epoch.t_ready) -> LSL clock
        pub_proc = psutil.Process(ready["pid"])
        pub_cpu0 = sum(pub_proc.cpu_times()[:2])
        proc_cpu0, threads0, main0 = sum(me.cpu_times()[:2]), _thread_cpu(me), time.thread_time()
        wall0 = time.monotonic()
        pub.go()
        hard_deadline = wall0 + duration_s + READY_TIMEOUT_S
        drain_deadline = None
        next_rss = wall0 + 1.0
        last_ts = -np.inf
        while True:
            a, wa = time.thread_time(), time.perf_counter()
            res = src.read(timeout=0.05)
            b = time.thread_time()
            blocked = time.perf_counter() - wa
            read_block_max = max(read_block_max, blocked)
            reads_over_100ms += blocked > 0.1
            for m in res.markers:
                recorder.add_marker(m)
                epocher.add_marker(m)
                stats["markers_received"] += 1
            for c in res.chunks:
                recorder.add_chunk(c)
            c_ = time.thread_time()
            results = []
            for c in res.chunks:
                results += epocher.add_chunk(c)
            d = time.thread_time()
            cpu["read_s"] += b - a
            cpu["record_s"] += c_ - b
            cpu["epoch_s"] += d - c_
            stats["gaps_flagged"] += int(res.gap)
            for c in res.chunks:
                n = len(c.timestamps)
                stats["samples_received"] += n
                stats["chunks"] += 1
                cnt = np.rint(c.samples[:, 0].astype(np.float64)).astype(np.int64)
                if cnt[0] != next_counter or (n > 1 and not (np.diff(cnt) == 1).all()):
                    live_counter_errors += 1
                next_counter = int(cnt[-1]) + 1
                last_ts = float(c.timestamps[-1])
            for r in results:
                if r.epoch is None:
                    lost.append((r.marker, r.reason))
                    continue
                ep = r.epoch
                latencies.append((ep.t_ready + clock_offset - ep.marker.timestamp) * 1e3)
                marker_ts.append(ep.marker.timestamp)
                seen_lat.append((ep.t_marker_seen + clock_offset - ep.marker.timestamp) * 1e3)
            now = time.monotonic()
            if now >= next_rss:
                rss_peak = max(rss_peak, me.memory_info().rss)
                next_rss = now + 1.0
            if done is None:
                msg = pub.poll()
                if msg is not None and msg.get("kind") == "done":
                    done = msg
                    drain_deadline = now + DRAIN_TIMEOUT_S
                elif msg is None and pub.proc.poll() is not None:
                    pub.check_alive()
                elif now > hard_deadline:
                    raise RuntimeError(f"soak publisher did not finish within {hard_deadline - wall0:.0f} s")
            if done is not None:
                complete = (stats["samples_received"] >= done["samples_sent"]
                            and stats["markers_received"] >= done["markers_sent"])
                if complete or now > drain_deadline:
                    drained = complete
                    break
        wall = time.monotonic() - wall0
        main_cpu = time.thread_time() - main0
        proc_cpu = sum(me.cpu_times()[:2]) - proc_cpu0
        threads1 = _thread_cpu(me)
        # liblsl's receive / clock-sync threads: those the inlets started (absent before LslSource.start())
        lsl_threads = sum(v - threads0.get(t, 0.0) for t, v in threads1.items() if t not in threads_before)
        pub_cpu_psutil = sum(pub_proc.cpu_times()[:2]) - pub_cpu0
        rss_peak = max(rss_peak, me.memory_info().rss)
        for r in epocher.poll(flush=True):  # the final poll can still complete an epoch: not a loss
            if r.epoch is None:
                lost.append((r.marker, r.reason))
            else:
                latencies.append((r.epoch.t_ready + clock_offset - r.epoch.marker.timestamp) * 1e3)
                marker_ts.append(r.epoch.marker.timestamp)
    finally:
        if src is not None:
            src.stop()
        if recorder is not None:
            recorder.close()
        pub_code = pub.stop()

    back = _read_back(xdf_path, name, f"{name}-markers", done["samples_sent"])
    sent, m_sent = done["samples_sent"], done["markers_sent"]
    expected_payloads = [f"m{i:06d}" for i in range(m_sent)]
    # A marker whose window [t + tmin, t + tmax) reaches past the last sample can never complete: expected tail.
    tail = [(m, why) for m, why in lost if m.timestamp + tmax - 1.0 / sfreq > last_ts + 0.5 / sfreq]
    mid = [(m, why) for m, why in lost if (m, why) not in tail]
    reasons: dict[str, int] = {}
    for _, why in lost:
        reasons[why] = reasons.get(why, 0) + 1
    over = [x - tmax * 1e3 for x in latencies]
    settled = [x for x, t in zip(over, marker_ts) if t >= done["t0"] + SETTLE_S]
    ingest_s = cpu["read_s"] + lsl_threads
    report = {
        "config": {"duration_s": duration_s, "n_channels": n_channels, "sfreq": sfreq, "marker_hz": marker_hz,
                   "tmin": tmin, "tmax": tmax, "chunk_ms": CHUNK_S * 1e3, "stream": name,
                   "xdf": None if is_tmp else str(xdf_path)},
        "wall_s": round(wall, 3),
        "samples_sent": sent,
        "samples_received": stats["samples_received"],
        "samples_recorded": back["samples_recorded"],
        "samples_lost": sent - back["samples_recorded"],
        "recorded_counter": back["counter"],
        "recorded_timestamps_increasing": back.get("timestamps_increasing", False),
        "xdf_footer_sample_count": back.get("footer_sample_count"),
        "live_counter_errors": live_counter_errors,
        "chunks_received": stats["chunks"],
        "gaps_flagged": stats["gaps_flagged"],
        "drained": drained,
        "markers_sent": m_sent,
        "markers_received": stats["markers_received"],
        "markers_recorded": back["markers_recorded"],
        "markers_recorded_match_sent": back["marker_payloads"] == expected_payloads,
        "epochs_ready": len(latencies),
        "epochs_lost": len(lost),
        "epochs_lost_tail": len(tail),
        "epochs_lost_mid_stream": len(mid),
        "epochs_lost_reasons": reasons,
        "epochs_lost_note": (
            f"{len(tail)} marker(s) in the last {tmax:g} s: the stream ends inside their window, so they cannot "
            f"complete (expected); {len(mid)} lost mid-stream"
        ),
        "latency_ms": {
            "marker_to_epoch_ready": percentiles(latencies),
            "epoch_ready_over_tmax": percentiles(over),
            "marker_transport": percentiles(seen_lat),
            f"epoch_ready_over_tmax_after_first_{SETTLE_S:g}s": percentiles(settled),
            "read_call_max_block_ms": round(read_block_max * 1e3, 1),
            "read_calls_over_100ms": reads_over_100ms,
            "note": "the targets use every epoch; the first read() on each LSL inlet blocks until liblsl's "
                    "first clock-sync estimate (~0.6 s per inlet), which delays the first marker(s)",
        },
        "cpu": {
            "publisher_cpu_s": round(done["cpu_s"], 3),
            "publisher_cpu_s_psutil": round(pub_cpu_psutil, 3),
            "publisher_cpu_pct_one_core": round(done["cpu_s"] / wall * 100, 2),
            "consumer_process_cpu_s": round(proc_cpu, 3),
            "consumer_process_cpu_pct_one_core": round(proc_cpu / wall * 100, 2),
            "acquisition_thread_cpu_s": round(main_cpu, 3),
            "ingest_read_cpu_s": round(cpu["read_s"], 3),
            "liblsl_threads_cpu_s": round(lsl_threads, 3),
            "record_cpu_s": round(cpu["record_s"], 3),
            "epoch_cpu_s": round(cpu["epoch_s"], 3),
            "ingest_cpu_s": round(ingest_s, 3),
            "ingest_cpu_pct_one_core": round(ingest_s / wall * 100, 2),
            "note": "ingest = LslSource.read() time in the acquisition thread + liblsl's inlet threads; "
                    "EEG and marker inlets are read by one call, so they are not split",
        },
        "memory": {
            "consumer_peak_rss_mb_during_soak": _mb(rss_peak),
            "consumer_max_rss_mb_lifetime": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
            "publisher_peak_rss_mb": done["peak_rss_mb"],
            "xdf_file_mb": back["file_mb"],
        },
        "publisher_exit_code": pub_code,
    }
    report["targets"] = {
        "samples_lost_zero": report["samples_lost"] == 0 and back["counter"]["contiguous"],
        "ingest_cpu_under_10pct_one_core": report["cpu"]["ingest_cpu_pct_one_core"] < 10,
        "epoch_ready_over_tmax_p99_le_20ms": (report["latency_ms"]["epoch_ready_over_tmax"]["p99"] is not None
                                               and report["latency_ms"]["epoch_ready_over_tmax"]["p99"] <= 20),
        "no_epochs_lost_mid_stream": len(mid) == 0,
    }
    return report


def measure_reconnect(trials: int = 3, down_s: float = 1.0, n_channels: int = 8, sfreq: float = 250.0) -> dict:
    """Issue 5's fault figure: an EEG outlet vanishes for `down_s` and comes back under the same source_id;
    time from its return to the first sample read through LslSource (its own background re-resolve finds the
    new outlet), whether the source flagged the gap, and the longest single read() meanwhile (acquisition must
    not block). Target: within 2 s."""
    _confine_lsl()
    import uuid

    import pylsl

    from eegviz.sources.lsl import LslSource

    name, sid = f"eegviz-reconnect-{uuid.uuid4().hex[:8]}", f"sid-{uuid.uuid4().hex[:8]}"

    def outlet():
        info = pylsl.StreamInfo(name, "EEG", n_channels, sfreq, "float32", sid)
        return pylsl.StreamOutlet(info)

    out = outlet()
    src = LslSource(stream_name=name, resolve_timeout=5.0)
    src.start()
    times, gaps, slowest = [], [], 0.0

    def read(timeout: float):
        nonlocal slowest
        t = time.monotonic()
        r = src.read(timeout=timeout)
        slowest = max(slowest, time.monotonic() - t)
        return r

    try:
        chunk = np.zeros((int(sfreq * 0.02), n_channels), np.float32)
        for _ in range(trials):
            t_end = time.monotonic() + 0.5
            while time.monotonic() < t_end:  # steady streaming first
                out.push_chunk(chunk)
                read(0.02)
            del out
            t_down = time.monotonic() + down_s
            while time.monotonic() < t_down:
                read(0.05)
            out = outlet()
            t_back, got, gap = time.monotonic(), False, False
            while time.monotonic() - t_back < 15.0 and not got:
                out.push_chunk(chunk)
                r = read(0.02)
                got = got or any(len(c.timestamps) for c in r.chunks)
                gap = gap or r.gap
            times.append(time.monotonic() - t_back if got else float("inf"))
            gaps.append(gap)
    finally:
        reconnects = src.reconnects
        src.stop()
    return {"trials": trials, "down_s": down_s, "reconnect_s": [round(t, 3) for t in times],
            "max_s": round(max(times), 3), "gap_flagged": all(gaps), "reconnects_counted": reconnects,
            "slowest_read_s": round(slowest, 3), "targets": {"reconnect_within_2s": max(times) <= 2.0}}


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m eegviz.bench_soak", description=__doc__.splitlines()[0])
    p.add_argument("--publish", help=argparse.SUPPRESS)
    p.add_argument("--duration", type=float, default=300.0)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--sfreq", type=float, default=1000.0)
    p.add_argument("--marker-hz", type=float, default=10.0)
    p.add_argument("--out", help="folder for session.xdf (default: a temporary one, deleted)")
    p.add_argument("--reconnect-trials", type=int, default=10, help="outlet restarts timed after the soak (0: none)")
    args = p.parse_args(argv)
    if args.publish:
        publish(**json.loads(args.publish))
        return 0
    report = run_soak(args.duration, args.channels, args.sfreq, args.marker_hz, out_dir=args.out)
    if args.reconnect_trials:
        report["reconnect"] = measure_reconnect(trials=args.reconnect_trials)
        report["targets"]["reconnect_within_2s"] = report["reconnect"]["targets"]["reconnect_within_2s"]
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
