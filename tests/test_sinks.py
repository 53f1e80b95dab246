"""--sink NAME[:ARGS] switches on any registered sink; the first-party OSC plugin receives a whole demo."""

import socket
from pathlib import Path

import pytest

from eegviz.errors import EegvizError
from eegviz.sinks import make_sink

ROOT = Path(__file__).resolve().parent.parent


def test_unknown_or_malformed_sinks_are_one_line_errors():
    with pytest.raises(EegvizError, match="no sink named 'nope'"):
        make_sink("nope")
    with pytest.raises(EegvizError, match="cannot be built from the command line"):
        make_sink("headless")  # the results writer needs a folder: it is --out's job


@pytest.mark.parametrize("spec", ["headless", "headless:/tmp/results"])
def test_the_headless_sink_points_to_out(spec):
    """`--sink headless` said the writer missed an argument 'out_dir', and `--sink headless:DIR` then that it
    takes no arguments; both now say that --out DIR is the way to switch it on."""
    with pytest.raises(EegvizError, match="give --out DIR"):
        make_sink(spec)


def test_a_plugin_that_fails_while_being_built_is_one_line_naming_it(monkeypatch):
    """A plugin failing at import was one line; one failing in its constructor or from_options gave a traceback."""
    from eegviz import plugins
    from eegviz.generators import make_generator

    class Boom:
        def __init__(self):
            raise RuntimeError("no device\nsecond line")

        @classmethod
        def from_options(cls, options, model_dir):
            return cls()

    real = plugins.get
    monkeypatch.setattr(plugins, "get", lambda group, name: Boom if name == "boom" else real(group, name))
    with pytest.raises(EegvizError) as e:
        make_sink("boom")
    assert str(e.value).startswith("--sink boom: sink 'boom' failed to build (RuntimeError: no device")
    assert "\n" not in str(e.value)
    with pytest.raises(EegvizError, match="generator plugin 'boom' failed to build \\(RuntimeError: no device"):
        make_generator("boom", Path("."))


def test_a_generator_plugin_lacking_what_a_session_calls_is_one_line_naming_it(monkeypatch):
    """A generator without warmup() or a name was built, and the session failed with an AttributeError traceback
    at warm-up or at its first image."""
    from eegviz import plugins
    from eegviz.generators import make_generator

    class NoWarmup:
        name = "half"

        @classmethod
        def from_options(cls, options, model_dir):
            return cls()

        def generate(self, saliency, embedding, seed=0):
            return saliency

    class Nameless(NoWarmup):
        name = None

        def warmup(self):
            pass

    monkeypatch.setitem(plugins._extra["generators"], "half", NoWarmup)
    monkeypatch.setitem(plugins._extra["generators"], "nameless", Nameless)
    with pytest.raises(EegvizError, match="generator plugin 'half' is not a generator: .* lacks warmup$"):
        make_generator("half", Path("."))
    with pytest.raises(EegvizError, match="generator plugin 'nameless' is not a generator: .* lacks a name"):
        make_generator("nameless", Path("."))


def test_init_latent_for_a_generator_that_takes_no_latents_is_refused(monkeypatch):
    """--init latent with a generator plugin that never starts from latents ran from the saliency map without a
    word (the pipeline asks the generator's own `init`)."""
    from eegviz import plugins
    from eegviz.generators import make_generator
    from eegviz.generators.options import GeneratorOptions

    class MapOnly:
        name = "maponly"

        @classmethod
        def from_options(cls, options, model_dir):
            return cls()

        def warmup(self):
            pass

        def generate(self, saliency, embedding, seed=0):
            return saliency

    monkeypatch.setitem(plugins._extra["generators"], "maponly", MapOnly)
    assert isinstance(make_generator("maponly", Path("."), GeneratorOptions()), MapOnly)
    with pytest.raises(EegvizError, match="--init latent: generator plugin 'maponly' does not start from"):
        make_generator("maponly", Path("."), GeneratorOptions(init="latent"))


def test_a_sink_plugin_failing_while_the_session_runs_is_one_line_naming_it(monkeypatch):
    """A plugin sink raising in on_result or close ended the session in a traceback (in the window, a bare
    "RuntimeError: ..." naming no sink). A full disk's OSError and the sink's own refusal (EegvizError) passed
    unchanged, naming no sink either; they are said after the --sink too."""
    from eegviz import plugins

    class Flaky:
        def __init__(self):
            self.port = 9000

        def on_result(self, rec, stimulus=None):
            raise RuntimeError("index out of range\nin my code")

        def on_skipped(self, marker, reason, kind):
            raise OSError(28, "No space left on device", "/data/x.log")

        def close(self):
            raise ValueError("already closed")

    class Refusing(Flaky):
        def on_result(self, rec, stimulus=None):
            raise EegvizError("the visuals machine refused the connection")

    monkeypatch.setitem(plugins._extra["sinks"], "flaky", Flaky)
    sink = make_sink("flaky")
    assert sink.port == 9000  # its own attributes as before
    with pytest.raises(EegvizError) as e:
        sink.on_result(object(), None)
    assert str(e.value) == "--sink flaky: sink 'flaky' failed in on_result() (RuntimeError: index out of range in my code)"
    with pytest.raises(EegvizError) as e:
        sink.on_skipped(object(), "gap", None)
    assert str(e.value) == ("--sink flaky: sink 'flaky' failed in on_skipped() (No space left on device: "
                            "/data/x.log)")
    monkeypatch.setitem(plugins._extra["sinks"], "refusing", Refusing)
    with pytest.raises(EegvizError) as e:
        make_sink("refusing").on_result(object(), None)
    assert str(e.value) == "--sink refusing: the visuals machine refused the connection"
    with pytest.raises(EegvizError, match="sink 'flaky' failed in close\\(\\) \\(ValueError: already closed\\)"):
        sink.close()


def test_demo_drives_the_osc_sink_from_the_command_line(tmp_path, monkeypatch, capsys):
    from eegviz.cli import main

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    port = rx.getsockname()[1]
    # capture = false: graph capture (4-8 s of tracing per process) is not this test's subject
    (tmp_path / "kiosk.toml").write_text(f'[demo]\nheadless = true\nspeed = 0\ncapture = false\n'
                                         f'sink = ["osc:127.0.0.1:{port}"]\n')
    monkeypatch.setenv("EEGVIZ_PLUGINS", str(ROOT / "plugins"))
    # in-process: the config file, the sink option and the plugin are what is checked, not the process (a
    # subprocess paid ~5 s of imports)
    code = main(["demo", "--config", str(tmp_path / "kiosk.toml")])
    assert code == 0, capsys.readouterr().err
    got = []
    rx.settimeout(1)
    try:
        while True:
            got.append(rx.recvfrom(4096)[0])
    except socket.timeout:
        pass
    rx.close()
    assert len(got) == 40 and all(g.startswith(b"/eegviz/reconstruction") for g in got)


@pytest.mark.parametrize("flag, value, said", [("--sink", "nope", "no sink named 'nope'"),
                                               ("--sink", "headless:/tmp/x", "give --out DIR"),
                                               ("--generator", "nope", "no generator named 'nope'")])
def test_a_session_refuses_an_unknown_sink_or_generator_before_loading_its_model(flag, value, said, monkeypatch,
                                                                                 capsys):
    """A mistyped --sink or --generator was said only after the model had loaded (seconds; in the window, once
    it was open)."""
    import eegviz.headless
    from eegviz.cli import main

    def no_load(*a, **k):
        raise AssertionError("the model was loaded before the option was checked")

    monkeypatch.setattr(eegviz.headless, "build_models", no_load)
    assert main(["demo", "--headless", "--speed", "0", flag, value]) == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("value, said", [("osc:127.0.0.1:70000", "--sink osc:127.0.0.1:70000: port 70000 is not a UDP "
                                                                 "port (1-65535)"),
                                         ("osc:localhost", "--sink osc:localhost: give osc:HOST:PORT"),
                                         ("osc:nosuch.invalid:9000", "OSC target nosuch.invalid:9000 cannot be used")])
def test_a_session_refuses_a_bad_osc_target_before_loading_its_model(value, said, monkeypatch, capsys):
    """Only the sink's name was checked early: a bad port or host was said once the model had loaded (about 4 s
    more here; in the window, once it was open). The OSC plugin's check_spec opens no socket."""
    import eegviz.headless
    from eegviz.cli import main

    def no_load(*a, **k):
        raise AssertionError("the model was loaded before the sink's arguments were checked")

    monkeypatch.setenv("EEGVIZ_PLUGINS", str(ROOT / "plugins"))
    monkeypatch.setattr(eegviz.headless, "build_models", no_load)
    assert main(["demo", "--headless", "--speed", "0", "--sink", value]) == 2
    assert said in capsys.readouterr().err


def test_a_plugin_whose_check_spec_fails_is_one_line_naming_it(monkeypatch):
    from eegviz import plugins
    from eegviz.sinks import sink_class

    class Picky:
        @classmethod
        def check_spec(cls, text):
            raise ValueError(f"bad {text}\nsecond line")

        @classmethod
        def from_spec(cls, text):
            raise AssertionError("built")

    monkeypatch.setitem(plugins._extra["sinks"], "picky", Picky)
    with pytest.raises(EegvizError) as e:
        sink_class("picky:x")
    assert str(e.value) == "--sink picky:x: sink 'picky' failed to check its arguments (ValueError: bad x second line)"


def test_a_slow_sink_is_said_once_naming_it(monkeypatch, caplog):
    """A sink is called in the session's threads, so a slow one delays every later image and a live session drops
    epochs as "generation behind the marker rate"; nothing said which sink held it up."""
    import logging
    import time

    from eegviz import plugins, sinks

    class Slow:
        def on_result(self, rec, stimulus=None):
            time.sleep(0.03)

        def on_skipped(self, marker, reason, kind):
            time.sleep(0.03)

        def close(self):
            time.sleep(0.03)

    monkeypatch.setattr(sinks, "SLOW_SINK_S", 0.02, raising=False)
    monkeypatch.setitem(plugins._extra["sinks"], "slow", Slow)
    sink = make_sink("slow")
    with caplog.at_level(logging.WARNING, logger="eegviz.sinks"):
        sink.close()  # closing at the end holds nothing up
        assert not caplog.records
        sink.on_result(object(), None)
        sink.on_skipped(object(), "gap", None)
    [said] = [r.getMessage() for r in caplog.records]
    assert said.startswith("--sink slow: sink 'slow' took ") and " ms in on_result(); the session waits" in said


def test_a_sinks_notices_reach_the_function_a_window_gives(monkeypatch):
    """A slow sink was said in the log alone, and a plugin sink had no way to say anything but the log: a
    window's user saw neither. set_notice hands the session's notice function to the sink (its own notices named
    after its --sink), and the slowness is said through it too, once."""
    import time

    from eegviz import plugins, sinks

    class Telling:
        def set_notice(self, say):
            self.say = say

        def on_result(self, rec, stimulus=None):
            self.say("target gone")
            time.sleep(0.03)

        def on_skipped(self, marker, reason, kind):
            self.say("--sink telling:x: said in full")

        def close(self):
            pass

        @classmethod
        def from_spec(cls, text):
            return cls()

    monkeypatch.setattr(sinks, "SLOW_SINK_S", 0.02, raising=False)
    monkeypatch.setitem(plugins._extra["sinks"], "telling", Telling)
    sink = make_sink("telling:x")
    said = []
    sink.set_notice(said.append)
    sink.on_result(object(), None)
    sink.on_result(object(), None)
    sink.on_skipped(object(), "gap", None)
    assert said[0] == said[2] == "--sink telling:x: target gone"
    assert said[1].startswith("--sink telling:x: sink 'telling' took ") and " ms in on_result()" in said[1]
    assert said[3:] == ["--sink telling:x: said in full"] and len(said) == 4  # the slowness once


def test_an_unknown_sink_lists_only_what_sink_can_build(monkeypatch):
    """The list of available sinks named 'headless', which --sink then refused ("give --out DIR")."""
    monkeypatch.setenv("EEGVIZ_PLUGINS", str(ROOT / "plugins"))
    with pytest.raises(EegvizError) as e:
        make_sink("OSC:127.0.0.1:9000")
    assert str(e.value) == ("--sink OSC:127.0.0.1:9000: no sink named 'OSC' (available: osc; results.jsonl and PNGs "
                            "come with --out DIR)")


class _Closing:
    closed = []

    def on_result(self, rec, stimulus=None):
        pass

    def on_skipped(self, marker, reason, kind):
        pass

    def close(self):
        self.closed.append(self)


def test_a_headless_session_refused_before_it_runs_closes_its_sinks(monkeypatch):
    """A pipeline refused as it was built (--init latent with a model that has no latent branch) left the sinks
    built for it open: only a running pipeline closed them."""
    from eegviz import headless, pipeline, plugins
    from eegviz.settings import OutputSettings, SessionSettings

    def refused(*args, **kwargs):
        raise EegvizError("--init latent: this model has no latent branch")

    _Closing.closed = []
    monkeypatch.setitem(plugins._extra["sinks"], "closing", _Closing)
    monkeypatch.setattr(headless, "build_models", lambda *args: (object(), object()))
    monkeypatch.setattr(pipeline, "Pipeline", refused)
    with pytest.raises(EegvizError, match="no latent branch"):
        headless.run_headless(object(), SessionSettings(output=OutputSettings(sinks=("closing",))))
    assert len(_Closing.closed) == 1


def test_a_refused_sink_is_closed_and_its_refusal_names_the_option(monkeypatch):
    """A sink lacking a method was refused after it was built, its socket or file left open, in a line that did not
    name its --sink as every other refusal does."""
    from eegviz import plugins

    closed = []

    class NoSkips:
        def on_result(self, rec, stimulus):
            pass

        def close(self):
            closed.append(True)

    monkeypatch.setitem(plugins._extra["sinks"], "hE-noskips", NoSkips)
    with pytest.raises(EegvizError) as err:
        make_sink("hE-noskips")
    assert str(err.value) == "--sink hE-noskips: sink 'hE-noskips' is not a sink: it lacks on_skipped"
    assert closed == [True]


def test_a_sink_failing_to_close_does_not_hide_why_a_later_one_could_not_be_built(monkeypatch, caplog):
    """--sink A --sink B where B cannot be built: A was closed, and A's close() failing raised its error instead
    of B's, so the user never learnt what was wrong with B (and the sinks after A stayed open)."""
    import logging

    from eegviz import plugins
    from eegviz.sinks import make_sinks

    class BadClose(_Closing):
        def close(self):
            super().close()
            raise RuntimeError("socket already gone")

    _Closing.closed = []
    monkeypatch.setitem(plugins._extra["sinks"], "hC-badclose", BadClose)
    monkeypatch.setitem(plugins._extra["sinks"], "hC-closing", _Closing)
    with caplog.at_level(logging.ERROR, logger="eegviz.sinks"), pytest.raises(EegvizError) as err:
        make_sinks(["hC-badclose", "hC-closing", "hC-nope"])
    assert "no sink named 'hC-nope'" in str(err.value)
    assert len(_Closing.closed) == 2 and "socket already gone" in caplog.text
