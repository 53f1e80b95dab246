"""The LSL side every recorder backend shares: the confinement check and choosing the streams.

Both backends (eegviz's own writer in eegviz.record.lsl_recorder and LabRecorderCLI in
eegviz.record.labrecorder) run these first, so neither can reach liblsl without an lsl_api.cfg on record.
"""

from __future__ import annotations

import logging
import os
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


def carries_signal(info) -> bool:
    """A stream of numeric samples at a regular rate: what an amplifier sends (EEG, or ExG under another type
    name). A marker stream (strings, or an irregular rate) is not one, however it is named."""
    return info.nominal_srate() > 0 and lsl_format_name(info.channel_format(), "?") not in ("string", "?")


def find_streams(names: Sequence[str] | None = None, wait_s: float = 2.0, timeout_s: float = 10.0) -> list:
    """The pylsl StreamInfos to record: every stream on this machine once one carrying a signal is among them (each
    look wait_s), or exactly the named ones.

    Streams, named or not, are waited for up to timeout_s (an amplifier's outlet may come up a moment after the
    recorder is started); a named one that never shows is an error naming what was found instead. A name that
    two streams share is recorded twice, as LabRecorder would, with a warning.

    A calibration session cannot be repeated, and a recording without EEG cannot be trained on - which used to
    show only at training time, after the session: `eegviz present` starts its run as soon as a recorder
    connects, so a recorder that took only the presenter's markers (the amplifier not streaming yet) let the
    whole session run unrecorded, exit 0. So, found automatically: streams without one carrying a signal
    (carries_signal) are waited on until timeout_s, then refused in one line, before any inlet is opened - the
    presenter is still waiting for a recorder then, and nothing is lost. Named with --streams: the user chose
    them (the EEG may be recorded by the amplifier's own software), so they are recorded, with a warning saying
    the file will hold no EEG.
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
                if not any(carries_signal(s) for s in chosen):
                    log.warning("recording NO EEG: none of the streams named (%s) carries numeric samples at a "
                                "regular rate, so this recording holds markers only and cannot be trained on unless "
                                "the EEG is recorded elsewhere; if the amplifier is not streaming yet, stop now "
                                "(Ctrl-C), start it, and record again with its stream named too",
                                ", ".join(describe(s) for s in chosen))
                return _said_without_markers(chosen)
        elif any(carries_signal(s) for s in infos):
            return _said_without_markers(infos)
        if time.monotonic() >= deadline:
            seen = ", ".join(f"'{s.name()}'" for s in infos) or "none"
            if wanted:
                raise EegvizError(f"no LSL stream named {', '.join(repr(n) for n in missing)} on this machine "
                                  f"(streams seen: {seen})")
            if infos:
                raise EegvizError(f"no EEG to record: none of the LSL streams on this machine carries numeric "
                                  f"samples at a regular rate ({', '.join(describe(s) for s in infos)}); start the "
                                  f"amplifier's outlet (or `eegviz simulate --stream`) before recording, or name "
                                  f"the streams with --streams to record them without EEG")
            raise EegvizError("no LSL streams on this machine to record (start the amplifier's outlet, "
                              "`eegviz simulate --stream` or `eegviz present` first)")
        wait_s = 1.0


def _said_without_markers(infos: list) -> list:
    """infos, with a warning when none of them is a marker stream.

    Training epochs the EEG at the stimulus markers, so a recording of the EEG alone cannot be trained on. It
    used to start without a word: the amplifier streaming, the stimulus program not yet (a marker sender started
    later is only said when it appears, not recorded). Not refused: the markers may be recorded elsewhere, or
    this may be a resting recording."""
    if all(carries_signal(s) for s in infos):
        log.warning("recording NO markers: none of the streams (%s) is a marker stream, so this recording has no "
                    "stimulus onsets and cannot be trained on; if the stimulus program (`eegviz present`) is not "
                    "running yet, stop now (Ctrl-C), start it, and record again", ", ".join(describe(s) for s in infos))
    return infos


class StreamsGone(EegvizError):
    """Streams find_streams chose that no longer answered when the recorder opened them (an amplifier app or a
    stimulus script closed in the moment between): `gone` says which, so record() can go on without them."""

    def __init__(self, gone: Sequence, message: str) -> None:
        super().__init__(message)
        self.gone = list(gone)


def without_gone(infos: Sequence, gone: Sequence) -> list:
    """The streams of `infos` still there, with one warning naming those gone; EegvizError if no stream carrying a
    signal is left.

    Found automatically (no --streams), every stream on the machine is recorded because it is there: one that
    closed between discovery and opening is no reason to refuse the others (the whole recording used to be
    refused for it). Without EEG, though, there is nothing to train on (see find_streams), so that is refused.
    """
    gone_uids = {s.uid() for s in gone}
    left = [s for s in infos if s.uid() not in gone_uids]
    what = (f"LSL stream{'s' if len(gone) > 1 else ''} {', '.join(describe(s) for s in gone)} "
            f"{'were' if len(gone) > 1 else 'was'} found but had gone when the recording started")
    if not any(carries_signal(s) for s in left):
        raise EegvizError(f"no EEG to record: {what}; start the amplifier's outlet again, then `eegviz record`")
    log.warning("%s; recording the %d other stream%s without %s", what, len(left), "" if len(left) == 1 else "s",
                "them" if len(gone) > 1 else "it")
    return left


LATE_LOOK_S = 1.0  # LateStreams looks for streams this long at a time
GONE_LOOKS = 2  # a recorded stream missing from this many looks in a row has closed (one look can miss one)


class LateStreams:
    """Says, once each, which LSL streams appeared while a recording runs and are NOT in it.

    Both backends record the streams found when the recording started (LabRecorderCLI takes its streams once,
    by uid). A stimulus program started after the recorder, the usual order in a lab, had its markers left out
    without a word: the recording said "1 streams" at the end and the unrepeatable session had no markers. A
    stream that comes back as one already recorded (same name and a non-empty source_id, and fitting: liblsl's
    recovery resumes it in the same XDF stream) is not new; without a source_id liblsl cannot recover it. With
    --streams, only streams of those names are looked at.

    It also says when a recorded stream closes (the amplifier's app quit, a cable pulled on a wireless headset)
    and when it is back: liblsl's recovery waits for it without a word, and the recording went on with a gap
    in its EEG that only the sample count of the summary showed, if anyone did the arithmetic.
    """

    def __init__(self, recorded, names=None, look_s: float = LATE_LOOK_S) -> None:
        self.recorded = list(recorded)
        self.names = set(names or [])
        self.look_s = look_s
        self.told: list = []  # the streams said to be left out, in the order they appeared
        self._seen = {s.uid() for s in self.recorded}
        self.closed: list = []  # the recorded streams said to have closed during the recording (each once)
        self._missing: dict = {}  # uid of a recorded stream -> (looks in a row without it, time of the first)
        self._spans: dict = {}  # uid of a closed stream -> [closed at, back at or None] (s into the recording)
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="record-late-streams")

    def start(self) -> LateStreams:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends the watch without waiting for the look under way (the recording's stop must not wait on it)."""
        self._stop.set()

    @staticmethod
    def _resumes(recorded, info) -> bool:
        """liblsl's recovery resumes only a stream that has a source_id: a stimulus script's outlet made without
        one (pylsl's default, '') and restarted is a new stream to it, whose markers are lost; that is said."""
        from eegviz.sources.lsl_reconnect import misfit, same_stream

        return bool(recorded.source_id()) and same_stream(recorded, info) and misfit(recorded, info) is None

    def _resumes_recorded(self, info) -> bool:
        return any(self._resumes(r, info) for r in self.recorded)

    def _look_for_recorded(self, found) -> None:
        """Says a recorded stream missing from GONE_LOOKS looks in a row (closed), and the same stream back."""
        now = time.monotonic() - self._t0
        for r in self.recorded:
            there = any(i.uid() == r.uid() or self._resumes(r, i) for i in found)
            missed, since = self._missing.pop(r.uid(), (0, now))
            if there:
                if missed >= GONE_LOOKS:
                    self._spans[r.uid()][-1][1] = now
                    log.warning("LSL stream '%s' is back; recording it again", r.name())
                continue
            self._missing[r.uid()] = (missed + 1, since)
            if missed + 1 == GONE_LOOKS:
                self._spans.setdefault(r.uid(), []).append([since, None])  # before closed: closed_summary reads both
                if r not in self.closed:
                    self.closed.append(r)
                then = ("the recording goes on and takes it up again if it comes back" if r.source_id() else
                        "it has no source_id, so liblsl cannot take it up again")
                log.warning("LSL stream %s has closed; %s", describe(r), then)

    def closed_summary(self) -> str:
        """The streams that closed during the recording, each with when (about; as the looks saw it) and when it
        was back: the gap in the file, for the end of the recording, when the warnings have scrolled away."""
        def span(closed, back):
            return f"closed at about {closed:.0f} s" + ("" if back is None else f", back at about {back:.0f} s")

        return ", ".join(f"{describe(r)} ({'; '.join(span(*s) for s in self._spans[r.uid()])})" for r in self.closed)

    def _run(self) -> None:
        import pylsl

        while not self._stop.is_set():
            try:
                found = pylsl.resolve_streams(self.look_s)
            except Exception as e:  # noqa: BLE001 - the recording goes on; only this watch ends
                log.warning("no longer looking for LSL streams started during the recording: %s", e)
                return
            for info in sorted(found, key=lambda s: (s.name(), s.source_id(), s.uid())):
                if self._stop.is_set():  # the recording has ended: nothing more to say about it
                    return
                if info.uid() in self._seen or (self.names and info.name() not in self.names):
                    continue
                self._seen.add(info.uid())
                if self._resumes_recorded(info):
                    continue
                self.told.append(info)
                log.warning("LSL stream %s appeared after the recording started and is NOT being recorded; to "
                            "record it, stop (Ctrl-C) and start `eegviz record` again with every stream running",
                            describe(info))
            if not self._stop.is_set():
                self._look_for_recorded(found)
            self._stop.wait(0.2)


def describe(info) -> str:
    return (f"'{info.name()}' ({info.type() or 'no type'}, {info.channel_count()} ch, "
            f"{info.nominal_srate():g} Hz, {lsl_format_name(info.channel_format(), '?')})")
