"""WindowBridge: the one way pipeline threads reach the window (only the current session's events).

Pipeline stages run on their own threads and must never touch widgets. They emit on a WindowBridge instead; its
signals are connected to the window's slots with the default AutoConnection, which becomes a queued connection
when the emitter runs on another thread, so every widget update happens on the GUI thread. It is its own module
because both ends use it (SessionController emits, the windows connect) and neither should import the other.
The controller's own worker signals (session.py's _WorkerSignals) carry a session number as well; it
relays only the current session's onto this bridge, so a window never has to know about session numbers.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class WindowBridge(QObject):
    """Thread-safe hand-off from pipeline threads to the window: emit from any thread, slots run on the GUI thread."""

    chunk = Signal(object)  # Chunk
    marker = Signal(object)  # Marker
    reconstruction = Signal(object, object)  # Reconstruction, stimulus (H, W, 3) uint8 or None
    status = Signal(object)  # dict of extra status fields
    finished = Signal()
