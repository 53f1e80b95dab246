"""Artefact rejection: an epoch whose peak to peak on any of the model's channels exceeds a threshold is not decoded.

A blink (hundreds of microvolts on the frontal electrodes), an EMG burst or a cable jolt is far larger than the
visual responses the decoder reads (P1/N1 are a few microvolts), so such an epoch's reconstruction is the artefact's,
shown as if it were a reading of what was seen. EEG labs reject them by peak to peak amplitude, as MNE's
Epochs(reject=dict(eeg=150e-6)) does; `--reject-uv UV` is that, off by default as in MNE (an epoch is judged only
when a session asks), so a session that does not ask sees exactly what it saw before.

What is judged: the epoch exactly as the decoder reads it, in volts: the model's channels after the channel map
(bad electrodes left out and their channels interpolated from the others), resampling, the model's notch, high-pass,
re-reference and baseline. Not the raw channels, because
- an electrode marked bad (--bads, or found dead: eegviz.stream.bads) is no longer read at all; judged on the raw
  channels, its noise would reject every epoch, which is what marking it bad is there to prevent;
- a source's channels the model does not use (an EOG or ECG channel beside the EEG, an electrode matched to no
  model channel) cannot spoil a reconstruction, so they reject nothing (a blink still does, through Fp1/Fp2);
- what the model's own filters remove (a DC drift under its high-pass, mains under its notch) never reaches it.
Baseline correction moves a channel by a constant and leaves its peak to peak as it was.

Training and evaluation (`eegviz train|eval --reject-uv`) judge a dataset's epochs with the same rule
(rejected_epochs, through over_threshold), on the epochs as the model's preprocessing gives them, so a threshold
chosen on a lab's own recordings drops in training what it skips live.
"""

from __future__ import annotations

import math

import numpy as np

from eegviz.errors import EegvizError

OPTION = "--reject-uv"
# The range a threshold may take, in microvolts. Under 1 uV every epoch of EEG is over it (an amplifier's own noise
# is about 0.5 uV rms, EEG tens of uV), so a value there is MNE's threshold in volts (150e-6) typed as microvolts;
# over 100 mV nothing EEG-like reaches it (a value in nanovolts?), and it would pass every epoch while seeming on.
MIN_UV, MAX_UV = 1.0, 1e5


def check_reject_uv(value: float | None) -> float | None:
    """The threshold, checked (None: rejection off); a one-line EegvizError for a value that is not a finite number
    of microvolts in [MIN_UV, MAX_UV]."""
    if value is None:
        return None
    if not math.isfinite(value) or not MIN_UV <= value <= MAX_UV:
        raise EegvizError(f"{OPTION} must be a peak to peak amplitude in microvolts from {MIN_UV:g} to {MAX_UV:g}, "
                          f"not {value:g} (e.g. 150, MNE's reject=dict(eeg=150e-6); leave it out to keep every "
                          "epoch)")
    return float(value)


def peak_to_peak_uv(data: np.ndarray, scale: float) -> np.ndarray:
    """(n_channels,) peak to peak in microvolts of one epoch as the decoder reads it ((n_channels, n_times) in the
    model's units, volts times `scale`: eegviz.stream.preprocess.prepare_epochs)."""
    return np.ptp(np.asarray(data, dtype=np.float64), axis=-1) / scale * 1e6


def over_threshold(ptp_uv: np.ndarray, threshold_uv: float) -> np.ndarray:
    """The rule itself, one place for the live path and datasets: an epoch is rejected where its largest peak to
    peak over the model's channels ((..., n_channels) in uV, peak_to_peak_uv) is over the threshold."""
    return np.max(ptp_uv, axis=-1) > threshold_uv


DATASET_BATCH = 256  # epochs prepared at a time by rejected_epochs: an EEG-ImageNet's 2.7 GB are not copied whole


def rejected_epochs(eeg: np.ndarray, spec, threshold_uv: float) -> tuple[np.ndarray, np.ndarray]:
    """A dataset's (N, n_channels, n_times) epochs in volts, laid out as the model reads them (its channels, rate and
    window) judged as the live path judges one: prepared by eegviz.stream.preprocess.prepare_epochs with the model's
    spec (its notch, high-pass, reference and baseline), then over_threshold. Returns (rejected, (N,) bool; the
    largest peak to peak of each epoch in uV)."""
    from eegviz.stream.preprocess import prepare_epochs

    worst = np.empty(len(eeg), dtype=np.float64)
    for s in range(0, len(eeg), DATASET_BATCH):
        ptp = peak_to_peak_uv(prepare_epochs(eeg[s:s + DATASET_BATCH], spec), spec.scale)
        worst[s:s + len(ptp)] = np.max(ptp, axis=-1)
    return over_threshold(worst[:, None], threshold_uv), worst


def rejection(data: np.ndarray, pre, threshold_uv: float) -> str | None:
    """Why the epoch `data` (the Preprocessor `pre`'s output) is rejected, naming its worst channel and that channel's
    peak to peak; None where every channel is within `threshold_uv`. A channel of the model that is interpolated
    (not measured by an electrode of its own) says so, with the source electrode it weighs most, which is the one a
    lab can look at."""
    ptp = peak_to_peak_uv(data, pre.spec.scale)
    if not over_threshold(ptp, threshold_uv):
        return None
    worst = int(np.argmax(ptp))
    return (f"epoch rejected: {channel_words(pre, worst)} {_amplitude(ptp[worst])} peak to peak > {threshold_uv:g} "
            f"uV ({OPTION}; kept in the recording, not decoded)")


def _amplitude(uv: float) -> str:
    """Microvolts as a lab reads them: in mV from 10 mV on (a railed electrode's step was '262177 uV', where the
    line marking the same electrode bad says '262.1 mV')."""
    return f"{uv / 1000:.1f} mV" if uv >= 10_000 else f"{uv:.0f} uV"


def channel_words(pre, i: int) -> str:
    """The model's channel i as the rejection line names it: its name; where an electrode of another name measures
    it (mapped by position), "(the source's X)"; where none measures it, "(interpolated, weighted most on X)" with the
    source electrode of the largest weight in its row of the channel map, the one a lab can look at."""
    name = pre.spec.ch_names[i]
    cmap = pre.channel_map
    if cmap.matrix is None:  # every channel taken from an electrode, as it is (by name, or a BioSemi cap's order)
        k, interpolated = i, False
    else:
        row = np.abs(cmap.matrix[i])
        k = int(np.argmax(row))
        interpolated = not (row[k] == 1.0 and np.count_nonzero(row) == 1)
    electrode = pre.source_ch_names[cmap.picks[k]]
    if interpolated:
        return f"{name} (interpolated, weighted most on {electrode})"
    # the source's own name where it differs ("A1" on a 64-electrode BioSemi cap, "EEG Fp1-REF" in an EDF file)
    return name if electrode.lower() == name.lower() else f"{name} (the source's {electrode})"
