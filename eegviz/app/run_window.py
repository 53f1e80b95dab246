"""run_window_session: the windowed `eegviz demo/replay/live`.

It puts the pieces together for one command line's SessionSettings: the window (MainWindow, or KioskWindow
with --kiosk), a SessionController behind it, the initial session, --screenshot, --duration, Ctrl-C and the
exit code. Kept
apart from the controller, which knows nothing of command lines or of which window it drives.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading

from PySide6.QtCore import QCoreApplication, QEvent, QTimer

from eegviz.app.kiosk import KioskWindow
from eegviz.app.session import SessionController
from eegviz.app.source_choice import SourceChoice
from eegviz.app.window import MainWindow
from eegviz.settings import SessionSettings
from eegviz.stopping import signals_call

log = logging.getLogger(__name__)

GIL_SWITCH_S = 0.001  # see run_window_session
# How long closing the window waits for the session to end: its last image (seconds on CPU for a real SD model)
# and then its files' closing (footers, report). Only a session stuck longer than this is left behind unclosed.
SHUTDOWN_WAIT_S = 60.0
SHUTDOWN_SAY_S = 1.0  # a session still running this long after the window closed is said to be waited for


def disk_use_note(info, speed: float = 1.0) -> str:
    """What a recording kiosk's folder grows by, from its EEG stream as opened (said at its first start: the note
    at the command's start, eegviz.cli, gives the demo's figures only; `live --kiosk` was quoted the demo's loop).
    speed: a replay's --speed (more than 0: the recording's seconds run that much faster; 0, as fast as it can)."""
    from eegviz.record.xdf_writer import eeg_bytes_per_second, kept_format

    per_s, fmt = eeg_bytes_per_second(info), kept_format(info)
    what = f"'{info.name}' ({info.n_channels} channels at {info.sfreq:g} Hz, {fmt})"
    if speed > 0:
        rate = f"about {_size(per_s * speed * 86400)} a day"
    else:
        rate = f"about {_size(per_s * 86400)} per day of recording replayed (--speed 0: as fast as it can)"
    return f"{what} grows this kiosk's session.xdf by {rate}, beside three PNGs a marker; watch the disk"


def _size(n_bytes: float) -> str:
    """'1.5 GB', '11 GB', '354 MB': whole units from 10 up, two significant figures below (enough to plan a disk
    by)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2g} {unit}" if n_bytes < 10 * scale else f"{n_bytes / scale:.0f} {unit}"
    return f"{n_bytes:.0f} bytes"


def run_window_session(initial, settings: SessionSettings) -> int:
    """Run `eegviz demo|replay|live` with a window; returns the exit code.

    initial: the SourceChoice to start with (source_choice.initial_source), or a callable returning a Source.
    settings: the session's SessionSettings; with display.kiosk the kiosk layout, and settings.restarts_on_end
    makes the session start again whenever it ends on its own.

    Returns 0; or 2 after printing "eegviz: error: <one line>" to stderr if the initial session failed (before
    it could start: the window closes at once, except a restarting kiosk's whose source is not there yet, which
    waits for it; or later, unless another session was started successfully from the window afterwards).
    output.screenshot saves the window 0.5 s after the first session ends, then quits; a kiosk that does not
    restart (--duration) quits when its session ends.
    Ctrl-C or SIGTERM quits the window and raises KeyboardInterrupt once the session is stopped (its
    summary printed).
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # The inference thread runs hundreds of small torch ops per image, each taking the GIL back from the GUI
    # thread's pyqtgraph code; at Python's default 5 ms switch interval each hand-over can wait that long.
    # 1 ms took the offscreen demo's generate() p50 from 212 to 74 ms together with the 10 Hz traces
    # (eegviz/app/traces.py); the GUI does not notice.
    sys.setswitchinterval(GIL_SWITCH_S)
    kiosk, screenshot, title = settings.display.kiosk, settings.output.screenshot, settings.display.title
    win = KioskWindow(None, title=title) if kiosk else MainWindow(None, title=title)
    ctl = SessionController(restart_on_end=settings.restarts_on_end)
    if isinstance(initial, SourceChoice):
        win.set_choice(initial)
    win.set_model_dir(settings.model.path or "")
    ctl.attach(win, settings)

    state = {"first": None, "started": False, "error": None, "shot": False, "interrupted": False,
             "told_disk": False}

    def on_started(info) -> None:
        if ctl.session_id == state["first"]:
            state["started"] = True
        else:
            state["error"] = None  # a later session works: the initial failure no longer decides the exit code
        if (not state["told_disk"] and settings.restarts_on_end and settings.output.folder
                and settings.source.command != "demo"):
            state["told_disk"] = True  # once, at the first session that opens its stream (an amplifier on later)
            print(f"eegviz: note: {disk_use_note(info, settings.source.speed)}", file=sys.stderr, flush=True)

    def on_error(msg: str) -> None:
        if ctl.session_id == state["first"]:
            state["error"] = msg
            if not state["started"] and settings.restarts_on_end and ctl.source_missing:
                # A kiosk started at boot, before its amplifier is switched on: it quit with "no LSL stream named
                # ... found", leaving the desktop on the exhibition screen. It waits for the source as it does
                # for one lost later (the controller tries again, "waiting for signal" on screen), and says so
                # once here; a first failure that cannot mend itself (a wrong --model) still ends it at once.
                print(f"eegviz: {msg}; the kiosk waits for it and tries again until it is there",
                      file=sys.stderr, flush=True)
                return
            if not state["started"]:
                QTimer.singleShot(0, app.quit)  # never got going: leave like any other command-line error
                return
        log.warning("session error: %s", msg)

    def on_ended(stats) -> None:
        if stats is not None and (stats.markers or stats.results):
            print(stats.summary(), flush=True)

    def on_stopped(_reason: str) -> None:
        if screenshot and not state["shot"] and not (state["error"] and not state["started"]):
            state["shot"] = True

            def shoot() -> None:
                if not win.save_screenshot(screenshot):
                    log.warning("could not save the screenshot to %s", screenshot)
                app.quit()

            QTimer.singleShot(500, shoot)
        elif kiosk and not settings.restarts_on_end:
            # a kiosk told when to stop (--duration) has no controls and will not start again: it used to stay
            # full screen under "waiting for signal" and never exit, until killed
            QTimer.singleShot(0, app.quit)

    ctl.started.connect(on_started)
    ctl.error.connect(on_error)
    ctl.session_ended.connect(on_ended)
    ctl.stopped.connect(on_stopped)

    handlers, sig_timer = contextlib.ExitStack(), None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(_signum: int) -> None:
            if state["interrupted"]:  # again, while the session closes: its files come first
                print("eegviz: already stopping; closing the session's files first", file=sys.stderr, flush=True)
                return
            state["interrupted"] = True
            app.quit()

        # SIGTERM too: it is what systemd, a process manager or `kill PID` stops a kiosk with, and left to its
        # default it ended the process at once, session.xdf without footers and the last marker without its line.
        # The same handling as the presenter's (eegviz.stopping.signals_call), restored in the finally below.
        handlers.enter_context(signals_call(on_sigint))
        sig_timer = QTimer()
        sig_timer.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
        sig_timer.start(200)

    if kiosk:
        win.show_kiosk()
    else:
        room = win.screen().availableGeometry()  # never larger than the screen (a 1280 x 720 projector)
        win.fit_to(min(1280, room.width()), min(860, room.height()))
        win.show()
    state["first"] = ctl.start(initial, settings)
    try:
        app.exec()
    finally:
        # A window closed while a model loads (tens of seconds for a diffusers model) left the terminal silent
        # until it had loaded, as if eegviz had hung: the wait is said when it is more than a moment.
        if not ctl.shutdown(timeout=SHUTDOWN_SAY_S):
            print("eegviz: stopping; waiting for the session to end (a model still loading, or the last image and "
                  "the session's files)", file=sys.stderr, flush=True)
        if not ctl.shutdown(timeout=SHUTDOWN_WAIT_S):
            log.warning("the session did not stop within %g s; leaving it behind", SHUTDOWN_WAIT_S)
        else:
            # the session's end reaches the controller as a queued signal, which only an event loop delivers:
            # without this, a Ctrl-C or SIGTERM ended without the summary line that says where the files are.
            # That signal alone: processing every pending event here would also run the Quit that app.quit()
            # left, and end whatever event loop runs next in this process.
            QCoreApplication.sendPostedEvents(ctl, QEvent.Type.MetaCall)
        if sig_timer is not None:
            sig_timer.stop()
        handlers.close()
        win.close()
        win.deleteLater()
        # Quitting closes the window, and its "last window closed" posts one more Quit; left in the queue it
        # would end whatever event loop runs next in this process (a second window, a test's wait).
        QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
    if state["interrupted"]:
        raise KeyboardInterrupt
    if state["error"]:
        print(f"eegviz: error: {state['error']}", file=sys.stderr)
        return 2
    return 0
