"""EEG simulator for the synthetic world, built on an MNE forward model.

A spherical head model (mne.make_sphere_model) on the biosemi128 montage and a handful of discrete cortical
dipoles give a real lead field (mne.make_forward_solution). Visual evoked responses are source time courses:
- C1 (~70 ms) in V1, one dipole per visual-field quadrant: contralateral, polarity flipping between upper and
  lower field (the calcarine banks face opposite ways);
- P1 (~100 ms) and N1 (~170 ms) in lateral occipital cortex, contralateral, scaled by size and contrast;
- class-specific components (~180-400 ms) over ventral occipito-temporal dipoles: each class its own spatial
  pattern and timing, mostly shared across subjects, partly subject-specific; colour adds a small component.
Background: pink (1/f) noise on random dipoles across the brain, occipital alpha (~10 Hz) and sensor noise,
so noise is spatially correlated like real EEG. Single-trial SNR is low: averaging is what makes the VEP
visible, and decoders must work with single trials.

The lead field is computed once by build_leadfield() and cached in leadfield.npz beside this file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

LEADFIELD = Path(__file__).with_name("leadfield.npz")
N_VENTRAL, N_NOISE = 16, 40
EVOKED_S = 0.8


def _source_layout(seed: int = 7):
    """Dipole positions (head frame, metres, relative to the sphere centre) and orientations, by role."""
    rng = np.random.default_rng(seed)
    rr, nn, role = [], [], []
    # V1 quadrants: (hemisphere x sign, field) - right visual field -> left hemisphere.
    for hx in (-1, 1):
        for field, z, oz in (("upper", -0.008, -1.0), ("lower", 0.012, 1.0)):
            rr.append([hx * 0.012, -0.068, z])
            nn.append([0.0, -0.5, oz])
            role.append(f"v1_{'L' if hx < 0 else 'R'}_{field}")
    for hx in (-1, 1):  # lateral occipital (P1/N1)
        rr.append([hx * 0.040, -0.058, 0.005])
        nn.append([hx * 0.6, -0.8, 0.1])
        role.append(f"lo_{'L' if hx < 0 else 'R'}")
    for i in range(N_VENTRAL):  # ventral occipito-temporal (class components)
        hx = -1 if i % 2 == 0 else 1
        rr.append([hx * rng.uniform(0.025, 0.050), rng.uniform(-0.065, -0.030), rng.uniform(-0.030, 0.000)])
        nn.append(rng.standard_normal(3))
        role.append(f"vt_{i}")
    for i in range(N_NOISE):  # background generators anywhere in the brain
        d = rng.standard_normal(3)
        rr.append(d / np.linalg.norm(d) * rng.uniform(0.02, 0.065))
        nn.append(rng.standard_normal(3))
        role.append(f"bg_{i}")
    nn = np.array(nn, float)
    return np.array(rr, float), nn / np.linalg.norm(nn, axis=1, keepdims=True), role


def build_leadfield() -> dict:
    """Compute the fixed-orientation gain matrix (128 x n_sources, V per A*m) with MNE's sphere model."""
    import mne

    mne.set_log_level("ERROR")
    montage = mne.channels.make_standard_montage("biosemi128")
    info = mne.create_info(montage.ch_names, 250.0, "eeg")
    info.set_montage(montage)
    sphere = mne.make_sphere_model("auto", "auto", info)
    rr, nn, role = _source_layout()
    pos = rr + np.asarray(sphere["r0"])
    src = mne.setup_volume_source_space(pos=dict(rr=pos, nn=nn), sphere=sphere)
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=True, meg=False)
    gain_free = fwd["sol"]["data"].reshape(len(info.ch_names), -1, 3)  # (ch, src, xyz)
    gain = np.einsum("csk,sk->cs", gain_free, nn)
    return {"gain": gain.astype(np.float32), "rr": pos, "nn": nn, "role": np.array(role),
            "ch_names": np.array(info.ch_names)}


@lru_cache(maxsize=1)
def load_leadfield() -> dict:
    if not LEADFIELD.exists():
        np.savez_compressed(LEADFIELD, **build_leadfield())
    with np.load(LEADFIELD) as f:
        return {k: f[k] for k in f.files}


def _gauss(t: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - mu) / sigma) ** 2)


def pink_noise(shape: tuple[int, ...], rng: np.random.Generator, sfreq: float) -> np.ndarray:
    """Unit-variance 1/f noise along the last axis."""
    n = shape[-1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    f = np.fft.rfftfreq(n, 1 / sfreq)
    f[0] = f[1] if n > 1 else 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n=n, axis=-1)
    return x / (x.std(axis=-1, keepdims=True) + 1e-12)


class EEGSimulator:
    """Simulated subject: evoked responses to StimulusSpecs plus realistic background, in volts."""

    SOURCE_SCALE = 40e-9  # A*m of a unit source waveform; sets evoked amplitudes to a few microvolts
    NOISE_SCALE = 55e-9

    def __init__(self, subject: int = 0, sfreq: float = 250.0, seed: int = 0):
        lf = load_leadfield()
        self.sfreq, self.subject = float(sfreq), subject
        self.ch_names = tuple(str(c) for c in lf["ch_names"])
        role = list(lf["role"])
        self.gain = lf["gain"].astype(np.float64)
        self.idx = {r: i for i, r in enumerate(role)}
        self.vt = np.array([self.idx[f"vt_{i}"] for i in range(N_VENTRAL)])
        self.bg = np.array([self.idx[f"bg_{i}"] for i in range(N_NOISE)])
        shared = np.random.default_rng([seed, 12345])
        own = np.random.default_rng([seed, 777, subject])
        from eegviz.world.stimuli import CLASSES, COLORS

        n_cls = len(CLASSES)
        # class patterns over ventral sources: 80% shared across subjects, 20% the subject's own
        self.class_pattern = 0.8 * shared.standard_normal((n_cls, N_VENTRAL)) + 0.2 * own.standard_normal((n_cls, N_VENTRAL))
        self.class_latency = shared.uniform(0.19, 0.32, n_cls) + own.normal(0, 0.008)
        self.class_second = shared.standard_normal((n_cls, N_VENTRAL))
        self.colour_names = list(COLORS)
        self.colour_pattern = shared.standard_normal((len(COLORS), N_VENTRAL)) * 0.35
        self.gain_subject = own.uniform(0.8, 1.2)
        self.latency_shift = own.normal(0, 0.006)
        self.alpha_freq = own.uniform(9.0, 11.5)
        self.n_evoked = int(round(EVOKED_S * self.sfreq))
        self.t = np.arange(self.n_evoked) / self.sfreq
        self._cache: dict[str, np.ndarray] = {}

    def source_waveforms(self, spec) -> np.ndarray:
        """(n_sources, n_times) source moments in A*m for one stimulus (noise-free)."""
        t = self.t - self.latency_shift
        src = np.zeros((self.gain.shape[1], len(t)))
        drive = spec.contrast * (0.5 + spec.size)  # bigger, higher-contrast stimuli evoke more
        right = 1 / (1 + np.exp(-6 * spec.cx))  # right visual field -> left hemisphere
        upper = 1 / (1 + np.exp(-6 * spec.cy))
        c1 = _gauss(t, 0.072, 0.012)
        for hemi, w_h in (("L", right), ("R", 1 - right)):
            src[self.idx[f"v1_{hemi}_upper"]] += 1.6 * drive * w_h * upper * c1
            src[self.idx[f"v1_{hemi}_lower"]] += 1.6 * drive * w_h * (1 - upper) * c1
            w_lo = 0.35 + 0.65 * w_h
            src[self.idx[f"lo_{hemi}"]] += drive * w_lo * (1.2 * _gauss(t, 0.100, 0.015) - 1.5 * _gauss(t, 0.170, 0.025))
        lat = self.class_latency[spec.class_idx]
        wave1 = _gauss(t, lat, 0.035)
        wave2 = _gauss(t, lat + 0.11, 0.05)
        src[self.vt] += 1.8 * np.outer(self.class_pattern[spec.class_idx], wave1)
        src[self.vt] += 1.2 * np.outer(self.class_second[spec.class_idx], wave2)
        col = self.colour_names.index(spec.color_name) if spec.color_name in self.colour_names else 0
        src[self.vt] += np.outer(self.colour_pattern[col], _gauss(t, 0.15, 0.03))
        return src * self.SOURCE_SCALE * self.gain_subject

    def evoked(self, spec) -> np.ndarray:
        """(n_channels, 0.8 s) float32 volts, the noise-free response from stimulus onset."""
        out = self._cache.get(spec.image_id)
        if out is None:
            out = (self.gain @ self.source_waveforms(spec)).astype(np.float32)
            self._cache[spec.image_id] = out
        return out

    def background(self, n_samples: int, rng: np.random.Generator, n_trials: int | None = None) -> np.ndarray:
        """(n_channels, n) volts (or (n_trials, n_channels, n)): 1/f sources + occipital alpha + sensor noise."""
        shape = (n_trials,) if n_trials else ()
        srcs = pink_noise(shape + (N_NOISE, n_samples), rng, self.sfreq) * self.NOISE_SCALE
        x = np.einsum("cs,...st->...ct", self.gain[:, self.bg], srcs)
        t = np.arange(n_samples) / self.sfreq
        phase = rng.uniform(0, 2 * np.pi, shape + (1,))
        env = 1 + 0.5 * pink_noise(shape + (n_samples,), rng, self.sfreq) * 0.3
        alpha = np.sin(2 * np.pi * self.alpha_freq * t + phase) * env * self.NOISE_SCALE * 0.8
        occ = self.gain[:, self.idx["lo_L"]] + self.gain[:, self.idx["lo_R"]]
        x = x + np.einsum("c,...t->...ct", occ, alpha)
        x = x + rng.standard_normal(x.shape) * 1.5e-6
        return x.astype(np.float32)

    def epochs(self, specs, tmin: float = -0.1, tmax: float = 0.6, rng: np.random.Generator | None = None) -> np.ndarray:
        """(n_trials, n_channels, n_times) single trials: evoked (with trial-to-trial gain jitter) + background."""
        rng = rng or np.random.default_rng(0)
        n = int(round((tmax - tmin) * self.sfreq))
        out = self.background(n, rng, n_trials=len(specs))
        start = int(round(-tmin * self.sfreq))
        for i, spec in enumerate(specs):
            ev = self.evoked(spec) * rng.uniform(0.8, 1.2)
            a, b = max(start, 0), min(n, start + self.n_evoked)
            out[i, :, a:b] += ev[:, a - start : b - start]
        return out

    def continuous(self, specs, onsets_s, duration_s: float, rng: np.random.Generator | None = None) -> np.ndarray:
        """(n_channels, n_samples) volts: a continuous recording with each stimulus's response at its onset."""
        rng = rng or np.random.default_rng(0)
        n = int(round(duration_s * self.sfreq))
        x = self.background(n, rng)
        for spec, onset in zip(specs, onsets_s):
            s = int(round(onset * self.sfreq))
            e = min(n, s + self.n_evoked)
            if s < n:
                x[:, s:e] += self.evoked(spec)[:, : e - s] * rng.uniform(0.8, 1.2)
        return x
