"""Live accumulation: a repeated stimulus id is decoded from the running average of its epochs."""

import json

import numpy as np

from eegviz.messages import Epoch, Marker
from eegviz.pipeline import Pipeline
from eegviz.record.results import ResultsWriter
from eegviz.stream.repeats import RepeatAverager
from test_pipeline import ArraySource, tiny_models


def _epoch(payload, value, index=0):
    return Epoch(np.full((2, 3), value, np.float32), 100.0, ("a", "b"), -0.1, Marker(1.0, payload), 0.0,
                 index=index)


def test_running_average_per_stimulus_id():
    avg = RepeatAverager(max_ids=2)
    assert avg.add(_epoch("x", 1.0)).repeats == 1
    second = avg.add(_epoch("x", 3.0))
    assert second.repeats == 2 and np.allclose(second.data, 2.0)
    assert avg.add(_epoch("y", 10.0)).repeats == 1  # other ids are their own
    third = avg.add(_epoch("x", 5.0))
    assert third.repeats == 3 and np.allclose(third.data, 3.0) and third.data.dtype == np.float32
    avg.add(_epoch("z", 0.0))  # max_ids=2: the least recently shown (y) is forgotten
    assert avg.count("y") == 0 and avg.count("x") == 3


class _Keep:
    """A sink keeping each result's decoded epoch."""

    def __init__(self):
        self.epochs = {}

    def on_result(self, rec, stimulus):
        self.epochs[rec.decoded.epoch.index] = rec.decoded.epoch

    def on_skipped(self, marker, reason):
        pass

    def close(self):
        pass


def _run(tmp_path, average):
    src = ArraySource(n_markers=6)
    payloads = ["a", "b", "a", "a", "b", "c"]
    src.markers = [Marker(m.timestamp, p) for m, p in zip(src.markers, payloads)]
    dec, gen = tiny_models()
    keep = _Keep()
    Pipeline(src, dec, gen, [ResultsWriter(tmp_path), keep], paced=False, average_repeats=average).run()
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    return keep.epochs, sorted(rows, key=lambda r: r["index"])


def test_pipeline_decodes_the_average_and_records_the_count(tmp_path):
    plain, rows_plain = _run(tmp_path / "plain", average=False)
    avg, rows = _run(tmp_path / "avg", average=True)
    assert [r["repeats"] for r in rows_plain] == [1] * 6
    assert [(r["marker"], r["repeats"]) for r in rows] == [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2),
                                                            ("c", 1)]
    by_payload = {}
    for i in sorted(plain):
        by_payload.setdefault(plain[i].marker.payload, []).append(plain[i].data)
        np.testing.assert_allclose(avg[i].data, np.mean(by_payload[plain[i].marker.payload], axis=0),
                                   rtol=1e-5, atol=1e-7)
    assert not np.allclose(avg[3].data, plain[3].data)  # the third "a" really is an average
