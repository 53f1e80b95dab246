"""The whole data path with an in-memory source: every marker gets a line, drops are counted, nothing raw lost."""

import json
import time

import numpy as np
import pytest
import torch

from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.messages import Chunk, Marker, SkipKind, StreamInfo
from eegviz.pipeline import Pipeline
from eegviz.record.results import ResultsWriter
from eegviz.sources.base import ReadResult
from eegviz.stream.preprocess import InputSpec
from tiny_models import tiny_embedded_generator

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

    def add_clock_offset(self, off):
        pass

    def close(self):
        self.closed = True


def tiny_models():
    spec = InputSpec(ch_names=CH, sfreq=100.0, tmin=-0.1, tmax=0.4)
    dec = TwoBranchDecoder(spec, ["a", "b"], feat_dim=16, z_dim=4, saliency_size=16, n_tokens=8, text_dim=64)
    dec.prototypes = torch.randn(2, 16)
    gen = tiny_embedded_generator(ctx_dim=64, size=16)  # the embedded default's class, at toy size
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
    assert stats.ended == "finished"  # the source ran out: the pipeline says so, nobody guesses from timing
    # the summary's latencies are the results' own, kept as 8-byte floats (a day's kiosk session kept every
    # result's whole timings dict: ~50 MB)
    assert [round(x, 3) for x in stats.marker_to_image_ms] == [l["latency_ms"]["marker_to_image"] for l in lines]
    assert stats.marker_to_image_ms.itemsize == 8
    p50 = sorted(stats.marker_to_image_ms)[2:4]
    assert f"marker->image p50 {sum(p50) / 2:.0f} ms" in stats.summary()


def test_stray_whitespace_around_a_marker_id_is_the_same_image_but_recorded_as_sent(tmp_path):
    """A hand-written sender's " star_001\n" names star_001: decoded, scored and written to results.jsonl as
    that id; the recording keeps the payload exactly as it came."""
    src = ArraySource(n_markers=2)
    src.markers = [Marker(m.timestamp, f" {m.payload}\n") for m in src.markers]
    dec, gen = tiny_models()
    rec = Recorder()
    Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], recorder=rec, paced=False).run()
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [l["marker"] for l in lines] == ["m0", "m1"] and rec.markers == [" m0\n", " m1\n"]


def _run_with_markers(tmp_path, sent: list[str]):
    """A session whose markers carry the payloads `sent`: (results.jsonl's lines, the stats, the recorder)."""
    src = ArraySource(n_markers=len(sent))
    src.markers = [Marker(m.timestamp, p) for m, p in zip(src.markers, sent)]
    dec, gen = tiny_models()
    rec = Recorder()
    stats = Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], recorder=rec, paced=False).run()
    return [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()], stats, rec


def test_a_marker_of_another_synthetic_worlds_image_is_said_once(tmp_path):
    """`eegviz simulate --stream --seed 2` into a session of a model that learnt seed 0's world decodes at chance
    by construction (each seed draws its own class responses), and nothing said so. Said once, at the first such
    marker (its own world's 'cup_001' before it says nothing)."""

    class Instant(SlowGenerator):
        def generate(self, saliency, embedding, seed=0):
            return np.zeros((len(saliency), 8, 8, 3), np.uint8)

    src = ArraySource(n_markers=3, soa=0.1)
    src.markers = [Marker(m.timestamp, p) for m, p in zip(src.markers, ["cup_001", "cup_002_s2", "tree_004_s2"])]
    dec, _ = tiny_models()
    said = []
    Pipeline(src, dec, Instant(), [], paced=False, on_notice=said.append, world_seeds={0}).run()
    assert len(said) == 1 and said[0].startswith("marker 'cup_002_s2' names an image of the synthetic world of "
                                                 "seed 2, and the model learnt the world of seed 0"), said


def test_a_c_strings_trailing_nul_in_a_marker_id_is_the_same_image_but_recorded_as_sent(tmp_path):
    """A C or MATLAB sender that pushes a fixed-size buffer leaves NUL after the id ("star_001\\0"), which
    LabRecorder keeps: str.strip() left it, so the id named no image (not scored, not averaged over repeats),
    and a marker of NUL alone was decoded as an image. Trimmed like whitespace; recorded as sent."""
    sent = ["m0\0", "\0m1\0\0 ", "\0"]
    lines, stats, rec = _run_with_markers(tmp_path, sent)
    assert [l["marker"] for l in lines if not l.get("dropped")] == ["m0", "m1"] and stats.results == 2
    assert [(l["marker"], l["skip"]) for l in lines if l.get("dropped")] == [("", "no id")]
    assert rec.markers == sent


def test_a_marker_that_names_no_image_is_recorded_and_skipped_not_decoded(tmp_path):
    """An empty or whitespace-only marker (a sender's "stimulus off", a bug in a script) used to be decoded as an
    image named "", spending generation time that real epochs then lost; it gets its line, kind "no id". So do
    MNE's span and boundary annotations, which mne-lsl's PlayerLSL streams beside a file's stimuli ("BAD_blink",
    a join's "EDGE boundary"; a replay of the same file leaves them out), while an id that only starts like one
    (badger_01) is a stimulus."""
    sent = ["m0", "", " \t", "BAD_blink", "EDGE boundary", "bad boundary", "New Segment", "badger_01", "edger_02"]
    lines, stats, rec = _run_with_markers(tmp_path, sent)
    decoded = [l["marker"] for l in lines if not l.get("dropped")]
    skipped = [l for l in lines if l.get("dropped")]
    assert decoded == ["m0", "badger_01", "edger_02"] and stats.results == 3 and stats.skipped == 6
    assert [l["marker"] for l in skipped] == ["", "", "BAD_blink", "EDGE boundary", "bad boundary", "New Segment"]
    assert {l["skip"] for l in skipped} == {"no id"}
    assert all("MNE annotation marking a span or a boundary" in l["reason"] for l in skipped[2:])
    assert rec.markers == sent  # recorded as sent


def test_inference_runs_on_the_threads_asked_for_and_gives_them_back(tmp_path):
    """torch's kernel thread count is the whole process's: a session sets it for its run and restores it."""
    src = ArraySource()
    dec, gen = tiny_models()
    seen = []
    generate = gen.generate

    def counting(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return generate(*args, **kwargs)

    gen.generate = counting
    before = torch.get_num_threads()
    Pipeline(src, dec, gen, [], paced=False, threads=before + 1).run()
    assert seen and set(seen) == {before + 1}  # warm-up and every batch
    assert torch.get_num_threads() == before


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
    assert {l["skip"] for l in lines if l["dropped"]} == {"dropped"}
    done = [l for l in lines if not l["dropped"]]
    assert done[-1]["marker"] == "m11"  # the newest epoch is the one that survives
    assert sum(l["dropped_before"] for l in done) == stats.dropped


class SeedRecordingGenerator(SlowGenerator):
    per_image_seeds = True

    def __init__(self):
        self.seeds = []

    def generate(self, saliency, embedding, seed=0):
        self.seeds.append(list(seed))
        return super().generate(saliency, embedding, seed)


def test_each_epoch_is_seeded_with_its_own_index_in_a_batch(tmp_path):
    """Batches form when generation falls behind; each image is still seeded by its own epoch, not the batch's
    first one, so what is drawn for an epoch does not depend on timing."""
    src = ArraySource(n_markers=12, soa=0.05, paced=True)
    dec, _ = tiny_models()
    gen = SeedRecordingGenerator()
    Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], paced=True, max_pending=16, max_batch=8).run()
    assert max(len(s) for s in gen.seeds) > 1  # a batch did form
    flat = [i for s in gen.seeds for i in s]
    assert sorted(flat) == list(range(12)) and all(s == sorted(s) for s in gen.seeds)
    # a generator written to `seed: int` (a plugin) still gets one int per batch
    plain = SlowGenerator()
    calls = []
    plain.generate = lambda saliency, embedding, seed=0: calls.append(seed) or np.zeros((len(saliency), 8, 8, 3),
                                                                                      np.uint8)
    Pipeline(ArraySource(n_markers=4), dec, plain, [], paced=False).run()
    assert calls and all(isinstance(c, int) for c in calls)


class NanSource(ArraySource):
    """ArraySource with an amplifier dropout (NaN on one model channel) inside marker m2's window."""

    def __init__(self):
        super().__init__()
        t_m2 = self.markers[2].timestamp
        bad = (self.t > t_m2 + 0.1) & (self.t < t_m2 + 0.15)
        self.x[bad, 3] = np.nan


def test_nan_samples_skip_only_their_epoch_and_are_recorded(tmp_path):
    import pyxdf

    from eegviz.record.session_folder import SessionOutput

    src = NanSource()
    dec, gen = tiny_models()
    out = SessionOutput(tmp_path / "s")
    stats = Pipeline(src, dec, gen, [], output=out, paced=False).run()
    lines = [json.loads(l) for l in (tmp_path / "s" / "results.jsonl").read_text().splitlines()]
    lines.sort(key=lambda l: l["t_marker"])  # a skip is written at once, results when generated
    assert [l["marker"] for l in lines] == [f"m{i}" for i in range(6)]  # the session went on after the NaN
    assert [l["dropped"] for l in lines] == [False, False, True, False, False, False]
    assert "NaN" in lines[2]["reason"] and lines[2]["skip"] == "nan" and stats.skipped_nan == 1 and stats.results == 5
    assert "1 with NaN" in stats.summary()
    streams, _ = pyxdf.load_xdf(str(tmp_path / "s" / "session.xdf"), dejitter_timestamps=False)
    eeg = [s for s in streams if s["info"]["type"][0] == "EEG"][0]
    assert len(eeg["time_stamps"]) == len(src.t)  # every sample, the NaN chunk and everything after it
    np.testing.assert_array_equal(np.isnan(eeg["time_series"]), np.isnan(src.x))


def test_an_artefact_epoch_is_rejected_and_counted_apart_in_the_summary_results_and_report(tmp_path):
    """--reject-uv: a blink's epoch is skipped as 'rejected' (its line names the electrode), the others are decoded,
    and the summary, results.jsonl and report.html count the rejected apart from the stream's own faults."""
    from eegviz.errors import EegvizError

    src = ArraySource(n_markers=4)
    near = np.abs(src.t - 11.25) < 0.035  # a 300 uV jolt on E0 in m2's window alone (11.0 .. 11.5 s; m1's ends
    # at 11.2 s, m3's starts at 11.3 s)
    src.x[near, 0] += 300e-6 * np.hanning(near.sum()).astype(np.float32)
    dec, gen = tiny_models()
    stats = Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], paced=False, reject_uv=150).run()
    lines = sorted((json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()),
                   key=lambda l: l["t_marker"])
    assert [l.get("skip") for l in lines] == [None, None, "rejected", None]
    assert lines[2]["reason"].startswith("epoch rejected: E0 3") and "uV peak to peak > 150 uV" in lines[2]["reason"]
    assert stats.rejected == 1 and stats.results == 3 and stats.skipped_nan == 0
    assert "4 markers, 3 reconstructions, 0 dropped, 1 skipped (1 rejected as artefacts)" in stats.summary()
    report = (tmp_path / "report.html").read_text()
    assert "<th>of those, rejected as artefacts (peak to peak over --reject-uv)</th><td>1</td>" in report
    with pytest.raises(EegvizError, match="^--reject-uv must be"):  # the API refuses it as the command line does
        Pipeline(ArraySource(), dec, gen, [], paced=False, reject_uv=-1)


class LateStopSource(ArraySource):
    """A live-like source whose last markers' windows are still open when the session is stopped."""

    def __init__(self):
        super().__init__(n_markers=6, soa=0.3, paced=True)
        self.step = 10  # 0.1 s per read, paced at 20 ms: the stream outlives the duration below

    def read(self, timeout=0.05):
        res = super().read(timeout)
        res.finished = False  # live: it never ends by itself
        return res


def test_stop_gives_every_received_marker_a_line(tmp_path):
    src = LateStopSource()
    dec, gen = tiny_models()
    pipe = Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], paced=True)
    stats = pipe.run(duration=0.35)
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert stats.markers >= 2 and len(lines) == stats.markers  # results, or a reason, for every marker
    assert any("session stopped before" in l.get("reason", "") and l["skip"] == "stopped" for l in lines)
    assert stats.ended == "duration"


def test_a_kill_whose_keyboardinterrupt_python_swallowed_still_stops_the_session():
    """A signal's KeyboardInterrupt is raised in whatever the main thread runs; in a weakref callback (torch
    frees its compiled graphs' guards so, mid-session) Python printed "Exception ignored in ..." and went on, and
    a headless session killed then ran on to its end (live: until systemd's SIGKILL). The request is remembered."""
    import signal

    from eegviz.stopping import sigterm_as_ctrl_c

    class KilledSource(LateStopSource):  # live: it never ends by itself
        def read(self, timeout=0.05):
            res = super().read(timeout)
            if self.t[self.pos - 1] > 11.2 and not hasattr(self, "t_kill"):  # three markers in
                self.t_kill = time.perf_counter()
                try:
                    handler(signal.SIGTERM, None)  # `kill PID`, in a weakref callback ...
                except KeyboardInterrupt:
                    pass  # ... which swallows its exception
            return res

    class Lines:  # a marker's result or its reason, as results.jsonl has them (without its report: seconds)
        def __init__(self):
            self.n = 0

        def on_result(self, rec, stimulus=None):
            self.n += 1

        def on_skipped(self, marker, reason, kind):
            self.n += 1

        def close(self):
            pass

    src, lines = KilledSource(), Lines()
    dec, gen = tiny_models()
    pipe = Pipeline(src, dec, gen, [lines], paced=True)
    with sigterm_as_ctrl_c():
        handler = signal.getsignal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            pipe.run(duration=4.0)  # a bound for the old code, which ran on to it
    assert time.perf_counter() - src.t_kill < 2.0 and pipe.stats.ended == "stopped"
    assert pipe.stats.markers >= 3 and lines.n == pipe.stats.markers  # as a Ctrl-C stops it: every marker a line


class HoldingSource(ArraySource):
    """A live source that holds its last samples back until drain() (as LslSource holds chunks whose units it
    has not judged yet): read() gives everything before 12.2 s and then nothing, drain() the rest."""

    def __init__(self):
        super().__init__(n_markers=6, soa=0.3)
        self.cut = int(np.searchsorted(self.t, 12.2))
        self.drained = False

    def read(self, timeout=0.05):
        time.sleep(0.01)
        if self.pos >= self.cut:
            return ReadResult()
        res = ReadResult([Chunk(self.x[:self.cut], self.t[:self.cut])], list(self.markers))
        self.pos = self.cut
        return res

    def drain(self):
        self.drained = True
        return ReadResult([Chunk(self.x[self.cut:], self.t[self.cut:])])


def test_what_a_source_holds_back_is_taken_before_the_last_epochs_are_cut(tmp_path):
    """The last marker's window (12.0 s + 0.4 s) ends in the samples the source still held when the session
    stopped: taken from drain() after the last read, it is epoched, not skipped as stopped."""
    src, rec = HoldingSource(), Recorder()
    dec, gen = tiny_models()
    stats = Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], recorder=rec).run(duration=0.3)
    assert src.drained and rec.samples == len(src.t)
    assert stats.markers == 6 and stats.epochs == 6 and stats.skipped == 0


class UnixClockMarkers(LateStopSource):
    """A live sender whose markers are stamped with time.time() (Unix seconds) instead of LSL's local_clock."""

    def read(self, timeout=0.05):
        res = super().read(timeout)
        res.markers = [Marker(m.timestamp + 1.7e9, m.payload) for m in res.markers]
        return res


def test_a_session_whose_markers_are_all_in_another_clock_made_nothing(tmp_path):
    """Every marker of a live session stamped in another clock waited for EEG that never comes, ended "stopped"
    by --duration, and the command exited 0 with nothing pointing at the clock (review). Now each is skipped as
    in another clock, and the session is one that made nothing: its one line, exit 1."""
    dec, gen = tiny_models()
    stats = Pipeline(UnixClockMarkers(), dec, gen, [ResultsWriter(tmp_path)], paced=True).run(duration=0.5)
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert stats.ended == "duration" and stats.markers >= 2 and len(lines) == stats.markers
    assert {l["skip"] for l in lines} == {"clock"} and "another clock" in lines[0]["reason"]
    assert stats.nothing_made() == (f"none of the {stats.markers} markers got a reconstruction (skipped: "
                                    f"{stats.markers} in another clock; each marker's reason is in its line)")


class VanishingEeg(LateStopSource):
    """A live amplifier whose outlet is gone after its first 0.4 s: its markers keep coming, its EEG does not."""

    def read(self, timeout=0.05):
        res = super().read(timeout)
        res.chunks = [c for c in res.chunks if c.timestamps.size and c.timestamps[0] < 10.4]
        return res


def test_a_duration_session_whose_eeg_vanished_made_nothing_and_says_why(tmp_path, monkeypatch):
    """The markers sent after an LSL outlet vanished (or came back with other channels, which is waited out)
    were skipped as "cut short by the stop" when --duration came, and the session passed as one only cut short
    (exit 0). Now each is a gap naming the EEG's silence, and a session that made nothing of them says so."""
    from eegviz.stream import epocher

    monkeypatch.setattr(epocher, "STALLED_S", 1.0, raising=False)  # a short test: the EEG silent for 2 s is lost
    dec, gen = tiny_models()
    stats = Pipeline(VanishingEeg(), dec, gen, [ResultsWriter(tmp_path)], paced=True).run(duration=2.6)
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert stats.ended == "duration" and stats.markers == 6 and len(lines) == 6
    assert {l["skip"] for l in lines} == {"gap"}
    assert all("no EEG sample arrived in the" in l["reason"] for l in lines)
    assert stats.nothing_made() == ("none of the 6 markers got a reconstruction (skipped: 6 in a gap; each "
                                    "marker's reason is in its line)")


class UnpluggedOnStop(ArraySource):
    """A source (a plugin's, a board's) whose stop() raises."""

    def stop(self):
        raise RuntimeError("amplifier unplugged")


class ClosedSink:
    def __init__(self):
        self.closed = False

    def on_result(self, rec, stimulus=None):
        pass

    def on_skipped(self, marker, reason, kind):
        pass

    def close(self):
        self.closed = True


def test_a_failing_stop_still_closes_the_recording_and_every_sink(tmp_path):
    """source.stop() raising used to skip the recorder's footers and every sink's close: now each part is closed
    whatever the others do, and the error is still raised."""
    import pyxdf
    import pytest

    from eegviz.record.session_folder import SessionOutput

    dec, gen = tiny_models()
    sink = ClosedSink()
    pipe = Pipeline(UnpluggedOnStop(), dec, gen, [sink], output=SessionOutput(tmp_path / "s"), paced=False)
    with pytest.raises(RuntimeError, match="amplifier unplugged"):
        pipe.run()
    assert sink.closed
    lines = (tmp_path / "s" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(l)["marker"] for l in lines)
    streams, _ = pyxdf.load_xdf(str(tmp_path / "s" / "session.xdf"), dejitter_timestamps=False)
    assert streams and all(st.get("footer") for st in streams)  # footers written


class CtrlCWhileClosing(ClosedSink):
    """An impatient user: Ctrl-C again while the session's files are being closed."""

    def close(self):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here
        self.closed = True


def test_a_second_ctrl_c_while_closing_is_said_to_wait_and_every_part_still_closes(capsys):
    """It used to raise KeyboardInterrupt out of the closing sink (a BaseException: no except caught it), so the
    sinks after it, the report among them, were never closed."""
    dec, gen = tiny_models()
    first, after = CtrlCWhileClosing(), ClosedSink()
    Pipeline(ArraySource(n_markers=1), dec, gen, [first, after], paced=False).run()
    assert first.closed and after.closed
    assert "already stopping" in capsys.readouterr().err


def test_a_failing_stop_is_raised_on_an_early_stop_too():
    """Stopped before the source started (the window's Stop during warm-up): the source's stop() error is still
    raised, not only logged."""
    import pytest

    dec, gen = tiny_models()
    pipe = Pipeline(UnpluggedOnStop(), dec, gen, [], paced=False)
    pipe.stop()
    with pytest.raises(RuntimeError, match="amplifier unplugged"):
        pipe.run()


class Logs:
    """Mixin for a source class: says in `log` when the session starts it."""

    def __init__(self, log: list, **kw):
        super().__init__(**kw)
        self.log = log

    def start(self):
        self.log.append("source.start")
        super().start()


class LoggedSource(Logs, ArraySource):
    """An ArraySource that says in `log` when the session starts it."""


class LoggedFileSource(LoggedSource):
    """A source with open(), as file sources have: its channels are known before it plays (`opened_as`)."""

    def __init__(self, log: list, opened_as: StreamInfo | None = None, **kw):
        super().__init__(log, **kw)
        self.opened_as = opened_as

    def open(self):
        self.log.append("source.open")
        self.info = self.opened_as or self.info


class LoggedWarmup(SlowGenerator):
    def __init__(self, log: list):
        self.log = log

    def warmup(self):
        self.log.append("warmup")


def test_generator_warms_up_before_the_source_opens(tmp_path):
    log = []
    dec, _ = tiny_models()
    Pipeline(LoggedSource(log), dec, LoggedWarmup(log), [], paced=False).run()
    assert log == ["warmup", "source.start"]


def test_the_decoder_warms_up_with_the_generator_on_a_zero_epoch_of_the_models_shape(tmp_path):
    """Only the generator was warmed: a session's first epoch paid the decoder's first call (about 70 ms
    against 5 warm). It decodes one epoch of zeros before the source starts; the epochs' results are unchanged."""
    log = []
    dec, _ = tiny_models()
    decode = dec.forward
    dec.forward = lambda x, latent=True: (log.append(("decode", np.shape(x), float(np.abs(x).max()))),
                                          decode(x, latent))[1]
    stats = Pipeline(LoggedSource(log, n_markers=2), dec, LoggedWarmup(log), [], paced=False).run()
    assert log[:3] == ["warmup", ("decode", (1, len(CH), dec.spec.n_times), 0.0), "source.start"], log
    assert stats.results == 2


def test_a_file_source_the_model_cannot_use_is_refused_before_the_warm_up(tmp_path):
    """A source with open() (a file: its channels are known before it plays) is checked against the model's
    channels first; the generator's warm-up (seconds with graph capture) never runs for a file refused anyway."""
    import pytest

    from eegviz.errors import EegvizError

    log = []
    dec, _ = tiny_models()
    src = LoggedFileSource(log, opened_as=StreamInfo("test", ("Xa", "Xb", "Xc"), 100.0))  # none of the model's
    with pytest.raises(EegvizError):
        Pipeline(src, dec, LoggedWarmup(log), [], paced=False).run()
    assert log == ["source.open"]


def test_a_file_source_that_fits_opens_before_the_warm_up_and_plays_after_it(tmp_path):
    log = []
    dec, _ = tiny_models()
    stats = Pipeline(LoggedFileSource(log, n_markers=3), dec, LoggedWarmup(log), [], paced=False).run()
    assert log == ["source.open", "warmup", "source.start"] and stats.markers == 3


class RestartedDuringWarmup(LoggedFileSource):
    """Opened (and checked) at 200 Hz; by start() its outlet was restarted at 100 Hz, as LslSource.start() finds an
    amplifier's outlet again that came back with another setup during the warm-up."""

    def start(self):
        self.info = StreamInfo("test", CH, 100.0)
        super().start()


def test_a_source_that_changed_during_the_warm_up_is_said_to_have_changed(tmp_path, caplog):
    """It was mapped anew without a word (only a second montage warning, of other counts, where there was one)."""
    import logging

    dec, _ = tiny_models()
    said = []
    src = RestartedDuringWarmup([], opened_as=StreamInfo("test", CH, 200.0), n_markers=2)
    with caplog.at_level(logging.WARNING, logger="eegviz.pipeline"):
        stats = Pipeline(src, dec, LoggedWarmup([]), [], paced=False, on_notice=said.append).run()
    line = "EEG stream 'test' changed while the model warmed up: it now has 100 Hz instead of 200 Hz; its " \
           "channels are mapped onto the model's anew"
    assert said == [line] and line in caplog.text and stats.epochs == 2


def test_what_changed_since_open_is_said_in_one_line():
    from eegviz.pipeline import changed_since_open
    from eegviz.sources.lsl import LslStreamInfo

    a = LslStreamInfo("amp", CH, 500.0, eeg_format="float32", eeg_header="<uid>1</uid>")
    assert changed_since_open(a, LslStreamInfo("amp", CH, 500.0, eeg_format="float32", eeg_header="<uid>2</uid>")) \
        is None  # restarted as it was
    b = LslStreamInfo("amp", CH + ("X9",), 250.0, eeg_format="int16")
    assert "9 channels instead of 8 and 250 Hz instead of 500 Hz and int16 samples instead of float32" in \
        changed_since_open(a, b)
    c = LslStreamInfo("amp", ("Fp1",) + CH[1:], 500.0, eeg_format="float32")
    assert "channel 1 named 'Fp1' instead of 'E0'" in changed_since_open(a, c)


@pytest.fixture
def unique_names_settle_at_once(monkeypatch):
    """The live LSL tests below name their streams with a fresh uuid, EEG and markers both, so no other stream on
    the network can fit either name: resolve_streams' SETTLE_S (0.5 s for the other senders to answer before one
    of several is chosen) has nothing to wait for. It still waits until both named streams have shown up."""
    from eegviz.sources import lsl

    monkeypatch.setattr(lsl, "SETTLE_S", 0.0)


def test_a_live_lsl_stream_the_model_cannot_use_is_refused_before_the_warm_up(tmp_path, unique_names_settle_at_once):
    """LslSource.open() reads the stream's header without taking data, so a headset whose channels the model
    cannot use is refused at once, not after seconds of warm-up; one that fits is started after the warm-up."""
    import uuid

    import pytest

    from eegviz.errors import EegvizError
    from eegviz.sources.lsl import LslSource
    from eegviz.sources.lsl_outlet import LslOutlets

    class LoggedLsl(Logs, LslSource):
        def open(self):
            self.log.append("source.open")
            super().open()

    dec, _ = tiny_models()
    for ch_names, fits in ((("Xa", "Xb", "Xc"), False), (CH, True)):
        name = f"chk-{uuid.uuid4().hex[:8]}"
        outlets = LslOutlets(StreamInfo(name, ch_names, 100.0), marker_name=f"{name}-mk")
        log = []
        pipe = Pipeline(LoggedLsl(log, stream_name=name, marker_name=f"{name}-mk", resolve_timeout=3.0), dec,
                        LoggedWarmup(log), [], paced=False)
        if fits:
            pipe.run(duration=0.3)
            assert log == ["source.open", "warmup", "source.start"]
        else:
            with pytest.raises(EegvizError, match="channel"):
                pipe.run(duration=0.3)
            assert log == ["source.open"]
        del outlets


def test_recording_keeps_raw_stamps_and_clock_offsets(tmp_path):
    """As LabRecorder: the sender's own stamps plus offsets; pyxdf synchronises them on load."""
    import pyxdf

    from eegviz.messages import ClockOffset
    from eegviz.record.xdf_writer import SessionRecorder

    offset = 1234.5
    jitter = np.random.default_rng(1).uniform(-2e-3, 2e-3, 20)
    raw_t = 100.0 + np.arange(20) / 100.0 + jitter
    local_t = 100.0 + offset + np.arange(20) / 100.0  # what eegviz epochs in: synchronised, dejittered
    rec = SessionRecorder(tmp_path / "r.xdf", StreamInfo("amp", CH, 100.0, source_id="amp-1"))
    rec.add_clock_offset(ClockOffset("eeg", local_t[0], offset))
    rec.add_clock_offset(ClockOffset("markers", local_t[0], offset))
    rec.add_chunk(Chunk(np.zeros((20, len(CH)), np.float32), local_t, raw_timestamps=raw_t))
    rec.add_marker(Marker(local_t[5], "img", raw_timestamp=raw_t[5]))
    rec.add_clock_offset(ClockOffset("eeg", local_t[-1], offset))
    rec.add_clock_offset(ClockOffset("markers", local_t[-1], offset))
    rec.close()
    raw, _ = pyxdf.load_xdf(str(tmp_path / "r.xdf"), synchronize_clocks=False, dejitter_timestamps=False)
    by_type = {s["info"]["type"][0]: s for s in raw}
    np.testing.assert_array_equal(by_type["EEG"]["time_stamps"], raw_t)  # nothing lost to dejittering
    assert by_type["Markers"]["time_stamps"][0] == raw_t[5]
    synced, _ = pyxdf.load_xdf(str(tmp_path / "r.xdf"))
    by_type = {s["info"]["type"][0]: s for s in synced}
    np.testing.assert_allclose(by_type["EEG"]["time_stamps"], local_t, atol=3e-3)
    assert abs(by_type["Markers"]["time_stamps"][0] - (raw_t[5] + offset)) < 1e-9


def test_live_lsl_session_records_the_senders_own_stamps(tmp_path, unique_names_settle_at_once):
    """End to end over LSL: jittered sender stamps arrive in session.xdf bit for bit, with clock offsets."""
    import uuid

    import pylsl
    import pyxdf

    from eegviz.record.session_folder import SessionOutput
    from eegviz.sources.lsl import LslSource
    from eegviz.sources.lsl_outlet import LslOutlets

    name = f"jitter-{uuid.uuid4().hex[:8]}"
    outlets = LslOutlets(StreamInfo(name, CH, 100.0, source_id=f"sid-{name}"), marker_name=f"{name}-mk")
    pushed = []
    rng = np.random.default_rng(3)

    class PushingSource(LslSource):
        """The outlet is fed from the acquisition thread's reads, so the test needs no thread of its own."""

        def read(self, timeout=0.05):
            now = pylsl.local_clock()
            t = now + np.arange(5) / 100.0 + rng.uniform(-3e-3, 3e-3, 5)
            outlets.eeg.push_chunk(np.zeros((5, len(CH)), np.float32), list(t))
            pushed.append(t)
            return super().read(timeout)

    src = PushingSource(stream_name=name, marker_name=f"{name}-mk", resolve_timeout=3.0)
    dec, gen = tiny_models()
    try:
        stats = Pipeline(src, dec, gen, [], output=SessionOutput(tmp_path / "s"), paced=True).run(duration=2.0)
    finally:
        outlets.close()
    raw, _ = pyxdf.load_xdf(str(tmp_path / "s" / "session.xdf"), synchronize_clocks=False,
                            dejitter_timestamps=False)
    eeg = [s for s in raw if s["info"]["type"][0] == "EEG"][0]
    got = eeg["time_stamps"]
    sent = np.concatenate(pushed)
    assert len(got) == stats.samples > 50
    np.testing.assert_array_equal(got, sent[np.isin(sent, got)])  # every stamp exactly as the sender made it
    assert np.isin(got, sent).all()
    assert len(eeg["clock_times"]) >= 1  # offsets recorded, as LabRecorder does


def test_live_lsl_session_records_the_senders_samples_and_header_as_sent(tmp_path, unique_names_settle_at_once):
    """A double64 stream in microvolts with a DC offset (a BioSemi's 300 mV): session.xdf used to store float32
    volts under eegviz's own header, rounding each sample by up to 0.015 uV and dropping the sender's format,
    units and desc. As LabRecorder: the sender's header, its values bit for bit; a replay reads it in volts."""
    import uuid

    import pylsl
    import pyxdf

    from eegviz.record.session_folder import SessionOutput
    from eegviz.sources.lsl import LslSource
    from eegviz.sources.xdf import load_xdf_session

    name = f"dbl-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EEG", len(CH), 100.0, pylsl.cf_double64, f"sid-{name}")
    chans = info.desc().append_child("channels")
    for c in CH:
        ch = chans.append_child("channel")
        ch.append_child_value("label", c)
        ch.append_child_value("unit", "microvolts")
    info.desc().append_child("acquisition").append_child_value("manufacturer", "BioSemi")
    outlet = pylsl.StreamOutlet(info)
    marker_outlet = pylsl.StreamOutlet(pylsl.StreamInfo(f"{name}-mk", "Markers", 1, 0.0, pylsl.cf_string, name))
    rng = np.random.default_rng(5)
    pushed = []
    last_push = [0.0]

    class PushingSource(LslSource):
        def read(self, timeout=0.05):
            if time.monotonic() - last_push[0] >= 0.05:  # 5 samples each 50 ms: the 100 Hz it declares (pushed on
                last_push[0] = time.monotonic()  # every read, it ran 9 kHz, which a replay now refuses)
                x = 300000.0 + rng.normal(0, 20.0, (5, len(CH)))  # microvolts, beyond float32's 24 bits
                outlet.push_chunk(x)
                pushed.append(x)
            return super().read(timeout)

    src = PushingSource(stream_name=name, marker_name=f"{name}-mk", resolve_timeout=3.0)
    dec, gen = tiny_models()
    stats = Pipeline(src, dec, gen, [], output=SessionOutput(tmp_path / "s"), paced=True).run(duration=1.5)
    del outlet, marker_outlet
    streams, _ = pyxdf.load_xdf(str(tmp_path / "s" / "session.xdf"), synchronize_clocks=False,
                                dejitter_timestamps=False)
    eeg = [s for s in streams if s["info"]["type"][0] == "EEG"][0]
    assert eeg["info"]["channel_format"] == ["double64"] and eeg["info"]["name"] == [name]
    desc = eeg["info"]["desc"][0]
    assert desc["acquisition"][0]["manufacturer"] == ["BioSemi"]
    assert [c["unit"][0] for c in desc["channels"][0]["channel"]] == ["microvolts"] * len(CH)
    got, sent = eeg["time_series"], np.concatenate(pushed)
    assert len(got) == stats.samples > 50
    rows = {r.tobytes() for r in sent}
    assert all(r.tobytes() in rows for r in got)  # every value exactly as sent
    replay = load_xdf_session(tmp_path / "s" / "session.xdf")
    np.testing.assert_allclose(replay.data[:, 0], got[:, 0] * 1e-6, rtol=1e-6)  # float32 volts, as live


def test_an_acquisition_failure_with_a_full_queue_ends_the_session_instead_of_hanging(tmp_path):
    """A recorder that fails (a full disk) while generation is behind: run() raises the error, it does not hang."""
    import threading

    class FullDisk(Recorder):
        def add_chunk(self, c):
            super().add_chunk(c)
            if self.samples > 110:
                raise OSError(28, "No space left on device")

    class VerySlow(SlowGenerator):
        def generate(self, saliency, embedding, seed=0):
            time.sleep(1.0)  # the first epoch is still being generated when the disk fills: the queue is full
            return super().generate(saliency, embedding, seed)

    src = ArraySource(n_markers=12, soa=0.05, paced=True)
    dec, _ = tiny_models()
    pipe = Pipeline(src, dec, VerySlow(), [ResultsWriter(tmp_path)], recorder=FullDisk(), paced=True,
                    max_pending=1, max_batch=1)
    outcome = {}

    def run():
        try:
            pipe.run()
        except OSError as e:
            outcome["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "the pipeline hung after the acquisition thread failed"
    assert "No space left" in str(outcome.get("error"))


class FailingSource(ArraySource):
    """Delivers the first half of the recording and every marker, then fails (an amplifier unplugged)."""

    def read(self, timeout=0.05):
        if self.pos >= len(self.t) // 2:
            raise OSError(5, "Input/output error")
        res = super().read(timeout)
        res.markers = list(self.markers) if self.pos <= self.step else []
        return res


def test_a_failing_source_still_gives_every_received_marker_a_line(tmp_path):
    """results.jsonl has a line for every marker received: those still waiting for their window when the source
    failed had none (and their images never came, without a word)."""
    src = FailingSource(n_markers=6, soa=0.3)
    dec, gen = tiny_models()
    with pytest.raises(OSError, match="Input/output"):
        Pipeline(src, dec, gen, [ResultsWriter(tmp_path)], recorder=Recorder(), paced=False).run()
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["marker"] for r in rows) == [f"m{i}" for i in range(6)]
    failed = [r for r in rows if r.get("dropped")]
    assert failed and all(r["skip"] == "error" and "ended by an error" in r["reason"] for r in failed)


class FailsOnThirdImage(SlowGenerator):
    """A generator that fails mid-session (CUDA out of memory, a plugin's bug)."""

    name = "third"

    def __init__(self):
        self.calls = 0

    def generate(self, saliency, embedding, seed=0):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("CUDA out of memory")
        return super().generate(saliency, embedding, seed)


class NoRoomForTheThirdPicture(ResultsWriter):
    """results.jsonl's PNGs on a disk that fills up: the third reconstruction cannot be saved."""

    def _save(self, image, path):
        if path.parent.name == "reconstruction" and len(list(path.parent.iterdir())) == 2:
            raise OSError(28, "No space left on device", str(path))
        super()._save(image, path)


@pytest.mark.parametrize("fails", ["generator", "disk"])
@pytest.mark.parametrize("paced", [False, True])
def test_a_failing_inference_side_still_gives_every_received_marker_a_line(tmp_path, fails, paced):
    """When generation or a sink failed mid-session, the batch it was on, the epochs waiting in the queue and
    those cut after it got no line in results.jsonl (8 markers received, 6 lines, no word of the other two), and the
    summary did not count them. Each now has a line saying the session ended by an error."""
    src = ArraySource(n_markers=8, soa=0.1, paced=True)  # in real time: epochs wait while the generator works
    dec, _ = tiny_models()
    gen, sink = ((FailsOnThirdImage(), ResultsWriter(tmp_path)) if fails == "generator"
                 else (SlowGenerator(), NoRoomForTheThirdPicture(tmp_path)))
    rec = Recorder()
    pipe = Pipeline(src, dec, gen, [sink], recorder=rec, paced=paced, max_pending=2, max_batch=1)
    with pytest.raises((RuntimeError, OSError), match="CUDA out of memory|No space left"):
        pipe.run()
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rec.markers) > 3  # received (the source is read no further once the session ends)
    assert sorted(r["marker"] for r in rows) == sorted(rec.markers)
    failed = [r for r in rows if r.get("skip") == "error"]
    assert failed and all("ended by an error" in r["reason"] for r in failed)
    made = [r for r in rows if not r["dropped"]]
    assert len(made) == 2 and all((tmp_path / r["reconstruction"]).exists() for r in made)
    st = pipe.stats
    assert st.markers == len(rec.markers) == st.results + st.dropped + st.skipped
    assert st.skip_kinds[SkipKind.ERROR] == len(failed)


def test_stop_from_another_thread_ends_the_session_as_stopped(tmp_path):
    import threading

    dec, gen = tiny_models()
    pipe = Pipeline(LateStopSource(), dec, gen, [], paced=True)
    timer = threading.Timer(0.3, pipe.stop)
    timer.start()
    stats = pipe.run(duration=30.0)  # stop() comes first: "stopped", not "duration"
    timer.join()
    assert stats.ended == "stopped"


def test_a_duration_that_cuts_short_every_marker_is_not_a_session_that_made_nothing() -> None:
    """`eegviz live --duration D` whose markers all came in its last epoch-length: their windows were still being
    recorded when D came, so they are skipped as "stopped" (as by hand). Nothing about the data failed: exit 0,
    not the one-line error of a run whose epochs were all NaN (found by review: it exited 1)."""
    from eegviz.messages import SkipKind
    from eegviz.pipeline import Stats

    cut = Stats(markers=2, skipped=2, ended="duration")
    cut.skip_kinds[SkipKind.STOPPED] += 2
    assert cut.nothing_made() is None
    failed = Stats(markers=3, skipped=3, ended="duration")  # one cut short, two NaN: the data did fail
    failed.skip_kinds.update({SkipKind.STOPPED: 1, SkipKind.NAN: 2})
    assert failed.nothing_made() == ("none of the 3 markers got a reconstruction (skipped: 2 with NaN "
                                     "samples, 1 cut short by the stop; each marker's reason is in its line)")


def test_a_latent_branch_of_another_vaes_latent_shape_is_refused_not_drawn_at_the_wrong_size():
    """--init latent with --sd-model: the latent branch predicts latents of the model's own VAE (4x16x16); a
    pipeline whose VAE works on 4x64x64 drew every image at 128 px instead of 512, in a latent space not its own,
    without a word (found by review). Refused in one line when the session is built; the same shape is taken."""
    import pytest

    from eegviz.decoders.latent import LatentRegressor
    from eegviz.errors import EegvizError

    dec, gen = tiny_models()  # the generator draws 16 px through a VAE of scale factor 2: 4 x 8 x 8 latents
    gen.init = "latent"
    dec.latent = LatentRegressor(len(CH), dec.spec.n_times, latent_shape=(4, 4, 4))
    with pytest.raises(EegvizError, match=r"--init latent: this model's latent branch predicts 4x4x4 latents of its "
                                          r"own VAE; the generator's pipeline works on 4x8x8") as err:
        Pipeline(ArraySource(), dec, gen, [], paced=False)
    assert "\n" not in str(err.value)
    dec.latent = LatentRegressor(len(CH), dec.spec.n_times, latent_shape=(4, 8, 8))
    assert Pipeline(ArraySource(), dec, gen, [], paced=False)._from_latents


def test_summary_line_names_why_markers_were_skipped():
    """A replay that ends '7 skipped' must say whether the recording was at fault (gaps, NaN, other clocks) or only
    its end; every kind has words, and a session with no skips says nothing more."""
    from eegviz.messages import SkipKind
    from eegviz.pipeline import SKIP_WORDS, Stats

    assert set(SKIP_WORDS) == set(SkipKind)
    stats = Stats(markers=10, results=3, skipped=7)
    stats.skip_kinds.update({SkipKind.GAP: 4, SkipKind.NAN: 2, SkipKind.CLOCK: 1})
    assert "7 skipped (4 in a gap, 2 with NaN samples, 1 in another clock)" in stats.summary()
    assert Stats(markers=3, results=3).summary().startswith(
        "eegviz: 3 markers, 3 reconstructions, 0 dropped, 0 skipped")
    assert "(" not in Stats(markers=3, results=3).summary()
    # one marker: "1 markers, 0 reconstructions" (a disk full after the first marker said it so)
    assert Stats(markers=1, results=1).summary().startswith("eegviz: 1 marker, 1 reconstruction, 0 dropped")
    one = Stats(markers=1, skipped=1, ended="finished")
    one.skip_kinds[SkipKind.NAN] = 1
    assert one.summary().startswith("eegviz: 1 marker, 0 reconstructions, 0 dropped, 1 skipped")
    assert one.nothing_made() == ("the one marker got no reconstruction (skipped: 1 with NaN samples; each marker's "
                                  "reason is in its line)")


class FloatGenerator(SlowGenerator):
    """A plugin that returns what many image models give: floats in [0, 1]."""

    name = "floaty"

    def generate(self, saliency, embedding, seed=0):
        return np.full((len(saliency), 8, 8, 3), 0.5)


def test_a_generator_returning_floats_ends_the_session_in_one_line(tmp_path):
    """The protocol says uint8; floats reached the PNG writer as a PIL traceback from the inference thread."""
    import pytest

    from eegviz.errors import EegvizError
    from eegviz.generators.base import check_images
    from eegviz.record.session_folder import SessionOutput

    dec, _ = tiny_models()
    out = SessionOutput(tmp_path / "s")
    with pytest.raises(EegvizError, match="generator 'floaty' returned float64 images; generate\\(\\) must return uint8"):
        Pipeline(ArraySource(), dec, FloatGenerator(), [], output=out, paced=False).run()
    assert (tmp_path / "s" / "session.xdf").stat().st_size > 0  # what was recorded is kept
    with pytest.raises(EegvizError, match=r"shaped \(2, 8, 8\) for 2 epochs"):
        check_images(np.zeros((2, 8, 8), np.uint8), 2, "g")
    with pytest.raises(EegvizError, match="returned list"):
        check_images([np.zeros((8, 8, 3), np.uint8)], 1, "g")
    ok = np.zeros((3, 8, 8, 3), np.uint8)
    assert check_images(ok, 3, "g") is ok


def test_a_decoder_of_another_caption_width_is_refused_when_the_session_is_built():
    """A decoder regressing 64-d caption states before a UNet attending over 32-d ones (SD 1.x CLIP 768 before SD
    2.x 1024) started the session, warmed up and failed only at the first epoch. Refused when the session is
    built, naming the training option; a generator with a projection maps them and is taken."""
    from eegviz.errors import EegvizError

    dec, _ = tiny_models()
    gen = tiny_embedded_generator(ctx_dim=32, size=16)
    with pytest.raises(EegvizError, match=r"decoder embeddings are 64-d but the SD model expects 32-d; .*"
                                          r"--text-encoder clip:SD_MODEL"):
        Pipeline(ArraySource(), dec, gen, [], paced=False)
    gen.set_projection(torch.nn.Linear(64, 32))
    Pipeline(ArraySource(), dec, gen, [], paced=False)


def test_a_source_that_ran_out_without_a_marker_made_nothing_but_a_duration_without_one_did_not() -> None:
    """A replay of a recording with no markers exited 0 having decoded nothing; a live --duration that passed
    before any marker came is not judged (the stimulus program may not have started)."""
    from eegviz.pipeline import Stats

    assert Stats(samples=750, ended="finished").nothing_made() == (
        "the recording held no markers, so nothing was decoded (an image is made from the EEG after each stimulus "
        "marker)")
    assert Stats(samples=750, ended="duration").nothing_made() is None
    assert Stats(samples=750, ended="stopped").nothing_made() is None


def test_results_and_the_window_say_which_branch_img2img_started_from(tmp_path):
    """--init latent: results.jsonl, the window's status bar and the session's records named the generator only,
    with the saliency map beside the image as if it were its start (found by review). Each result now says what
    img2img started from: "latent" (the decoder's latent branch) or "saliency"."""
    from dataclasses import replace

    from eegviz.app.window import generator_text
    from eegviz.decoders.latent import LatentRegressor

    dec, gen = tiny_models()
    Pipeline(ArraySource(n_markers=2), dec, gen, [ResultsWriter(tmp_path / "s")], paced=False).run()
    lines = [json.loads(l) for l in (tmp_path / "s" / "results.jsonl").read_text().splitlines()]
    assert [l["init"] for l in lines] == ["saliency", "saliency"]
    gen.init = "latent"
    dec.latent = LatentRegressor(len(CH), dec.spec.n_times, latent_shape=(4, 8, 8))
    seen = []

    class Keep:
        def on_result(self, rec, stimulus=None):
            seen.append(rec)

        def on_skipped(self, *a):
            pass

        def close(self):
            pass

    Pipeline(ArraySource(n_markers=2), dec, gen, [ResultsWriter(tmp_path / "l"), Keep()], paced=False).run()
    lines = [json.loads(l) for l in (tmp_path / "l" / "results.jsonl").read_text().splitlines()]
    assert [l["init"] for l in lines] == ["latent", "latent"]
    assert generator_text(seen[0]) == "generator embedded from the latent branch"
    assert generator_text(replace(seen[0], init="saliency")) == "generator embedded"


def test_a_result_the_writer_saved_before_a_sink_failed_is_counted_as_results_jsonl_has_it(tmp_path):
    """A --sink failing on a result the writer (the first sink) had saved: the summary counted it as skipped, not
    as a result, one short of results.jsonl. The sinks after the failing one get its line, saying why."""
    import pytest

    from eegviz.errors import EegvizError
    from eegviz.sinks import NamedSink

    class FailsSecond(ClosedSink):
        results = 0

        def on_result(self, rec, stimulus=None):
            self.results += 1
            if self.results == 2:
                raise RuntimeError("the visuals machine went away")

    after = []

    class After(ClosedSink):
        def on_skipped(self, marker, reason, kind):
            after.append(reason)

    dec, gen = tiny_models()
    pipe = Pipeline(ArraySource(n_markers=3), dec, gen,
                    [ResultsWriter(tmp_path), NamedSink(FailsSecond(), "hC-fails"), After()], paced=False, max_batch=1)
    with pytest.raises(EegvizError, match="--sink hC-fails"):
        pipe.run()
    lines = [json.loads(l) for l in (tmp_path / "results.jsonl").read_text().splitlines()]
    saved = [l for l in lines if not l["dropped"]]
    assert pipe.stats.results == len(saved) == 2 and len(pipe.stats.marker_to_image_ms) == 2
    assert pipe.stats.skipped == len(lines) - len(saved) == 1
    assert after[0] == "session ended by an error before this result reached this sink", after


def test_closing_errors_are_each_said_once_and_the_sessions_own_is_the_one_raised(caplog):
    """A --sink whose close() failed was logged ("closing the session: ...") and then raised, so its one line was
    said twice. The error raised is the session's own where it has one, else the first closing error; every
    other closing error is logged once."""
    import logging

    import pytest

    class FailsToClose(ClosedSink):
        def __init__(self, why):
            super().__init__()
            self.why = why

        def close(self):
            raise RuntimeError(self.why)

    dec, _ = tiny_models()
    sinks = [FailsToClose("first close"), FailsToClose("second close")]
    src = ArraySource(n_markers=0)
    src.step = len(src.t)  # one read: no marker to wait for
    with caplog.at_level(logging.ERROR, logger="eegviz.pipeline"), pytest.raises(RuntimeError, match="first close"):
        Pipeline(src, dec, LoggedWarmup([]), sinks, paced=False).run()
    assert "first close" not in caplog.text and caplog.text.count("second close") == 1
    caplog.clear()
    src = UnpluggedOnStop(n_markers=0)
    src.step = len(src.t)
    with caplog.at_level(logging.ERROR, logger="eegviz.pipeline"), pytest.raises(RuntimeError, match="unplugged"):
        Pipeline(src, dec, LoggedWarmup([]), sinks[:1], paced=False).run()
    assert caplog.text.count("first close") == 1 and "unplugged" not in caplog.text


def test_a_full_disk_mid_session_is_said_once_not_again_by_the_recorder_s_close(caplog):
    """session.xdf's write failed on a full disk, and its close (the footers) failed the same way: the log had
    "ERROR closing the session: [Errno 28] ... session.xdf" above the session's own error, the same line. Said
    once now, by the error raised; a closing error on another file is still logged, as it is other news."""
    import errno
    import logging

    class FullDisk(Recorder):
        def add_chunk(self, c):
            raise OSError(errno.ENOSPC, "No space left on device", "/data/s/session.xdf")

        def close(self):
            raise OSError(errno.ENOSPC, "No space left on device", "/data/s/session.xdf")

    class NoRoomForTheReport(ClosedSink):
        def close(self):
            raise OSError(errno.ENOSPC, "No space left on device", "/data/s/report.html")

    dec, _ = tiny_models()
    src = ArraySource(n_markers=0)
    with caplog.at_level(logging.DEBUG, logger="eegviz.pipeline"), pytest.raises(OSError) as raised:
        Pipeline(src, dec, LoggedWarmup([]), [NoRoomForTheReport()], recorder=FullDisk(), paced=False).run()
    assert raised.value.filename == "/data/s/session.xdf" and raised.value.errno == errno.ENOSPC
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["closing the session: [Errno 28] No space left on device: '/data/s/report.html'"], errors
