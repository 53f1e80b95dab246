"""The LSL side every recorder backend shares: the confinement check and choosing the streams.

Both backends (eegviz's own writer in eegviz.record.lsl_recorder and LabRecorderCLI in
eegviz.record.labrecorder) run these first, so neither can reach liblsl without an lsl_api.cfg on record.
"""

from __future__ import annotations

import logging
import os
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
    """The pylsl StreamInfos to record: every stream the first look that finds any sees (each look wait_s), or
    exactly the named ones.

    Streams, named or not, are waited for up to timeout_s (an amplifier's outlet may come up a moment after the
    recorder is started); a named one that never shows is an error naming what was found instead. A name that
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


def describe(info) -> str:
    return (f"'{info.name()}' ({info.type() or 'no type'}, {info.channel_count()} ch, "
            f"{info.nominal_srate():g} Hz, {lsl_format_name(info.channel_format(), '?')})")
