"""SessionSettings: one typed object per session, the same whether it came from flags or a --config file."""

import os

import pytest

from eegviz.cli import parse_args, session_settings
from eegviz.errors import EegvizError
from eegviz.generators.options import GeneratorOptions
from eegviz.settings import GeneratorSettings, SessionSettings, SourceSettings


def test_flags_and_a_config_file_give_equal_settings(tmp_path):
    flags = ["live", "--board", "0", "--serial-port", "/dev/ttyUSB0", "--timeout", "9", "--markers", "M",
             "--montage", "standard_1020", "--duration", "12", "--model", "/m", "--generator", "diffusers",
             "--sd-model", "sd", "--steps", "3", "--out", "/o", "--sink", "osc:127.0.0.1:9", "--sink", "x",
             "--kiosk", "--headless", "--bads", "Fp1, T8,"]
    cfg = tmp_path / "live.toml"
    cfg.write_text('model = "/m"\n[live]\nboard = 0\nserial_port = "/dev/ttyUSB0"\ntimeout = 9\nmarkers = "M"\n'
                   'montage = "standard_1020"\nduration = 12\ngenerator = "diffusers"\nsd-model = "sd"\nsteps = 3\n'
                   'out = "/o"\nsink = ["osc:127.0.0.1:9", "x"]\nkiosk = true\nheadless = true\nbads = "Fp1,T8"\n')
    from_flags = session_settings(parse_args(flags))
    from_file = session_settings(parse_args(["live", "--config", str(cfg)]))
    assert from_flags == from_file
    s = from_flags
    assert s.source == SourceSettings("live", markers="M", board=0, montage="standard_1020", bads=("Fp1", "T8"),
                                      board_params=(("serial_port", "/dev/ttyUSB0"), ("timeout", 9)))
    assert s.model.path == "/m"
    assert s.model.generator == GeneratorSettings("diffusers", GeneratorOptions(sd_model="sd", steps=3, capture=True))
    assert s.output.sinks == ("osc:127.0.0.1:9", "x") and s.output.folder == "/o" and s.duration == 12.0
    assert s.display.kiosk and s.display.headless and s.paced
    assert not s.restarts_on_end  # told when to stop: a kiosk with --duration does not start over
    assert session_settings(parse_args(["live", "--config", str(cfg), "--steps", "5"])).model.generator.options.steps == 5


def test_defaults_titles_and_pacing():
    demo = session_settings(parse_args(["demo", "--speed", "0"]))
    assert demo.display.title == "eegviz demo" and not demo.paced
    assert demo.model.generator == GeneratorSettings(options=GeneratorOptions(capture=True))  # sessions capture
    replay = session_settings(parse_args(["replay", "/data/rec.edf"]))
    assert replay.display.title == "eegviz replay rec.edf" and replay.source.resolved_reader == "mne"
    assert session_settings(parse_args(["replay", "a.xdf", "--source", "csv"])).source.resolved_reader == "csv"
    kiosk = session_settings(parse_args(["demo", "--kiosk"]))
    assert kiosk.restarts_on_end and not session_settings(parse_args(["demo", "--kiosk", "--screenshot", "x"])
                                                          ).restarts_on_end
    assert SessionSettings().with_model_path("/x").model.path == "/x"
    assert SessionSettings().with_model_path("").model.path is None


def test_inference_threads_from_the_command_line(capsys):
    from eegviz.cli import main

    assert session_settings(parse_args(["demo"])).threads is None  # the machine decides (eegviz.threads)
    assert session_settings(parse_args(["replay", "a.xdf", "--threads", "3"])).threads == 3
    for many in ("0", "100000"):  # 100000 crashed OpenBLAS (rc 139) or Dynamo (a traceback)
        assert main(["demo", "--headless", "--threads", many]) == 2
        err = capsys.readouterr().err
        assert f"--threads must be 1 to {os.cpu_count()} (this machine's CPUs), not {many}" in err
        assert "Traceback" not in err


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        SessionSettings().duration = 3.0


def test_a_replayed_file_is_not_a_brainflow_board_file():
    s = session_settings(parse_args(["replay", "rec.xdf"]))
    assert s.source.file == "rec.xdf" and s.source.board_params == ()


def test_graph_capture_is_on_for_sessions_and_a_switch_in_flags_and_files(tmp_path):
    """Sessions run single images through Dynamo-recorded graphs unless told not to (--no-capture, or
    `capture = false` / `no-capture = true` in a config file); the library default stays off."""
    opts = lambda argv: session_settings(parse_args(argv)).model.generator.options  # noqa: E731
    assert opts(["demo"]).capture and not opts(["demo", "--no-capture"]).capture
    assert not GeneratorOptions().capture
    for text, want in (("capture = false", False), ("no-capture = true", False), ("capture = true", True)):
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"[demo]\n{text}\n")
        assert opts(["demo", "--config", str(cfg)]).capture is want
    cfg.write_text('[demo]\ncapture = "no"\n')
    with pytest.raises(EegvizError, match="'capture' is a switch"):
        parse_args(["demo", "--config", str(cfg)])


def test_a_headless_session_with_nowhere_to_write_says_so(capsys, tmp_path):
    """--headless without --out or --sink records nothing: said in one line before the session starts (not
    refused: a look at the summary line is a use), and not said when something is written."""
    from eegviz.cli import _check_session

    _check_session(session_settings(parse_args(["demo", "--headless"])))
    err = capsys.readouterr().err
    assert err.startswith("eegviz: note: no --out and no --sink") and len(err.splitlines()) == 1
    for more in (["--out", str(tmp_path / "o")], ["--sink", "osc:127.0.0.1:9000"]):
        _check_session(session_settings(parse_args(["demo", "--headless", *more])))
        assert capsys.readouterr().err == ""


def test_a_kiosk_that_records_every_loop_says_so_once_at_the_start(capsys, tmp_path):
    """A kiosk restarts its session whenever it ends, and with --out each session is a new folder (the demo
    loop: about 5 MB every 35 s, some 13 GB a day): nothing said it, and a kiosk left for days filled its disk.
    Nothing is deleted; one note at the start says it. Not said where the kiosk stops (--duration,
    --screenshot) or records nothing, nor for a window."""
    from eegviz.cli import _check_session

    out = str(tmp_path / "o")
    _check_session(session_settings(parse_args(["demo", "--kiosk", "--out", out])))
    err = capsys.readouterr().err
    assert err.startswith("eegviz: note: this kiosk starts its session again") and len(err.splitlines()) == 1
    assert f"--out {out}" in err and "nothing is ever deleted" in err
    for args in (["--kiosk"], ["--kiosk", "--out", out, "--screenshot", str(tmp_path / "k.png")], ["--out", out]):
        _check_session(session_settings(parse_args(["demo", *args])))
        assert capsys.readouterr().err == ""
    assert "(the demo: about 5 MB a loop, some 13 GB a day)" in err
    # live (or a replay of another file) has no demo loop: its figures were quoted for `live --kiosk` too; they come
    # from its stream once it is open (eegviz.app.run_window.disk_use_note)
    _check_session(session_settings(parse_args(["live", "--kiosk", "--simulate", "--out", out])))
    err = capsys.readouterr().err
    assert err.startswith("eegviz: note: this kiosk starts its session again") and "nothing is ever deleted" in err
    assert "5 MB" not in err and "(how fast its session.xdf grows is said once the stream is open)" in err


def test_an_empty_out_is_refused_not_a_session_that_records_nothing(capsys):
    from eegviz.cli import main

    assert main(["demo", "--headless", "--out", ""]) == 2
    err = capsys.readouterr().err
    assert "--out is empty" in err and "Traceback" not in err


def test_a_session_takes_the_samplers_strength_and_guidance(tmp_path, capsys):
    """GeneratorOptions had strength and guidance, but only eval had a --strength and nothing a --guidance: a lab
    could not run a session of SD-Turbo at another strength, nor real SD at another guidance. Both come from flags
    or a config file; bad values are one line each."""
    from eegviz.cli import main

    s = session_settings(parse_args(["replay", "a.xdf", "--strength", "0.5", "--guidance", "3"]))
    assert (s.model.generator.options.strength, s.model.generator.options.guidance) == (0.5, 3.0)
    cfg = tmp_path / "demo.toml"
    cfg.write_text("[demo]\nstrength = 0.4\nguidance = 7.5\n")
    opts = session_settings(parse_args(["demo", "--config", str(cfg)])).model.generator.options
    assert (opts.strength, opts.guidance) == (0.4, 7.5)
    for flag, value, said in (("--guidance", "-1", "must be in [0, 50]"), ("--guidance", "nan", "finite"),
                              ("--strength", "0", "must be in (0, 1]"), ("--strength", "2", "must be in (0, 1]")):
        assert main(["demo", "--headless", flag, value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"eegviz: error: {flag} ") and said in err[0]


def test_a_sink_given_twice_is_built_once_in_a_note(tmp_path, capsys):
    """`--sink osc:127.0.0.1:9000 --sink osc:127.0.0.1:9000` built two sinks to one target and every result was
    sent twice; the repeat is left out, in one note. Different sinks are all kept, in their order."""
    argv = ["demo", "--sink", "osc:127.0.0.1:9000", "--sink", "osc:127.0.0.1:9001", "--sink", "osc:127.0.0.1:9000"]
    assert session_settings(parse_args(argv)).output.sinks == ("osc:127.0.0.1:9000", "osc:127.0.0.1:9001")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("eegviz: note: --sink osc:127.0.0.1:9000 is given more than once")
    cfg = tmp_path / "s.toml"
    cfg.write_text('[demo]\nsink = ["osc:127.0.0.1:9", "osc :127.0.0.1:9"]\n')
    assert session_settings(parse_args(["demo", "--config", str(cfg)])).output.sinks == ("osc:127.0.0.1:9",)
    assert "is given more than once" in capsys.readouterr().err
    assert session_settings(parse_args(["demo", "--sink", "osc:127.0.0.1:9"])).output.sinks == ("osc:127.0.0.1:9",)
    assert capsys.readouterr().err == ""


def test_live_source_plugin_name_and_args():
    """live --source NAME:ARGS: the plugin's name is the reader, ARGS its own options (as --sink NAME:ARGS), and the
    window's title names it; replay's --source stays one name (a file reader), and without ARGS there are none."""
    live = SessionSettings.from_options({"cmd": "live", "source": "hL-amp:port=COM3,gain=24"})
    assert (live.source.reader, live.source.source_args) == ("hL-amp", "port=COM3,gain=24")
    assert live.display.title == "eegviz live hL-amp"
    assert SessionSettings.from_options({"cmd": "live", "source": "hL-amp"}).source.source_args is None
    assert SessionSettings.from_options({"cmd": "live"}).source.reader == "auto"
    replay = SessionSettings.from_options({"cmd": "replay", "file": "a.csv", "source": "csv"}).source
    assert (replay.reader, replay.source_args) == ("csv", None)


def test_reject_uv_from_flags_or_a_config_file_is_off_by_default_and_nonsense_is_one_line(tmp_path, capsys):
    """--reject-uv (artefact rejection, eegviz.stream.reject): a config key as the other options are, off unless
    given (the demo decodes every epoch, as before), and a value that means nothing refused before a model loads."""
    from eegviz.cli import main

    cfg = tmp_path / "lab.toml"
    cfg.write_text("[replay]\nreject-uv = 150\n")
    assert session_settings(parse_args(["replay", "a.xdf", "--config", str(cfg)])).reject_uv == 150.0
    assert session_settings(parse_args(["live", "--reject-uv", "80"])).reject_uv == 80.0
    assert session_settings(parse_args(["demo"])).reject_uv is None
    for nonsense in ("0", "-150", "nan", "0.00015"):  # 0.00015: MNE's volts, which would reject every epoch
        assert main(["demo", "--headless", "--out", str(tmp_path / "o"), "--reject-uv", nonsense]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"eegviz: error: --reject-uv must be a peak to peak amplitude in microvolts from 1 to "
                              f"100000, not {float(nonsense):g} (") and err.count("\n") == 1, err
        assert not (tmp_path / "o").exists()  # nothing claimed
