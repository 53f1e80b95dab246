"""Electrodes that are dead when a session starts: found from its first seconds of EEG and marked bad.

A disconnected electrode streams NaN on many amplifiers, zeros or a constant on others, and an electrode whose
contact drifted out of the amplifier's input range sits at the converter's limit (railed). Fed to the model as
they came, a NaN one made every epoch be skipped ("epoch holds NaN/inf ..."), so one dead electrode silently ended
all decoding of a live session, and a flat or railed one spread into every model channel interpolated from it.
EEG software marks such electrodes bad and interpolates them from their neighbours (MNE's info['bads'] and
interpolate_bads, BCI2000's and OpenViBE's channel rejection); the Epocher does so once, from what the source
sent before its first epoch is cut (eegviz.stream.epocher.Epocher.check_electrodes), through the same channel
map --bads builds (eegviz.stream.montage.build_channel_map). Later in a session only NaN is judged: an electrode
whose NaN fills a whole epoch's window while the others are finite (come off mid-session) is marked bad from there
on (Epocher.poll); one that goes flat or railed later is decoded as it comes.
"""

from __future__ import annotations

import numpy as np

# Peak to peak at or under this over the first seconds is a flat channel (zeros, a constant). An electrode on a
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


def dead_channels(data: np.ndarray, names) -> dict[str, str]:
    """{name: why} for the channels of `data` ((n_channels, n_times), volts) that are dead: no finite sample,
    flat (FLAT_PTP_V) or railed (RAILED_SHARE), in the order of `names`."""
    out = {}
    for name, x in zip(names, np.asarray(data, dtype=np.float64)):
        x = x[np.isfinite(x)]
        if not x.size:
            out[str(name)] = "no finite sample, NaN/inf"
            continue
        lo, hi = float(x.min()), float(x.max())
        if hi - lo <= FLAT_PTP_V:
            out[str(name)] = f"flat, {(hi - lo) * 1e6:.2f} uV peak to peak"
            continue
        at_lo, at_hi = int(np.count_nonzero(x == lo)), int(np.count_nonzero(x == hi))
        share, level = max((at_lo, lo), (at_hi, hi))
        if share >= RAILED_SHARE * x.size:
            out[str(name)] = f"railed, {100 * share / x.size:.0f}% of samples at {level * 1e3:.1f} mV"
    return out
