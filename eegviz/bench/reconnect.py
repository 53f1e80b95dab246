"""Issue 5's fault figure: how long LslSource takes to read again after its EEG outlet vanished and came back."""

from __future__ import annotations

import time
import uuid

import numpy as np

from eegviz.paths import confine_lsl


def measure_reconnect(trials: int = 3, down_s: float = 1.0, n_channels: int = 8, sfreq: float = 250.0) -> dict:
    """An EEG outlet vanishes for `down_s` and comes back under the same source_id; time from its return to the
    first sample read through LslSource (its own background re-resolve finds the new outlet), whether the
    source flagged the gap, and the longest single read() meanwhile (acquisition must not block). Target:
    within 2 s."""
    confine_lsl()
    import pylsl

    from eegviz.sources.lsl import LslSource

    name, sid = f"eegviz-reconnect-{uuid.uuid4().hex[:8]}", f"sid-{uuid.uuid4().hex[:8]}"

    def outlet():
        info = pylsl.StreamInfo(name, "EEG", n_channels, sfreq, "float32", sid)
        return pylsl.StreamOutlet(info)

    out = outlet()
    # its own marker stream, named: without one named, LslSource takes any string marker stream on the machine
    # (another program's or another bench's, running beside this one) and watches for one all along
    marker_out = pylsl.StreamOutlet(pylsl.StreamInfo(f"{name}-markers", "Markers", 1, pylsl.IRREGULAR_RATE,
                                                     pylsl.cf_string, f"{sid}-markers"))
    src = LslSource(stream_name=name, marker_name=f"{name}-markers", resolve_timeout=5.0)
    src.start()
    times, gaps, slowest = [], [], 0.0

    def read(timeout: float):
        nonlocal slowest
        t = time.monotonic()
        r = src.read(timeout=timeout)
        slowest = max(slowest, time.monotonic() - t)
        return r

    per_chunk = max(1, int(round(sfreq * 0.02)))
    chunk = np.zeros((per_chunk, n_channels), np.float32)
    due = 0.0  # when the outlet's next chunk is due on its sample clock

    def push(outlet) -> None:
        """A chunk when one is due, so the outlet sends at the rate it declares, as an amplifier does. Pushed
        once per read, it sent some 40 times that (a read returns as soon as data is there), and LslSource's
        rate check (eegviz.sources.rate) refused the stream as a wrong rate setting once 4 s of it had come
        (about the 8th of the bench's 10 trials): `eegviz bench --soak` ended in that error, its minutes of
        figures lost."""
        nonlocal due
        now = time.monotonic()
        if now >= due:
            outlet.push_chunk(chunk)
            due = max(due + per_chunk / sfreq, now - 0.1)  # a late loop catches up, but never by a burst

    try:
        for _ in range(trials):
            t_end = time.monotonic() + 0.5
            while time.monotonic() < t_end:  # steady streaming first
                push(out)
                read(0.02)
            del out
            t_down = time.monotonic() + down_s
            while time.monotonic() < t_down:
                read(0.05)
            out = outlet()
            t_back, got, gap = time.monotonic(), False, False
            due = t_back  # back with a chunk at once: the clock restarts with the outlet
            while time.monotonic() - t_back < 15.0 and not got:
                push(out)
                r = read(0.02)
                got = got or any(len(c.timestamps) for c in r.chunks)
                gap = gap or r.gap
            times.append(time.monotonic() - t_back if got else float("inf"))
            gaps.append(gap)
    finally:
        reconnects = src.reconnects
        src.stop()
        del marker_out
    # a trial that never got data back within 15 s is null (JSON has no infinity), and fails the target
    return {"trials": trials, "down_s": down_s,
            "reconnect_s": [round(t, 3) if np.isfinite(t) else None for t in times],
            "never_back": sum(not np.isfinite(t) for t in times),
            "max_s": round(max(times), 3) if np.isfinite(max(times)) else None,
            "gap_flagged": all(gaps), "reconnects_counted": reconnects,
            "slowest_read_s": round(slowest, 3), "targets": {"reconnect_within_2s": max(times) <= 2.0}}
