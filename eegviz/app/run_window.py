"""run_window_session: the windowed `eegviz demo/replay/live`.

It puts the pieces together for one command line: the window (MainWindow, or KioskWindow with --kiosk), a
SessionController behind it, the initial session, --screenshot, --duration, Ctrl-C and the exit code. Kept
apart from the controller, which knows nothing of command lines or of which window it drives.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from PySide6.QtCore import QCoreApplication, QEvent, QTimer

from eegviz.app.kiosk import KioskWindow
from eegviz.app.session import SessionController
from eegviz.app.source_choice import SourceChoice
from eegviz.app.window import MainWindow

log = logging.getLogger(__name__)


def run_window_session(initial, args, title: str = "eegviz", restart_on_end: bool | None = None) -> int:
    """Run `eegviz demo|replay|live` with a window; returns the exit code.

    initial: the SourceChoice to start with (SourceChoice.from_cli_args(args)), or a callable returning a Source.
    args: the parsed command line; read with getattr, so any object with these attributes works: model,
    generator, out, kiosk, screenshot, duration (all optional), plus the generator options
    (GeneratorOptions.from_args). restart_on_end (None: args.restart_on_end if set, else kiosk without --screenshot/--duration) makes
    the session start again whenever it ends on its own.

    Returns 0; or 2 after printing "eegviz: error: <one line>" to stderr if the initial session failed (before
    it could start: the window closes at once; or later, unless another session was started successfully from
    the window afterwards). --screenshot saves the window 0.5 s after the first session ends, then quits.
    Ctrl-C quits the window and re-raises KeyboardInterrupt once the session is stopped.
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    kiosk = bool(getattr(args, "kiosk", False))
    screenshot = getattr(args, "screenshot", None)
    duration = getattr(args, "duration", None)
    model = getattr(args, "model", None)
    generator_name = getattr(args, "generator", None) or "embedded"
    out = getattr(args, "out", None)
    if restart_on_end is None:
        restart_on_end = getattr(args, "restart_on_end", None)
    if restart_on_end is None:
        restart_on_end = kiosk and not screenshot and not duration

    win = KioskWindow(None, title=title) if kiosk else MainWindow(None, title=title)
    ctl = SessionController(restart_on_end=bool(restart_on_end))
    if isinstance(initial, SourceChoice):
        win.set_choice(initial)
    win.set_model_dir(model or "")
    ctl.attach(win, generator_name=generator_name, generator_args=args, out_dir=out, duration=duration)

    state = {"first": None, "started": False, "error": None, "shot": False, "interrupted": False}

    def on_started(_info) -> None:
        if ctl.session_id == state["first"]:
            state["started"] = True
        else:
            state["error"] = None  # a later session works: the initial failure no longer decides the exit code

    def on_error(msg: str) -> None:
        if ctl.session_id == state["first"]:
            state["error"] = msg
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

    ctl.started.connect(on_started)
    ctl.error.connect(on_error)
    ctl.session_ended.connect(on_ended)
    ctl.stopped.connect(on_stopped)

    old_handler, sig_timer = None, None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(*_):
            state["interrupted"] = True
            app.quit()

        old_handler = signal.signal(signal.SIGINT, on_sigint)
        sig_timer = QTimer()
        sig_timer.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
        sig_timer.start(200)

    if kiosk:
        win.show_kiosk()
    else:
        win.resize(1280, 860)
        win.show()
    state["first"] = ctl.start(initial, model, generator_name=generator_name, out_dir=out, duration=duration,
                               generator_args=args)
    try:
        app.exec()
    finally:
        if not ctl.shutdown(timeout=5.0):
            log.warning("the session did not stop within 5 s; leaving it behind")
        if sig_timer is not None:
            sig_timer.stop()
            signal.signal(signal.SIGINT, old_handler)
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
