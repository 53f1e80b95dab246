"""A source or generator plugin failing while a session runs: one line naming it, every marker still its line."""

import json

import numpy as np
import pytest

from eegviz import plugins
from eegviz.errors import EegvizError
from eegviz.cli import main
from eegviz.paths import default_model_dir, demo_recording
from eegviz.sources.xdf import XdfReplaySource

pytestmark = pytest.mark.skipif(not demo_recording().exists() or not (default_model_dir() / "decoder.json").exists(),
                                reason="demo recording or default model missing")


class FlakySource(XdfReplaySource):
    """A source plugin (this module is not eegviz's) whose read() fails once markers have come."""

    @classmethod
    def from_cli(cls, settings):
        return cls(settings.file, speed=settings.speed)

    def read(self, timeout=0.05):
        res = super().read(timeout)
        self.seen = getattr(self, "seen", 0) + len(res.markers)
        if self.seen > 3:
            raise IndexError("list index out of range\nin my parser")
        return res


class FlakyGenerator:
    """A generator plugin whose generate() fails at its third batch, after warm-up."""

    name = "flaky"

    def __init__(self):
        self.calls = 0

    @classmethod
    def from_options(cls, options, model_dir):
        return cls()

    def warmup(self):
        pass

    def generate(self, saliency, embedding, seed=0, **kwargs):
        self.calls += 1
        if self.calls == 3:
            raise ValueError("shapes do not match")
        return np.zeros((len(saliency), 8, 8, 3), np.uint8)


def _lines(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("kind, args, said", [
    ("sources", ["--source", "flaky"],
     "eegviz: error: source plugin 'flaky' failed in read() (IndexError: list index out of range in my parser)"),
    ("generators", ["--generator", "flaky"],
     "eegviz: error: generator plugin 'flaky' failed in generate() (ValueError: shapes do not match)")])
def test_a_source_or_generator_plugin_failing_mid_session_is_one_line_naming_it(kind, args, said, tmp_path,
                                                                                 monkeypatch, capsys):
    """A plugin raising in read() once started, or in generate() after warm-up, ended `eegviz replay` in a
    traceback into the plugin's file (a sink plugin already said its failure in one line). Now the session ends
    non-zero with one line naming the plugin, and every marker received has its line in results.jsonl."""
    monkeypatch.setitem(plugins._extra[kind], "flaky", FlakySource if kind == "sources" else FlakyGenerator)
    out = tmp_path / "out"
    code = main(["replay", str(demo_recording()), "--headless", "--speed", "0", "--no-capture", "--out", str(out),
                 *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == said and "Traceback" not in "\n".join(err)
    n = int(err[0].split()[1])  # the summary line: "eegviz: N markers, ..."
    lines = _lines(out)
    assert len(lines) == n > 0 and any(line.get("skip") == "error" for line in lines)  # those the failure cost


def test_eegviz_own_sources_and_generators_are_not_wrapped():
    """A built-in failing is eegviz's bug: its traceback stays (only plugins are said in one line)."""
    src = XdfReplaySource(demo_recording(), speed=0)
    assert plugins.wrap(src, "source", "xdf") is src
    wrapped = plugins.wrap(FlakySource(demo_recording(), speed=0), "source", "flaky")
    assert isinstance(wrapped, FlakySource) and wrapped.info is wrapped._plugin.info  # the plugin's own, as before
    assert not callable(getattr(wrapped, "drain", None))  # a method it lacks stays lacking (the session asks)


class FailingAt:
    """Raises `error` (set per test) in the call named `where`."""

    where, error = "", None

    def _maybe_fail(self, call):
        if call == FailingAt.where:
            raise FailingAt.error


class FailingSource(FailingAt, XdfReplaySource):
    """A source plugin failing in open(), start() or stop(), as FailingAt says."""

    @classmethod
    def from_cli(cls, settings):
        return cls(settings.file, speed=settings.speed)

    def open(self):
        self._maybe_fail("open")
        super().open()

    def start(self):
        self._maybe_fail("start")
        super().start()

    def stop(self):
        super().stop()
        self._maybe_fail("stop")


class FailingGenerator(FailingAt):
    """A generator plugin failing in warmup(), as FailingAt says."""

    name = "failing"

    @classmethod
    def from_options(cls, options, model_dir):
        return cls()

    def warmup(self):
        self._maybe_fail("warmup")

    def generate(self, saliency, embedding, seed=0, **kwargs):
        return np.zeros((len(saliency), 8, 8, 3), np.uint8)


def _run_failing(where, error, monkeypatch, capsys) -> tuple[int, list[str]]:
    """`eegviz replay --headless` of the demo recording with both plugins, one of them raising `error` in `where`:
    the exit status and stderr's lines."""
    monkeypatch.setattr(FailingAt, "where", where)
    monkeypatch.setattr(FailingAt, "error", error)
    monkeypatch.setitem(plugins._extra["sources"], "failing", FailingSource)
    monkeypatch.setitem(plugins._extra["generators"], "failing", FailingGenerator)
    code = main(["replay", str(demo_recording()), "--headless", "--speed", "0", "--source", "failing",
                 "--generator", "failing"])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("where, kind", [("open", "source"), ("start", "source"), ("stop", "source"),
                                         ("warmup", "generator")])
def test_a_plugin_failing_to_open_start_warm_up_or_stop_is_one_line_naming_it(where, kind, monkeypatch, capsys):
    """Named (eegviz.plugins.wrap) turns a plugin's failure in these calls into one line naming it, as in read()
    and generate(); only those two were tested. A failing stop() comes after the summary line, which still says
    what the session did."""
    code, err = _run_failing(where, RuntimeError("no device\nsecond line"), monkeypatch, capsys)
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert err[-1] == f"eegviz: error: {kind} plugin 'failing' failed in {where}() (RuntimeError: no device second line)"
    if where == "stop":
        assert any(line.startswith("eegviz: 40 markers, 40 reconstructions") for line in err)


@pytest.mark.parametrize("where, kind, error, said", [
    ("open", "source", OSError(19, "No such device", "/dev/ttyUSB0"),
     "source plugin 'failing' failed in open() (No such device: /dev/ttyUSB0)"),
    ("warmup", "generator", ConnectionResetError(104, "Connection reset by peer"),
     "generator plugin 'failing' failed in warmup() (Connection reset by peer)"),
    ("start", "source", EegvizError("the amplifier's battery is empty; charge it"),
     "source plugin 'failing': the amplifier's battery is empty; charge it")])
def test_a_plugins_os_error_or_own_refusal_is_said_naming_it(where, kind, error, said, monkeypatch, capsys):
    """An OSError or an EegvizError raised inside a plugin passed through unchanged: "eegviz: error: No such
    device: /dev/ttyUSB0" named no plugin, and a plugin's own refusal read as eegviz's. Both now name it."""
    code, err = _run_failing(where, error, monkeypatch, capsys)
    assert code == 2 and err[-1] == f"eegviz: error: {said}" and "Traceback" not in "\n".join(err)


def test_a_plugin_calling_sys_exit_is_one_line_naming_it_not_a_silent_exit(monkeypatch, capsys):
    """A plugin's sys.exit() in open() (or warmup(), read(), a sink's on_result(), its building) ended eegviz with
    that code and no word, 0 included, so a script took the session for done; a plugin's import already said so."""
    from eegviz.generators import make_generator
    from eegviz.sinks import make_sink

    code, err = _run_failing("open", SystemExit(0), monkeypatch, capsys)
    assert code == 2 and err[-1] == "eegviz: error: source plugin 'failing' failed in open() (SystemExit: 0)"

    class Exiting:
        def __init__(self):
            raise SystemExit("no licence")

        @classmethod
        def from_options(cls, options, model_dir):
            return cls()

    monkeypatch.setitem(plugins._extra["generators"], "exiting", Exiting)
    with pytest.raises(EegvizError, match=r"^generator plugin 'exiting' failed to build \(SystemExit: no licence\)"):
        make_generator("exiting", default_model_dir())

    class ExitingSink:
        def on_result(self, rec, stimulus=None):
            raise SystemExit(1)

        def on_skipped(self, marker, reason, kind):
            pass

        def close(self):
            pass

    monkeypatch.setitem(plugins._extra["sinks"], "exiting", ExitingSink)
    with pytest.raises(EegvizError, match=r"^--sink exiting: sink 'exiting' failed in on_result\(\) \(SystemExit: 1\)"):
        make_sink("exiting").on_result(object(), None)
    monkeypatch.setitem(plugins._extra["sinks"], "exiting", Exiting)
    with pytest.raises(EegvizError, match=r"failed to build \(SystemExit: no licence\)"):
        make_sink("exiting")


def test_a_plugins_failing_property_is_one_line_naming_it():
    """A plugin's attribute that raises (a source's `info` property reading a device) was a traceback into its
    file, while its methods' failures were one line; an attribute it lacks still reads as lacking."""

    class BrokenInfo:
        @property
        def info(self):
            raise KeyError("sfreq")

        def read(self, timeout=0.05):
            return None

    src = plugins.wrap(BrokenInfo(), "source", "broken")
    with pytest.raises(EegvizError) as err:
        src.info
    assert str(err.value) == "source plugin 'broken' failed reading its info (KeyError: 'sfreq')"
    assert getattr(src, "drain", None) is None and isinstance(src, BrokenInfo)


class ReturningSource:
    """A source plugin whose read() returns what `returned` says (set per test), and drain() the same."""

    returned = None

    def __init__(self):
        from eegviz.messages import StreamInfo

        self.info = StreamInfo("hE-returning", ("Fz", "Cz", "Pz"), 250.0)

    def start(self):
        pass

    def read(self, timeout=0.05):
        return ReturningSource.returned

    def drain(self):
        return ReturningSource.returned

    def stop(self):
        pass


def _chunk(samples):
    from eegviz.messages import Chunk

    return Chunk(samples, np.arange(len(samples), dtype=float))


@pytest.mark.parametrize("returned, said", [
    (None, "read() returned NoneType, not an eegviz.sources.base.ReadResult"),
    (([], []), "read() returned tuple, not an eegviz.sources.base.ReadResult"),
    ({"chunks": [np.zeros((5, 3))]}, "read() returned chunks holding a value of type ndarray, not eegviz.messages.Chunk"),
    ({"chunks": [_chunk(np.zeros((5, 10), np.float32))]},
     "read() returned a chunk of 10 channels, and its info names 3; samples are (n_times, n_channels)"),
    ({"chunks": [_chunk(np.full((5, 3), "1.0"))]}, "read() returned a chunk of <U3 samples; they must be numbers"),
    ({"markers": ["bell_030"]}, "read() returned markers holding a value of type str, not eegviz.messages.Marker"),
    ({"marker": 30}, "read() returned a marker of payload 30 at 1.5; a marker is the image id (str) at a time in "
                     "seconds (float)"),
    ({"marker": b"bell_030"}, "read() returned a marker of payload b'bell_030' at 1.5; a marker is the image id (str) "
                              "at a time in seconds (float)"),
    ({"notices": "lost the signal"}, "read() returned a ReadResult whose notices is str, not a list")])
def test_a_source_plugin_returning_what_is_no_read_result_is_one_line_naming_it(returned, said, monkeypatch):
    """A source plugin's read() returning None, a tuple, a bare array for a chunk, a chunk of other channels than
    its info names or a marker whose id is not text failed deep in the session (the pipeline's res.finished, the
    XDF writer, stimulus_id) with a traceback naming no plugin. Each is now one line naming it, what it returned
    and what the protocol wants; drain() is checked the same way, and a good result passes unchanged."""
    from eegviz.messages import Marker
    from eegviz.sources.base import ReadResult

    if isinstance(returned, dict):
        payload = returned.pop("marker", None)
        returned = ReadResult(**returned, **({"markers": [Marker(1.5, payload)]} if payload is not None else {}))
    monkeypatch.setattr(ReturningSource, "returned", returned)
    src = plugins.wrap(ReturningSource(), "source", "hE-returning")
    with pytest.raises(EegvizError) as err:
        src.read(timeout=0.05)
    assert str(err.value) == f"source plugin 'hE-returning': {said}"
    with pytest.raises(EegvizError, match=r"^source plugin 'hE-returning': drain\(\) returned"):
        src.drain()
    good = ReadResult(chunks=[_chunk(np.zeros((5, 3), np.float64))], markers=[Marker(1.5, "bell_030")])
    monkeypatch.setattr(ReturningSource, "returned", good)
    assert src.read(timeout=0.05) is good and src.drain() is good


class OldSink:
    """A sink plugin written before on_skipped took the skip's kind."""

    def on_result(self, rec, stimulus=None):
        pass

    def on_skipped(self, marker, reason):
        pass

    def close(self):
        pass


class SeedlessGenerator(FailingGenerator):
    """A generator plugin whose generate() takes no seed."""

    def generate(self, saliency, embedding):
        return np.zeros((len(saliency), 8, 8, 3), np.uint8)


class LatentlessGenerator(FailingGenerator):
    """A generator plugin starting from the latent branch whose generate() takes no latents."""

    init, accepts_latents = "latent", True

    def generate(self, saliency, embedding, seed=0):
        return np.zeros((len(saliency), 8, 8, 3), np.uint8)


class TimeoutlessSource(ReturningSource):
    """A source plugin whose read() takes no timeout."""

    @classmethod
    def from_cli(cls, settings):
        return cls()

    def read(self):
        return None


def test_a_plugin_that_cannot_take_the_sessions_calls_is_refused_when_built(monkeypatch):
    """A sink's on_skipped() without `kind`, a generate() without `seed` or a read() without `timeout` failed only
    when the session first made that call: a live session's first dropped epoch ended it, minutes in (a replay at
    --speed 0 skips nothing, so it never showed). Each is now refused in one line when the plugin is built, naming
    the method, its signature and the call it gets; a fit one is built as before."""
    from eegviz.app.source_choice import _from_cli
    from eegviz.generators import make_generator
    from eegviz.settings import SourceSettings
    from eegviz.sinks import make_sink

    monkeypatch.setitem(plugins._extra["sinks"], "hE-old", OldSink)
    with pytest.raises(EegvizError) as err:
        make_sink("hE-old")
    assert str(err.value) == ("--sink hE-old: sink 'hE-old' cannot take the session's calls: on_skipped(marker, "
                              "reason) is called as on_skipped(marker, reason, kind)")
    monkeypatch.setitem(plugins._extra["generators"], "hE-seedless", SeedlessGenerator)
    with pytest.raises(EegvizError) as err:
        make_generator("hE-seedless", default_model_dir())
    assert str(err.value) == ("generator plugin 'hE-seedless' cannot take the session's calls: generate(saliency, "
                              "embedding) is called as generate(saliency, embedding, seed=...)")
    # one that starts from the decoder's latent branch is handed latents= too
    monkeypatch.setitem(plugins._extra["generators"], "hE-latentless", LatentlessGenerator)
    with pytest.raises(EegvizError) as err:
        make_generator("hE-latentless", default_model_dir())
    assert str(err.value) == ("generator plugin 'hE-latentless' cannot take the session's calls: generate(saliency, "
                              "embedding, seed=0) is called as generate(saliency, embedding, seed=..., "
                              "latents=...)")
    monkeypatch.setitem(plugins._extra["sources"], "hE-timeoutless", TimeoutlessSource)
    with pytest.raises(EegvizError) as err:
        _from_cli(SourceSettings("replay", file="x.dat", reader="hE-timeoutless"))
    assert str(err.value) == ("source plugin 'hE-timeoutless' cannot take the session's calls: read() is called as "
                              "read(timeout=...)")
    monkeypatch.setitem(plugins._extra["sinks"], "hE-fit", FitSink)
    assert isinstance(make_sink("hE-fit").sink, FitSink)
    monkeypatch.setitem(plugins._extra["generators"], "hE-fit", FailingGenerator)
    assert isinstance(make_generator("hE-fit", default_model_dir()), FailingGenerator)
    monkeypatch.setattr(TimeoutlessSource, "read", ReturningSource.read)
    assert isinstance(_from_cli(SourceSettings("replay", file="x.dat", reader="hE-timeoutless")), TimeoutlessSource)


class FitSink:
    """A sink written to the protocol, with a keyword default and *args: fit."""

    def on_result(self, rec, stimulus=None):
        pass

    def on_skipped(self, *args):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("info, said", [
    ({"ch_names": ("Fz",), "sfreq": 250.0}, "its info is dict, not an eegviz.messages.StreamInfo"),
    (("Fz", "Cz"), "its info is tuple, not an eegviz.messages.StreamInfo"),
    ("sfreq-text", "its info's sfreq is '250', not a number (Hz)"),
    ("ch-text", "its info's ch_names are 'FzCz', not a sequence of channel names (str)"),
    ("microvolts", "its info's unit is 'microvolts', but a session takes chunks in volts as they are "
                   "(eegviz.messages.Chunk): multiply the samples by 1e-06 and leave unit 'volts'")])
def test_a_source_plugins_info_that_is_no_stream_info_is_one_line_naming_it(info, said):
    """A source plugin setting its info to a dict, or a StreamInfo with its rate as text, failed in the session's
    channel mapping with a traceback naming no plugin; it is now one line naming it as the info is read. A
    StreamInfo with a list of names passes unchanged."""
    from eegviz.messages import StreamInfo

    if info == "sfreq-text":
        info = StreamInfo("hE-info", ("Fz", "Cz"), "250")
    elif info == "ch-text":
        info = StreamInfo("hE-info", "FzCz", 250.0)
    elif info == "microvolts":  # a label a session scales nothing by: decoded 10^6 too large without a word
        info = StreamInfo("hE-info", ("Fz", "Cz"), 250.0, unit="microvolts")
    src = ReturningSource()
    wrapped = plugins.wrap(src, "source", "hE-info")
    src.info = info
    with pytest.raises(EegvizError) as err:
        wrapped.info
    assert str(err.value) == f"source plugin 'hE-info': {said}"
    src.info = StreamInfo("hE-info", ["Fz", "Cz"], 250)
    assert wrapped.info is src.info
    src.info = StreamInfo("hE-info", ("Fz",), 250.0, unit="V")
    assert wrapped.info is src.info


def test_a_source_plugin_blocking_in_read_is_said_once_naming_it(monkeypatch, caplog):
    """A session reads with timeout=0.05; a plugin's read() that blocks far longer (a serial port read until its
    packet is whole) held up every marker and sample behind it, and a stop waited for it, without a word (a slow
    --sink is said). The first such read is now a warning naming the plugin, once."""
    import time

    from eegviz.sources.base import ReadResult

    class Blocking(ReturningSource):
        def read(self, timeout=0.05):
            time.sleep(self.wait)
            return ReadResult()

    monkeypatch.setitem(plugins.SOURCE_SLOW, "read", (0.01, "the session waits for it"))
    src = Blocking()
    wrapped = plugins.wrap(src, "source", "hE-blocking")
    src.wait = 0.0
    with caplog.at_level("WARNING", logger="eegviz.plugins"):
        wrapped.read(timeout=0.05)
        assert not caplog.records
        src.wait = 0.03
        wrapped.read(timeout=0.05)
        wrapped.read(timeout=0.05)
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("source plugin 'hE-blocking' took ")
    assert caplog.records[0].getMessage().endswith(" ms in read(); the session waits for it; later slow calls are "
                                                   "not reported")


class UpFrontSource:
    """A file-replay source plugin that hands over all its markers at the first read (its samples then in 2 s
    chunks), in the file's own clock: one marker at 10.5 s and one at 75 s, past the Epocher's 60 s clock check."""

    ch = tuple(f"E{i}" for i in range(8))

    def __init__(self, path=None):
        from eegviz.messages import StreamInfo

        self.info = StreamInfo("hE-upfront", self.ch, 100.0)
        self.t = 10.0 + np.arange(6700) / 100.0
        self.x = np.random.default_rng(0).standard_normal((len(self.t), len(self.ch))).astype(np.float32) * 1e-5
        self.pos = 0

    @classmethod
    def from_cli(cls, settings):
        return cls(settings.file)

    def start(self):
        pass

    def read(self, timeout=0.05):
        from eegviz.messages import Chunk, Marker
        from eegviz.sources.base import ReadResult

        markers = [Marker(10.5, "m0"), Marker(75.0, "m1")] if self.pos == 0 else []
        end = min(self.pos + 200, len(self.t))
        res = ReadResult([Chunk(self.x[self.pos:end], self.t[self.pos:end])], markers, finished=end >= len(self.t))
        self.pos = end
        return res

    def stop(self):
        pass


def test_a_file_replay_plugin_handing_over_its_markers_at_once_has_each_decoded(monkeypatch):
    """A source plugin replaying a file (`eegviz replay FILE --source NAME`) that gave all its markers at its first
    read had every marker more than 60 s into the file skipped as "stamped in another clock (time.time()?)": the
    session judged them by when they arrived, as it does live markers. A replay's are in the file's clock (as
    eegviz's own replays say, `replayed`), so each is now decoded; a plugin saying `replayed = False` is judged."""
    import torch

    from eegviz.app.source_choice import _from_cli
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.pipeline import Pipeline
    from eegviz.settings import SourceSettings
    from eegviz.stream.preprocess import InputSpec

    class Kept:
        def __init__(self):
            self.lines = []

        def on_result(self, rec, stimulus=None):
            self.lines.append((rec.marker.payload, None))

        def on_skipped(self, marker, reason, kind):
            self.lines.append((marker.payload, kind.value))

        def close(self):
            pass

    monkeypatch.setitem(plugins._extra["sources"], "hE-upfront", UpFrontSource)
    src = _from_cli(SourceSettings("replay", file="rec.dat", reader="hE-upfront"))
    dec = TwoBranchDecoder(InputSpec(ch_names=UpFrontSource.ch, sfreq=100.0, tmin=-0.1, tmax=0.4), ["a", "b"],
                           feat_dim=16, z_dim=4, saliency_size=16, n_tokens=8, text_dim=64)
    dec.prototypes = torch.randn(2, 16)
    kept = Kept()
    Pipeline(src, dec, FailingGenerator(), [kept], paced=False).run()  # its images all zeros: fast
    assert sorted(kept.lines) == [("m0", None), ("m1", None)]
    monkeypatch.setattr(UpFrontSource, "replayed", False, raising=False)
    assert _from_cli(SourceSettings("replay", file="rec.dat", reader="hE-upfront")).replayed is False
