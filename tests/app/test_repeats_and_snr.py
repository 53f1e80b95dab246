"""The window and kiosk show how many showings a result averages; the simulator source has an SNR control."""

from dataclasses import replace

from app_fakes import make_rec

from eegviz.app.kiosk import KioskWindow
from eegviz.app.source_choice import SourceChoice
from eegviz.app.window import MainWindow


def _repeated(n):
    rec = make_rec(cls="zebra")
    epoch = replace(rec.decoded.epoch, repeats=n)
    return replace(rec, decoded=replace(rec.decoded, epoch=epoch))


def test_window_status_and_kiosk_caption_show_the_repeat_count(qtbot, info):
    win = MainWindow(info)
    qtbot.addWidget(win)
    win.on_reconstruction(_repeated(1), None)
    assert "repeats" not in win.status_fields()
    win.on_reconstruction(_repeated(4), None)
    assert "repeats 4" in win.status_fields()
    kiosk = KioskWindow(info)
    qtbot.addWidget(kiosk)
    kiosk.on_reconstruction(_repeated(3), None)
    assert kiosk.class_caption.text() == "decoded: zebra  ·  3 showings averaged"


def test_simulator_snr_control_goes_into_the_source(qtbot):
    win = MainWindow(None)
    qtbot.addWidget(win)
    win.show()
    win.set_choice(SourceChoice("simulator"))
    bar = win.controls
    assert bar.snr_control.isVisibleTo(win) and win.current_choice().snr_db is None  # the demo world
    bar.snr_control.check.setChecked(True)
    least = bar.snr_control.spin.minimum()  # the box's least: one the simulator takes (it refuses below its floor)
    bar.snr_control.spin.setValue(least)
    choice = win.current_choice()
    assert choice == SourceChoice("simulator", snr_db=least)
    src = choice.make_source()
    assert src.sim.config.class_snr_db == least and 0 < src.sim.class_gain < 1
    win.set_choice(SourceChoice("demo"))
    assert not bar.snr_control.isVisibleTo(win)
    win.set_choice(SourceChoice("simulator", snr_db=-30.0))
    assert bar.snr_control.value() == -30.0


def test_the_snr_box_takes_no_snr_the_simulator_refuses(qtbot):
    """The box went down to -40 dB, below the least the simulated world reaches (-36.8 dB): such a value was
    refused only at Start, after the model had loaded. The box now stops there (the simulator is started at its
    least in test_simulator_snr_control_goes_into_the_source)."""
    from eegviz.app.snr_control import SnrControl

    control = SnrControl()
    qtbot.addWidget(control)
    control.set_value(-40.0)
    assert control.value() == control.spin.minimum() == -36.7
    assert "-36.7 to 40 dB" in control.check.toolTip()


def test_the_snr_control_offers_the_realistic_presets_snr(qtbot):
    """Checked, the control first offered -21 dB, which its docstring called the realistic preset's; the preset
    moved to -24 dB (at -21 a decoder trained on averages decodes far above real EEG), the control did not."""
    from eegviz.app.snr_control import SnrControl
    from eegviz.world.sim_config import REALISTIC

    control = SnrControl()
    qtbot.addWidget(control)
    control.check.setChecked(True)
    assert control.value() == REALISTIC.class_snr_db == -24.0
    assert "-24 dB" in control.check.toolTip()


def test_the_status_bar_and_title_name_the_snr_the_simulator_runs_at(qtbot, info):
    """The SNR box applies on Start: changed mid-session it shows a value the simulator is not using, and the
    session was labelled plain "simulator" in the status bar and title, so nothing said which SNR was running."""
    from eegviz.messages import StreamInfo

    win = MainWindow(None)
    qtbot.addWidget(win)
    win.show()
    win.set_choice(SourceChoice("simulator", snr_db=-30.0))
    running = win.current_choice()
    win.on_session_started(StreamInfo("eegviz-sim", ["O1", "O2"], 250.0), label=running.label)
    win.controls.snr_control.spin.setValue(-20.0)  # for the next Start
    assert "simulator, class SNR -30 dB: eegviz-sim" in win.status_fields()
    assert win.windowTitle() == "eegviz: simulator, class SNR -30 dB"
    win.on_session_started(StreamInfo("eegviz-sim", ["O1", "O2"], 250.0), label=SourceChoice(
        "simulator", snr_db=-36.5).label)
    assert "-36.5 dB: eegviz-sim" in win.status_fields()  # the value survives the status bar's cut
    assert SourceChoice("simulator").label == "simulator, demo world"


def test_live_simulate_takes_the_class_snr_from_the_command_line(qtbot):
    """The live simulator's SNR could be set only in the window's box: `live --simulate --headless` could only
    simulate the demo world. --class-snr-db now starts the session at it and fills the box, whose range is the
    simulator's own (it stopped at +10 dB, so a +20 dB session would have restarted at +10)."""
    from eegviz.app.source_choice import initial_source
    from eegviz.cli import parse_args, session_settings

    for db in (-30.0, 20.0):
        args = parse_args(["live", "--simulate", f"--class-snr-db={db:g}"])
        choice = initial_source(session_settings(args).source)
        assert choice == SourceChoice("simulator", snr_db=db)
        win = MainWindow(None)
        qtbot.addWidget(win)
        win.set_choice(choice)
        assert win.current_choice() == choice  # Start after a stop runs the same SNR
    assert choice.make_source().sim.config.class_snr_db == 20.0
