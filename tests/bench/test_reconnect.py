"""measure_reconnect: an EEG outlet vanishes and comes back; LslSource finds it again by itself."""

import json
import math

from eegviz.bench.reconnect import measure_reconnect


def test_reconnect_figure_counts_each_restart_and_flags_gaps():
    r = measure_reconnect(trials=2, down_s=0.6)
    json.dumps(r)
    assert len(r["reconnect_s"]) == 2 and all(math.isfinite(t) and t > 0 for t in r["reconnect_s"])
    assert r["max_s"] == max(r["reconnect_s"])
    assert r["gap_flagged"] and r["reconnects_counted"] == 2  # each restart found by LslSource itself
    assert r["slowest_read_s"] > 0 and isinstance(r["targets"]["reconnect_within_2s"], bool)
