"""Evidence that accumulates: a running average of the preprocessed epochs of each stimulus id.

Why: a single EEG trial carries little stimulus information (real single-trial decoding is a few times
chance; see eegviz.world.sim_config), and the field's headline figures average many repetitions of each test
image. When a session shows the same image again, averaging its epochs raises the SNR by the number of
repetitions, so the reconstruction of that image sharpens with every repeat; `--average-repeats` turns it on.
The average is over preprocessed epochs (the decoder's input), which equals averaging raw epochs because the
preprocessing is linear. Every cut epoch counts, also one whose generation is later dropped (newest wins):
the evidence was recorded either way.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import numpy as np

from eegviz.messages import Epoch


class RepeatAverager:
    """add(epoch) -> the epoch with data replaced by the mean of all epochs so far with its marker payload,
    and repeats = how many. Keeps the `max_ids` most recently shown ids (a long session shows thousands)."""

    def __init__(self, max_ids: int = 512):
        self.max_ids = max_ids
        self._sums: OrderedDict[str, tuple[np.ndarray, int]] = OrderedDict()

    def add(self, ep: Epoch) -> Epoch:
        key = ep.marker.payload
        total, n = self._sums.pop(key, (None, 0))
        if total is not None and total.shape != ep.data.shape:
            total, n = None, 0  # a different layout (a new model or source): start again
        total = ep.data.astype(np.float64) if total is None else total + ep.data
        n += 1
        self._sums[key] = (total, n)
        while len(self._sums) > self.max_ids:
            self._sums.popitem(last=False)
        if n == 1:
            return ep
        return replace(ep, data=(total / n).astype(ep.data.dtype), repeats=n)

    def count(self, payload: str) -> int:
        return self._sums.get(payload, (None, 0))[1]
