"""Artefacts and block confounds added to simulated epochs (knobs in eegviz.world.sim_config).

Artefacts are what real recordings carry on top of brain activity and what preprocessing does not make go
away on its own: blinks (large, slow, frontal), EMG bursts (broadband, temporal muscles) and mains
interference. Block confounds differ between recording blocks (runs): in a block design, where a block is a
class, they are class signals that have nothing to do with vision, which is what the confound controls are
for. Each function adds in place and draws only from the generator it is given, so turning one on never
changes the other random streams (the demo world stays sample-for-sample the same).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4)
def channel_positions(ch_names: tuple[str, ...]) -> np.ndarray:
    """(n_ch, 3) head-frame positions (metres; +y anterior, +x right) from MNE's biosemi128 montage."""
    import mne

    pos = mne.channels.make_standard_montage("biosemi128").get_positions()["ch_pos"]
    return np.array([pos[c] for c in ch_names], float)


def frontal_weights(ch_names) -> np.ndarray:
    """Blink topography: 1 at the most anterior electrodes, falling off towards the back (~3 cm scale)."""
    y = channel_positions(tuple(ch_names))[:, 1]
    return np.exp((y - y.max()) / 0.03)


def temporal_weights(ch_names) -> np.ndarray:
    """EMG topography: strongest at lateral, low electrodes (temporalis muscles)."""
    p = channel_positions(tuple(ch_names))
    lat = np.abs(p[:, 0]) / np.abs(p[:, 0]).max()
    low = (p[:, 2].max() - p[:, 2]) / (np.ptp(p[:, 2]) + 1e-12)
    return lat ** 3 * (0.3 + 0.7 * low)


def _blink(t: np.ndarray, w: np.ndarray, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """(ch, t) one blink (80-200 uV, ~250 ms wide) on topography w, centred at a random time in [lo, hi]."""
    amp = rng.uniform(80e-6, 200e-6)
    centre, width = rng.uniform(lo, hi), rng.uniform(0.08, 0.12)
    return amp * w[:, None] * np.exp(-0.5 * ((t - centre) / width) ** 2)[None]


def _emg_sos(sfreq: float):
    from scipy.signal import butter

    return butter(4, [20, min(120, sfreq / 2 - 1)], btype="band", fs=sfreq, output="sos")


def _emg_burst(t: np.ndarray, w: np.ndarray, sos, rng: np.random.Generator) -> np.ndarray:
    """(ch, t) one EMG burst (5-20 uV broadband 20-120 Hz, 0.1-0.3 s) on topography w, at a random time."""
    from scipy.signal import sosfilt

    dur = rng.uniform(0.1, 0.3)
    s = rng.uniform(0, max(t[-1] - dur, 0))
    env = ((t >= s) & (t < s + dur)).astype(float)
    noise = sosfilt(sos, rng.standard_normal((len(w), len(t))), axis=-1)
    noise /= noise.std() + 1e-12
    return rng.uniform(5e-6, 20e-6) * w[:, None] * noise * env[None]


def add_artefacts(x: np.ndarray, cfg, ch_names, sfreq: float, rng: np.random.Generator) -> dict:
    """In place on (n_trials, ch, t) volts: blinks, EMG bursts, line noise as cfg asks; returns counts."""
    n, _, nt = x.shape
    t = np.arange(nt) / sfreq
    counts = {"blinks": 0, "emg_bursts": 0}
    if cfg.blink_rate:
        w = frontal_weights(ch_names)
        for i in np.flatnonzero(rng.random(n) < cfg.blink_rate):
            x[i] += _blink(t, w, rng, -0.1, t[-1] + 0.1).astype(x.dtype)
            counts["blinks"] += 1
    if cfg.emg_rate:
        w, sos = temporal_weights(ch_names), _emg_sos(sfreq)
        for i in np.flatnonzero(rng.random(n) < cfg.emg_rate):
            x[i] += _emg_burst(t, w, sos, rng).astype(x.dtype)
            counts["emg_bursts"] += 1
    if cfg.line_uv:
        topo = line_topography(x.shape[1], rng)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        x += (cfg.line_uv * 1e-6 * topo[None, :, None] * np.sin(2 * np.pi * cfg.line_hz * t + phase)).astype(x.dtype)
    return counts


def line_topography(n_ch: int, rng: np.random.Generator) -> np.ndarray:
    """Mains pick-up per electrode, 0.5-1: cable lengths and impedances differ."""
    return 0.5 + 0.5 * rng.random(n_ch)


def add_continuous_artefacts(x: np.ndarray, cfg, ch_names, sfreq: float, t0_s: float, trials_per_s: float,
                             rng: np.random.Generator, line_topo: np.ndarray | None = None) -> dict:
    """In place on a (ch, t) stretch of continuous EEG that starts t0_s into the recording: what add_artefacts
    puts on epochs, for the live simulator. The per-trial rates become rates per second at the stimulus rate
    (trials_per_s), as Poisson counts per stretch; blinks are kept 0.35 s from the stretch's edges so none is
    cut in half; the mains keeps one phase and one topography (line_topo) for the whole recording, as a real
    amplifier's pick-up does. Returns the counts."""
    n_ch, nt = x.shape
    t = np.arange(nt) / sfreq
    dur = nt / sfreq
    counts = {"blinks": 0, "emg_bursts": 0}
    if cfg.blink_rate and dur > 0.7:
        w = frontal_weights(ch_names)
        for _ in range(rng.poisson(cfg.blink_rate * trials_per_s * dur)):
            x += _blink(t, w, rng, 0.35, dur - 0.35).astype(x.dtype)
            counts["blinks"] += 1
    if cfg.emg_rate:
        w, sos = temporal_weights(ch_names), _emg_sos(sfreq)
        for _ in range(rng.poisson(cfg.emg_rate * trials_per_s * dur)):
            x += _emg_burst(t, w, sos, rng).astype(x.dtype)
            counts["emg_bursts"] += 1
    if cfg.line_uv:
        topo = line_topo if line_topo is not None else np.ones(n_ch)
        x += (cfg.line_uv * 1e-6 * topo[:, None] * np.sin(2 * np.pi * cfg.line_hz * (t0_s + t))[None]).astype(x.dtype)
    return counts


def add_block_confounds(x: np.ndarray, blocks: np.ndarray, cfg, alpha_topo: np.ndarray, alpha_hz: float,
                        sfreq: float, rng: np.random.Generator) -> None:
    """In place: per-block alpha power (block_alpha) and block-locked mains (block_line_uv); see the module
    docstring of eegviz.world.sim_config for why each survives ordinary preprocessing."""
    nt = x.shape[-1]
    t = np.arange(nt) / sfreq
    for b in np.unique(blocks):
        rows = np.flatnonzero(blocks == b)
        if cfg.block_alpha:
            # extra (or less) alpha in this block: random phase per trial, so it is power, not a waveform
            g = np.exp(rng.normal(0, cfg.block_alpha)) - 1.0
            phase = rng.uniform(0, 2 * np.pi, (len(rows), 1, 1))
            alpha = np.sin(2 * np.pi * alpha_hz * t + phase)
            x[rows] += (g * 4e-6 * alpha_topo[None, :, None] / (np.abs(alpha_topo).max() + 1e-30)
                        * alpha).astype(x.dtype)
        if cfg.block_line_uv:
            topo = rng.random(x.shape[1])
            wave = np.sin(2 * np.pi * cfg.line_hz * t + rng.uniform(0, 2 * np.pi))
            x[rows] += (cfg.block_line_uv * 1e-6 * rng.uniform(0.5, 1.5) * topo[:, None] * wave[None]).astype(x.dtype)
