"""Volts per unit for the unit strings seen in LSL stream descriptions and XDF headers (one table for all sources)."""

from __future__ import annotations

from eegviz.errors import EegvizError

UV_MEDIAN_THRESHOLD = 1e-2  # |median| above this cannot be volts from a scalp electrode, so it is microvolts

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


def judged_scale(median_abs: float) -> tuple[float, str]:
    """(volts per unit, its name) for channels that declare no unit, from their values' |median|: above
    UV_MEDIAN_THRESHOLD it cannot be volts from a scalp electrode, so microvolts; else volts. The one rule for
    live LSL streams and XDF files."""
    return (1e-6, "microvolts") if median_abs > UV_MEDIAN_THRESHOLD else (1.0, "volts")
