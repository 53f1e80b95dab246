import numpy as np

from eegviz.stream.bads import dead_channels


def test_an_electrode_at_one_value_away_from_zero_is_railed_not_flat():
    """An electrode held at the converter's limit, every sample the same code, was called flat, as an amplifier's
    zeroed channel is: the flat check ran before the railed one. Zeros, and a constant within 0.1 uV of them or
    wobbling within it, are still flat; EEG, and a channel half at its rail, are judged as before."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((7, 500)) * 1e-5).astype(np.float32)
    x[1] = 0.1875  # a Cyton's +187.5 mV
    x[2] = -0.262144  # BioSemi's -262 mV
    x[3] = 0.0
    x[4] = 5e-8  # one value, but within the flat rule's 0.1 uV of zero
    x[5] = 0.03 + np.float32(2e-8) * (np.arange(500) % 3)  # on a 30 mV offset, wobbling by 0.04 uV
    x[6, 200:] = 0.1875
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1"]
    assert dead_channels(x, names) == {"Fp2": "railed, 100% of samples at 187.5 mV",
                                       "F3": "railed, 100% of samples at -262.1 mV",
                                       "F4": "flat, 0.00 uV peak to peak", "C3": "flat, 0.00 uV peak to peak",
                                       "C4": "flat, 0.04 uV peak to peak",
                                       "O1": "railed, 60% of samples at 187.5 mV"}
    x[:, :100] = np.nan  # a dropout of every channel changes nothing; a channel of NaN only is said as such
    x[0] = np.nan
    assert dead_channels(x, names) == {"Fp1": "no finite sample, NaN/inf", "Fp2": "railed, 100% of samples at "
                                       "187.5 mV", "F3": "railed, 100% of samples at -262.1 mV",
                                       "F4": "flat, 0.00 uV peak to peak", "C3": "flat, 0.00 uV peak to peak",
                                       "C4": "flat, 0.04 uV peak to peak", "O1": "railed, 75% of samples at 187.5 mV"}
