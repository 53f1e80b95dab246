"""Whether a stream's timestamps bear out the sampling rate its header declares, for recorded files and live streams.

Epochs are cut at the declared rate, so a wrong one (a header that says 1000 Hz over samples 4 ms apart, a
sender configured for another amplifier mode) cuts every epoch at the wrong length, and the session decodes
EEG that did not follow its marker without a word. The stamps say how fast samples really come: counted over
the stream without its gaps, they give its rate whatever the sender's jitter or packet size.
"""

from __future__ import annotations

import numpy as np

# a declared rate is contradicted when the stamps advance at under half or over twice it: lost samples (a weak
# radio link drops 10-20%) and a clock's drift are far less, a wrong header (1 MHz over 4 ms stamps) far more
RATE_FACTOR = 2.0
# a step between samples longer than this is a gap (a dropout, a reconnect), not part of the rate
GAP_S = 1.0


def stamp_rate(timestamps: np.ndarray) -> tuple[float, float] | None:
    """(samples per second of stamp time, the seconds it was measured over), over the steps that are neither
    gaps (over GAP_S) nor backwards; None when there is no such time. Steps of 0 count: samples stamped alike
    (a packet's arrival time on each) are samples all the same, or the rate would be divided by the packet size."""
    steps = np.diff(np.asarray(timestamps, dtype=np.float64))
    within = steps[(steps >= 0) & (steps <= GAP_S)]
    span = float(within.sum())
    return (len(within) / span, span) if span > 0 else None


def contradicts(measured: float, declared: float) -> bool:
    """Whether a measured rate is off the declared one by more than RATE_FACTOR either way."""
    return not 1 / RATE_FACTOR <= measured / declared <= RATE_FACTOR
