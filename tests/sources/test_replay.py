"""ReplaySource: the two ways a recorded-array source can be written, both run by a session."""

from __future__ import annotations

import numpy as np

from test_pipeline import CH, SlowGenerator, tiny_models

from eegviz.messages import Marker, StreamInfo
from eegviz.pipeline import Pipeline
from eegviz.sources.replay import ReplaySource


def _recording():
    t = 10.0 + np.arange(400) / 100.0
    x = np.random.default_rng(0).standard_normal((len(t), len(CH))).astype(np.float32) * 1e-5
    return x, t, [Marker(11.0 + i * 0.5, f"m{i}") for i in range(3)]


class Loads(ReplaySource):
    """The way built-ins are written: load() reads, open() and start() come from ReplaySource."""

    def __init__(self):
        self.speed, self.info = 0.0, StreamInfo("rec", (), 0.0)

    def load(self):
        self.info = StreamInfo("rec", CH, 100.0)
        return _recording()


class StartsItself(ReplaySource):
    """The way a plugin written before open() existed does it: load in start(), then begin()."""

    def __init__(self):
        self.speed, self.info = 0.0, StreamInfo("rec", (), 0.0)

    def start(self):
        self.info = StreamInfo("rec", CH, 100.0)
        self.begin(*_recording(), self.info.name, self.info.sfreq)


def test_both_kinds_of_replay_source_play_every_marker_through_a_session():
    dec, _ = tiny_models()
    for src in (Loads(), StartsItself()):
        stats = Pipeline(src, dec, SlowGenerator(), [], paced=False).run()
        assert stats.markers == 3, type(src).__name__


def test_only_a_source_that_loads_has_open():
    """A session calls open() to check the channels before the warm-up; a source that loads in its own start()
    has nothing to open early, so it has no open() and is checked after start()."""
    assert callable(Loads().open)
    assert getattr(StartsItself(), "open", None) is None


def test_a_stray_marker_out_of_the_eegs_reach_is_recorded_and_gets_its_line_in_both_kinds_of_source(tmp_path):
    """A marker far outside the recording's EEG (sent after the amplifier stopped, or stamped in another clock)
    is not paced, which kept a replay waiting for hours, but still reaches the session: recorded, and skipped in
    its line as a window the data never completed. Only markers none of which lies within reach are refused."""
    import json

    import pytest

    from eegviz.errors import EegvizError
    from eegviz.record.results import ResultsWriter

    dec, _ = tiny_models()
    stray = Marker(1.7e9, "stray")
    for kind in (Loads, StartsItself):
        src = kind()
        # paced (any speed > 0): a paced stray marker would wait ~1.7e9 s / speed, so the run would end at its
        # 20 s duration with the stray undelivered, at 4x as at 1x; 4x plays the 4 s recording in 1 s
        src.speed = 4.0
        x, t, markers = _recording()
        load = lambda: (x, t, markers + [stray])  # noqa: E731
        if kind is Loads:
            src.load = lambda: (setattr(src, "info", StreamInfo("rec", CH, 100.0)), load())[1]
        else:
            src.start = lambda: (setattr(src, "info", StreamInfo("rec", CH, 100.0)),
                                 src.begin(*load(), "rec", 100.0))
        out = tmp_path / kind.__name__
        out.mkdir()
        stats = Pipeline(src, dec, SlowGenerator(), [ResultsWriter(out)], paced=True).run(duration=20.0)  # 1 s
        lines = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
        stray_lines = [l["skip"] for l in lines if l["marker"] == "stray"]
        assert stats.markers == 4 and stray_lines == ["incomplete"], kind.__name__
        src.start = lambda: src.begin(x, t, [stray, Marker(1.7e9 + 1, "b")], "rec", 100.0)  # all of them: refused
        with pytest.raises(EegvizError, match="the marker and EEG clocks do not overlap"):
            src.start()


def test_markers_after_the_eeg_stopped_are_not_taken_for_another_clock(tmp_path):
    """The amplifier's battery died at 100 s while the presenter went on to 400 s, in one clock. The replay was
    refused as "clocks that do not overlap"; now the markers within the EEG are decoded, the rest recorded and
    told incomplete. And across a 90 s hole in the EEG a replay at --speed 0, whose wall time is not the
    recording's, called the markers around it another clock; they are gaps, as before."""
    import json

    from eegviz.record.results import ResultsWriter

    dec, _ = tiny_models()

    class Stopped(Loads):
        def load(self):
            self.info = StreamInfo("rec", CH, 100.0)
            t = 10.0 + np.arange(2000) / 100.0  # EEG 10..30 s, then nothing
            hole = t >= 20.0
            t[hole] += 90.0  # and a 90 s hole from 20 s (EEG 10..20 and 110..120 s)
            x = np.random.default_rng(0).standard_normal((len(t), len(CH))).astype(np.float32) * 1e-5
            return x, t, [Marker(12.0, "in"), Marker(19.9, "at_hole"), Marker(60.0, "in_hole"), Marker(112.0, "after"),
                          Marker(300.0, "gone"), Marker(390.0, "gone2")]

    out = tmp_path / "r"
    out.mkdir()
    stats = Pipeline(Stopped(), dec, SlowGenerator(), [ResultsWriter(out)], paced=False).run()
    lines = {l["marker"]: l.get("skip") for l in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert stats.markers == 6 and stats.results == 2
    assert lines == {"in": None, "at_hole": "gap", "in_hole": "gap", "after": None, "gone": "incomplete",
                     "gone2": "incomplete"}
