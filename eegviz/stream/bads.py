"""Electrodes that are dead: found from a session's first seconds of EEG, or later from the seconds up to an epoch,
and marked bad.

A disconnected electrode streams NaN on many amplifiers, zeros or a constant on others, and an electrode whose
contact drifted out of the amplifier's input range sits at the converter's limit (railed). Fed to the model as
they came, a NaN one made every epoch be skipped ("epoch holds NaN/inf ..."), so one dead electrode silently ended
all decoding of a live session, and a flat or railed one spread into every model channel interpolated from it.
EEG software marks such electrodes bad and interpolates them from their neighbours (MNE's info['bads'] and
interpolate_bads, BCI2000's and OpenViBE's channel rejection); the Epocher does so once, from what the source
sent before its first epoch is cut (eegviz.stream.epocher.Epocher.check_electrodes), through the same channel
map --bads builds (eegviz.stream.montage.build_channel_map).

Later in a session an electrode that comes off far more often goes flat (an amplifier that zeroes it) or rails
than streams NaN, and was decoded as it came for the rest of the session. So at each epoch the LATER_S seconds of
EEG up to the end of its window are judged by the same rule (dead_channels, the same thresholds), and an electrode
dead there is marked bad from that epoch on (Epocher.judge_electrodes); so is one whose NaN fills a whole epoch's
window while the others are finite (Epocher.poll), which is said sooner. Where every electrode the model uses looks
dead at once, that is the amplifier (it stopped acquiring, or zero-fills lost packets), not the electrodes, and
none is marked.

An electrode marked bad stays bad for the rest of the session, even if it is re-seated. This rule proves only that
an electrode is dead, never that it is good again: a re-seated electrode's contact settles over tens of seconds
(high impedance, drifting offset), which nothing here judges, and a loose one would flip in and out, changing the
model's input from one epoch to the next. Interpolated from its neighbours, its channels keep what the cap
measures around it; a lab that re-seats it gets it back by starting the next session (the recording keeps every
electrode as it came either way).
"""

from __future__ import annotations

import numpy as np

# Peak to peak at or under this over the seconds judged is a flat channel (zeros, a constant). An electrode on a
# head varies by microvolts within a fraction of a second (the amplifier's own noise is about 0.5 uV rms, EEG
# 10-100 uV); 0.1 uV is 3 steps of BioSemi's 31.25 nV resolution and 4 of an OpenBCI Cyton's 24 nV, so a channel
# under it holds no signal, and float32 volts still resolve it at offsets up to about a volt.
FLAT_PTP_V = 1e-7
# Railed: at least this share of the samples is exactly the channel's highest or lowest value. An input beyond the
# converter's range reads its limit code, the same number sample after sample (after any scale, the same float);
# EEG passes through its extremes in a sample or two, a coarse 14-bit headset's in a few percent of them.
RAILED_SHARE = 0.5
# The check waits for this much EEG, unless a marker's epoch is due sooner: enough to judge by, and a dead
# electrode is said within seconds of the start even before any marker comes.
CHECK_S = 2.0
# Later in a session an electrode is judged over this much EEG, up to the end of each epoch's window. Long enough
# not to fire on a brief clip: a movement or an electrode pop saturates the amplifier for a fraction of a second, a
# second or two at worst, under the half of it the railed rule needs, and no electrode on a head stays within
# 0.1 uV for 5 s (EEGLAB's clean_rawdata calls a channel flat after 5 s too). Short enough that one that came off is
# marked within about 2.5 s (railed) to 5 s (flat): the epochs before that are decoded with it.
LATER_S = 5.0


def dead_channels(data: np.ndarray, names) -> dict[str, str]:
    """{name: why} for the channels of `data` ((n_channels, n_times), volts) that are dead: no finite sample,
    flat (FLAT_PTP_V) or railed (RAILED_SHARE), in the order of `names`.

    A channel at one value, sample after sample, away from zero is railed (every sample at it), not flat: an
    amplifier that drops an electrode sends zeros (or NaN), while an input beyond the converter's range reads its
    limit code (a sender that repeats its last sample reads so too). It was called flat, as if the amplifier had
    dropped it."""
    x = np.asarray(data)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    # each channel's extremes and how many samples sit exactly at them, for every channel at once and in the
    # stream's own float32 (its extremes are exact there): this runs at every epoch, over 5 s of up to hundreds of
    # channels, and where none is NaN (nearly always) without masking any
    finite = np.isfinite(x)
    if finite.all():
        n, lo, hi = np.full(len(x), x.shape[1]), x.min(axis=1, initial=np.inf), x.max(axis=1, initial=-np.inf)
    else:
        n = finite.sum(axis=1)
        lo = np.where(finite, x, np.inf).min(axis=1, initial=np.inf)
        hi = np.where(finite, x, -np.inf).max(axis=1, initial=-np.inf)
    at_lo = np.count_nonzero(x == lo[:, None], axis=1)
    at_hi = np.count_nonzero(x == hi[:, None], axis=1)
    out = {}
    for name, k, lo_, hi_, a_lo, a_hi in zip(names, n, lo, hi, at_lo, at_hi):
        lo_, hi_ = float(lo_), float(hi_)
        if not k:
            out[str(name)] = "no finite sample, NaN/inf"
            continue
        stuck = lo_ == hi_ and abs(lo_) > FLAT_PTP_V  # one value away from zero: the converter's limit
        if hi_ - lo_ <= FLAT_PTP_V and not stuck:
            out[str(name)] = f"flat, {(hi_ - lo_) * 1e6:.2f} uV peak to peak"
            continue
        share, level = max((int(a_lo), lo_), (int(a_hi), hi_))
        if share >= RAILED_SHARE * k:
            out[str(name)] = f"railed, {100 * share / k:.0f}% of samples at {level * 1e3:.1f} mV"
    return out
