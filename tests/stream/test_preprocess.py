"""The live Preprocessor's resampling (sources whose rate is not the model's) against resampling the
continuous signal: a DC offset, as DC-coupled amplifiers carry (tens of mV), must not leak into the epoch."""

import numpy as np
import pytest
from scipy.signal import resample_poly

from eegviz.stream.preprocess import InputSpec, Preprocessor, prepare_epochs

CH = ("Oz", "Pz")
SPEC = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.2, tmax=0.8, baseline=(-0.2, 0.0))  # scale: 1 = 10 uV


@pytest.mark.parametrize("rate", [125.0, 200.0, 256.0, 512.0])
def test_a_dc_offset_stays_out_of_a_resampled_epoch(rate):
    pre = Preprocessor(SPEC, CH, rate)
    lo, hi = pre.source_window()
    n = int(round((hi - lo) * rate))
    t = np.arange(int(20 * rate)) / rate
    burst = 10e-6 * np.sin(2 * np.pi * 7 * t)
    offset = np.array([[10e-3], [-25e-3]])  # volts
    live = pre(burst[None, :n] + offset)
    # the same window with no offset, and the continuous signal resampled whole then cut (no window edges)
    clean = pre(np.repeat(burst[None, :n], 2, 0))
    assert np.abs(live - clean).max() < 1e-3  # model units: the offset is gone (10 mV was up to 10.9)
    whole = resample_poly(burst, pre.up, pre.down)
    k = pre.margin_samples
    ref = prepare_epochs(np.repeat(whole[None, k : k + SPEC.n_times], 2, 0), SPEC)
    assert np.abs(clean - ref).max() < 0.3  # the window's own edges stay outside the epoch


def test_the_margin_covers_the_resampling_filter():
    assert Preprocessor(SPEC, CH, 125.0).margin_samples >= 0.08 * 250  # 10 * max(up, down) / (up * rate) = 80 ms
    assert Preprocessor(SPEC, CH, 1000.0).margin_samples == 12  # 50 ms at least, as before
    assert Preprocessor(SPEC, CH, 250.0).margin_samples == 0
