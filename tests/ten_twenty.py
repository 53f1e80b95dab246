"""A small 10-20 world for the bad-electrode tests: a 9-channel model on standard_1020, a source with two more
electrodes (Cz, Oz) that feed only interpolation, and seconds of its noise. Shared by the epocher's tests and the
session record's, which build the same world."""

import numpy as np

from eegviz.stream.preprocess import InputSpec

MODEL = ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2", "Pz")
SOURCE = (*MODEL, "Cz", "Oz")
SFREQ = 100.0


def ten_twenty(n_samples: int):
    """(the model's InputSpec, stamps from 50 s, (n_samples, len(SOURCE)) float32 volts of noise, about 10 uV)."""
    spec = InputSpec(ch_names=MODEL, sfreq=SFREQ, tmin=-0.1, tmax=0.4, montage="standard_1020")
    t = 50.0 + np.arange(n_samples) / SFREQ
    data = (np.random.default_rng(0).standard_normal((n_samples, len(SOURCE))) * 1e-5).astype(np.float32)
    return spec, t, data
