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


def _stream(config, seconds: float, seed: int = 0) -> tuple[np.ndarray, SimulatorSource]:
    """(n_samples, ch) of the simulator's continuous stream, read as a session would, far faster than real time."""
    src = SimulatorSource(speed=200.0, seed=seed, block_s=5.0, config=config)
    src.start()
    parts, n = [], int(seconds * src.info.sfreq)
    while sum(len(p) for p in parts) < n:
        parts += [c.samples for c in src.read(0.05).chunks]
    return np.concatenate(parts)[:n], src


def test_live_simulator_carries_the_configs_artefacts_and_nothing_else():
    """Mains on: the stream changes by exactly one continuous 50 Hz sinusoid (one phase, one topography for
    the whole recording, across block edges); everything else is sample-for-sample the artefact-free stream."""
    from eegviz.world.sim_config import make_config

    clean, _ = _stream(make_config("demo"), 12.0)
    mains, src = _stream(make_config("demo", line_uv=4.0), 12.0)
    diff = (mains - clean).astype(np.float64)
    t = np.arange(len(diff)) / 250.0
    wave = np.sin(2 * np.pi * 50.0 * t)
    expected = 4e-6 * src.line_topo[None, :] * wave[:, None]
    np.testing.assert_allclose(diff, expected, atol=1e-9)  # float32 rounding of ~100 uV signals only
    assert src.artefact_counts == {"blinks": 0, "emg_bursts": 0}


def test_live_simulator_blinks_at_the_configs_rate():
    """Blinks per trial become blinks per second at the stimulus rate: large, slow, frontal deflections."""
    from eegviz.world.artefacts import frontal_weights
    from eegviz.world.sim_config import make_config

    x, src = _stream(make_config("demo", blink_rate=0.5, emg_rate=0.2), 60.0)
    n_blinks, n_emg = src.artefact_counts["blinks"], src.artefact_counts["emg_bursts"]
    simulated_s = (src.buf_start + src.buf.shape[1]) / src.info.sfreq  # the source simulates ahead of reads
    rate = 0.5 / (src.soa + src.jitter / 2) * simulated_s
    assert 0.6 * rate < n_blinks < 1.4 * rate and n_emg > 0
    w = frontal_weights(src.info.ch_names)
    front, back = np.argmax(w), np.argmin(w)
    clean, _ = _stream(make_config("demo"), 60.0)
    extra = np.abs(x - clean)
    assert extra[:, front].max() > 50e-6 and extra[:, back].max() < 0.3 * extra[:, front].max()
