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

import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

LEADFIELD = Path(__file__).with_name("leadfield.npz")
N_VENTRAL, N_NOISE = 16, 40
EVOKED_S = 0.8
SNR_WINDOW_S = 0.6  # the class-discriminative SNR is measured over 0-0.6 s after onset


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

    def __init__(self, subject: int = 0, sfreq: float = 250.0, seed: int = 0, config=None):
        from eegviz.world.sim_config import DEMO

        self.config = config or DEMO
        self.seed = seed
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
        # class patterns over ventral sources: shared_fraction (demo 0.8) shared across subjects, the rest the
        # subject's own (rounded so the demo's weights are exactly 0.8 and 0.2, as they always were)
        w_shared = self.config.shared_fraction
        w_own = round(1.0 - w_shared, 12)
        self.class_pattern = (w_shared * shared.standard_normal((n_cls, N_VENTRAL))
                              + w_own * own.standard_normal((n_cls, N_VENTRAL)))
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
        self.class_gain = 1.0  # scale of the class-specific components (set by calibrate_class_snr)
        self.class_snr_floor_db: float | None = None  # the least class SNR calibrate_class_snr can reach

    def _sources(self, spec, dt_early: float = 0.0, dt_late: float = 0.0, patterns=None):
        """(rest, class-specific) source time courses, unscaled: C1/P1/N1 and colour vs the class components.

        dt_early / dt_late shift the early and the class components (per-trial latency jitter); `patterns`
        replaces the class's (first, second) ventral patterns (an exemplar's own variation)."""
        t = self.t - self.latency_shift
        te, tl = t - dt_early, t - dt_late
        rest = np.zeros((self.gain.shape[1], len(t)))
        cls = np.zeros_like(rest)
        drive = spec.contrast * (0.5 + spec.size)  # bigger, higher-contrast stimuli evoke more
        right = 1 / (1 + np.exp(-6 * spec.cx))  # right visual field -> left hemisphere
        upper = 1 / (1 + np.exp(-6 * spec.cy))
        c1 = _gauss(te, 0.072, 0.012)
        for hemi, w_h in (("L", right), ("R", 1 - right)):
            rest[self.idx[f"v1_{hemi}_upper"]] += 1.6 * drive * w_h * upper * c1
            rest[self.idx[f"v1_{hemi}_lower"]] += 1.6 * drive * w_h * (1 - upper) * c1
            w_lo = 0.35 + 0.65 * w_h
            rest[self.idx[f"lo_{hemi}"]] += drive * w_lo * (1.2 * _gauss(te, 0.100, 0.015) - 1.5 * _gauss(te, 0.170, 0.025))
        lat = self.class_latency[spec.class_idx]
        first, second = patterns or (self.class_pattern[spec.class_idx], self.class_second[spec.class_idx])
        cls[self.vt] += 1.8 * np.outer(first, _gauss(tl, lat, 0.035))
        cls[self.vt] += 1.2 * np.outer(second, _gauss(tl, lat + 0.11, 0.05))
        col = self.colour_names.index(spec.color_name) if spec.color_name in self.colour_names else 0
        rest[self.vt] += np.outer(self.colour_pattern[col], _gauss(te, 0.15, 0.03))
        return rest, cls

    def source_waveforms(self, spec) -> np.ndarray:
        """(n_sources, n_times) source moments in A*m for one stimulus (noise-free, the demo world's)."""
        rest, cls = self._sources(spec)
        return (rest + cls) * self.SOURCE_SCALE * self.gain_subject

    def exemplar_patterns(self, spec):
        """The image's own (first, second) class patterns when config.exemplar > 0, else None: a fraction
        `exemplar` of the pattern variance is specific to the image (the same image id gives the same
        variation in every subject and session)."""
        x = self.config.exemplar
        if not x:
            return None
        r = np.random.default_rng([self.seed, 4242, zlib.crc32(spec.image_id.encode())])
        c = spec.class_idx
        out = []
        for pat in (self.class_pattern, self.class_second):
            rms = float(np.sqrt((pat ** 2).mean()))
            out.append(np.sqrt(1 - x) * pat[c] + np.sqrt(x) * rms * r.standard_normal(N_VENTRAL))
        return tuple(out)

    def trial_parts(self, spec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One trial's (rest, class-specific) channel responses in volts, (ch, 0.8 s) each, with this trial's
        latency jitter, amplitude and the image's exemplar variation; the class part is not yet scaled by
        class_gain."""
        cfg = self.config
        dt_e = rng.normal(0, cfg.jitter_early_ms * 1e-3) if cfg.jitter_early_ms else 0.0
        dt_l = rng.normal(0, cfg.jitter_late_ms * 1e-3) if cfg.jitter_late_ms else 0.0
        g = rng.uniform(0.8, 1.2) if cfg.amp_sd is None else max(0.1, 1 + cfg.amp_sd * rng.standard_normal())
        rest, cls = self._sources(spec, dt_e, dt_l, self.exemplar_patterns(spec))
        k = self.SOURCE_SCALE * self.gain_subject * g
        return self.gain @ rest * k, self.gain @ cls * k

    def trial_signal(self, spec, rng: np.random.Generator) -> np.ndarray:
        """(ch, 0.8 s) float32 volts: one trial's stimulus-evoked response. The demo world's is the cached
        evoked response times a uniform 0.8-1.2 gain (the same random draw as always)."""
        if self.config.is_demo_signal:
            return self.evoked(spec) * rng.uniform(0.8, 1.2)
        rest, cls = self.trial_parts(spec, rng)
        return (rest + self.class_gain * cls).astype(np.float32)

    def window_samples(self, window_s: float = SNR_WINDOW_S) -> int:
        return min(self.n_evoked, int(round(window_s * self.sfreq)))

    def calibrate_class_snr(self, snr_db: float, specs, rng: np.random.Generator) -> float:
        """Set class_gain so the class-discriminative SNR (eegviz.world.sim_config) of trials like `specs`
        is `snr_db`; returns the gain. Between-class variance of the class means is quadratic in the gain
        (k^2 a + 2 k b + c, the rest of the response contributing b and c), so it is solved, not searched.

        The rest of the response (C1/P1/N1, colour) differs between classes too, so there is a least SNR: with
        the class components off (gain 0) the world still measures c. A request below it gets gain 0 and that
        floor, not the SNR asked for; class_snr_floor_db says what the floor is, for callers to warn or refuse
        (below_class_snr_floor)."""
        w = self.window_samples()
        meter_r, meter_c = SnrMeter(w), SnrMeter(w)
        for spec in specs:
            rest, cls = self.trial_parts(spec, rng)
            meter_r.add_signal(spec.class_idx, rest)
            meter_c.add_signal(spec.class_idx, cls)
        r, c = meter_r.centred_means(), meter_c.centred_means()
        a, b, c0 = float((c * c).mean()), float((c * r).mean()), float((r * r).mean())
        bg = SnrMeter(w)
        bg.add_background(self.background(self.n_evoked, rng, n_trials=64), 0)
        bg_var = bg.background_var()
        target = 10 ** (snr_db / 10) * bg_var
        disc = b * b - a * (c0 - target)
        self.class_gain = max(0.0, (-b + np.sqrt(disc)) / a) if a > 0 and disc >= 0 else 0.0
        self.class_snr_floor_db = float(10 * np.log10(max(c0, 1e-300) / bg_var))
        return self.class_gain

    def below_class_snr_floor(self, snr_db: float) -> str | None:
        """After calibrate_class_snr(snr_db): None when the SNR was reached, else a sentence saying it was not,
        and what the world is at instead (the class components off)."""
        if self.class_gain > 0 or self.class_snr_floor_db is None or snr_db >= self.class_snr_floor_db - 0.05:
            return None
        return (f"class SNR {snr_db:g} dB is below the least this simulated world reaches "
                f"({self.class_snr_floor_db:.1f} dB with its class components off: the rest of its response, early "
                "components and colour, differs between classes too)")

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

    def epochs(self, specs, tmin: float = -0.1, tmax: float = 0.6, rng: np.random.Generator | None = None,
               meter: "SnrMeter | None" = None) -> np.ndarray:
        """(n_trials, n_channels, n_times) single trials: evoked (trial_signal) + background; `meter`, when
        given, measures the class-discriminative SNR of exactly these trials."""
        rng = rng or np.random.default_rng(0)
        n = int(round((tmax - tmin) * self.sfreq))
        out = self.background(n, rng, n_trials=len(specs))
        start = int(round(-tmin * self.sfreq))
        if meter is not None:
            meter.add_background(out, start)
        for i, spec in enumerate(specs):
            ev = self.trial_signal(spec, rng)
            if meter is not None:
                meter.add_signal(spec.class_idx, ev)
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
                x[:, s:e] += self.trial_signal(spec, rng)[:, : e - s]
        return x


class SnrMeter:
    """Accumulates the class-discriminative SNR of a set of trials (definition in eegviz.world.sim_config):
    per-class sums of the noise-free responses over the first `w` samples after onset, and the background's
    variance across trials over the same window, both averaged over channels and samples."""

    def __init__(self, w: int):
        self.w = w
        self.sums: dict[int, np.ndarray] = {}
        self.counts: dict[int, int] = {}
        self._bg = [0, 0.0, 0.0]  # trials, sum, sum of squares (per ch, t)

    def add_signal(self, class_idx: int, response: np.ndarray) -> None:
        r = np.asarray(response[:, : self.w], np.float64)
        self.sums[class_idx] = self.sums.get(class_idx, 0) + r
        self.counts[class_idx] = self.counts.get(class_idx, 0) + 1

    def add_background(self, x: np.ndarray, onset: int, chunk: int = 256) -> None:
        for i in range(0, len(x), chunk):
            part = np.asarray(x[i:i + chunk, :, onset:onset + self.w], np.float64)
            self._bg[0] += len(part)
            self._bg[1] = self._bg[1] + part.sum(0)
            self._bg[2] = self._bg[2] + (part * part).sum(0)

    def centred_means(self) -> np.ndarray:
        """(n_classes, ch, w) class means minus their grand mean."""
        m = np.stack([self.sums[c] / self.counts[c] for c in sorted(self.sums)])
        return m - m.mean(0)

    def between_var(self) -> float:
        return float((self.centred_means() ** 2).mean())

    def background_var(self) -> float:
        n, s, ss = self._bg
        return float((ss / n - (s / n) ** 2).mean() * n / max(n - 1, 1))

    def snr_db(self) -> float:
        return float(10 * np.log10(max(self.between_var(), 1e-300) / self.background_var()))
