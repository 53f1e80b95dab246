"""The soak's amplifier: a separate process pushing a counter-carrying EEG outlet and a marker outlet, and the
handle (Publisher) the bench drives it through.

Protocol: the child prints PREFIX + JSON lines on stdout ("ready" once its outlets exist, "done" with its own
counts and CPU once it has streamed), and reads "GO" on stdin to start; EOF on stdin tells it to leave.
`python -m eegviz.bench.publisher ARGS_JSON` is the child; nothing imports torch.
"""

from __future__ import annotations

import json
import math
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError
from eegviz.paths import confine_lsl

PKG_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the eegviz package (child's PYTHONPATH)
PREFIX = "SOAK "  # publisher -> bench protocol lines on stdout: PREFIX + JSON
CHUNK_S = 0.01
READY_TIMEOUT_S = 60.0  # a cold Python start with numpy + liblsl on a loaded 2-core machine


def mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


def own_peak_rss() -> int:
    """This process's peak resident set in bytes, counted from its own start. getrusage's ru_maxrss is not: Linux
    carries it across exec from the process that started this one, so the publisher a bench started after loading
    torch reported the bench's 600 MB as its own (its own is some 60 MB). The kernel's high-water mark of this
    process's memory (VmHWM) starts again at exec; ru_maxrss where there is none (not Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- the child process ---------------------------------------------------------------------------------------------
def _emit(kind: str, **fields) -> None:
    sys.stdout.write(PREFIX + json.dumps({"kind": kind, **fields}) + "\n")
    sys.stdout.flush()


def _wait_stdin(timeout: float) -> bytes | None:
    """Bytes from stdin within timeout (b"" at EOF: the bench is gone), None on timeout."""
    import select

    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    return os.read(fd, 4096) if ready else None


def _outlets(name: str, n_channels: int, sfreq: float):
    """The EEG outlet (channel 0: the sample counter, in "volts" so LslSource scales it by exactly 1) and the
    string marker outlet."""
    import pylsl

    info = pylsl.StreamInfo(name, "EEG", n_channels, sfreq, pylsl.cf_float32, f"{name}-sid")
    chans = info.desc().append_child("channels")
    for i in range(n_channels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", "counter" if i == 0 else f"E{i}")
        ch.append_child_value("unit", "volts" if i == 0 else "microvolts")
        ch.append_child_value("type", "MISC" if i == 0 else "EEG")
    minfo = pylsl.StreamInfo(f"{name}-markers", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                             f"{name}-markers-sid")
    return pylsl.StreamOutlet(info), pylsl.StreamOutlet(minfo)


def _wait_for_go() -> bool:
    got = b""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while b"GO" not in got:
        chunk = _wait_stdin(deadline - time.monotonic())
        if not chunk:  # EOF or timeout: the bench gave up before starting
            return False
        got += chunk
    return True


def _stream(eeg, markers, n_channels: int, sfreq: float, marker_hz: float, duration_s: float,
            first_marker_s: float) -> dict | None:
    """Push duration_s of samples on a regular clock (in CHUNK_S chunks) and the markers at their times;
    returns the "done" fields, or None where stdin closed first (the bench stopped before the end)."""
    import pylsl

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
            # the pause listens to stdin: at EOF the bench stopped early (Ctrl-C, `kill`) or is gone, and a
            # publisher that only slept streamed on to the end of its minutes, an orphan of a killed bench
            if pause > 0 and _wait_stdin(pause) == b"":
                return None
    return dict(samples_sent=sent, markers_sent=m_sent, t0=t0, t_last_sample=t_last_sample,
                cpu_s=time.process_time() - cpu0, wall_s=pylsl.local_clock() - t0,
                peak_rss_mb=mb(own_peak_rss()))


def publish(name: str, n_channels: int, sfreq: float, marker_hz: float, duration_s: float,
            first_marker_s: float, linger_s: float = 60.0) -> None:
    """The publisher process: outlets, wait for GO on stdin, stream duration_s, report, wait for EOF, exit."""
    confine_lsl()
    eeg, markers = _outlets(name, n_channels, sfreq)
    _emit("ready", pid=os.getpid())
    if not _wait_for_go():
        return
    for outlet in (eeg, markers):  # up to 5 s each for the bench's inlets, listening to stdin meanwhile
        end = time.monotonic() + 5.0
        while not outlet.have_consumers() and time.monotonic() < end:
            if _wait_stdin(0.05) == b"":
                return
    done = _stream(eeg, markers, n_channels, sfreq, marker_hz, duration_s, first_marker_s)
    if done is None:
        return  # stopped early: nobody waits for "done"
    _emit("done", **done)
    # keep the outlets alive until the bench has drained them and closes our stdin
    end = time.monotonic() + linger_s
    while time.monotonic() < end:
        if _wait_stdin(end - time.monotonic()) in (b"", None):
            break
    del eeg, markers


# -- the bench's handle on it --------------------------------------------------------------------------------------
class Publisher:
    """The publisher subprocess and its protocol lines; stop() always ends it (EOF, then terminate, then kill)."""

    def __init__(self, name: str, n_channels: int, sfreq: float, marker_hz: float, duration_s: float,
                 first_marker_s: float, workdir: Path) -> None:
        confine_lsl()
        env = os.environ.copy()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PKG_ROOT), env.get("PYTHONPATH", "")) if p)
        # the child runs in PKG_ROOT, not here: a relative LSLAPICFG (`LSLAPICFG=lsl_api.cfg eegviz bench --soak`)
        # named another file there, or none ("is not a file", of a file that is), and the publisher died on it
        env["LSLAPICFG"] = str(Path(env["LSLAPICFG"]).resolve())
        args = json.dumps({"name": name, "n_channels": n_channels, "sfreq": sfreq, "marker_hz": marker_hz,
                           "duration_s": duration_s, "first_marker_s": first_marker_s})
        self.stderr_path = workdir / "publisher.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eegviz.bench.publisher", args],
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
                raise EegvizError(f"the soak's publisher process sent no '{kind}' within {timeout:g} s "
                                  f"({self.stderr_tail() or 'no stderr'}); is the machine too busy?")

    def poll(self, timeout: float = 0.0) -> dict | None:
        try:
            return self.lines.get(timeout=timeout) if timeout > 0 else self.lines.get_nowait()
        except queue.Empty:
            return None

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None and self.lines.empty():
            raise EegvizError(f"the soak's publisher process exited with code {code}: "
                              f"{self.stderr_tail() or 'no stderr'}")

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


if __name__ == "__main__":
    publish(**json.loads(sys.argv[1]))
