"""Whether a window can be opened here at all, asked before Qt is: Qt's answer is to abort the interpreter.

On Linux, Qt's default platform (xcb or wayland) needs a display server. Without one (an SSH session without X
forwarding, a systemd service, a container) creating the QApplication prints Qt's multi-line "could not load the Qt
platform plugin" text and aborts the process (exit 134, a core dump): no eegviz error, and after the model had
loaded. This module imports no Qt, so the command line can ask before anything slow runs.
"""

from __future__ import annotations

import os
import sys

from eegviz.errors import EegvizError


def check_display(what: str, instead: str) -> None:
    """Refuse, in one line, to open `what` where no display is set: Linux, QT_QPA_PLATFORM not chosen, and neither
    DISPLAY (X11) nor WAYLAND_DISPLAY set. `instead` says what the user can do rather than open it.

    Only the variables are read: a DISPLAY that names a server that is gone still reaches Qt, which then aborts
    as before; a chosen QT_QPA_PLATFORM (offscreen for --screenshot, eglfs or linuxfb for a kiosk on the console
    without X) is left to Qt. macOS and Windows desktops always have a display."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise EegvizError(f"no display to open {what} on (neither DISPLAY nor WAYLAND_DISPLAY is set: an SSH session "
                      f"without X forwarding, a service); {instead}")
