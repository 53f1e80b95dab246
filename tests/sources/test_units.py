"""eegviz.sources.units: unit strings, and the judgement of channels that declare no unit."""

import numpy as np
import pytest

from eegviz.sources.units import judged_scale

FS = 250.0
T = np.arange(int(2 * FS)) / FS
WAVE = np.sin(2 * np.pi * 10 * T)[:, None] * np.ones((1, 8))  # a 10 Hz wave on 8 channels


@pytest.mark.parametrize("data, what", [
    (0.030 + 10e-6 * WAVE, "volts"),  # DC-coupled amplifier (BioSemi) in volts: +30 mV offset, 10 uV wave
    (-0.200 + 10e-6 * WAVE, "volts"),  # near the edge of BioSemi's +-262 mV offset range
    (30000.0 + 10.0 * WAVE, "microvolts"),  # the same amplifier in microvolts
    (0.5 * WAVE, "microvolts"),  # a quiet high-passed microvolt stream: |median| under 1, spread is not
    (20e-6 * WAVE, "volts"),  # high-passed volts
], ids=["volts-dc-30mV", "volts-dc-200mV", "uv-dc", "uv-quiet", "volts-ac"])
def test_a_dc_offset_does_not_decide_the_unit(data, what):
    """Volts with a DC offset over 10 mV were judged microvolts by their |median| alone (then 0.01), and came
    out 10^6 too small; the spread about each channel's median, which no offset moves, decides now."""
    assert judged_scale(data).what == what
    assert judged_scale(data).scale == (1.0 if what == "volts" else 1e-6)


def test_without_a_spread_the_median_decides_and_zeros_and_nans_are_left_out():
    """One sample or a constant has no spread: a |median| over 1 cannot be volts from a scalp, else volts."""
    assert judged_scale(np.full((1, 4), 0.03)).what == "volts"
    assert judged_scale(np.full((1, 4), 20.0)).what == "microvolts"
    warm = np.vstack([np.zeros((300, 8)), 0.030 + 10e-6 * WAVE, np.full((5, 8), np.nan)])
    judged = judged_scale(warm)
    assert judged.what == "volts" and judged.median_abs == pytest.approx(0.030, rel=1e-3)
    assert judged_scale(np.zeros((0, 3))) == (1.0, "volts", 0.0, 0.0)
