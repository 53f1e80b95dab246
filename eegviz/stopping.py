"""How a session or a recording is stopped from outside, and kept from being stopped twice.

Ctrl-C (SIGINT) and `kill PID` (SIGTERM) both end a headless session or `eegviz record` with everything closed:
SIGTERM is turned into the KeyboardInterrupt Ctrl-C raises (sigterm_as_ctrl_c), and while the files are being
closed a second request is said to wait instead of being obeyed (stop_deferred). Kept apart from what they stop:
the recorders, the pipeline and the command line use them alike. A Qt event loop cannot be stopped by raising:
the window installs its own handlers, which quit its event loop, and `eegviz present` uses signals_call.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading


@contextlib.contextmanager
def _signal_handlers(handlers: dict):
    """{signal: handler} installed inside the block, the old handlers restored after it. Only the main thread can
    set a signal handler; elsewhere (a recorder run from a thread) this does nothing."""
    old: dict = {}
    if threading.current_thread() is threading.main_thread():
        for sig, handler in handlers.items():
            try:
                old[sig] = signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def stop_deferred():
    """Inside, Ctrl-C and SIGTERM are said to wait (a note on stderr): a second stop request while stopping must
    not cost the footers or the report. A third is obeyed (KeyboardInterrupt), for a close that hangs: the user
    was told what it costs."""
    asked: list[int] = []

    def note(signum, frame):  # noqa: ARG001 - signal handler signature
        if asked:
            print("eegviz: abandoning the files' closing; they may be incomplete", file=sys.stderr, flush=True)
            raise KeyboardInterrupt
        asked.append(signum)
        print("eegviz: already stopping; closing the files first (once more to abandon them)", file=sys.stderr,
              flush=True)

    handlers = {signal.SIGINT: note, signal.SIGTERM: note}
    if callable(signal.getsignal(signal.SIGHUP)):  # made a stop request (sigterm_as_ctrl_c(hangup=True)): deferred too
        handlers[signal.SIGHUP] = note
    return _signal_handlers(handlers)


def sigterm_as_ctrl_c(hangup: bool = False):
    """Inside, SIGTERM (`kill PID`: what scripts and process managers send) stops a recording as Ctrl-C does,
    footers and all. It matters beyond politeness: a recorder a script starts in the background (`&`) inherits
    SIGINT *ignored* (POSIX shells do that to background jobs without job control), so SIGTERM is the one
    signal that script can stop it with.

    With hangup, SIGHUP too (the terminal window closed, the ssh connection lost), unless it is ignored (nohup
    keeps it so): left to its default it ended `eegviz record` on the spot, without footers, and LabRecorderCLI,
    the pipe it writes its output to gone, died with it, without footers or clock offsets."""
    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        _asked.set()
        raise KeyboardInterrupt

    handlers = {signal.SIGTERM: stop}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # Ctrl-C as Python has it, remembered too
        handlers[signal.SIGINT] = stop
    if hangup and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        handlers[signal.SIGHUP] = stop
    return _asking(_signal_handlers(handlers))


_asked = threading.Event()  # a stop request came inside sigterm_as_ctrl_c (set before its KeyboardInterrupt)


@contextlib.contextmanager
def _asking(handlers):
    _asked.clear()
    try:
        with handlers:
            yield
    finally:
        _asked.clear()


def stop_asked() -> bool:
    """Whether a stop request (SIGTERM, Ctrl-C, SIGHUP where asked for) came inside sigterm_as_ctrl_c. Its
    KeyboardInterrupt is raised in whatever Python code the main thread runs at that moment, and where that is a
    weakref callback or a __del__ (torch frees its compiled graphs' guards so, mid-session) Python prints
    "Exception ignored in ..." and goes on: `kill PID` was lost, a headless session ran to its end (a live one
    until systemd's SIGKILL, without footers or report). A loop that waits in the main thread asks this too."""
    return _asked.is_set()


def signals_call(callback):
    """Inside, Ctrl-C (SIGINT) and SIGTERM call callback(signum) instead of raising KeyboardInterrupt or ending the
    process: for code running a Qt event loop. There, the KeyboardInterrupt of Python's default handler is raised
    inside whatever slot runs next; PySide prints its traceback and swallows it, and a timer that slot should have
    re-armed never fires again (`eegviz present` froze full screen that way, deaf to a second Ctrl-C), while
    SIGTERM's default ends the process before any file is closed.

    The callback runs in the main thread between two Python bytecodes, possibly in the middle of a slot, so it
    should only ask for the stop (QTimer.singleShot(0, ...)), not do it. Python runs handlers only when the
    interpreter gets control: the caller keeps a short no-op QTimer running while Qt waits."""
    def call(signum, frame):  # noqa: ARG001 - signal handler signature
        callback(signum)

    return _signal_handlers({signal.SIGINT: call, signal.SIGTERM: call})
