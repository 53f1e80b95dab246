"""The demo recording shipped in assets/: simulated EEG + string markers, written as LabRecorder would.

One held-out (test-split) image per class, in random order, 0.75 s apart with jitter, so the demo shows the
model images it was never trained on. EEG is stored in microvolts as float32, chunked like a live recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_demo_recording(out_dir: Path, seed: int = 0, n_per_class: int = 50, sfreq: float = 250.0,
                        soa: float = 0.75, subject: int = 0) -> Path:
    from eegviz.errors import EegvizError
    from eegviz.messages import StreamInfo
    from eegviz.record.xdf_writer import XdfWriter
    from eegviz.world.eeg_sim import EEGSimulator
    from eegviz.world.stimuli import CLASSES, make_spec, test_images_per_class

    rng = np.random.default_rng(seed + 1000)
    test_k = n_per_class - 1 - rng.integers(0, test_images_per_class(n_per_class), len(CLASSES))
    specs = [make_spec(c, int(k), seed=seed) for c, k in zip(rng.permutation(len(CLASSES)), test_k)]
    onsets = 1.0 + np.arange(len(specs)) * soa + rng.uniform(0, 0.1, len(specs))
    duration = float(onsets[-1] + 1.5)
    sim = EEGSimulator(subject=subject, sfreq=sfreq, seed=seed)
    eeg = sim.continuous(specs, onsets, duration, rng)  # (n_ch, n) volts
    t0 = 5000.0  # an LSL-clock-like origin: recordings never start at 0
    times = t0 + np.arange(eeg.shape[1]) / sfreq
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "demo.xdf"
    if path.exists():
        raise EegvizError(f"{path} already exists; eegviz never overwrites a recording (remove it or pick another --out)")
    info = StreamInfo(name="eegviz-sim", ch_names=tuple(sim.ch_names), sfreq=sfreq, source_id="eegviz-sim-demo")
    with XdfWriter(path) as w:
        eid = w.add_stream("eegviz-sim", "EEG", info.n_channels, sfreq, "float32", source_id="eegviz-sim-demo",
                           ch_names=list(info.ch_names), unit="microvolts")
        mid = w.add_stream("eegviz-markers", "Markers", 1, 0.0, "string", source_id="eegviz-markers-demo")
        step = int(sfreq // 10)
        marker_i = 0
        for s in range(0, eeg.shape[1], step):
            chunk_t = times[s : s + step]
            w.write_samples(eid, (eeg[:, s : s + step].T * 1e6).astype(np.float32), chunk_t)
            while marker_i < len(specs) and t0 + onsets[marker_i] <= chunk_t[-1]:
                w.write_samples(mid, [specs[marker_i].image_id], np.array([t0 + onsets[marker_i]]))
                marker_i += 1
    return path
