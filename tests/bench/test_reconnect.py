"""measure_reconnect: an EEG outlet vanishes and comes back; LslSource finds it again by itself."""

import json
import math

import pytest

from eegviz.bench.reconnect import measure_reconnect


@pytest.fixture(scope="module")
def two_trials():
    """One bench of 2 reconnect trials, for the two tests below (each ran its own, ~6 s apiece), with LslSource's
    rate check judging the stream over its first 0.6 s, not 4 s: a trial streams 0.5 s steady before its outage
    and a little after, so at 4 s the check never judged, and the bench's outlet sending too fast (what the rate
    test is about) would be refused here. The outage is 0.6 s, as the figure's test had it (the rate test's 0.3 s
    was for its time alone)."""
    import eegviz.sources.lsl as lsl

    with pytest.MonkeyPatch.context() as m:
        m.setattr(lsl, "RATE_CHECK_S", 0.6)
        return measure_reconnect(trials=2, down_s=0.6)


def test_reconnect_figure_counts_each_restart_and_flags_gaps(two_trials):
    r = two_trials
    json.dumps(r)
    assert len(r["reconnect_s"]) == 2 and all(math.isfinite(t) and t > 0 for t in r["reconnect_s"])
    assert r["max_s"] == max(r["reconnect_s"])
    assert r["gap_flagged"] and r["reconnects_counted"] == 2  # each restart found by LslSource itself
    assert r["slowest_read_s"] > 0 and isinstance(r["targets"]["reconnect_within_2s"], bool)


def test_the_outlet_sends_at_the_rate_it_declares(two_trials):
    """LslSource refuses a stream whose samples come at over twice its declared rate, judged over its first
    RATE_CHECK_S seconds; the bench's outlet pushed a chunk per read, far faster than its 250 Hz, and the bench's
    10 trials stream long enough to be judged: `eegviz bench --soak` ended in that error. Judged sooner here
    (RATE_CHECK_S 0.6 in two_trials: 0.5 s of steady streaming a trial)."""
    r = two_trials
    assert r["never_back"] == 0 and r["reconnects_counted"] == 2


def test_the_source_reads_the_bench_s_own_markers_not_another_program_s(monkeypatch):
    """Without a marker stream named, LslSource took any string marker stream on the machine: the reconnect
    trials read another program's (or another bench's) markers, running beside them."""
    import uuid

    import pylsl

    from eegviz.paths import confine_lsl
    from eegviz.sources.lsl import LslSource

    class Chosen(Exception):
        """The marker stream is chosen when the source starts: its first read ends the bench (which stops the source
        on the way out), where a whole trial of streaming, outage and reconnect (~2.5 s) was run for nothing."""

    confine_lsl()
    foreign = f"someone-elses-markers-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(foreign, "Markers", 1, 0.0, pylsl.cf_string, foreign))
    sources = []
    real_start = LslSource.start

    def start(self):
        sources.append(self)
        real_start(self)

    def read(self, timeout=0.05):
        raise Chosen

    monkeypatch.setattr(LslSource, "start", start)
    monkeypatch.setattr(LslSource, "read", read)
    try:
        with pytest.raises(Chosen):
            measure_reconnect(trials=1, down_s=0.3)
    finally:
        del outlet
    assert foreign not in sources[0].info.marker_header
    assert f"{sources[0].info.name}-markers" in sources[0].info.marker_header
