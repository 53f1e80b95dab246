"""The LSL side every recorder backend shares: the confinement check, choosing the streams, Ctrl-C while stopping.

Both backends (eegviz's own writer in eegviz.record.lsl_recorder and LabRecorderCLI in
eegviz.record.labrecorder) run these first, so neither can reach liblsl without an lsl_api.cfg on record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from eegviz.channel_formats import lsl_format_name
from eegviz.errors import EegvizError

log = logging.getLogger(__name__)


def lsl_config() -> Path:
    """The lsl_api.cfg liblsl will read (LSLAPICFG); EegvizError if none is set or the file is missing.

    liblsl silently falls back to its defaults (discovery across the site) when LSLAPICFG names no file, so
    the file is checked here, before any LSL call of this module or LabRecorderCLI's.
    """
    cfg = os.environ.get("LSLAPICFG")
    if not cfg:
        raise EegvizError("LSLAPICFG is not set: point it at an lsl_api.cfg (eegviz's lsl_api.cfg confines LSL "
                          "to this machine) before recording")
    path = Path(cfg).expanduser()
    if not path.is_file():
        raise EegvizError(f"LSLAPICFG names {cfg}, which is not a file; liblsl would ignore it")
    return path


def find_streams(names: Sequence[str] | None = None, wait_s: float = 2.0, timeout_s: float = 10.0) -> list:
    """The pylsl StreamInfos to record: every stream seen within wait_s, or exactly the named ones.

    Named streams are waited for up to timeout_s (an amplifier's outlet may come up a moment after the
    recorder is started); one that never shows is an error naming what was found instead. A name that
    two streams share is recorded twice, as LabRecorder would, with a warning.
    """
    lsl_config()
    import pylsl

    wanted = [n for n in (names or []) if n]
    deadline = time.monotonic() + max(timeout_s, wait_s)
    while True:
        found = {s.uid(): s for s in pylsl.resolve_streams(wait_s)}
        infos = sorted(found.values(), key=lambda s: (s.name(), s.source_id(), s.uid()))
        if wanted:
            missing = [n for n in wanted if not any(s.name() == n for s in infos)]
            if not missing:
                chosen = [s for s in infos if s.name() in wanted]
                for n in wanted:
                    if sum(s.name() == n for s in chosen) > 1:
                        log.warning("%d LSL streams are named '%s'; recording all of them",
                                    sum(s.name() == n for s in chosen), n)
                return chosen
        elif infos:
            return infos
        if time.monotonic() >= deadline:
            seen = ", ".join(f"'{s.name()}'" for s in infos) or "none"
            if wanted:
                raise EegvizError(f"no LSL stream named {', '.join(repr(n) for n in missing)} on this machine "
                                  f"(streams seen: {seen})")
            raise EegvizError("no LSL streams on this machine to record (start the amplifier's outlet, "
                              "`eegviz simulate --stream` or `eegviz present` first)")
        wait_s = 1.0


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
    """Ctrl-C and SIGTERM are ignored (with a note on stderr) inside: a second stop request while stopping must
    not cost the footers."""
    def note(signum, frame):  # noqa: ARG001 - signal handler signature
        print("eegviz: already stopping; writing the footers first", file=sys.stderr, flush=True)

    return _signal_handlers({signal.SIGINT: note, signal.SIGTERM: note})


def sigterm_as_ctrl_c():
    """Inside, SIGTERM (`kill PID`: what scripts and process managers send) stops a recording as Ctrl-C does,
    footers and all. It matters beyond politeness: a recorder a script starts in the background (`&`) inherits
    SIGINT *ignored* (POSIX shells do that to background jobs without job control), so SIGTERM is the one
    signal that script can stop it with."""
    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    return _signal_handlers({signal.SIGTERM: stop})


def describe(info) -> str:
    return (f"'{info.name()}' ({info.type() or 'no type'}, {info.channel_count()} ch, "
            f"{info.nominal_srate():g} Hz, {lsl_format_name(info.channel_format(), '?')})")
