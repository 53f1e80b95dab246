"""Plugin folders: imported only from the project, $EEGVIZ_PLUGINS and --plugins, never implicitly from the cwd."""

import os
import sys

import pytest

from eegviz import plugins
from eegviz.cli import main

PLUGIN = '''
from pathlib import Path
from eegviz.plugins import register

Path({marker!r}).write_text("imported")


class Sink:
    pass


register("sinks", {name!r}, Sink)
'''


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test sees the registry as a new process would, and leaves no modules behind."""
    monkeypatch.delenv("EEGVIZ_PLUGINS", raising=False)
    monkeypatch.setattr(plugins, "_dirs_loaded", set())
    monkeypatch.setattr(plugins, "_user_dirs", [], raising=False)
    monkeypatch.setattr(plugins, "_extra", {g: {} for g in plugins.GROUPS})
    monkeypatch.setattr(plugins, "_origin", {g: {} for g in plugins.GROUPS}, raising=False)
    monkeypatch.setattr(plugins, "_shadow_said", set(), raising=False)
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("eegviz_plugin_"):
            del sys.modules[name]


def _plugin_folder(root, name="dropped_sink", module="dropped"):
    folder = root / "plugins"
    folder.mkdir(parents=True)
    marker = root / f"{module}.imported"
    (folder / f"{module}.py").write_text(PLUGIN.format(marker=str(marker), name=name))
    return folder, marker


def test_cwd_plugins_folder_is_not_imported(tmp_path, monkeypatch, capsys):
    folder, marker = _plugin_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert not marker.exists() and "dropped_sink" not in out
    assert "csv" in out  # the project's own plugins/ still is


def test_plugins_option_imports_the_named_folder(tmp_path, monkeypatch, capsys):
    folder, marker = _plugin_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["--plugins", str(folder), "plugins"]) == 0
    assert marker.exists() and "dropped_sink" in capsys.readouterr().out


def test_plugins_option_repeated_and_pathsep_joined(tmp_path, capsys):
    a, ma = _plugin_folder(tmp_path / "a", "sink_a", "mod_a")
    b, mb = _plugin_folder(tmp_path / "b", "sink_b", "mod_b")
    c, mc = _plugin_folder(tmp_path / "c", "sink_c", "mod_c")
    assert main(["--plugins", f"{a}{os.pathsep}{b}", "--plugins", str(c), "plugins"]) == 0
    out = capsys.readouterr().out
    assert ma.exists() and mb.exists() and mc.exists()
    assert all(n in out for n in ("sink_a", "sink_b", "sink_c"))


def test_env_var_names_folders(tmp_path, monkeypatch, capsys):
    folder, marker = _plugin_folder(tmp_path)
    monkeypatch.setenv(plugins.ENV, str(folder))
    assert main(["plugins"]) == 0
    assert marker.exists() and "dropped_sink" in capsys.readouterr().out


def test_same_module_name_in_two_folders_both_load(tmp_path, capsys):
    a, ma = _plugin_folder(tmp_path / "a", "sink_a", "same")
    b, mb = _plugin_folder(tmp_path / "b", "sink_b", "same")
    assert main(["--plugins", str(a), "--plugins", str(b), "plugins"]) == 0
    out = capsys.readouterr().out
    assert "sink_a" in out and "sink_b" in out


@pytest.mark.parametrize("how", ["option", "env"])
def test_missing_folder_is_one_line_error(tmp_path, monkeypatch, capsys, how):
    missing = tmp_path / "nope"
    argv = ["plugins"]
    if how == "option":
        argv = ["--plugins", str(missing), *argv]
    else:
        monkeypatch.setenv(plugins.ENV, str(missing))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eegviz: error:") and str(missing) in err[0]


def test_broken_plugin_is_one_line_error(tmp_path, capsys):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "broken.py").write_text("raise RuntimeError('half-written\\nplugin')\n")
    assert main(["--plugins", str(folder), "plugins"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eegviz: error:") and "broken.py" in lines[0]


def _error_line(capsys, argv) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("eegviz: error:"), err
    return lines[0]


def test_a_plugin_taking_a_builtins_name_is_refused_naming_both(tmp_path, capsys):
    """Registering 'embedded' used to replace the built-in generator silently; `demo` then failed on the
    plugin's class with a message about from_options, far from the cause."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "fake.py").write_text("from eegviz.plugins import register\n"
                                    "register('generators', 'embedded', object)\n")
    line = _error_line(capsys, ["--plugins", folder, "plugins"])
    assert str(folder / "fake.py") in line and "eegviz.generators.embedded:EmbeddedGenerator" in line
    assert plugins.get("generators", "embedded").__name__ == "EmbeddedGenerator"


def test_two_plugins_registering_one_name_is_refused_naming_both(tmp_path, capsys):
    a, _ = _plugin_folder(tmp_path / "a", "same_sink", "mod_a")
    b, _ = _plugin_folder(tmp_path / "b", "same_sink", "mod_b")
    line = _error_line(capsys, ["--plugins", a, "--plugins", b, "plugins"])
    assert str(a / "mod_a.py") in line and str(b / "mod_b.py") in line and "'same_sink'" in line


def test_a_folder_imported_anew_registers_its_names_again(tmp_path):
    """The same file registering its name a second time (its folder loaded again) is no clash."""
    folder, _ = _plugin_folder(tmp_path, "again_sink", "again")
    plugins.load_plugin_dir(folder)
    plugins._dirs_loaded.clear()
    plugins.load_plugin_dir(folder)
    assert "again_sink" in plugins.available("sinks")


@pytest.mark.parametrize("code", ["import sys\nsys.exit(0)\n", "raise SystemExit(3)\n"])
def test_a_plugin_exiting_at_import_is_one_line_error(tmp_path, capsys, code):
    """SystemExit is not an Exception: it used to end `eegviz plugins` with the plugin's exit code and no output."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "quits.py").write_text(code)
    line = _error_line(capsys, ["--plugins", folder, "plugins"])
    assert str(folder / "quits.py") in line and "SystemExit" in line


def _installed_package(root, dist, entries: str, module: str, code: str):
    """An installed package (a .dist-info with entry points, and its module) in `root`, for sys.path."""
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entries)
    (root / f"{module}.py").write_text(code)


def test_an_installed_plugin_failing_to_import_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    """An entry point whose module cannot be imported (a missing dependency) ended `--sink NAME` in a traceback."""
    _installed_package(tmp_path, "brokenpkg", "[eegviz.sinks]\nbroken_ep = brokenpkg_mod:Sink\n", "brokenpkg_mod",
                       "import eegviz_no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(plugins.EegvizError) as e:
        plugins.get("sinks", "broken_ep")
    msg = str(e.value)
    assert "'broken_ep'" in msg and "brokenpkg_mod:Sink" in msg and "brokenpkg" in msg
    assert "eegviz_no_such_module_xyz" in msg and "\n" not in msg
    assert main(["plugins"]) == 0  # listing does not import it
    assert "broken_ep" in capsys.readouterr().out


def test_an_installed_plugin_taking_a_builtins_name_does_not_replace_it(tmp_path, monkeypatch, caplog):
    """Another package declaring sink 'headless' (or source 'lsl') was what get() loaded, while `eegviz plugins`
    listed the built-in; the built-in keeps its name, and the other is said not to be used."""
    _installed_package(tmp_path, "shadowpkg", "[eegviz.sinks]\nheadless = shadowpkg_mod:Sink\n", "shadowpkg_mod",
                       "class Sink:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level("WARNING", logger="eegviz.plugins"):
        cls = plugins.get("sinks", "headless")
    assert f"{cls.__module__}:{cls.__name__}" == "eegviz.record.results:ResultsWriter"
    assert "shadowpkg" in caplog.text and "not used" in caplog.text
    assert plugins.available("sinks")["headless"] == "eegviz.record.results:ResultsWriter"
    # said once: a session looks a plugin up before its model loads and again to build it, and said it each time
    plugins.get("sinks", "headless")
    assert caplog.text.count("not used") == 1


def test_two_installed_packages_sharing_a_name_are_refused_naming_both(tmp_path, monkeypatch):
    for pkg in ("twina", "twinb"):
        _installed_package(tmp_path, pkg, f"[eegviz.sinks]\ntwin_sink = {pkg}_mod:Sink\n", f"{pkg}_mod",
                           "class Sink:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(plugins.EegvizError, match="twina_mod:Sink.*twinb_mod:Sink|twinb_mod:Sink.*twina_mod:Sink"):
        plugins.get("sinks", "twin_sink")
    listed = plugins.available("sinks")  # `eegviz plugins` still lists everything, the clash among it
    assert "twina_mod:Sink" in listed["twin_sink"] and "twinb_mod:Sink" in listed["twin_sink"]
    assert "headless" in listed


def test_the_listing_names_the_file_a_plugin_came_from(tmp_path, capsys):
    """`eegviz plugins` showed a plugin file's registration under eegviz's import alias (eegviz_plugin_same, and
    eegviz_plugin_<hash>_same for a second same.py), which names no file a user could find."""
    a, _ = _plugin_folder(tmp_path / "a", "sink_a", "same")
    b, _ = _plugin_folder(tmp_path / "b", "sink_b", "same")
    assert main(["--plugins", str(a), "--plugins", str(b), "plugins"]) == 0
    out = capsys.readouterr().out
    assert f"{a / 'same.py'}:Sink" in out and f"{b / 'same.py'}:Sink" in out
    assert "eegviz_plugin_" not in out


def test_session_json_says_where_each_plugin_the_session_runs_came_from(tmp_path, monkeypatch):
    """session.json recorded a third-party generator, sink or source by its name alone ("generator: NAME"), which
    said neither what it was nor which version drew the images. It now names, for each plugin the session runs
    that is not eegviz's own, the installed package's entry point and version, or the plugin file and its
    SHA-256; eegviz's own built-ins add nothing (a session of built-ins has no "plugins" key)."""
    import hashlib
    import json

    from eegviz.messages import StreamInfo
    from eegviz.record.session_folder import SessionOutput
    from eegviz.settings import GeneratorSettings, ModelSettings, OutputSettings, SessionSettings, SourceSettings

    _installed_package(tmp_path / "site", "hE-genpkg", "[eegviz.generators]\nhE-gen = hE_genpkg_mod:Gen\n",
                       "hE_genpkg_mod", "class Gen:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    folder, _ = _plugin_folder(tmp_path, "hE-sink", "hE_sink")
    plugins.load_plugin_dir(folder)
    digest = hashlib.sha256((folder / "hE_sink.py").read_bytes()).hexdigest()[:16]

    def record(settings):
        claim = SessionOutput(tmp_path / "out", settings)
        recorder, results = claim.open(StreamInfo("hE-amp", ("Fz",), 250.0))
        results.close()
        recorder.close()
        return json.loads((claim.folder / "session.json").read_text())

    source = SourceSettings("replay", file="rec.xdf")
    rec = record(SessionSettings(source=source, model=ModelSettings(generator=GeneratorSettings("hE-gen")),
                                 output=OutputSettings(sinks=("hE-sink:a", "headless"))))
    assert rec["plugins"] == {"generators": {"hE-gen": "hE_genpkg_mod:Gen (package hE-genpkg 0.1)"},
                              "sinks": {"hE-sink": f"{folder / 'hE_sink.py'}:Sink (sha256 {digest})"}}
    assert "plugins" not in record(SessionSettings(source=source))  # eegviz's own: nothing to add


class LiveSim:
    """A live source plugin (a lab's amplifier, say) made of the simulator: samples and markers, faster than real
    time. `live = True` is how a source plugin says `eegviz live --source NAME` may run it."""

    live = True
    built: list = []

    @classmethod
    def from_cli(cls, settings):
        from eegviz.sources.simulator import SimulatorSource

        cls.built.append(settings)
        trials = int(dict(kv.split("=") for kv in (settings.source_args or "trials=6").split(","))["trials"])
        return SimulatorSource(speed=16.0, n_trials=trials, soa=0.5, name="hL-amp")  # ends after its trials


class BlankGenerator:
    """A generator plugin drawing blank images at once: the session's pipeline without a diffusion model's time."""

    name = "hL-blank"

    @classmethod
    def from_options(cls, options, model_dir):
        return cls()

    def warmup(self):
        pass

    def generate(self, saliency, embedding, seed=0, **kwargs):
        import numpy as np

        return np.zeros((len(saliency), 8, 8, 3), np.uint8)


class FileOnly:
    """A source plugin that replays a file (no `live`), as every source plugin was before live ran them."""

    @classmethod
    def from_cli(cls, settings):
        raise AssertionError("never built by live")


def _live_session_ready():
    from eegviz.paths import default_model_dir

    return (default_model_dir() / "decoder.json").exists()


@pytest.mark.skipif(not _live_session_ready(), reason="default model missing")
def test_live_runs_a_live_source_plugin_end_to_end(tmp_path, monkeypatch, capsys):
    """A source plugin could only be run by `eegviz replay FILE --source NAME`: live built its sources itself
    (LSL, --board, --simulate), so a lab's plugin for an amplifier with a vendor SDK and no LSL could not be
    selected. `eegviz live --source NAME[:ARGS]` runs it through the same pipeline; session.json names it."""
    import json

    monkeypatch.setitem(plugins._extra["sources"], "hL-amp", LiveSim)
    monkeypatch.setitem(plugins._origin["sources"], "hL-amp", "module tests.test_plugins")
    monkeypatch.setitem(plugins._extra["generators"], "hL-blank", BlankGenerator)
    monkeypatch.setattr(LiveSim, "built", [])
    out = tmp_path / "out"
    code = main(["live", "--source", "hL-amp:trials=4", "--generator", "hL-blank", "--headless", "--duration", "10",
                 "--no-capture", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert [(s.command, s.reader, s.source_args) for s in LiveSim.built] == [("live", "hL-amp", "trials=4")]
    session = next(out.glob("**/session.json"))
    lines = (session.parent / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4
    record = json.loads(session.read_text())
    assert record["source"]["reader"] == "hL-amp" and record["source"]["opened"]["name"] == "hL-amp"
    assert record["plugins"]["sources"]["hL-amp"].endswith(":LiveSim")


@pytest.mark.parametrize("args, said", [
    (["--source", "hL-nothing"], "no source named 'hL-nothing' (available: "),
    (["--source", "hL-file"], "source 'hL-file' replays a file (its class does not set live = True): run it "
                              "with `eegviz replay FILE --source hL-file`"),
    (["--source", "xdf"], "source 'xdf' replays a file"),
    (["--source", "lsl"], "source 'lsl' is live's built-in: give --stream NAME instead of --source"),
    (["--source", "hL-amp", "--stream", "amp"], "--source and --stream cannot go together"),
    (["--source", "hL-amp", "--board", "-1"], "--source and --board cannot go together"),
    (["--source", "hL-amp", "--markers", "stim"], "--source and --markers cannot go together"),
    (["--source", ""], "--source"),
    (["--source", "hL-amp", "--serial-port", "COM3"], "BrainFlow connection parameters: give --board ID; source "
                                                      "plugin 'hL-amp' takes its own options as --source hL-amp:ARGS"),
])
def test_live_source_refusals_are_one_line(args, said, monkeypatch, capsys):
    """Refused before the model loads, in one line: an unknown name (listing the sources there are), a file-only
    plugin, a built-in (live's own options build it), or --source with another of live's sources."""
    monkeypatch.setitem(plugins._extra["sources"], "hL-amp", LiveSim)
    monkeypatch.setitem(plugins._extra["sources"], "hL-file", FileOnly)
    assert main(["live", *args, "--headless", "--duration", "1"]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "error" in line]
    assert len(err) == 1 and err[0].startswith("eegviz: error: ") and said in err[0], err
    if "available" in said:
        assert "hL-amp" in err[0] and "lsl" in err[0]


def test_a_config_files_top_level_source_for_replay_is_refused_by_live_saying_where_it_goes(tmp_path, monkeypatch,
                                                                                           capsys):
    """`source = "hL-file"` at a config file's top level was replay's alone (live had no --source, and said it did
    not use it); live now reads it too, and a file-only plugin's refusal says to put it in [replay]."""
    monkeypatch.setitem(plugins._extra["sources"], "hL-file", FileOnly)
    cfg = tmp_path / "lab.toml"
    cfg.write_text('source = "hL-file"\n')
    assert main(["live", "--config", str(cfg), "--headless", "--duration", "1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "(a --config file's top-level `source` is read by replay and live alike: put it in [replay])")
    cfg.write_text('[replay]\nsource = "hL-file"\n[live]\nsimulate = true\n')
    from eegviz.cli import parse_args, session_settings

    assert session_settings(parse_args(["live", "--config", str(cfg)])).source.reader == "auto"


def test_replay_refuses_a_live_source_plugin(tmp_path, monkeypatch, capsys):
    """`eegviz replay rec.csv --source AMP` with a live plugin built it for the file, and the session decoded the
    amplifier while the user took it for the recording, its markers taken as a file's."""
    monkeypatch.setitem(plugins._extra["sources"], "hL-amp", LiveSim)
    monkeypatch.setattr(LiveSim, "built", [])
    rec = tmp_path / "rec.csv"
    rec.write_text("Fz,marker\n0,\n")
    assert main(["replay", str(rec), "--source", "hL-amp", "--headless", "--speed", "0"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "eegviz: error: source plugin 'hL-amp' acquires live (its class sets live = True) and replays no file: run "
        "it with `eegviz live --source hL-amp`")
    assert LiveSim.built == []


def test_session_json_names_a_live_source_plugin_the_window_runs(tmp_path, monkeypatch):
    """The window records its SourceChoice (kind "plugin" for `live --source NAME`): session.json names the plugin
    and where it came from, as it does a replay's file reader."""
    import json
    from dataclasses import asdict

    from eegviz.app.source_choice import SourceChoice
    from eegviz.messages import StreamInfo
    from eegviz.record.session_folder import SessionOutput
    from eegviz.settings import SessionSettings, SourceSettings

    monkeypatch.setitem(plugins._extra["sources"], "hL-amp", LiveSim)
    live = SourceSettings("live", reader="hL-amp")
    claim = SessionOutput(tmp_path / "out", SessionSettings(source=live),
                          source=asdict(SourceChoice("plugin", name="hL-amp", replay=live)))
    recorder, results = claim.open(StreamInfo("hL-amp", ("Fz",), 250.0))
    results.close()
    recorder.close()
    rec = json.loads((claim.folder / "session.json").read_text())
    assert rec["source"]["kind"] == "plugin" and rec["plugins"]["sources"]["hL-amp"].endswith(":LiveSim")
