"""Notch and re-reference, declared in the InputSpec so training and the live path apply them alike."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.paths import default_model_dir
from eegviz.stream.preprocess import InputSpec, Preprocessor, notch, prepare_epochs


def _power_at(x: np.ndarray, sfreq: float, f: float) -> float:
    """Power of x at frequency f by projection on cos/sin (the window need not hold whole periods)."""
    t = np.arange(x.shape[-1]) / sfreq
    return float(np.mean((x @ np.cos(2 * np.pi * f * t)) ** 2 + (x @ np.sin(2 * np.pi * f * t)) ** 2))


@pytest.mark.parametrize("sfreq, line", [(250.0, 50.0), (250.0, 60.0), (1000.0, 50.0)])
def test_line_noise_and_harmonics_removed(sfreq, line):
    rng = np.random.default_rng(0)
    n = int(0.7 * sfreq)
    t = np.arange(n) / sfreq
    eeg = 5e-6 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6, (8, 1)))  # alpha stays
    mains = 20e-6 * np.sin(2 * np.pi * line * t + rng.uniform(0, 6, (8, 1)))
    mains += 4e-6 * np.sin(2 * np.pi * 2 * line * t + 1.0)  # a harmonic below Nyquist
    drift = 30e-6 * t[None]  # an electrode drift must not disturb the fit
    out = notch(eeg + mains + drift, sfreq, line)
    for f in (line, 2 * line):
        before = _power_at(mains, sfreq, f)
        after = _power_at(out - eeg - drift, sfreq, f)
        assert 10 * np.log10(before / max(after, 1e-300)) > 30
    assert np.corrcoef((out - drift).ravel(), eeg.ravel())[0, 1] > 0.99


def test_notch_in_spec_applies_through_prepare_epochs_and_preprocessor():
    spec = InputSpec(ch_names=("Oz", "Pz"), sfreq=250.0, notch=50.0)
    t = spec.tmin + np.arange(spec.n_times) / spec.sfreq
    x = np.vstack([1e-5 * np.sin(2 * np.pi * 50 * t)] * 2)
    plain = InputSpec(ch_names=("Oz", "Pz"), sfreq=250.0)
    assert np.abs(prepare_epochs(x, spec)).max() < 1e-3 * np.abs(prepare_epochs(x, plain)).max()
    out = Preprocessor(spec, ("Pz", "Oz", "Cz"), 250.0)(np.vstack([x, x[:1]]))
    assert np.abs(out).max() < 1e-3


def test_average_reference_removes_a_common_offset():
    spec = InputSpec(ch_names=("Oz", "Pz", "Cz"), sfreq=250.0, reference="average", baseline=(0.0, 0.0))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, spec.n_times)) * 1e-6
    common = 50e-6 * np.sin(np.linspace(0, 7, spec.n_times))  # e.g. a noisy recording reference
    a, b = prepare_epochs(x, spec), prepare_epochs(x + common, spec)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(b.sum(axis=0), 0, atol=1e-4)
    # named reference channels: their mean is subtracted, so the reference channel itself is flat
    named = InputSpec(ch_names=("Oz", "Pz", "Cz"), sfreq=250.0, reference="cz")
    assert np.abs(prepare_epochs(x + common, named)[2]).max() < 1e-6
    with pytest.raises(EegvizError, match="reference channel.*M1"):
        InputSpec(ch_names=("Oz", "Pz"), sfreq=250.0, reference="M1,Oz")


def test_notch_must_lie_below_nyquist():
    with pytest.raises(EegvizError, match="notch 150 Hz"):
        InputSpec(ch_names=("Oz",), sfreq=250.0, notch=150.0)


def test_old_spec_dicts_load_unchanged():
    """decoder.json files written before these fields: same spec values, same numbers out of prepare_epochs()."""
    old = json.loads((default_model_dir() / "decoder.json").read_text())["input"]
    old = {k: v for k, v in old.items() if k not in ("notch", "reference", "montage")}
    spec = InputSpec.from_dict(old)
    assert (spec.notch, spec.reference, spec.montage) == (0.0, "", "biosemi128")
    assert spec.highpass == old.get("highpass", 0.0) and spec.ch_names == tuple(old["ch_names"])
    x = np.random.default_rng(2).standard_normal((2, len(spec.ch_names), spec.n_times)) * 1e-5
    b0 = int(round((spec.baseline[0] - spec.tmin) * spec.sfreq))
    b1 = max(b0 + 1, int(round((spec.baseline[1] - spec.tmin) * spec.sfreq)))
    expected = ((x - x[..., b0:b1].mean(axis=-1, keepdims=True)) * spec.scale).astype(np.float32)
    if spec.highpass == 0:
        np.testing.assert_array_equal(prepare_epochs(x, spec), expected)
    d = spec.to_dict()
    assert d["notch"] == 0.0 and d["reference"] == "" and InputSpec.from_dict(d) == spec
