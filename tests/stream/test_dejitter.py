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


def test_a_recording_that_lost_40_ms_keeps_the_later_samples_in_place():
    """A few lost packets (40 ms, under the live line's 50 ms jump size): the replay's line restarts at the loss,
    so the samples after it keep their times; a line fed on through it stamped them up to 37 ms early, for
    minutes."""
    from eegviz.stream.dejitter import dejitter_recording

    fs, rng = 250.0, np.random.default_rng(0)
    true = 10 + np.arange(int(200 * fs)) / fs
    keep = np.ones(len(true), bool)
    keep[int(60 * fs) : int(60 * fs) + 10] = False
    true = true[keep]
    smooth = dejitter_recording(true + rng.uniform(-1.5e-3, 1.5e-3, len(true)), fs)
    assert np.abs(smooth - true)[true > 10 + 61].max() < 1e-3


def test_a_sender_stamping_whole_bursts_gets_one_line_not_one_per_burst():
    """100 ms bursts stamped alike when they arrive (0-10 ms late): one line through them, as live, and stamps
    that never step back (one line per burst stepped back by up to half a burst)."""
    from eegviz.stream.dejitter import dejitter_recording

    fs, burst, rng = 250.0, 25, np.random.default_rng(1)
    true = 10 + np.arange(int(120 * fs)) / fs
    arrivals = true[burst - 1 :: burst] + rng.uniform(0, 0.01, len(true) // burst)
    smooth = dejitter_recording(np.repeat(arrivals, burst), fs)
    assert (np.diff(smooth) > 0).all()
    assert np.abs(np.diff(smooth)[len(true) // 2 :] - 1 / fs).max() < 0.05 / fs  # a steady clock
