"""Fakes shared by the window tests: a 32-channel stream at 100 Hz, its chunks, and Reconstructions."""

import numpy as np

from eegviz.messages import Chunk, Decoded, Epoch, Marker, Reconstruction
from eegviz.stimulus_truth import StimulusTruth

SFREQ = 100.0
N_CH = 32


def make_chunk(t0: float, n: int = 10, rng=np.random.default_rng(0)) -> Chunk:
    samples = (rng.standard_normal((n, N_CH)) * 1e-5).astype(np.float32)
    return Chunk(samples=samples, timestamps=t0 + np.arange(n) / SFREQ)


def make_rec(payload="img_001", image=None, timings=None, dropped=0, cls="dog") -> Reconstruction:
    marker = Marker(timestamp=1.0, payload=payload)
    epoch = Epoch(data=np.zeros((N_CH, 50), np.float32), sfreq=SFREQ, ch_names=(), tmin=0.0, marker=marker, t_ready=0.0)
    decoded = Decoded(
        epoch=epoch,
        feature=np.zeros(8, np.float32),
        saliency=np.full((16, 16, 3), 0.5, np.float32),
        embedding=np.zeros((2, 4), np.float32),
        class_scores=np.array([0.1, 0.9]),
        class_names=("cat", cls),
    )
    if image is None:
        image = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    shown = StimulusTruth()(payload)  # what the pipeline puts there: a synthetic-world id's class, else None
    return Reconstruction(
        decoded=decoded, image=image, generator="fake-gen", timings_ms=timings or {"decode": 12.3}, dropped_before=dropped,
        true_class=None if shown is None else shown.class_name,
    )


def center_rgb(panel):
    pm = panel.pixmap()
    assert pm is not None and not pm.isNull()
    c = pm.toImage().pixelColor(pm.width() // 2, pm.height() // 2)
    return c.red(), c.green(), c.blue()

