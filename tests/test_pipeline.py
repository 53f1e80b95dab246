"""The whole data path with an in-memory source: every marker gets a line, drops are counted, nothing raw lost."""

import json
import time

import numpy as np
import torch

from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.generators.embedded import EmbeddedGenerator
from eegviz.generators.tiny_unet import TinyUNet
from eegviz.messages import Chunk, Marker, StreamInfo
from eegviz.pipeline import Pipeline
from eegviz.record.results import ResultsWriter
from eegviz.sources.base import ReadResult
from eegviz.stream.preprocess import InputSpec

CH = tuple(f"E{i}" for i in range(8))


class ArraySource:
    """Delivers a prepared recording in 20 ms chunks, optionally paced at real time."""

    def __init__(self, n_markers=6, soa=0.3, sfreq=100.0, paced=False):
        self.info = StreamInfo("test", CH, sfreq)
        dur = 0.5 + n_markers * soa + 1.0
        self.t = 10.0 + np.arange(int(dur * sfreq)) / sfreq
        self.x = np.random.default_rng(0).standard_normal((len(self.t), len(CH))).astype(np.float32) * 1e-5
        self.markers = [Marker(10.5 + i * soa, f"m{i}") for i in range(n_markers)]
        self.paced, self.pos, self.step = paced, 0, 2

    def start(self):
        self.t_start = time.perf_counter()

    def read(self, timeout=0.05):
        if self.paced:
            time.sleep(0.02)
        end = min(self.pos + self.step, len(self.t))
        t = self.t[self.pos:end]
        marks = [m for m in self.markers if t.size and t[0] <= m.timestamp <= t[-1]]
        res = ReadResult([Chunk(self.x[self.pos:end], t)], marks, finished=end >= len(self.t))
        self.pos = end
        return res

    def stop(self):
        pass


class Recorder:
    def __init__(self):
        self.samples, self.markers, self.closed = 0, [], False

    def add_chunk(self, c):
        self.samples += len(c.timestamps)

    def add_marker(self, m):
        self.markers.append(m.payload)

    def close(self):
        self.closed = True


def tiny_models():
    spec = InputSpec(ch_names=CH, sfreq=100.0, tmin=-0.1, tmax=0.4)
    dec = TwoBranchDecoder(spec, ["a", "b"], feat_dim=16, z_dim=4, saliency_size=16, n_tokens=8, text_dim=64)
    dec.prototypes = torch.randn(2, 16)
    gen = EmbeddedGenerator(unet=TinyUNet(channels=(16, 16)), steps=1, out_size=16)
    return dec, gen


def test_every_marker_yields_a_line_and_raw_is_complete(tmp_path):
    src = ArraySource()
    dec, gen = tiny_models()
    rec = Recorder()
    pipe = Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], recorder=rec, paced=False)
    stats = pipe.run()
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [l["marker"] for l in lines] == [f"m{i}" for i in range(6)]
    assert all(not l["dropped"] for l in lines)
    assert rec.samples == len(src.t) and rec.markers == [f"m{i}" for i in range(6)] and rec.closed
    for l in lines:
        assert (tmp_path / l["reconstruction"]).exists() and (tmp_path / l["saliency"]).exists()
        assert l["latency_ms"]["marker_to_image"] >= l["latency_ms"]["generate"] > 0
    assert stats.results == 6 and stats.dropped == 0


class SlowGenerator:
    name = "slow"

    def warmup(self):
        pass

    def generate(self, saliency, embedding, seed=0):
        time.sleep(0.25)
        return np.zeros((len(saliency), 8, 8, 3), np.uint8)


def test_newest_wins_when_generation_is_slow(tmp_path):
    src = ArraySource(n_markers=12, soa=0.05, paced=True)
    dec, _ = tiny_models()
    pipe = Pipeline(src, dec, SlowGenerator(), [ResultsWriter(tmp_path)], paced=True, max_pending=1, max_batch=1)
    stats = pipe.run()
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 12  # every marker accounted for
    assert stats.dropped > 0 and sum(l["dropped"] for l in lines) == stats.dropped
    done = [l for l in lines if not l["dropped"]]
    assert done[-1]["marker"] == "m11"  # the newest epoch is the one that survives
    assert sum(l["dropped_before"] for l in done) == stats.dropped
