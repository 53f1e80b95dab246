"""Baseline correction is clipped to the epoch and never indexes from the end (EEG-ImageNet starts at +0.02 s)."""

import numpy as np
import pytest

from eegviz.stream.preprocess import InputSpec, baseline_samples, prepare_epochs


def _spec(tmin, tmax, baseline=(-0.1, 0.0), sfreq=100.0):
    return InputSpec(ch_names=("a", "b"), sfreq=sfreq, tmin=tmin, tmax=tmax, baseline=baseline, scale=1.0)


def test_baseline_inside_the_epoch_is_the_usual_window():
    spec = _spec(-0.1, 0.6)
    assert baseline_samples(spec) == (0, 10)
    x = np.zeros((2, spec.n_times))
    x[:, :10] = 3.0
    assert np.allclose(prepare_epochs(x, spec)[:, :10], 0.0) and np.allclose(prepare_epochs(x, spec)[:, 10:], -3.0)


def test_epoch_after_onset_gets_no_baseline_instead_of_the_response_mean():
    spec = _spec(0.02, 0.46)  # EEG-ImageNet: 20..460 ms, default baseline -0.1..0 lies before the epoch
    assert baseline_samples(spec) is None
    t = spec.tmin + np.arange(spec.n_times) / spec.sfreq
    x = np.vstack([np.where((t > 0.34) & (t < 0.44), 5.0, 1.0)] * 2)  # a late response
    out = prepare_epochs(x, spec)
    assert np.allclose(out, x)  # untouched; the old rule subtracted the 340-440 ms mean (5.0) everywhere


def test_baseline_partly_before_the_epoch_is_clipped_to_its_start():
    spec = _spec(-0.05, 0.6)  # baseline -0.1..0: only -0.05..0 is in the epoch
    assert baseline_samples(spec) == (0, 5)
    spec = _spec(0.0, 0.5)  # the epoch starts where the baseline ends: its first sample
    assert baseline_samples(spec) == (0, 1)
    x = np.arange(2 * spec.n_times, dtype=float).reshape(2, -1)
    assert prepare_epochs(x, spec)[:, 0] == pytest.approx([0.0, 0.0])
    late = _spec(-0.2, 0.3, baseline=(0.2, 0.5))  # ends after tmax: clipped to the last sample
    assert baseline_samples(late) == (40, 50)


@pytest.mark.parametrize("tmin", [-0.3, -0.1, -0.05, 0.0, 0.02, 0.2])
def test_baseline_indices_are_never_negative(tmin):
    w = baseline_samples(_spec(tmin, tmin + 0.5))
    assert w is None or 0 <= w[0] < w[1] <= 50
