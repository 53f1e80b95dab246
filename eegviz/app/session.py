"""Running sessions behind the window: one at a time, all the heavy work on a worker thread.

SessionController owns the running session. start() returns at once; a worker thread loads the decoder and
the generator (cached for the next session with the same model), opens the source, checks that it fits the
model, and runs the Pipeline. The pipeline's callbacks are relayed to the GUI thread through queued signals,
tagged with the session's number so that a late chunk of a session that is being replaced never reaches the
window. stop() only asks the worker to finish and returns; `stopped` is emitted when it has. Every failure,
EegvizError or not, ends as one line in `error` (followed by stopped("error")), never as a traceback dialog.

The sources it runs are SourceChoices (eegviz.app.source_choice) or any callable that returns a Source.

The windowed `eegviz demo/replay/live` that puts a controller behind a window is eegviz.app.run_window.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from eegviz.app.bridge import WindowBridge
from eegviz.app.session_window import SessionWindow
from eegviz.app.source_choice import SourceChoice
from eegviz.errors import EegvizError, SourceNotFound, os_error_line
from eegviz.errors import one_line as errors_one_line
from eegviz.messages import SkipKind
from eegviz.settings import SessionSettings

log = logging.getLogger(__name__)

MESSAGE_CHARS = 300  # an error longer than this is cut: it is one line in a window, not a log
# A --sink's notice (slow, an OSC target that cannot be reached) is said at most this often: each session says it
# once, and a kiosk that replays its recording starts a session every minute or so, which filled the notices list.
SINK_NOTICE_EVERY_S = 600.0


def one_line(exc: BaseException) -> str:
    """An exception as one line for the window: EegvizError as written, the machine's own refusal (a full disk)
    as the command line says it (errors.os_error_line: the reason and the file), anything else with its type in
    front (errors.one_line), cut to what a status line can show."""
    if isinstance(exc, EegvizError):
        text = " ".join(str(exc).split())
    elif _said_by_the_system(exc):
        text = " ".join(os_error_line(exc).split())
    else:
        text = errors_one_line(exc, MESSAGE_CHARS)
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _said_by_the_system(exc: BaseException) -> bool:
    """An OSError with an errno (no space left on the disk, a folder made read-only, a device gone): the state of
    the machine, not a bug of eegviz. The command line says it in one line (eegviz.cli); a window or kiosk whose
    disk filled logged "failed unexpectedly" with a traceback, every retry, which tells a user nothing more."""
    return isinstance(exc, OSError) and exc.errno is not None


# -- the controller ----------------------------------------------------------------------------------------------
class _WorkerSignals(QObject):
    """What the worker thread emits, every signal tagged with its session's number; the controller relays the
    current session's to the WindowBridge and drops a stale session's (the window never sees session numbers)."""

    chunk = Signal(int, object)
    marker = Signal(int, object)
    reconstruction = Signal(int, object, object)
    status = Signal(int, object)
    sink_notice = Signal(int, str, str)  # --sink spec, notice
    progress = Signal(int, str)
    warming_up = Signal(int)
    started = Signal(int, object)  # StreamInfo
    ended = Signal(int, str, str, object)  # reason, error message ("" if none), Stats or None


class _WindowSink:
    """Pipeline sink that hands results to the GUI thread, and counts the markers that got no image."""

    def __init__(self, signals: _WorkerSignals, sid: int):
        self.signals, self.sid = signals, sid
        self.skipped = self.nan = self.rejected = self.dropped = 0

    def on_result(self, rec, stimulus) -> None:
        self.signals.reconstruction.emit(self.sid, rec, stimulus)

    def on_skipped(self, marker, reason: str, kind: SkipKind) -> None:
        if kind is SkipKind.DROPPED:  # counted apart, as "drops" (SessionWindow._count_drops), not as skipped
            self.dropped += 1
            self.signals.status.emit(self.sid, {"drops": self.dropped})
            return
        self.skipped += 1
        self.nan += kind is SkipKind.NAN
        self.rejected += kind is SkipKind.REJECTED
        status = {"skipped": self.skipped, "last skipped": f"{marker.payload} ({reason})"}
        if self.nan:
            status["NaN epochs"] = self.nan
        if self.rejected:  # artefacts (--reject-uv): the person's (a blink), not the amplifier's, so counted apart
            status["rejected epochs"] = self.rejected
        self.signals.status.emit(self.sid, status)

    def close(self) -> None:
        pass


class _NoResults:
    """The results sink of a session that records nothing (_RecordingOptional)."""

    def on_result(self, rec, stimulus) -> None:
        pass

    def on_skipped(self, marker, reason: str, kind: SkipKind) -> None:
        pass

    def close(self) -> None:
        pass


class _RecordingOptional:
    """An unattended kiosk's session output (SessionOutput) whose claim may fail without ending the session.

    A kiosk is there to be watched; recording is a side task. On a full disk every claim failed (session.xdf's
    header cannot be written), each session ended with that error before its first image, and the kiosk
    retried every 30 s behind "waiting for signal": dark until someone freed the disk. Now a session whose
    folder cannot be claimed runs without recording, and says so (say(error)); what the claim made is taken
    back by SessionOutput.open as before, so no partial folder is left, and the next session tries again (a
    rotation that frees space resumes the recording). A window someone is at, or a kiosk told when to stop, keeps
    the error: there the recording is what was asked for."""

    def __init__(self, output, say: Callable[[BaseException], None]):
        self.output, self.say = output, say
        self.folder = None  # the claimed folder (Pipeline puts it in Stats.out_dir); None while nothing is recorded

    def open(self, info):
        try:
            opened = self.output.open(info)
        except EegvizError as e:  # every claim failure is one (SessionOutput.open), after taking back its files
            self.say(e)
            return None, _NoResults()
        self.folder = self.output.folder
        return opened


def _say_unrecorded(signals: _WorkerSignals, sid: int, error: BaseException) -> None:
    """The notice of a kiosk session that shows without recording (_RecordingOptional); said as a --sink's is, at
    most every SINK_NOTICE_EVERY_S (each loop of a kiosk on a full disk says it), the log having every one."""
    text = f"not recording this session ({one_line(error)}); the kiosk goes on showing and tries again next session"
    log.warning("%s", text)
    signals.sink_notice.emit(sid, "--out", text)


@dataclass
class _Session:
    sid: int
    factory: Callable[[], object]
    label: str
    settings: SessionSettings  # model, generator, output folder, sinks, montage, duration
    paced: bool

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.pipe = None
        self.thread: threading.Thread | None = None
        self.model_dir = None  # the resolved model folder, once loaded
        self.choice: dict | None = None  # the window's SourceChoice, for session.json (settings.source is not read)
        self.source_missing = False  # it failed for want of its source (SourceNotFound): see SessionController


class SessionController(QObject):
    """Owns one running session at a time; see the module docstring.

    Signals (all emitted on the GUI thread): started(StreamInfo) once the source is open and fits the model;
    error(str) with one line when a session fails (then stopped("error")); stopped(reason) when the worker has
    ended, reason "stopped" (stop() was called), "finished" (a replay reached its end), "duration" (the session's
    duration ran out) or "error"; state_changed("idle" | "starting" | "running" | "stopping"); message(str)
    progress for the window ("loading model…"); warming_up() when the session's source is open and its generator
    warms up (its first image: a minute for a diffusers pipeline on CPU); session_ended(Stats | None) after each
    session.

    restart_on_end: when a session finishes or fails on its own (not by stop()), start it again after
    restart_delay_s (doubling after each consecutive failure, up to 30 s): an unattended kiosk replays its
    recording from the beginning, and retries a lost live source until it is back.
    """

    started = Signal(object)
    stopped = Signal(str)
    error = Signal(str)
    state_changed = Signal(str)
    message = Signal(str)
    warming_up = Signal()
    session_ended = Signal(object)

    MAX_RESTART_DELAY_S = 30.0

    def __init__(self, bridge: WindowBridge | None = None, restart_on_end: bool = False, restart_delay_s: float = 2.0,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge or WindowBridge()
        self.restart_on_end = restart_on_end
        self.restart_delay_s = restart_delay_s
        self.state = "idle"
        self.session_id = 0  # the session the signals are about (the latest one started)
        self.current_label = ""
        self.current_images_dir: str | None = None  # the current session's --images-dir
        self.last_stats = None
        # the last session that ended failed for want of its source (SourceNotFound: no LSL stream of that name yet),
        # set before `error` is emitted, so a kiosk's first failure can be told from one that will not mend itself
        self.source_missing = False
        self._sid = 0
        self._active: _Session | None = None  # the session whose worker is alive
        self._pending: _Session | None = None  # started while another was still stopping: runs next
        self._last: _Session | None = None  # for restarts
        self._failures = 0
        self._models: tuple[tuple, object, object] | None = None  # (key, decoder, generator); one worker at a time

        self._signals = _WorkerSignals(self)
        self._signals.chunk.connect(self._on_chunk)
        self._signals.marker.connect(self._on_marker)
        self._signals.reconstruction.connect(self._on_reconstruction)
        self._signals.status.connect(self._on_status)
        self._signals.sink_notice.connect(self._on_sink_notice)
        self._sink_said: dict[tuple[str, str], float] = {}  # (spec, notice) -> time.monotonic() it was said
        self._signals.progress.connect(self._on_progress)
        self._signals.warming_up.connect(self._on_warming_up)
        self._signals.started.connect(self._on_started)
        self._signals.ended.connect(self._on_ended)

        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.timeout.connect(self.restart)

    # -- control -------------------------------------------------------------------------------------------------
    def start(self, source_factory, settings: SessionSettings | None = None, paced: bool | None = None,
              label: str | None = None) -> int:
        """Start a session; returns its number at once. A running session is stopped first (the new one waits).

        source_factory: a SourceChoice, or any callable returning a Source that is not started yet. It is
        called on the worker thread. settings (default: SessionSettings()) gives the model and generator, the
        output folder, the sinks, the montage and the duration; its source part is not read here, the factory
        is the source. paced defaults to the choice's (True for a plain callable). An output folder that
        already holds anything (an earlier session's results) gets a numbered sub-folder instead
        (session-002, ...), so nothing is overwritten.
        """
        if isinstance(source_factory, SourceChoice):
            choice = source_factory
            factory, paced = choice.make_source, choice.paced if paced is None else paced
            label = label or choice.label
        elif callable(source_factory):
            factory, paced = source_factory, True if paced is None else paced
            label = label or getattr(source_factory, "__name__", "source")
        else:
            raise TypeError("start() needs a SourceChoice or a callable that returns a Source")
        self._restart_timer.stop()
        self._sid += 1
        sess = _Session(self._sid, factory, label, settings or SessionSettings(), bool(paced))
        if isinstance(source_factory, SourceChoice):
            from dataclasses import asdict

            sess.choice = {"label": label, **asdict(source_factory)}
        return self._submit(sess)

    def restart(self) -> int | None:
        """Start the last session again (a replay from its beginning); None if nothing was started yet."""
        last = self._last
        if last is None:
            return None
        self._restart_timer.stop()
        self._sid += 1
        sess = _Session(self._sid, last.factory, last.label, last.settings, last.paced)
        sess.choice = last.choice
        return self._submit(sess)

    def _submit(self, sess: _Session) -> int:
        self._last = sess
        if self._active is not None:  # one worker at a time: the new session waits for the old one to end
            self._pending = sess
            self._request_stop(self._active)
        else:
            self._launch(sess)
        return sess.sid

    def stop(self) -> None:
        """Ask the running session to stop and return at once; `stopped` follows when the worker has ended."""
        self._restart_timer.stop()
        self._pending = None
        if self._active is not None:
            self._request_stop(self._active)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop and wait (blocking, up to timeout) for the worker: for application exit. True if it ended."""
        self.stop()
        sess = self._active
        if sess is None or sess.thread is None:
            return True
        sess.thread.join(timeout)
        return not sess.thread.is_alive()

    def attach(self, window: SessionWindow, settings: SessionSettings | None = None) -> None:
        """Wire a window (MainWindow or KioskWindow): bridge, state, messages, errors, and its Start/Stop controls.
        A session started from the window's controls runs with `settings` and the model the controls name."""
        settings = settings or SessionSettings()
        window.connect_bridge(self.bridge)
        self.state_changed.connect(window.set_session_state)
        self.message.connect(window.show_message)

        def session_started(info) -> None:
            window.set_images_dir(self.current_images_dir)  # the stimulus panel says why an image is not known
            window.on_session_started(info, self.current_label)

        self.started.connect(session_started)
        self.warming_up.connect(window.on_session_warming_up)
        self.error.connect(window.on_session_error)
        self.stopped.connect(window.on_session_stopped)
        self.session_ended.connect(window.on_session_ended)

        def start_from_window(choice, model: str) -> None:
            if choice is None:
                return
            self.start(choice, settings.with_model_path(model or None))

        window.start_requested.connect(start_from_window)
        window.stop_requested.connect(self.stop)
        window.set_session_state(self.state)

    # -- internals -----------------------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _request_stop(self, sess: _Session) -> None:
        sess.stop.set()
        with sess.lock:
            if sess.pipe is not None:
                sess.pipe.stop()
        self._set_state("stopping")

    def _launch(self, sess: _Session) -> None:
        self._active = sess
        self.session_id = sess.sid
        self.current_label = sess.label
        self.current_images_dir = sess.settings.images_dir
        self._set_state("starting")
        self.message.emit(f"starting: {sess.label} (loading the model…)")
        sess.thread = threading.Thread(target=self._work, args=(sess,), name=f"eegviz-session-{sess.sid}", daemon=True)
        sess.thread.start()

    def _load_models(self, sess: _Session):
        """Decoder and generator for the session, reused from the previous session when the model and the
        generator settings are the same."""
        from eegviz.headless import build_models
        from eegviz.model_sources import resolve_model_dir

        model = sess.settings.model
        model_dir = resolve_model_dir(model.path)  # a Hub id may mean a download: on this worker thread
        sess.model_dir = model_dir  # named in the session folder's session.json
        key = (str(model_dir.resolve()), model.generator)
        if self._models is not None and self._models[0] == key:
            return self._models[1], self._models[2]
        self._models = None
        decoder, generator = build_models(model_dir, model.generator)
        self._models = (key, decoder, generator)
        return decoder, generator

    def _work(self, sess: _Session) -> None:
        """The worker thread: load the model, then let the Pipeline open and check the source (before the
        warm-up where the source can: Source.open()), warm up, start it, claim the output folder and run.
        Always ends by emitting `ended` exactly once."""
        from eegviz.headless import pipeline_options
        from eegviz.pipeline import Pipeline
        from eegviz.record.session_folder import SessionOutput
        from eegviz.sinks import close_sinks, make_sinks

        signals, sid, settings = self._signals, sess.sid, sess.settings
        reason, message, stats = "stopped", "", None
        pipe = None
        try:
            where = settings.model.path or "the default model"
            signals.progress.emit(sid, f"starting: {sess.label} (loading the model from {where}…)")
            decoder, generator = self._load_models(sess)
            if sess.stop.is_set():
                return
            signals.progress.emit(sid, f"starting: opening {sess.label}…")
            output = None
            if settings.output.folder:
                chosen = sess.choice if sess.choice is not None else {"label": sess.label}
                try:
                    output = SessionOutput(settings.output.folder, settings, source=chosen)
                except EegvizError as e:  # --out is no longer writable (a full disk: nothing can be created)
                    if not self.restart_on_end:
                        raise
                    _say_unrecorded(signals, sid, e)
                else:
                    output.set_model(sess.model_dir)  # its digest taken now, before the source opens
                    output.set_generator(generator)  # what it draws with, where the options leave it to the model
                    if self.restart_on_end:
                        output = _RecordingOptional(output, lambda e: _say_unrecorded(signals, sid, e))
            source = sess.factory()
            sinks = make_sinks(settings.output.sinks)
            try:
                for s in sinks:  # their notices in the window too, not in the log alone (eegviz.sinks)
                    s.set_notice(lambda text, spec=s.spec: signals.sink_notice.emit(sid, spec, text))
                pipe = Pipeline(source, decoder, generator, sinks + [_WindowSink(signals, sid)], output=output,
                                paced=sess.paced, on_chunk=lambda c: signals.chunk.emit(sid, c),
                                on_marker=lambda m: signals.marker.emit(sid, m),
                                on_started=lambda info: signals.started.emit(sid, info),
                                on_warming_up=lambda: signals.warming_up.emit(sid),
                                on_notice=lambda text: signals.status.emit(sid, {"notice": text}),
                                **pipeline_options(settings, sess.model_dir))
            except BaseException:
                close_sinks(sinks)  # the pipeline closes them once it runs; a refused one never did
                raise
            with sess.lock:
                sess.pipe = pipe
            if sess.stop.is_set():
                pipe.stop()
            stats = pipe.run(duration=settings.duration)
            reason = "stopped" if sess.stop.is_set() else (stats.ended or "finished")
        except BaseException as exc:  # noqa: BLE001 - every failure becomes one line in the window
            reason, message = "error", one_line(exc)
            sess.source_missing = isinstance(exc, SourceNotFound)
            if isinstance(exc, EegvizError) or _said_by_the_system(exc):
                log.info("session %d (%s) failed: %s", sid, sess.label, message)
                log.debug("session %d: where it failed", sid, exc_info=True)  # --log-level debug, for a bug report
            else:
                log.error("session %d (%s) failed unexpectedly", sid, sess.label, exc_info=True)
            stats = pipe.stats if pipe is not None else None
        finally:
            # What the session left in reference cycles goes now, not at Python's next full collection: each
            # session's report draws a matplotlib figure (about 2 MB with its Agg buffer, thousands of objects in
            # cycles), and in a process holding a model's 640k objects the full collection came so seldom that a
            # looping kiosk grew by 1.5 MB a loop (67 MB over 43 loops, not one collected). On this thread, before
            # the window hears of the end (and before a restart), while the screen shows the last images anyway.
            gc.collect()
            signals.ended.emit(sid, reason, message, stats)

    # -- GUI-thread relays ---------------------------------------------------------------------------------------
    def _current(self, sid: int) -> bool:
        return self._active is not None and sid == self._active.sid

    @Slot(int, object)
    def _on_chunk(self, sid: int, chunk) -> None:
        if self._current(sid):
            self.bridge.chunk.emit(chunk)

    @Slot(int, object)
    def _on_marker(self, sid: int, marker) -> None:
        if self._current(sid):
            self.bridge.marker.emit(marker)

    @Slot(int, object, object)
    def _on_reconstruction(self, sid: int, rec, stimulus) -> None:
        if self._current(sid):
            self.bridge.reconstruction.emit(rec, stimulus)

    @Slot(int, object)
    def _on_status(self, sid: int, status) -> None:
        if self._current(sid):
            self.bridge.status.emit(status)

    @Slot(int, str, str)
    def _on_sink_notice(self, sid: int, spec: str, text: str) -> None:
        """A --sink's notice goes to the window as a source's does, unless the same sink said the same (its
        numbers aside: "took 312 ms") within SINK_NOTICE_EVERY_S; the log has every one."""
        if not self._current(sid):
            return
        key, now = (spec, re.sub(r"\d+", "#", text)), time.monotonic()
        said = self._sink_said.get(key)
        if said is not None and now - said < SINK_NOTICE_EVERY_S:
            return
        self._sink_said[key] = now
        self.bridge.status.emit({"notice": text})

    @Slot(int, str)
    def _on_progress(self, sid: int, text: str) -> None:
        if self._current(sid) and self.state == "starting":
            self.message.emit(text)

    @Slot(int)
    def _on_warming_up(self, sid: int) -> None:
        if self._current(sid) and self.state == "starting":
            self.message.emit(f"starting: warming the generator up ({self._active.label})…")
            self.warming_up.emit()

    @Slot(int, object)
    def _on_started(self, sid: int, info) -> None:
        if not self._current(sid) or self._active.stop.is_set():
            return
        self._set_state("running")
        self.started.emit(info)

    @Slot(int, str, str, object)
    def _on_ended(self, sid: int, reason: str, message: str, stats) -> None:
        sess = self._active
        if sess is None or sess.sid != sid:
            return
        if sess.thread is not None:
            sess.thread.join(1.0)  # it has emitted its last signal; this only reaps it
        self._active = None
        self.last_stats = stats
        self.session_id = sid
        self.source_missing = reason == "error" and sess.source_missing
        self._failures = self._failures + 1 if reason == "error" else 0
        pending = self._pending
        self._pending = None
        self._set_state("idle")
        self.bridge.finished.emit()  # first, so that the window shows the precise reason that follows
        if message:
            self.error.emit(message)
        self.stopped.emit(reason)
        self.session_ended.emit(stats)
        if pending is not None and self._active is None:
            self._launch(pending)
        elif self.restart_on_end and reason in ("finished", "error") and self._active is None:
            delay = min(self.MAX_RESTART_DELAY_S, self.restart_delay_s * 2 ** max(0, self._failures - 1))
            self._restart_timer.start(int(delay * 1000))


__all__ = ["SessionController", "one_line"]
