"""The dejitter line recovers a steady sample clock from wobbly stamps and notices a jump."""

import numpy as np

from eegviz.stream.dejitter import Dejitter


def test_jittered_stamps_become_the_steady_clock_and_jumps_are_seen():
    rng = np.random.default_rng(0)
    srate = 250.0
    true = 1000.0 + np.arange(25000) / srate * (1 + 20e-6)  # 100 s, the sender's clock 20 ppm fast
    stamps = true + rng.uniform(-4e-3, 4e-3, len(true))
    d = Dejitter(srate)
    out = np.concatenate([d.fit(stamps[i:i + 25]) for i in range(0, len(stamps), 25)])
    assert np.abs(out[2500:] - true[2500:]).max() < 1e-3  # within 1 ms once a few seconds are in
    assert np.abs(stamps - true).max() > 3e-3  # the control: the raw stamps were not that good
    nxt = true[-1] + np.arange(1, 26) / srate
    assert not d.jumped(nxt + rng.uniform(-4e-3, 4e-3, 25))
    assert d.jumped(nxt + 0.2)  # 200 ms off the line: samples lost or the clock reset
