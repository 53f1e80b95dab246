"""`eegviz live --board ID` with BrainFlow's connection parameters (BrainFlowInputParams) on the command line."""

from __future__ import annotations

import logging

from eegviz.cli import build_parser
from eegviz.sources.brainflow_params import brainflow_params


def test_options_become_brainflow_params():
    args = build_parser().parse_args([
        "live", "--board", "0", "--headless", "--serial-port", "/dev/ttyUSB0", "--mac-address", "aa:bb",
        "--ip-address", "192.168.4.1", "--ip-port", "6677", "--serial-number", "MuseS-1", "--board-file",
        "rec.csv", "--other-info", "x", "--timeout", "15"])
    assert brainflow_params(vars(args)) == {
        "serial_port": "/dev/ttyUSB0", "mac_address": "aa:bb", "ip_address": "192.168.4.1", "ip_port": 6677,
        "serial_number": "MuseS-1", "file": "rec.csv", "other_info": "x", "timeout": 15}
    assert brainflow_params(vars(build_parser().parse_args(["live", "--board", "-1"]))) == {}  # BrainFlow's defaults


def test_params_reach_the_source(monkeypatch):
    import eegviz.cli as cli
    import eegviz.plugins as plugins

    made = {}

    class Stop(Exception):
        pass

    def fake_brainflow(**kw):
        made.update(kw)
        raise Stop

    real = plugins.get  # the session checks its generator (a built-in) before anything loads
    monkeypatch.setattr(plugins, "get", lambda group, name: fake_brainflow if group == "sources" else real(group, name))
    args = build_parser().parse_args(["live", "--board", "2", "--headless", "--ip-port", "6789"])
    try:
        cli.cmd_session(args)
    except Stop:
        pass
    assert made["board_id"] == 2 and made["params"] == {"ip_port": 6789}


def _said(err: str, caplog, recwarn) -> str:
    """What a user's terminal shows on stderr, run in-process (a subprocess paid ~3 s of torch/diffusers imports
    each): err, what was written to stderr (by Python or by a C library, at the descriptor), and the logged
    warnings and Python warnings, which under pytest go to caplog and recwarn instead of stderr."""
    quiet = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)  # not shown by default
    return (err + "".join(f"{r.levelname} {r.name}: {r.getMessage()}\n" for r in caplog.records
                          if r.levelno >= logging.WARNING)
            + "".join(f"{w.category.__name__}: {w.message}\n" for w in recwarn if not issubclass(w.category, quiet)))


def test_bad_serial_port_is_one_line_naming_the_port(tmp_path, capfd, caplog, recwarn):
    from eegviz.cli import main

    port = "/dev/nonexistent-eegviz-port"
    code = main(["live", "--headless", "--board", "0", "--serial-port", port, "--out", str(tmp_path / "out")])
    err = _said(capfd.readouterr().err, caplog, recwarn)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eegviz: error:") and port in lines[0], err
    assert not (tmp_path / "out").exists()


def test_params_without_board_are_refused(capfd, caplog, recwarn):
    from eegviz.cli import main

    code = main(["live", "--headless", "--serial-port", "/dev/x"])
    err = _said(capfd.readouterr().err, caplog, recwarn)
    assert code == 2 and "--board" in err and len(err.strip().splitlines()) == 1


def test_the_window_path_gets_the_same_params(monkeypatch):
    import eegviz.plugins as plugins
    from eegviz.app.session import SourceChoice
    from eegviz.cli import session_settings

    made = {}
    monkeypatch.setattr(plugins, "get", lambda group, name: lambda **kw: made.update(kw) or "source")
    choice = SourceChoice.from_settings(session_settings(build_parser().parse_args(
        ["live", "--board", "0", "--serial-port", "/dev/ttyUSB0", "--timeout", "9"])).source)
    assert choice.make_source() == "source"
    assert made["board_id"] == 0 and made["params"] == {"serial_port": "/dev/ttyUSB0", "timeout": 9}


def test_synthetic_board_with_10_20_names_runs_live_with_the_default_model(tmp_path, capfd, caplog, recwarn):
    """The way a lab tries a headset first: BrainFlow's synthetic board (16 channels named Fz, C3, ...) runs
    live against the 128-channel default model, its channels mapped and the rest interpolated, and is recorded."""
    import pyxdf

    from eegviz.cli import main

    code = main(["live", "--board", "-1", "--headless", "--duration", "4", "--out", str(tmp_path / "out"),
                 "--no-capture"])
    out, err = capfd.readouterr()
    err = _said(err, caplog, recwarn)
    assert code == 0, err
    assert "interpolat" in err  # the one-line warning that the model never saw this cap
    assert "results in" in out
    streams, _ = pyxdf.load_xdf(str(tmp_path / "out" / "session.xdf"))
    eeg = [s for s in streams if s["info"]["type"][0] == "EEG"][0]
    assert int(eeg["info"]["channel_count"][0]) == 16 and len(eeg["time_stamps"]) > 250 * 2


def test_help_says_which_boards_read_the_playback_options(capsys):
    """--board-file and --master-board were "BrainFlow board connection: BrainFlowInputParams.file" and
    ".master_board", like the others, though only the playback (-3) and streaming (-2) boards read them, and
    --board named no board id but the synthetic board's."""
    import pytest

    with pytest.raises(SystemExit):
        build_parser().parse_args(["live", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--board-file FILE the BrainFlow recording (a CSV) the playback board, --board -3, plays" in shown
    assert "playback (--board -3) or streaming (--board -2) board carries" in shown
    assert "-3 = playback of a BrainFlow recording: --master-board ID --board-file FILE" in shown
