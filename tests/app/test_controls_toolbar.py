"""ControlBar through the window, offscreen: SourceChoices shown and read back, Start asks for a session."""

from eegviz.app.source_choice import SourceChoice
from eegviz.app.window import MainWindow


def test_window_choices_round_trip(qtbot):
    win = MainWindow(None)
    qtbot.addWidget(win)
    live = SourceChoice("lsl", name="amp", markers="psychopy")
    win.set_choice(live)
    assert win.current_choice() == live and win.controls.lsl_name_edit.isVisibleTo(win)
    assert not win.controls.speed_spin.isVisibleTo(win)
    win.controls.lsl_name_edit.setText("other-amp")
    assert win.current_choice() == SourceChoice("lsl", name="other-amp", markers="psychopy")
    rec = SourceChoice("xdf", path="/data/s01.xdf", name="EEG", markers="M", speed=0.0)
    win.set_choice(rec)
    assert win.current_choice() == rec and win.controls.source_combo.currentText() == "XDF: s01.xdf"
    board = SourceChoice("brainflow", board_id=0)
    win.set_choice(board)
    assert win.current_choice() == board and win.controls.source_combo.currentText() == "BrainFlow board 0"
    win.set_choice(SourceChoice("demo", speed=3.0))
    assert win.current_choice() == SourceChoice("demo", speed=3.0) and win.controls.speed_spin.isVisibleTo(win)
    win.set_model_dir("/models/mine")
    with qtbot.waitSignal(win.start_requested) as req:
        win.controls.start_button.click()
    assert req.args == [SourceChoice("demo", speed=3.0), "/models/mine"]


def test_the_speed_box_holds_the_speed_a_session_was_started_with(qtbot):
    """The box is what Start replays at: it used to round 0.25 to 0.3, cap 150 at 100 and show 0.04 as "max"."""
    win = MainWindow(None)
    qtbot.addWidget(win)
    for speed in (0.25, 150.0, 0.04, 0.0):
        win.set_choice(SourceChoice("demo", speed=speed))
        assert win.current_choice() == SourceChoice("demo", speed=speed)
    win.set_choice(SourceChoice("demo", speed=0.001))  # finer than the box: its smallest speed, never "max"
    assert win.current_choice().speed == 0.01


def test_a_file_replay_from_the_command_line_stays_the_source_start_replays(qtbot):
    """`eegviz replay rec_raw.fif`: the combo showed "Demo recording" (speed 1x) beside the file's session, and
    Start after a stop or the end replayed the demo recording instead of the file."""
    from eegviz.app.source_choice import initial_source
    from eegviz.settings import SourceSettings

    win = MainWindow(None)
    qtbot.addWidget(win)
    fif = initial_source(SourceSettings("replay", file="/data/rec_raw.fif", speed=0.0))
    win.set_choice(fif)
    assert win.controls.source_combo.currentText() == "File: rec_raw.fif" and win.current_choice() == fif
    assert win.controls.speed_spin.isVisibleTo(win) and win.controls.speed_spin.value() == 0.0
    win.controls.speed_spin.setValue(2.0)
    with qtbot.waitSignal(win.start_requested) as req:
        win.controls.start_button.click()
    assert req.args[0].kind == "file" and req.args[0].path == "/data/rec_raw.fif" and req.args[0].speed == 2.0


def test_a_live_source_plugin_from_the_command_line_stays_the_source_start_runs(qtbot, monkeypatch):
    """`eegviz live --source NAME`: the window shows the plugin as its source ("Plugin: NAME", no speed box), and
    Start after a stop runs it again with the command line's options, not the demo recording."""
    from eegviz import plugins
    from eegviz.app.source_choice import initial_source
    from eegviz.settings import SourceSettings

    class Amp:
        live = True

        @classmethod
        def from_cli(cls, settings):
            return cls()

    monkeypatch.setitem(plugins._extra["sources"], "hL-amp", Amp)
    win = MainWindow(None)
    qtbot.addWidget(win)
    choice = initial_source(SourceSettings("live", reader="hL-amp", source_args="port=COM3"))
    assert choice.kind == "plugin" and choice.label == "plugin hL-amp" and choice.paced
    win.set_choice(choice)
    assert win.controls.source_combo.currentText() == "Plugin: hL-amp" and win.current_choice() == choice
    assert not win.controls.speed_spin.isVisibleTo(win)
    with qtbot.waitSignal(win.start_requested) as req:
        win.controls.start_button.click()
    assert req.args[0] == choice and req.args[0].replay.source_args == "port=COM3"


def test_switching_sources_does_not_widen_an_800_px_window(qtbot):
    """From the simulator to a replay, the speed box was shown before the SNR box was hidden: for that moment
    the bar was wider than 800 px, and the window grew to 856 px, past an 800 px screen, for good."""
    win = MainWindow(None)
    qtbot.addWidget(win)
    win.fit_to(800, 480)
    win.show()
    qtbot.waitExposed(win)
    combo = win.controls.source_combo
    for kind in ("simulator", "demo", "lsl", "simulator", "xdf", "brainflow-synthetic", "demo"):
        combo.setCurrentIndex(combo.findData(kind))
        qtbot.wait(10)
        assert win.width() <= 800, (kind, win.width())


def test_the_xdf_dialog_offers_only_files_the_reader_takes(qtbot, monkeypatch, tmp_path):
    """It listed "*.xdf *.xdfz" as XDF recordings while the reader refused a gzipped .xdfz at Start as "not an XDF
    file": the patterns offered are the names the reader takes (compressed ones too, since it reads them)."""
    from eegviz.sources.xdf_chunks import is_xdf_name
    from PySide6.QtWidgets import QFileDialog

    asked = []
    picked = tmp_path / "rec.xdf"
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args: asked.append(args) or (str(picked), "")))
    win = MainWindow(None)
    qtbot.addWidget(win)
    combo = win.controls.source_combo
    combo.activated.emit(combo.findData("xdf"))
    offered = asked[0][3].split(";;")[0].split("(")[1].rstrip(")").split()
    assert {"*.xdf", "*.xdfz", "*.xdf.gz"} <= set(offered) and all(is_xdf_name(f"rec{p[1:]}") for p in offered)
    assert win.controls._xdf_path == str(picked)
