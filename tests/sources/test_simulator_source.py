import numpy as np

from eegviz.sources.base import Source
from eegviz.sources.simulator import SimulatorSource
from eegviz.world.stimuli import spec_from_id


def test_simulator_source_delivers_continuous_samples_and_markers():
    src = SimulatorSource(speed=40.0, n_trials=5, soa=0.6, block_s=2.0)
    assert isinstance(src, Source)
    src.start()
    chunks, markers, finished = [], [], False
    for _ in range(2000):
        r = src.read(0.05)
        chunks += r.chunks
        markers += r.markers
        if r.finished:
            finished = True
            break
    assert finished and len(markers) == 5
    t = np.concatenate([c.timestamps for c in chunks])
    x = np.concatenate([c.samples for c in chunks])
    assert np.allclose(np.diff(t), 1 / 250.0) and x.shape[1] == 128
    for m in markers:
        spec_from_id(m.payload)  # valid stimulus ids
    # the response after each marker is the simulator's evoked response plus background
    corrs = []
    for m in markers:
        i = int(np.searchsorted(t, m.timestamp - 1e-9))
        seg = x[i : i + 150].T
        ev = src.sim.evoked(spec_from_id(m.payload))[:, :150]
        corrs.append(np.corrcoef(seg.ravel(), ev.ravel())[0, 1])
    assert np.mean(corrs) > 0.2
