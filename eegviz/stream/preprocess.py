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


def normalise(x: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Baseline-correct and scale (..., n_ch, n_times) epochs already at the model's rate; used by training too."""
    b0 = int(round((spec.baseline[0] - spec.tmin) * spec.sfreq))
    b1 = max(b0 + 1, int(round((spec.baseline[1] - spec.tmin) * spec.sfreq)))
    x = x - x[..., b0:b1].mean(axis=-1, keepdims=True)
    return (x * spec.scale).astype(np.float32)
