"""Preprocessing shared by the live path and training, so a model sees the same numbers in both.

A model declares what it expects (channels by name and montage, rate, window, filters, reference);
`Preprocessor` maps whatever the source delivers onto that (by name, or by position with interpolation, see
eegviz.stream.montage), or says clearly why it cannot.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from eegviz.errors import EegvizError

BIOSEMI128 = frozenset(f"{bank}{i}" for bank in "ABCD" for i in range(1, 33))


def guess_montage(ch_names) -> str | None:
    """The montage of a model that does not say: biosemi128 for exactly its A1..D32 names, else unknown.
    (Checked by name so building an InputSpec never has to import MNE.)"""
    names = {str(c) for c in ch_names}
    return "biosemi128" if len(ch_names) == 128 and names == BIOSEMI128 else None


@dataclass(frozen=True)
class InputSpec:
    """What a decoder expects as input. Saved with the model and checked against every source."""

    ch_names: tuple[str, ...]
    sfreq: float
    tmin: float = -0.1
    tmax: float = 0.6
    baseline: tuple[float, float] = (-0.1, 0.0)
    scale: float = 1e5  # volts -> model units (10 uV -> 1.0)
    highpass: float = 0.0  # Hz; 0 = off. Per-epoch zero-phase high-pass, see prepare_epochs()
    montage: str | None = ""  # MNE montage of ch_names; "" = guess (biosemi128 for A1..D32), None = unknown
    notch: float = 0.0  # Hz; 0 = off. Line frequency (50/60) whose harmonics below Nyquist are removed
    reference: str = ""  # "" = as recorded, "average", or channel names "M1,M2" whose mean is subtracted

    def __post_init__(self) -> None:
        if self.montage == "":
            object.__setattr__(self, "montage", guess_montage(self.ch_names))
        if self.notch < 0 or (self.notch and self.notch >= self.sfreq / 2):
            raise EegvizError(f"notch {self.notch:g} Hz must lie between 0 and Nyquist ({self.sfreq / 2:g} Hz)")
        # checked where the spec is made: `eegviz train` makes it before its output folder exists, and a cutoff
        # refused at the first filtered epoch had already claimed the folder (found by review)
        if self.highpass < 0 or (self.highpass and self.highpass >= self.sfreq / 2):
            raise EegvizError(f"high-pass cutoff {self.highpass:g} Hz must lie between 0 and Nyquist "
                              f"({self.sfreq / 2:g} Hz)")
        reference_indices(self)  # unknown reference channels fail when the spec is made, not on the first epoch

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
            montage=d.get("montage", ""),  # before montages were recorded: guessed from the names
            notch=float(d.get("notch", 0.0)), reference=str(d.get("reference", "") or ""),
        )


def reference_indices(spec: InputSpec) -> np.ndarray | None:
    """Indices of the channels whose mean is the reference; None: leave the reference as recorded."""
    ref = spec.reference.strip()
    if not ref:
        return None
    if ref.lower() == "average":
        return np.arange(len(spec.ch_names))
    lookup = {c.lower(): i for i, c in enumerate(spec.ch_names)}
    names = [r.strip() for r in ref.split(",") if r.strip()]
    unknown = [r for r in names if r.lower() not in lookup]
    if unknown or not names:
        raise EegvizError(f"reference channel(s) {', '.join(unknown) or ref!r} are not among the model's "
                          "channels; use 'average' or names of the model's channels separated by commas")
    return np.array([lookup[r.lower()] for r in names])


MAX_RESAMPLE_DENOMINATOR = 16384
RESAMPLE_MARGIN_S = 0.05  # at least this much more either side of a window that is resampled (filter edges)


class Preprocessor:
    """Maps source channels/rate onto an InputSpec: select by name (or map by position and interpolate),
    resample, then prepare_epochs() as in training.

    montage: the source's MNE montage name (the Pipeline passes the session's `--montage`); None guesses it
    from the channel names. The channel map is computed here, once per session, and is a fixed matrix afterwards.
    label_hint: what a source that labels no channel can do about it (build_channel_map).
    bads: source electrodes left out as bad, their model channels interpolated from the rest (build_channel_map);
    with_bads() makes the same Preprocessor with more of them (those found dead in a session).
    """

    def __init__(self, spec: InputSpec, source_ch_names: tuple[str, ...] | list[str], source_sfreq: float,
                 montage: str | None = None, label_hint: str | None = None, bads=(), warn: bool = True):
        from eegviz.stream.montage import build_channel_map

        self.spec = spec
        self._made_with = (tuple(source_ch_names), source_sfreq, montage, label_hint)
        self.source_ch_names = tuple(str(c) for c in source_ch_names)  # as the source names them; picks index them
        self.channel_map = build_channel_map(spec.ch_names, spec.montage, source_ch_names, montage,
                                             label_hint=label_hint, bads=tuple(bads), warn=warn)
        self.picks = self.channel_map.picks  # the source channels the model's are made of (NaN checks)
        if not (math.isfinite(source_sfreq) and source_sfreq > 0):  # an XDF header's rate is text: inf, nan
            raise EegvizError(f"the EEG stream has no regular sampling rate ({source_sfreq:g} Hz; 0: irregular or "
                              "none given); epochs are cut by sample count, so eegviz needs a stream with a fixed rate")
        if (spec.tmax - spec.tmin) * source_sfreq < 2:  # nothing an epoch could be resampled from
            raise EegvizError(f"the EEG stream's rate, {source_sfreq:g} Hz, gives fewer than 2 samples per "
                              f"{spec.tmax - spec.tmin:g} s epoch; is the rate (or --sfreq) right?")
        # up / down of the polyphase resampler; denominators up to 16384 cover every amplifier rate, BioSemi's
        # 2048-16384 Hz included (250 / 2048 = 125 / 1024: about 10 ms an epoch on 2 cores)
        ratio = Fraction(spec.sfreq / source_sfreq).limit_denominator(MAX_RESAMPLE_DENOMINATOR)
        if abs(float(ratio) * source_sfreq - spec.sfreq) > 1e-6 * spec.sfreq:
            raise EegvizError(f"cannot resample {source_sfreq} Hz to the model's {spec.sfreq} Hz exactly")
        self.up, self.down = ratio.numerator, ratio.denominator
        self.source_sfreq = source_sfreq
        # The margin is a whole number of model samples, so the resampled window has a model sample exactly at
        # tmin: 0.05 s is 12.5 samples at 250 Hz, and cutting at round((tmin - lo) * sfreq) started the epoch
        # half a sample late (round(12.500000000000004) = 13), moving every response half a sample earlier.
        # It also covers the resampler's FIR filter: scipy's resample_poly uses 10 * max(up, down) taps either side
        # at the upsampled rate, 10 * max(up, down) / (up * source rate) seconds (80 ms from 125 Hz to 250 Hz,
        # where a fixed 50 ms let the zero padding's edge reach into the epoch).
        half_s = 10 * max(self.up, self.down) / (self.up * source_sfreq)
        self.margin_samples = (0 if self.up == self.down
                               else max(int(round(RESAMPLE_MARGIN_S * spec.sfreq)), math.ceil(half_s * spec.sfreq) + 1))

    def with_bads(self, bads, warn: bool = False) -> Preprocessor:
        """This Preprocessor with `bads` (source channel names) left out as well as those it already leaves out;
        an EegvizError where too few electrodes remain to build the channel map."""
        names, sfreq, montage, hint = self._made_with
        both = dict.fromkeys([*self.channel_map.bads, *bads])
        return Preprocessor(self.spec, names, sfreq, montage=montage, label_hint=hint, bads=tuple(both), warn=warn)

    def source_window(self) -> tuple[float, float]:
        """The window to cut in source time; a little margin either side absorbs the resampling filter edges."""
        margin = self.margin_samples / self.spec.sfreq
        return self.spec.tmin - margin, self.spec.tmax + margin

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """data: (n_source_channels, n_source_times) volts cut at source_window() -> (n_ch, n_times) float32."""
        x = self.channel_map.apply(data)
        if not np.all(np.isfinite(x)):
            raise EegvizError("EEG contains NaN or infinite samples; check the amplifier connection")
        if self.up != self.down:
            # resampled about each channel's mean, added back after: resample_poly pads with zeros, so a DC
            # offset (tens of mV on DC-coupled amplifiers) would make edge transients, and at fractional ratios
            # its polyphase branches pass DC with unequal gains, a ripple at the branch rate (a 50 Hz tone from
            # 200 Hz, a slow wave from 256 Hz) of ERP size. The filter is linear, so the signal is unchanged.
            mean = x.mean(axis=1, keepdims=True)
            x = resample_poly(x - mean, self.up, self.down, axis=1) + mean
            x = x[:, self.margin_samples : self.margin_samples + self.spec.n_times]
        else:
            x = x[:, : self.spec.n_times]
        if x.shape[1] != self.spec.n_times:
            raise EegvizError(f"epoch has {x.shape[1]} samples, the model needs {self.spec.n_times}")
        return prepare_epochs(x, self.spec)


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


def notch(x: np.ndarray, sfreq: float, line: float) -> np.ndarray:
    """Remove the line frequency and its harmonics below Nyquist from (..., n_times) epochs.

    Why a least-squares sinusoid fit and not an IIR notch: a notch narrow enough to spare the EEG around
    50 Hz rings for about Q / (pi f0) ~ 0.2 s (Q 30), a third of a 0.7 s epoch, and filtfilt's padding
    cannot hide that on so short a window. Within one epoch, line noise is a sum of sinusoids at known
    frequencies, so each epoch's least-squares fit of cos/sin at f0, 2 f0, ... (with an offset and a slope,
    so drifts do not leak into the fit) is subtracted: exact for stationary mains, zero-phase, no edges.
    It is MNE's 'spectrum_fit' idea without the tapers; what it also removes is the EEG's own projection on
    those sinusoids, a band about 1/window (1.4 Hz) wide around each harmonic.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    freqs = line * np.arange(1, int(np.ceil((sfreq / 2) / line)))
    freqs = freqs[freqs < sfreq / 2 - 1e-9]
    if not len(freqs):
        return x
    t = np.arange(n) / sfreq
    lines = np.concatenate([np.cos(2 * np.pi * np.outer(freqs, t)), np.sin(2 * np.pi * np.outer(freqs, t))])
    design = np.vstack([np.ones(n), np.linspace(-1.0, 1.0, n), lines]).T  # (n_times, k)
    fit_lines = lines.T @ np.linalg.pinv(design)[2:]  # (n_times, n_times): samples -> their fitted line noise
    return x - x @ fit_lines.T


def rereference(x: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Subtract the mean of the reference channels (all of them for 'average') from every channel."""
    idx = reference_indices(spec)
    if idx is None:
        return x
    return x - x[..., idx, :].mean(axis=-2, keepdims=True)


def prepare_epochs(x: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(..., n_ch, n_times) epochs already at the model's rate, made what the model reads: notch and high-pass
    (when the model asks for them), re-reference, baseline-correct and scale. Training, eval and the live path
    all call this one function, so the model never sees live data prepared differently from its training data."""
    if spec.notch > 0:
        x = notch(x, spec.sfreq, spec.notch)
    if spec.highpass > 0:
        x = highpass(np.asarray(x, dtype=np.float64), spec.sfreq, spec.highpass)
    if spec.reference:
        x = rereference(np.asarray(x, dtype=np.float64), spec)
    window = baseline_samples(spec)
    if window is not None:
        x = x - x[..., window[0]:window[1]].mean(axis=-1, keepdims=True)
    return (x * spec.scale).astype(np.float32)


def baseline_samples(spec: InputSpec) -> tuple[int, int] | None:
    """The sample range [b0, b1) of the epoch that baseline correction averages, or None for no correction.

    The baseline window is clipped to the epoch (tmin..tmax): a window that starts before tmin starts at the
    first sample, one that ends after tmax ends at the last, and a non-empty overlap shorter than a sample
    keeps one sample (an epoch starting exactly where the baseline ends uses its first sample). When the
    window lies wholly outside the epoch (EEG-ImageNet's epochs start at +0.02 s, after the default -0.1..0 s
    baseline) there is no pre-stimulus signal to subtract and no correction is applied, rather than
    subtracting the mean of some other stretch of the response (negative indices used to pick 340-440 ms
    there). Indices are never negative."""
    n = spec.n_times
    lo = max(spec.baseline[0], spec.tmin)
    hi = min(spec.baseline[1], spec.tmax)
    if hi < lo or n <= 0:
        return None
    b0 = min(n - 1, max(0, int(round((lo - spec.tmin) * spec.sfreq))))
    b1 = min(n, max(b0 + 1, int(round((hi - spec.tmin) * spec.sfreq))))
    return b0, b1
