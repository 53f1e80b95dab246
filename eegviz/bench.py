"""`eegviz bench`: per-stage latency percentiles, batched throughput and peak memory, as JSON.

Speed targets live here, not in timed tests. On CPU it times the embedded default end to end on simulated
epochs; `--device cuda` also times the diffusers SD path when a GPU is present.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

from eegviz.latency import percentiles


def run_bench(device: str = "cpu", n: int = 200, model_dir: str | None = None) -> dict:
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.errors import EegvizError
    from eegviz.generators.embedded import EmbeddedGenerator
    from eegviz.paths import default_model_dir
    from eegviz.stream.epocher import Epocher
    from eegviz.stream.preprocess import Preprocessor
    from eegviz.messages import Chunk, Marker
    from eegviz.world.eeg_sim import EEGSimulator
    from eegviz.world.stimuli import stimulus_set

    if device == "cuda" and not torch.cuda.is_available():
        raise EegvizError("--device cuda asked for, but torch sees no CUDA device on this machine")
    model_dir = Path(model_dir or default_model_dir())
    dec = TwoBranchDecoder.load(model_dir)
    gen = EmbeddedGenerator(model_dir)
    gen.warmup()
    spec = dec.spec
    sim = EEGSimulator(subject=0, sfreq=spec.sfreq)
    specs = stimulus_set(5)[:: 5][:40]
    rng = np.random.default_rng(0)
    soa = 0.75
    onsets = 0.5 + np.arange(n) * soa
    seq = [specs[i % len(specs)] for i in range(n)]
    eeg = sim.continuous(seq, onsets, float(onsets[-1] + 1.0), rng)
    pre = Preprocessor(spec, sim.ch_names, spec.sfreq)
    epocher = Epocher(pre, tuple(sim.ch_names))
    stages = {"preprocess_epoch": [], "decode": [], "generate": [], "epoch_to_image": []}
    chunk = int(spec.sfreq * 0.02)
    mi = 0
    for s in range(0, eeg.shape[1], chunk):
        t = np.arange(s, min(s + chunk, eeg.shape[1])) / spec.sfreq
        while mi < n and onsets[mi] <= t[-1]:
            epocher.add_marker(Marker(float(onsets[mi]), seq[mi].image_id))
            mi += 1
        t0 = time.perf_counter()
        results = epocher.add_chunk(Chunk(eeg[:, s : s + chunk].T.astype(np.float32), t))
        t1 = time.perf_counter()
        for r in results:
            if r.epoch is None:
                continue
            a = time.perf_counter()
            out = dec.forward(r.epoch.data[None])
            b = time.perf_counter()
            gen.generate(out["saliency"], out["embedding"])
            c = time.perf_counter()
            stages["preprocess_epoch"].append((t1 - t0) * 1e3)
            stages["decode"].append((b - a) * 1e3)
            stages["generate"].append((c - b) * 1e3)
            stages["epoch_to_image"].append((c - r.epoch.t_ready) * 1e3)
    throughput = {}
    x = np.stack([r for r in np.random.default_rng(1).standard_normal((8, len(spec.ch_names), spec.n_times))]).astype(np.float32)
    for bs in (1, 4, 8):
        reps = 10
        t0 = time.perf_counter()
        for _ in range(reps):
            out = dec.forward(x[:bs])
            gen.generate(out["saliency"], out["embedding"])
        throughput[f"batch{bs}_images_per_s"] = bs * reps / (time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ep = percentiles(stages["epoch_to_image"])
    return {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "device": device},
        "generator": f"embedded ({gen.steps} steps, strength {gen.strength}, guidance {gen.guidance})",
        "latency_ms": {k: percentiles(v) for k, v in stages.items()},
        "note": "epoch_to_image = from the epoch's last sample arriving to the image; marker->image adds the "
                f"epoch window itself (tmax = {spec.tmax} s) which no decoder can avoid",
        "throughput": throughput,
        "peak_rss_mb": rss_mb,
        "targets": {"cpu_epoch_to_image_p95_ms<=100": ep["p95"] <= 100.0},
    }
