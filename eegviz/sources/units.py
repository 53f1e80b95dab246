"""Volts per unit for the unit strings seen in LSL stream descriptions and XDF headers (one table for all sources)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from eegviz.errors import EegvizError

# Channels that declare no unit are judged microvolts when either of these says they cannot be volts. The spread
# (each channel's median distance from its own median) is what EEG varies by: some 1e-5 in volts, 1 to 100 in
# microvolts, and a DC offset does not move it. The |median| alone used to decide, at 0.01: a DC-coupled
# amplifier (BioSemi) sends volts at tens of mV of electrode offset, so its volts were read as microvolts and
# came out 10^6 too small. The |median| still decides where no spread can be measured (one sample, a constant),
# at 1: no scalp amplifier's input range reaches a volt, and microvolt EEG is rarely all under 1.
UV_SPREAD_THRESHOLD = 1e-2  # a spread of 10 mV is no scalp EEG in volts; 0.01 uV is below any amplifier's noise
UV_MEDIAN_THRESHOLD = 1.0  # |median| above this cannot be volts from a scalp electrode, so it is microvolts

UNIT_SCALE = {
    "v": 1.0,
    "volt": 1.0,
    "volts": 1.0,
    "mv": 1e-3,
    "millivolt": 1e-3,
    "millivolts": 1e-3,
    "uv": 1e-6,
    "µv": 1e-6,
    "μv": 1e-6,
    "microvolt": 1e-6,
    "microvolts": 1e-6,
    "nv": 1e-9,
    "nanovolt": 1e-9,
    "nanovolts": 1e-9,
}


def volts_per_unit(unit: str | None) -> float | None:
    """Volts per unit of a channel's unit string; None when it says nothing eegviz knows.

    mne-lsl writes MNE's unit multiplier as an integer string ("0" = volts, "-6" = microvolts), so a bare
    integer is read as a power-of-ten exponent (within 1e-12..1e3)."""
    text = (unit or "").strip().lower()
    if not text:
        return None
    try:
        exponent = int(text)
    except ValueError:
        return UNIT_SCALE.get(text)
    return 10.0**exponent if -12 <= exponent <= 3 else None


def checked_unit(unit: str, name: str = "unit") -> float:
    """Volts per unit of a unit a user names (V, mV, uV, nV, or spelled out), else one line naming `name`: the
    csv source's unit and replay's --unit, refused alike."""
    scale = UNIT_SCALE.get(unit.strip().lower())
    if scale is None:
        raise EegvizError(f"unknown {name} '{unit}'; use one of V, mV, uV, nV")
    return scale


class Judged(NamedTuple):
    """judged_scale's answer: volts per unit, its name, and the two measures it rests on (for the notice)."""

    scale: float
    what: str
    median_abs: float
    spread: float


def judged_scale(data: np.ndarray) -> Judged:
    """Volts per unit of channels that declare no unit, from their values (samples x channels; non-finite values
    and exact zeros, an amplifier warming up, are left out): microvolts where the spread exceeds
    UV_SPREAD_THRESHOLD or the |median| exceeds UV_MEDIAN_THRESHOLD, else volts (the reasons are beside the
    thresholds). The one rule for live LSL streams and XDF files."""
    columns = [c[np.isfinite(c) & (c != 0)] for c in np.asarray(data, dtype=np.float64).T]
    values = np.concatenate([np.abs(c) for c in columns]) if columns else np.empty(0)
    median_abs = float(np.median(values)) if values.size else 0.0
    spreads = [np.median(np.abs(c - np.median(c))) for c in columns if c.size > 1]
    spread = float(np.median(spreads)) if spreads else 0.0
    uv = spread > UV_SPREAD_THRESHOLD or median_abs > UV_MEDIAN_THRESHOLD
    return Judged(*((1e-6, "microvolts") if uv else (1.0, "volts")), median_abs, spread)
