"""--config FILE.toml: keys are option names, [command] tables, flags win, typos are one-line errors."""

import os
import subprocess
import sys

import pytest

from eegviz.cli import parse_args
from eegviz.errors import EegvizError


def _toml(tmp_path, text):
    path = tmp_path / "session.toml"
    path.write_text(text)
    return str(path)


def test_values_become_defaults_and_flags_win(tmp_path):
    cfg = _toml(tmp_path, 'model = "/m"\nspeed = 0\n[demo]\nheadless = true\nsink = ["osc:127.0.0.1:9"]\n'
                          '[live]\nstream = "amp"\n')
    args = parse_args(["demo", "--config", cfg])
    assert (args.model, args.speed, args.headless, args.sink) == ("/m", 0.0, True, ["osc:127.0.0.1:9"])
    args = parse_args(["--config", cfg, "demo", "--speed", "2", "--model", "/other"])
    assert (args.speed, args.model) == (2.0, "/other")
    live = parse_args(["live", "--config", cfg])
    assert live.stream == "amp" and live.model == "/m" and not live.headless  # [demo] is not live's


def test_a_config_can_satisfy_required_options(tmp_path):
    cfg = _toml(tmp_path, '[train]\ndata = "/d"\nout = "/o"\nepochs = 3\n')
    args = parse_args(["train", "--config", cfg])
    assert (args.data, args.out, args.epochs) == ("/d", "/o", 3)


def test_global_options_and_other_commands_keys(tmp_path):
    cfg = _toml(tmp_path, 'log_level = "info"\nmodel = "/m"\n')
    args = parse_args(["simulate", "--config", cfg])  # simulate has no --model: the key is someone else's
    assert args.log_level == "info"


@pytest.mark.parametrize("text, needle", [
    ("headles = true\n", "'headles' is not an option of `eegviz demo`"),
    ('[demo]\nstream = "x"\n', "'stream' is not an option of `eegviz demo`"),
    ('speed = "fast"\n', "'speed' = 'fast' is not a number"),
    ("speed = true\n", "'speed' = true is not a number"),
    ("threads = 2.9\n", "'threads' = 2.9 is not an integer"),  # int() would make it 2
    ("threads = 3.0\n", "'threads' = 3.0 is not an integer"),
    ("threads = true\n", "'threads' = true is not an integer"),  # int() would make it 1
    ('threads = "3"\n', "'threads' = '3' is not an integer"),
    ("headless = 1\n", "'headless' is a switch"),
    ("speed = [1, 2]\n", "'speed' takes one value"),
    ('log_level = "loud"\n', "one of debug, info, warning, error"),
    ("out = 5\n", "'out' = 5 is not text; quote it (\"5\")"),  # it wrote into a folder named 5
    ("model = true\n", "'model' = true is not text"),
    ("log_level = 3\n", "'log_level' = 3 is not text"),
    ("demo = 3\n", "'demo' must be a table"),
    ("this is not toml", "not valid TOML"),
])
def test_mistakes_name_the_key(tmp_path, text, needle):
    with pytest.raises(EegvizError, match=None) as e:
        parse_args(["demo", "--config", _toml(tmp_path, text)])
    assert needle in str(e.value)


def test_numbers_keep_their_toml_type(tmp_path):
    args = parse_args(["demo", "--config", _toml(tmp_path, "threads = 3\nspeed = 2\n")])
    assert (args.threads, args.speed) == (3, 2.0) and type(args.threads) is int and type(args.speed) is float
    with pytest.raises(EegvizError, match=r"'images' = 2\.9 is not an integer"):
        parse_args(["simulate", "--config", _toml(tmp_path, "images = 2.9\n")])


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('out = "/data/s\u00e9ance"\n'.encode("latin-1"))
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", str(path)])
    assert str(e.value) == f"config file {path} is not UTF-8 text (byte 14); save it as UTF-8"


def test_cli_one_line_for_a_missing_config_and_version():
    r = subprocess.run([sys.executable, "-m", "eegviz.cli", "demo", "--config", "/nonexistent.toml"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == "eegviz: error: config file /nonexistent.toml does not exist"
    r = subprocess.run([sys.executable, "-m", "eegviz.cli", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("eegviz ")


def test_config_without_a_file_is_eegviz_usage_not_the_modules(capsys):
    """`eegviz demo --config` (the file forgotten) printed "usage: __main__.py [--config CONFIG]"."""
    with pytest.raises(SystemExit) as e:
        parse_args(["demo", "--config"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("usage: eegviz ") and "__main__" not in err
    assert err.strip().endswith("eegviz: error: argument --config: expected one argument")


def test_sys_info_names_the_libraries_and_devices(capsys):
    from eegviz.cli import main

    code = main(["sys-info"])  # in-process: a subprocess paid ~3 s of torch/diffusers/Qt imports
    out, err = capsys.readouterr()
    assert code == 0, err
    for key in ("eegviz:", "cpu:", "torch:", "diffusers:", "mne:", "liblsl:", "Qt:", "devices:", "cuda"):
        assert key in out


def test_log_level_from_flag_env_and_verbose(monkeypatch):
    import logging

    from eegviz.cli import setup_logging

    pkg = logging.getLogger("eegviz")
    old = pkg.level
    try:
        monkeypatch.setenv("EEGVIZ_LOG_LEVEL", "ERROR")
        setup_logging(parse_args(["plugins"]))
        assert pkg.level == logging.ERROR
        setup_logging(parse_args(["--log-level", "debug", "plugins"]))
        assert pkg.level == logging.DEBUG
        setup_logging(parse_args(["-v", "plugins"]))
        assert pkg.level == logging.INFO
        monkeypatch.delenv("EEGVIZ_LOG_LEVEL")
        setup_logging(parse_args(["plugins"]))
        assert pkg.level == logging.WARNING
        # train and eval report progress at INFO: shown unless the user asks for less
        setup_logging(parse_args(["train", "--data", "d", "--out", "o"]))
        assert pkg.level == logging.INFO
        setup_logging(parse_args(["--log-level", "warning", "eval", "--data", "d", "--model", "m", "--out", "o"]))
        assert pkg.level == logging.WARNING
        # after the command too, as the README's "everywhere" says (they were "unrecognized arguments" there)
        setup_logging(parse_args(["plugins", "--log-level", "DEBUG"]))
        assert pkg.level == logging.DEBUG
        setup_logging(parse_args(["train", "--data", "d", "--out", "o", "-v", "--log-level", "error"]))
        assert pkg.level == logging.ERROR
        setup_logging(parse_args(["--log-level", "error", "plugins"]))  # a command not given one keeps it
        assert pkg.level == logging.ERROR
        monkeypatch.setenv("EEGVIZ_LOG_LEVEL", "chatty")
        with pytest.raises(EegvizError, match="EEGVIZ_LOG_LEVEL"):
            setup_logging(parse_args(["plugins"]))
    finally:
        pkg.setLevel(old)


def test_the_command_line_replaces_a_files_list_and_plugins_cannot_come_from_a_file(tmp_path):
    cfg = _toml(tmp_path, '[demo]\nsink = ["osc:127.0.0.1:9"]\n')
    assert parse_args(["demo", "--config", cfg]).sink == ["osc:127.0.0.1:9"]
    assert parse_args(["demo", "--config", cfg, "--sink", "osc:127.0.0.1:10"]).sink == ["osc:127.0.0.1:10"]
    # so does `--sink=VALUE`, as argparse reads it (options are not abbreviated: `--sin` is refused, tests/test_cli.py)
    assert parse_args(["demo", "--config", cfg, "--sink=osc:127.0.0.1:10"]).sink == ["osc:127.0.0.1:10"]
    with pytest.raises(EegvizError, match="'plugins' cannot be set from a config file"):
        parse_args(["demo", "--config", _toml(tmp_path, 'plugins = ["/tmp"]\n')])
    # `eegviz plugins` (listing what the folder adds) said "'plugins' must be a table ([plugins])" of the same file
    with pytest.raises(EegvizError, match="'plugins' cannot be set from a config file"):
        parse_args(["plugins", "--config", _toml(tmp_path, 'plugins = ["/tmp"]\n')])


def test_plugins_before_and_after_the_command_are_both_taken():
    assert parse_args(["--plugins", "a", "plugins", "--plugins", "b"]).plugins == ["a", "b"]
    assert parse_args(["plugins", "--plugins", "b"]).plugins == ["b"]
    assert parse_args(["--plugins", "a", "plugins"]).plugins == ["a"]
    assert parse_args(["plugins"]).plugins is None


def test_a_device_is_read_up_to_the_bound_and_a_pipe_like_a_file(tmp_path):
    """--config /dev/zero read zeros forever (run in a subprocess, so the old hang fails the test by its timeout
    instead of hanging the suite); a pipe with a writer, as `--config <(...)` gives, is read as a file."""
    r = subprocess.run([sys.executable, "-m", "eegviz.cli", "demo", "--config", "/dev/zero"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == ("eegviz: error: config file /dev/zero holds more than 1,048,576 bytes, more than a "
                                "config file may; is it the right file?")
    fifo = tmp_path / "settings"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf 'speed = 3.0\\n' > '{fifo}'"])
    try:
        assert parse_args(["demo", "--config", str(fifo)]).speed == 3.0
    finally:
        writer.wait(timeout=10)


def test_a_config_over_a_mebibyte_or_a_folder_is_refused(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 110_000)  # valid TOML, 1.1 MB: refused by its size, not by its content
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", str(big)])
    assert str(e.value) == (f"config file {big} holds more than 1,048,576 bytes, more than a config file may; is "
                            "it the right file?")
    with pytest.raises(EegvizError, match=f"^config file {tmp_path} is a folder$"):
        parse_args(["demo", "--config", str(tmp_path)])


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_config_is_refused_not_run_without_it(value):
    """`--config "$CFG"` with CFG unset ran the command with none of the file's settings (a kiosk's --out and
    --headless among them), without a word (found by review)."""
    with pytest.raises(EegvizError, match="--config is empty"):
        parse_args(["demo", "--config", value])


def test_a_switch_the_config_sets_can_be_turned_off_on_the_command_line(tmp_path):
    """"Flags on the command line win", but `headless = true` (or kiosk, average_repeats, simulate) in a config
    file could not be undone there: the switches had no --no- form (found by review)."""
    cfg = _toml(tmp_path, "headless = true\nkiosk = true\naverage_repeats = true\n[live]\nsimulate = true\n")
    args = parse_args(["demo", "--config", cfg, "--no-headless", "--no-kiosk", "--no-average-repeats"])
    assert (args.headless, args.kiosk, args.average_repeats) == (False, False, False)
    assert parse_args(["demo", "--config", cfg]).headless  # the file's value stands where no flag is given
    assert not parse_args(["live", "--config", cfg, "--no-simulate"]).simulate


def test_every_switch_a_config_can_set_has_a_form_that_undoes_it(tmp_path):
    """train's `resume = true` or `decoder_only = true`, eval's `no_controls = true`, `compile = true` and the rest
    could not be undone on the command line: they were plain store_true flags (the switches above got their
    --no- forms first). Both spellings of a negative switch still read the same from a file."""
    cfg = _toml(tmp_path, 'compile = true\n[train]\nresume = true\ndecoder_only = true\nno_eval_controls = true\n'
                          '[eval]\nno-controls = true\nreconstructions = false\n[simulate]\nstream = true\n'
                          'demo = true\n[sweep]\nkeep_data = true\n')
    train = ["train", "--config", cfg, "--data", "d", "--out", "o"]
    args = parse_args(train)
    assert (args.resume, args.decoder_only, args.eval_controls) == (True, True, False)
    args = parse_args(train + ["--no-resume", "--no-decoder-only", "--eval-controls"])
    assert (args.resume, args.decoder_only, args.eval_controls) == (False, False, True)
    ev = ["eval", "--config", cfg, "--data", "d", "--model", "m", "--out", "o"]
    assert (parse_args(ev).controls, parse_args(ev).reconstructions) == (False, False)
    args = parse_args(ev + ["--controls", "--reconstructions"])
    assert (args.controls, args.reconstructions) == (True, True)
    assert parse_args(["demo", "--config", cfg]).compile and not parse_args(["demo", "--config", cfg,
                                                                             "--no-compile"]).compile
    assert not parse_args(["bench", "--config", cfg, "--no-compile"]).compile
    args = parse_args(["simulate", "--config", cfg, "--no-stream", "--no-demo"])
    assert (args.stream, args.demo) == (False, False)
    assert not parse_args(["sweep", "--config", cfg, "--out", "o", "--snr-db", "0", "--no-keep-data"]).keep_data
    plain = parse_args(["eval", "--data", "d", "--model", "m", "--out", "o"])
    assert plain.controls and plain.reconstructions  # on unless turned off, as before


def test_a_home_path_in_a_config_is_expanded_as_the_shell_would(tmp_path, monkeypatch):
    """The shell expands ~ on a command line, never in a file: `out = "~/world"` made simulate, train, eval and
    sweep write into a folder literally named ~ in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = _toml(tmp_path, '[simulate]\nout = "~/world"\n[train]\ndata = "~/world"\nout = "~"\nstream = "~amp"\n')
    assert parse_args(["simulate", "--config", cfg]).out == str(tmp_path / "home" / "world")
    args = parse_args(["train", "--config", cfg])
    assert (args.data, args.out) == (str(tmp_path / "home" / "world"), str(tmp_path / "home"))
    assert args.stream == "~amp"  # no such user: left as written


def test_a_utf8_byte_order_mark_is_skipped(tmp_path):
    """Notepad's "UTF-8 with BOM" (and PowerShell 5's -Encoding utf8) start the file with EF BB BF: it was refused
    as "not valid TOML: Invalid statement (at line 1, column 1)", on a file that looked right in any editor."""
    path = tmp_path / "kiosk.toml"
    path.write_bytes(b"\xef\xbb\xbfspeed = 2\r\n[demo]\r\nheadless = true\r\n")
    args = parse_args(["demo", "--config", str(path)])
    assert (args.speed, args.headless) == (2.0, True)


def test_a_top_level_key_only_other_commands_have_is_named_not_dropped_without_a_word(tmp_path, capsys):
    """`duration = 60` at the top of a demo's file (only live, simulate and record have --duration) ran the demo
    without end, and nothing said the key was not used. A file may serve several commands, so it is a note naming
    the commands the key belongs to, not an error; a key the command has, or one in its own table, says nothing."""
    cfg = _toml(tmp_path, 'duration = 60\ndata = "/d"\nheadless = true\n[live]\nstream = "amp"\n')
    args = parse_args(["demo", "--config", cfg])
    assert args.headless and not hasattr(args, "duration")
    assert capsys.readouterr().err == (
        f"eegviz: note: config file {cfg}: not used by `eegviz demo`, which has no such option: 'duration' (live, "
        "simulate, record), 'data' (train, eval); a key in a [COMMAND] table is read by that command alone\n")
    assert parse_args(["live", "--config", _toml(tmp_path, "duration = 5\n[train]\nepochs = 2\n")]).duration == 5.0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("text, needle", [
    ("headless = true\nno_headless = true\n", "'headless' and 'no_headless' both set --headless (in the top level)"),
    ('[demo]\nsd-model = "/a"\nsd_model = "/b"\n',
     "'sd-model' and 'sd_model' both set --sd-model (in the [demo] table)"),
])
def test_one_option_set_twice_in_one_place_is_refused(tmp_path, text, needle):
    """Two keys for one option (TOML sees `sd-model` and `sd_model` as two keys; `no_headless` is --headless too)
    in one place: the later won without a word, so `headless = true` was undone by a forgotten `no_headless`."""
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", _toml(tmp_path, text)])
    assert needle in str(e.value) and str(e.value).endswith("; keep one")


def test_a_commands_table_wins_over_the_top_level(tmp_path):
    assert parse_args(["demo", "--config", _toml(tmp_path, "speed = 1\n[demo]\nspeed = 2\n")]).speed == 2.0


@pytest.mark.parametrize("command", ["demo", "train", "record", "present"])
def test_every_commands_help_names_config_and_where_relative_paths_start(command, capsys):
    """--config works before or after the command (README), but `eegviz demo --help` did not list it, and nothing
    said whether a relative path in the file is read from the file's folder or the working directory."""
    with pytest.raises(SystemExit):
        parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--config FILE.toml settings from a TOML file" in text
    assert "relative paths in it are read from the working directory" in text


def test_help_works_beside_a_broken_config_and_says_it_is_left_out(tmp_path, capsys):
    """`eegviz demo --config kiosk.toml --help` printed the file's error instead of the help when the file was not
    TOML, held a key no option has, or a `demo = 3` where the [demo] table should be: the help that shows how to
    write it could not be read. The help is printed, and a note says the file was left out."""
    for text, error in [("not toml {\n", "is not valid TOML"), ("demo = 3\n", "'demo' must be a table"),
                        ("speed = 0\nbogus = 1\n", "'bogus' is not an option")]:
        cfg = _toml(tmp_path, text)
        with pytest.raises(SystemExit) as exit_:
            parse_args(["demo", "--config", cfg, "--help"])
        out, err = capsys.readouterr()
        assert exit_.value.code == 0 and out.startswith("usage: eegviz demo"), err
        assert "the config file is left out" in err and error in err, err
    with pytest.raises(EegvizError, match="'bogus' is not an option"):  # without --help it is still refused
        parse_args(["demo", "--config", cfg])


def test_help_shows_a_files_value_that_holds_a_percent_sign(tmp_path, capsys):
    """--help names a file's values beside the options, and argparse %-formats help texts: `out = "/data/100%"` ended
    `eegviz demo --config FILE --help` in a ValueError traceback."""
    with pytest.raises(SystemExit):
        parse_args(["demo", "--config", _toml(tmp_path, 'out = "/data/100%"\n'), "--help"])
    assert "'out' = \"/data/100%\")" in " ".join(capsys.readouterr().out.split())


def test_help_names_what_the_file_sets_beside_each_options_own_default(tmp_path, capsys, monkeypatch):
    """`--config FILE --help` showed the file's value as "(default: 2)" where the help stated no default of its
    own, and not at all where it did: `threads = 3` left "default: all cores but one", so --help told a user
    checking a file half of what it sets. Each option the file sets keeps its own default and names the file's key."""
    _toml(tmp_path, "threads = 3\n[demo]\nspeed = 2.0\n")
    monkeypatch.chdir(tmp_path)  # a short name: argparse wraps a long path inside it
    cfg = "session.toml"
    with pytest.raises(SystemExit):
        parse_args(["demo", "--config", cfg, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"also sets it) (set by config file {cfg}: 'threads' = 3)" in text
    assert f"as fast as possible (default: 1) (set by config file {cfg} [demo]: 'speed' = 2.0)" in text


def test_a_relative_path_in_a_config_is_read_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "protocols").mkdir()
    cfg = tmp_path / "protocols" / "kiosk.toml"
    cfg.write_text('out = "results"\n')
    monkeypatch.chdir(tmp_path)
    assert parse_args(["demo", "--config", str(cfg)]).out == "results"  # as `--out results` given here


@pytest.mark.parametrize("argv, text, said", [
    (["replay", "x.xdf"], '[replay]\nfile = "y.xdf"\n',
     "'file' is replay's FILE argument, not an option; give it on the command line (`eegviz replay FILE`)"),
    (["present"], '[present]\nimages_dir = "stim"\n', "'images_dir' is present's IMAGES_DIR argument"),
    (["demo"], "[dmeo]\nspeed = 1\n", "[dmeo] is no command's table; a table is named after the command it is "
                                     "for (bench, demo, eval, live, "),
    (["demo"], "live = true\n", "'live' is a command: the settings of `eegviz live` go in a [live] table"),
    # was "[brainflow] is no command's table", a table the file does not have
    (["live"], "[live.brainflow]\nboard = 0\n", "[live.brainflow] is a table inside [live]; a command's table "
                                                 "holds its options as `key = value` lines, with no tables inside"),
    (["demo"], '[demo]\nstream = "amp"\n', "'stream' is not an option of `eegviz demo` (it is an option of replay, "
                                           "live, "),
])
def test_a_refused_key_says_what_it_is(tmp_path, argv, text, said):
    """Each was "'KEY' is not an option of `eegviz CMD`": replay's own FILE, a misspelt table, a command's
    settings written as one value, and a key in the wrong command's table, which did not say whose it is."""
    with pytest.raises(EegvizError) as e:
        parse_args([argv[0], "--config", _toml(tmp_path, text), *argv[1:]])
    assert said in str(e.value)


def test_verbose_on_the_command_line_wins_over_the_files_log_level(tmp_path):
    """-v is --log-level info, but a file's `log_level = "error"` outranked it, so -v did nothing (flags win)."""
    cfg = _toml(tmp_path, 'log_level = "error"\n')
    assert parse_args(["demo", "--config", cfg, "-v"]).log_level is None  # then -v: info (eegviz.logs)
    assert parse_args(["-v", "--config", cfg, "demo"]).log_level is None
    assert parse_args(["demo", "--config", cfg]).log_level == "error"
    assert parse_args(["demo", "--config", cfg, "-v", "--log-level", "debug"]).log_level == "debug"
    assert parse_args(["demo", "--config", _toml(tmp_path, "verbose = true\n"), "--log-level", "error"]).log_level \
        == "error"


def test_environment_variables_in_a_config_are_expanded_as_the_shell_would(tmp_path, monkeypatch):
    """`out = "$HOME/kiosk"` wrote into a folder literally named $HOME in the working directory; a variable that
    is not set is refused by name (a shell would make "$DATA/session" the root's /session)."""
    monkeypatch.setenv("EEGVIZ_TEST_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("EEGVIZ_TEST_UNSET", raising=False)
    cfg = _toml(tmp_path, 'out = "$EEGVIZ_TEST_DATA/kiosk"\nimages_dir = "${EEGVIZ_TEST_DATA}/stim"\n')
    args = parse_args(["demo", "--config", cfg])
    assert (args.out, args.images_dir) == (str(tmp_path / "data" / "kiosk"), str(tmp_path / "data" / "stim"))
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", _toml(tmp_path, 'out = "$EEGVIZ_TEST_UNSET/kiosk"\n')])
    assert str(e.value).endswith("'out' = '$EEGVIZ_TEST_UNSET/kiosk' names $EEGVIZ_TEST_UNSET, which is not set in "
                                 "the environment (write $$ for a literal $)")


def test_a_doubled_dollar_in_a_config_is_one_literal_dollar(tmp_path, monkeypatch):
    """With variables expanded, a value that holds a dollar sign (a folder named "runs$2", a Windows share's
    "C$") could not be written at all: "$2" was read as a variable. "$$" is one "$", as in docker-compose files,
    and is not expanded further ("$$HOME" is the text "$HOME")."""
    monkeypatch.setenv("EEGVIZ_TEST_DATA", str(tmp_path))
    cfg = _toml(tmp_path, 'out = "${EEGVIZ_TEST_DATA}/runs$$2"\nimages_dir = "$$HOME/stim"\n')
    args = parse_args(["demo", "--config", cfg])
    assert (args.out, args.images_dir) == (str(tmp_path / "runs$2"), "$HOME/stim")


@pytest.mark.parametrize("name, text", [("kiosk.json", '{"headless": true}\n'), ("kiosk.yml", "headless: true\n")])
def test_a_json_or_yaml_config_is_told_the_format_is_toml(tmp_path, name, text):
    """A JSON or YAML file was told only "not valid TOML: Invalid statement (at line 1, column 1)"."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", str(path)])
    assert "is not valid TOML: " in str(e.value)
    assert str(e.value).endswith(f"; it is named as {'JSON' if name.endswith('json') else 'YAML'}, and a config "
                                 "file is TOML: `key = value` lines and [COMMAND] tables (`headless = true`)")


def test_a_source_on_the_command_line_replaces_the_files_other_source(tmp_path, capsys):
    """A lab's `[live] stream = "amp"` (and markers) refused a dry run with `eegviz live --simulate` ("cannot go
    together"), and nothing on the command line could unset the file's stream; simulate's `out` refused --stream
    the same way. The command line's choice wins, in a note."""
    cfg = _toml(tmp_path, '[live]\nstream = "amp"\nmarkers = "eegviz-presenter"\n[simulate]\nout = "world"\n')
    args = parse_args(["live", "--config", cfg, "--simulate"])
    assert (args.simulate, args.stream, args.markers) == (True, None, None)
    assert capsys.readouterr().err == ("eegviz: note: --simulate on the command line replaces the config file's "
                                       "'stream' and 'markers', which cannot go with it\n")
    args = parse_args(["live", "--config", cfg, "--board", "-1"])
    assert (args.board, args.stream, args.markers) == (-1, None, "eegviz-presenter")  # a board takes LSL markers
    args = parse_args(["simulate", "--config", cfg, "--stream"])
    assert (args.stream, args.out) == (True, None)
    capsys.readouterr()
    args = parse_args(["live", "--config", cfg])  # without one on the command line, the file's source stands
    assert (args.simulate, args.stream) == (False, "amp") and capsys.readouterr().err == ""
    assert parse_args(["simulate", "--config", cfg, "--demo"]).out == "world"  # --demo writes into --out


def test_a_live_source_plugin_and_the_files_other_source_replace_each_other(tmp_path, capsys):
    """live --source NAME (a live source plugin) is one of live's sources: given on the command line it replaces a
    file's stream and markers, and --simulate (or --stream, --board) replaces a file's `source`, in a note, where
    the two were refused as "cannot go together" and nothing on the command line could unset the file's."""
    cfg = _toml(tmp_path, '[live]\nstream = "amp"\nmarkers = "eegviz-presenter"\n')
    args = parse_args(["live", "--config", cfg, "--source", "hL-amp"])
    assert (args.source, args.stream, args.markers) == ("hL-amp", None, None)
    assert capsys.readouterr().err == ("eegviz: note: --source on the command line replaces the config file's "
                                       "'stream' and 'markers', which cannot go with it\n")
    cfg = _toml(tmp_path, '[live]\nsource = "hL-amp:port=COM3"\n')
    assert parse_args(["live", "--config", cfg]).source == "hL-amp:port=COM3"
    args = parse_args(["live", "--config", cfg, "--simulate"])
    assert (args.simulate, args.source) == (True, None)
    assert "--simulate on the command line replaces the config file's 'source'" in capsys.readouterr().err


def test_headless_on_the_command_line_replaces_the_files_window_settings(tmp_path, capsys):
    """A kiosk file's `screenshot` (or `kiosk`) refused `--headless` on the command line ("for the window"), and
    no flag could unset the file's screenshot."""
    cfg = _toml(tmp_path, '[demo]\nkiosk = true\nscreenshot = "shot.png"\n')
    args = parse_args(["demo", "--config", cfg, "--headless"])
    assert (args.headless, args.kiosk, args.screenshot) == (True, False, None)
    err = capsys.readouterr().err
    assert "--headless on the command line replaces the config file's 'kiosk' and 'screenshot'" in err
    assert parse_args(["demo", "--config", cfg]).screenshot == "shot.png"


def test_a_files_board_is_replaced_with_its_connection_parameters(tmp_path, capsys):
    """`--simulate` replaced the file's board but kept its serial_port, and the session was refused: "BrainFlow
    connection parameters: give --board ID"."""
    cfg = _toml(tmp_path, '[live]\nboard = 0\nserial_port = "/dev/ttyUSB0"\n')
    args = parse_args(["live", "--config", cfg, "--simulate"])
    assert (args.simulate, args.board, args.serial_port) == (True, None, None)
    assert "replaces the config file's 'board' and 'serial_port', which" in capsys.readouterr().err
    parse_args(["live", "--config", _toml(tmp_path, '[live]\nboard = 0\nserial_port = "/dev/ttyUSB0"\nmarkers = "m"\n'),
                "--simulate"])
    assert "replaces the config file's 'board', 'markers' and 'serial_port', which" in capsys.readouterr().err
    from eegviz.cli import session_settings

    assert session_settings(args).source.board_params == ()


def test_the_command_lines_sink_replacing_the_files_list_is_said(tmp_path, capsys):
    """`--sink` on the command line replaced the file's `sink = [...]` without a word (a lab's OSC target went
    dark), where every other flag that replaces a file's value says so in a note. The file's entries that the
    command line gives too are not named; nothing is said when it gives them all."""
    cfg = _toml(tmp_path, '[demo]\nsink = ["osc:127.0.0.1:9", "osc:127.0.0.1:11"]\n')
    assert parse_args(["demo", "--config", cfg, "--sink", "osc:127.0.0.1:9"]).sink == ["osc:127.0.0.1:9"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("eegviz: note: --sink on the command line replaces the config "
                                                   "file's 'sink' list, so osc:127.0.0.1:11 is not used")
    parse_args(["demo", "--config", cfg, "--sink=osc:127.0.0.1:11", "--sink", "osc:127.0.0.1:9"])
    assert capsys.readouterr().err == ""
    parse_args(["demo", "--config", cfg])
    assert capsys.readouterr().err == ""


def test_two_config_files_are_refused_not_the_first_dropped(tmp_path):
    """Only the last --config was read: the first file's settings (a lab's stream, model, sinks) were left out
    without a word. The same file named twice is one file."""
    (tmp_path / "lab.toml").write_text("[demo]\nspeed = 3\n")
    (tmp_path / "kiosk.toml").write_text("[demo]\nthreads = 1\n")
    lab, kiosk = str(tmp_path / "lab.toml"), str(tmp_path / "kiosk.toml")
    with pytest.raises(EegvizError, match=r"--config is given 2 times \(.*lab.toml, .*kiosk.toml\); a command reads "
                                          "one settings file"):
        parse_args(["--config", lab, "demo", "--config", kiosk])
    assert parse_args(["--config", lab, "demo", f"--config={lab}"]).speed == 3.0


@pytest.mark.parametrize("command, text, needle", [
    ("train", "subjects = [1, 2]", "'subjects' takes its values as one text separated by commas, not a list: "
                                   'subjects = "1,2"'),
    ("sweep", "snr-db = [-20, -10]", 'snr-db = "-20,-10"'),
    ("record", 'streams = ["amp", "eegviz-presenter"]', 'streams = "amp,eegviz-presenter"'),
])
def test_a_list_for_a_comma_separated_option_says_how_to_write_it(tmp_path, command, text, needle):
    """`subjects = [1, 2]` was told "'subjects' takes one value, not a list", as if one subject were all it took;
    the option takes several, joined by commas, and the error now shows the line to write."""
    with pytest.raises(EegvizError) as e:
        parse_args([command, "--config", _toml(tmp_path, f"[{command}]\n{text}\n")])
    assert needle in str(e.value)


def test_a_top_level_value_another_command_reads_otherwise_says_where_it_belongs(tmp_path):
    """`stream = "amp"` at the top level is the EEG stream of live, replay, train and eval, and simulate's --stream
    switch: `eegviz simulate` was refused with "'stream' is a switch" alone, as if the lab's stream name were wrong.
    A value no command takes keeps the plain error."""
    with pytest.raises(EegvizError) as e:
        parse_args(["simulate", "--config", _toml(tmp_path, 'stream = "amp"\n'), "--out", str(tmp_path / "d")])
    assert str(e.value).endswith("'stream' is a switch; give true or false, as `eegviz simulate` reads it; a "
                                 "top-level key is read by every command that has the option: move it into the table "
                                 "of each command it is for ([replay], [live], [train], [eval])")
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", _toml(tmp_path, 'speed = "2"\n')])
    assert str(e.value).endswith("'speed' = '2' is not a number")


@pytest.mark.parametrize("flags", [["--kiosk"], ["--screenshot", "shot.png"]])
def test_a_window_flag_on_the_command_line_replaces_the_files_headless(tmp_path, capsys, flags):
    """A recording PC's file says `headless = true`; `--kiosk` or `--screenshot` on the command line was refused
    ("--headless opens none: leave out --headless"), though --headless replaces the file's kiosk and screenshot
    and a flag wins. Given together on the command line, they are still refused (_check_headless_display)."""
    cfg = _toml(tmp_path, '[demo]\nheadless = true\n')
    assert not parse_args(["demo", "--config", cfg, *flags]).headless
    assert f"{flags[0]} on the command line replaces the config file's 'headless'" in capsys.readouterr().err
    assert parse_args(["demo", "--config", cfg, "--headless", *flags]).headless


@pytest.mark.parametrize("command, text, needle", [
    ("demo", '"--model" = "/m"\n', "'--model' is not how a key is spelt: write the option's name without its "
                                   "dashes, in lower case (model = ...)"),
    ("demo", "[demo]\nSD_Model = \"/m\"\n", "(sd_model = ...)"),
    ("simulate", '"--model" = "/m"\n', "(model = ...)"),  # another command's option, misspelt: still an error
])
def test_a_key_spelt_as_a_flag_or_in_capitals_names_the_key_to_write(tmp_path, command, text, needle):
    """`"--model" = ...` (the flag as typed on a command line) was told "'--model' is not an option of `eegviz
    demo`", of the very option demo has."""
    with pytest.raises(EegvizError) as e:
        parse_args([command, "--config", _toml(tmp_path, text)])
    assert needle in str(e.value)


def test_a_top_level_key_that_is_the_commands_argument_says_to_give_it_on_the_command_line(tmp_path, capsys):
    """A lab's one stimulus folder, `images_dir` at the top level (--images-dir of live, train and eval), is
    present's IMAGES_DIR argument: the note said present "has no such option", as if it took no images folder."""
    args = parse_args(["present", "--config", _toml(tmp_path, 'images_dir = "stim"\nmodel = "/m"\n')])
    assert args.images_dir is None
    err = capsys.readouterr().err
    assert "'images_dir' is not used by `eegviz present`, where it is the IMAGES_DIR argument, which a file does " \
           "not set: give it on the command line (`eegviz present IMAGES_DIR`)" in err
    assert "no such option: 'model' (" in err and "'images_dir' (" not in err


def test_a_top_level_class_snr_is_not_read_by_sweep_as_its_hidden_option(tmp_path, capsys):
    """`class_snr_db = -10` at the top level (live --simulate's and simulate's) set sweep's hidden --class-snr-db,
    and the sweep was refused with "--class-snr-db is not a sweep option", a flag nobody had given."""
    args = parse_args(["sweep", "--config", _toml(tmp_path, "class_snr_db = -10\n"), "--snr-db=-20",
                       "--out", str(tmp_path / "sweep")])
    assert args.class_snr_db is None
    assert "not used by `eegviz sweep`, which has no such option: 'class_snr_db' (live, simulate)" in \
        capsys.readouterr().err


def test_an_empty_environment_variable_in_a_config_is_refused_as_an_unset_one_is(tmp_path, monkeypatch):
    """`out = "$DATA/kiosk"` with DATA set to "" (an unfilled line of a service's environment file) wrote into the
    root's /kiosk: only a variable not set at all was refused."""
    monkeypatch.setenv("EEGVIZ_TEST_EMPTY", "")
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", _toml(tmp_path, 'out = "$EEGVIZ_TEST_EMPTY/kiosk"\n')])
    assert str(e.value).endswith("'out' = '$EEGVIZ_TEST_EMPTY/kiosk' names $EEGVIZ_TEST_EMPTY, which is empty in "
                                 "the environment")


@pytest.mark.parametrize("text, form", [("${EEGVIZ_TEST_DATA:-/data}/kiosk", "${EEGVIZ_TEST_DATA:-/data}"),
                                        ("${EEGVIZ_TEST_DATA/kiosk", "${EEGVIZ_TEST_DATA/kiosk")])
def test_a_dollar_brace_that_names_no_variable_is_refused_for_what_it_is(tmp_path, monkeypatch, text, form):
    """A shell's `${DATA:-/data}` was said to name "$DATA:-/data, which is not set" while DATA was set, and a brace
    left open (`${DATA/kiosk`) became a folder of that very name."""
    monkeypatch.setenv("EEGVIZ_TEST_DATA", str(tmp_path))
    with pytest.raises(EegvizError) as e:
        parse_args(["demo", "--config", _toml(tmp_path, f'out = "{text}"\n')])
    assert f": {form} is not a variable eegviz expands; write $NAME or ${{NAME}}" in str(e.value)


def test_demo_on_the_command_line_replaces_a_dataset_files_world(tmp_path, capsys):
    """A dataset file's `subjects`, `images` and class SNR refused `eegviz simulate --demo --out DIR` ("not used by
    --demo, which writes the demo recording as shipped"): the flag could not win without editing the file."""
    cfg = _toml(tmp_path, '[simulate]\nsubjects = 4\nimages = 50\nrepeats = 8\nclass_snr_db = -5\nseed = 3\n')
    args = parse_args(["simulate", "--config", cfg, "--demo", "--out", str(tmp_path / "demo")])
    assert (args.subjects, args.repeats, args.class_snr_db, args.seed) == (2, None, None, 3)
    assert capsys.readouterr().err == ("eegviz: note: --demo on the command line replaces the config file's "
                                       "'subjects', 'repeats' and 'class_snr_db', which cannot go with it\n")


def test_decoder_only_and_no_reconstructions_replace_the_files_generator_options(tmp_path, capsys):
    """A file's top-level `steps = 4` (for demo and live too) refused `eval --no-reconstructions` ("--steps is for
    the reconstructions ... leave it out"), and a full training's `ae_steps` refused `train --decoder-only`."""
    cfg = _toml(tmp_path, 'steps = 4\ndata = "d"\nout = "o"\n[eval]\nmodel = "m"\ncontrols_highpass = 2.0\n'
                          '[train]\nae_steps = 500\n')
    args = parse_args(["eval", "--config", cfg, "--no-reconstructions", "--no-controls"])
    assert (args.steps, args.controls_highpass) == (None, 1.0)
    assert capsys.readouterr().err == (
        "eegviz: note: --no-reconstructions on the command line replaces the config file's 'steps', which cannot go "
        "with it\neegviz: note: --no-controls on the command line replaces the config file's 'controls_highpass', "
        "which cannot go with it\n")
    assert parse_args(["train", "--config", cfg, "--decoder-only"]).ae_steps is None
    assert "--decoder-only on the command line replaces the config file's 'ae_steps'" in capsys.readouterr().err
    assert parse_args(["eval", "--config", cfg]).steps == 4 and capsys.readouterr().err == ""


def test_no_simulate_on_the_command_line_replaces_the_files_class_snr(tmp_path, capsys):
    """A lab's `[live] simulate = true` with `class_snr_db = 3` refused `eegviz live --no-simulate` ("give it with
    --simulate"): no flag could unset the file's class SNR. Not given, --no-simulate replaces nothing."""
    cfg = _toml(tmp_path, "[live]\nsimulate = true\nclass_snr_db = 3\n")
    args = parse_args(["live", "--config", cfg, "--no-simulate"])
    assert (args.simulate, args.class_snr_db) == (False, None)
    assert capsys.readouterr().err == ("eegviz: note: --no-simulate on the command line replaces the config file's "
                                       "'class_snr_db', which cannot go with it\n")
    args = parse_args(["live", "--config", cfg])
    assert (args.simulate, args.class_snr_db) == (True, 3.0) and capsys.readouterr().err == ""


def test_a_switch_the_file_turns_off_is_not_said_to_be_replaced(tmp_path, capsys):
    """`simulate = false` in the file and --stream on the command line noted "--stream on the command line
    replaces the config file's 'simulate'", of a setting that went with it; a board 0 (Cyton) is still one."""
    cfg = _toml(tmp_path, "[live]\nsimulate = false\nboard = 0\n[demo]\nheadless = false\n")
    assert parse_args(["demo", "--config", cfg, "--kiosk"]).kiosk and capsys.readouterr().err == ""
    args = parse_args(["live", "--config", cfg, "--stream", "amp"])
    assert args.board is None and not args.simulate
    assert capsys.readouterr().err == ("eegviz: note: --stream on the command line replaces the config file's "
                                       "'board', which cannot go with it\n")


def test_out_on_the_command_line_replaces_a_streaming_files_stream(tmp_path, capsys):
    """A simulator file with `stream = true` refused `eegviz simulate --out DIR` ("--stream writes no files"),
    where --stream on the command line replaces the file's out: a flag wins, both ways. The file's options of the
    mode replaced go with it: its `name` and `duration` refused the dataset ("--name, --duration are for
    --stream"), and a dataset file's `subjects` refused --stream; one at its default goes with either."""
    cfg = _toml(tmp_path, '[simulate]\nstream = true\nname = "eeg-x"\nduration = 60\nsubject = 0\nimages = 5\n')
    args = parse_args(["simulate", "--config", cfg, "--out", str(tmp_path / "data")])
    assert (args.stream, args.name, args.duration, args.images) == (False, "eegviz-sim", None, 5)
    assert capsys.readouterr().err == ("eegviz: note: --out on the command line replaces the config file's "
                                       "'stream', 'name' and 'duration', which cannot go with it\n")
    assert parse_args(["simulate", "--config", cfg]).stream
    cfg = _toml(tmp_path, '[simulate]\nout = "world"\nsubjects = 3\n')
    args = parse_args(["simulate", "--config", cfg, "--stream", "--subjects", "2"])
    assert (args.out, args.subjects) == (None, 2)
    assert capsys.readouterr().err == ("eegviz: note: --stream on the command line replaces the config file's "
                                       "'out' and 'subjects', which cannot go with it\n")


def test_a_bad_value_from_the_file_is_said_with_its_key_and_a_flags_under_the_flag(tmp_path, capsys):
    """A file's `strength = 2` was refused as "--strength must be in (0, 1]", sending the user to a command line
    that had no --strength. The file's key and value come first now; a flag's own error is said as before."""
    from eegviz.cli import main

    cfg = _toml(tmp_path, "[demo]\nstrength = 2\nsteps = 1\n")
    assert main(["demo", "--config", cfg, "--headless", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"eegviz: error: config file {cfg} [demo]: 'strength' = 2: --strength must be "
                                       "in (0, 1]: the fraction of the sampler's noise schedule applied\n")
    assert main(["demo", "--config", cfg, "--headless", "--steps", "0", "--strength", "0.5"]) == 2
    assert capsys.readouterr().err.startswith("eegviz: error: --steps must be >= 1")


@pytest.mark.parametrize("table, argv, key, message", [
    # errors that name the value, not the option (no file or key was said: `model = ...`-style typos were hunted
    # on a command line that did not have them)
    ('[demo]\ngenerator = "embeded"\n', ["demo", "--headless"], "'generator' = \"embeded\"",
     "no generator named 'embeded'"),
    ('[eval]\ngenerator = "embeded"\n', ["eval", "--data", "FULL", "--model", "FULL", "--out", "FULL"],
     "'generator' = \"embeded\"", "no generator named 'embeded'"),
    ('[live]\nmontage = "standard_1202"\n', ["live", "--headless", "--simulate"], "'montage' = \"standard_1202\"",
     "unknown montage 'standard_1202'"),
    ('[demo]\nimages_dir = "FULL"\n', ["demo", "--headless"], "'images_dir' = \"FULL\"", "no images"),
    ('[replay]\nunit = "furlong"\n', ["replay", "DEMO", "--headless"], "'unit' = \"furlong\"",
     "unknown --unit 'furlong'"),
    # a BrainFlow parameter other than the two the message names, without a board
    ('[live]\nip_address = "10.0.0.9"\n', ["live", "--headless"], "'ip_address' = \"10.0.0.9\"",
     "--serial-port/--mac-address/... are BrainFlow connection parameters: give --board ID"),
    # two options that cannot go together, the first from the command line, the second from the file
    ('[present]\nsize = 64\n', ["present", "FULL", "--per-class", "3"], "'size' = 64",
     "--per-class and --size are for --write-demo-folder"),
    ('[present]\nwrite_demo_folder = "FULL"\n', ["present", "FULL"], "'write_demo_folder' = \"FULL\"",
     "give an images folder to present or --write-demo-folder, not both"),
    ('[present]\nlog = "FULL/x"\n', ["present", "FULL"], "'log' = \"FULL/x\"", "the presentation log"),
    ('[present]\nrepeats = 100000000\n', ["present", "STIM"], "'repeats' = 100000000",
     "1 images x --repeats 100000000 would present for at least 27778 h"),
    # an empty value was taken for none given: "simulate needs --out DIR (a dataset) or --stream"
    ('[simulate]\nout = ""\n', ["simulate"], "'out' = \"\"", "--out is empty"),
])
def test_every_error_about_a_files_value_names_the_file_and_key(tmp_path, capsys, monkeypatch, table, argv, key,
                                                                  message):
    """An error about a value the --config file gave started with the file and key only where its first word was
    the option itself (`--strength must ...`): "no generator named 'embeded'", "unknown montage ...", "unknown --unit
    'furlong'", a file's ip_address refused as "--serial-port/--mac-address/...", present's `--per-class and --size
    are for --write-demo-folder` with the file's size, said nothing of the file, and the user looked for a flag they
    had not typed."""
    from eegviz.app import source_choice
    from eegviz.cli import main
    from eegviz.paths import demo_recording

    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("an earlier run's log")
    cfg = _toml(tmp_path, table.replace("FULL", str(full)))

    def loads(*args, **kwargs):
        raise AssertionError("the session's source was built before its options were checked")

    monkeypatch.setattr(source_choice, "initial_source", loads)
    if "STIM" in argv:
        from PIL import Image

        (tmp_path / "stim").mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / "stim" / "dot_1.png")
    argv = [str(demo_recording()) if a == "DEMO" else str(full) if a == "FULL" else str(tmp_path / "stim")
            if a == "STIM" else a for a in argv]
    assert main([*argv, "--config", cfg]) == 2
    err = capsys.readouterr().err
    section = argv[0]
    assert err.startswith(f"eegviz: error: config file {cfg} [{section}]: {key.replace('FULL', str(full))}: "
                          f"{message}"), err
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_a_files_model_that_is_no_model_is_named_with_its_key(tmp_path, capsys, monkeypatch, command):
    """`model = ...` at a file's top level is read by every command that has --model (the module's own example):
    one that is no model folder was refused as "no model at X", and the user looked for a --model they had not
    typed. bench checks it before its minutes of timing."""
    from eegviz.app import source_choice
    from eegviz.cli import main

    monkeypatch.setattr(source_choice, "initial_source", lambda settings: object)  # the model fails first
    cfg = _toml(tmp_path, f'model = "{tmp_path / "nope"}"\n')
    argv = [command, "--headless"] if command == "demo" else [command, "--n", "1"]
    assert main([*argv, "--config", cfg]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"eegviz: error: config file {cfg}: 'model' = \"{tmp_path / 'nope'}\": no model at {tmp_path / 'nope'} (no "
        "such folder); give the model folder (the one holding decoder.json), or train one with `eegviz train`")
