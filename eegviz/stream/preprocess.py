"""Preprocessing shared by the live path and training, so a model sees the same numbers in both.

A model declares what it expects (channels by name, rate, window); `Preprocessor` maps whatever the source
delivers onto that, or says clearly why it cannot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from eegviz.errors import EegvizError


@dataclass(frozen=True)
class InputSpec:
    """What a decoder expects as input. Saved with the model and checked against every source."""

    ch_names: tuple[str, ...]
    sfreq: float
    tmin: float = -0.1
    tmax: float = 0.6
    baseline: tuple[float, float] = (-0.1, 0.0)
    scale: float = 1e5  # volts -> model units (10 uV -> 1.0)
    highpass: float = 0.0  # Hz; 0 = off. Per-epoch zero-phase high-pass, see normalise()

    @property
    def n_times(self) -> int:
        return int(round((self.tmax - self.tmin) * self.sfreq))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ch_names"] = list(self.ch_names)
        d["baseline"] = list(self.baseline)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(
            ch_names=tuple(d["ch_names"]), sfreq=float(d["sfreq"]), tmin=float(d["tmin"]),
            tmax=float(d["tmax"]), baseline=tuple(d["baseline"]), scale=float(d["scale"]),
            highpass=float(d.get("highpass", 0.0)),  # models saved before the option existed: off
        )


class Preprocessor:
    """Maps source channels/rate onto an InputSpec: select by name, resample, baseline, scale."""

    def __init__(self, spec: InputSpec, source_ch_names: tuple[str, ...] | list[str], source_sfreq: float):
        self.spec = spec
        lookup = {name.lower(): i for i, name in enumerate(source_ch_names)}
        missing = [c for c in spec.ch_names if c.lower() not in lookup]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise EegvizError(
                f"the source lacks {len(missing)} of the model's {len(spec.ch_names)} channels ({shown}); "
                "stream with the model's montage or retrain the model on your channels"
            )
        self.picks = np.array([lookup[c.lower()] for c in spec.ch_names])
        ratio = Fraction(spec.sfreq / source_sfreq).limit_denominator(1000)
        if abs(float(ratio) * source_sfreq - spec.sfreq) > 1e-6 * spec.sfreq:
            raise EegvizError(f"cannot resample {source_sfreq} Hz to the model's {spec.sfreq} Hz exactly")
        self.up, self.down = ratio.numerator, ratio.denominator
        self.source_sfreq = source_sfreq

    def source_window(self) -> tuple[float, float]:
        """The window to cut in source time; a little margin either side absorbs the resampling filter edges."""
        margin = 0.0 if self.up == self.down else 0.05
        return self.spec.tmin - margin, self.spec.tmax + margin

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """data: (n_source_channels, n_source_times) volts cut at source_window() -> (n_ch, n_times) float32."""
        x = data[self.picks].astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise EegvizError("EEG contains NaN or infinite samples; check the amplifier connection")
        if self.up != self.down:
            x = resample_poly(x, self.up, self.down, axis=1)
            lo, _ = self.source_window()
            start = int(round((self.spec.tmin - lo) * self.spec.sfreq))
            x = x[:, start : start + self.spec.n_times]
        else:
            x = x[:, : self.spec.n_times]
        if x.shape[1] != self.spec.n_times:
            raise EegvizError(f"epoch has {x.shape[1]} samples, the model needs {self.spec.n_times}")
        return normalise(x, self.spec)


def highpass(x: np.ndarray, sfreq: float, cutoff: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth high-pass along the last axis of (..., n_times) epochs.

    Why per epoch: datasets arrive epoched, and training and live must see the same numbers, so the filter
    runs on the epoch both paths share. On a sub-second window it mostly removes offsets and slow trends,
    which is its purpose here: slow drifts that differ between recording blocks let a decoder "classify"
    block-design data without any stimulus information (Li et al. 2020, on the EEG-ImageNet block design);
    the eval controls compare decoding with and without it. Odd (point-symmetric) padding continues a linear
    trend through the edges, so a drift is removed instead of folded back: on a 0.7 s window a ramp keeps 26%
    of its RMS with even padding at 1 Hz, 0.5% with odd padding.
    """
    from scipy.signal import butter, sosfiltfilt

    if not 0 < cutoff < sfreq / 2:
        raise EegvizError(f"high-pass cutoff {cutoff} Hz must lie between 0 and Nyquist ({sfreq / 2} Hz)")
    sos = butter(2, cutoff, btype="highpass", fs=sfreq, output="sos")
    n = x.shape[-1]
    return sosfiltfilt(sos, x, axis=-1, padtype="odd", padlen=min(n - 1, int(3 * sfreq / cutoff)))


def normalise(x: np.ndarray, spec: InputSpec) -> np.ndarray:
    """High-pass (when the model asks for it), baseline-correct and scale (..., n_ch, n_times) epochs already
    at the model's rate; training, eval and the live path all call this."""
    if spec.highpass > 0:
        x = highpass(np.asarray(x, dtype=np.float64), spec.sfreq, spec.highpass)
    b0 = int(round((spec.baseline[0] - spec.tmin) * spec.sfreq))
    b1 = max(b0 + 1, int(round((spec.baseline[1] - spec.tmin) * spec.sfreq)))
    x = x - x[..., b0:b1].mean(axis=-1, keepdims=True)
    return (x * spec.scale).astype(np.float32)
