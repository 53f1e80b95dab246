"""SessionWindow: what every window that shows a session has, whatever its layout.

The live window (eegviz.app.window.MainWindow) and the exhibition kiosk (eegviz.app.kiosk.KioskWindow) are
driven the same way: a WindowBridge delivers chunks, markers, reconstructions and status, and a SessionController
(eegviz.app.session) reports starts, errors and stops. This base class keeps the session's counters and
answers all those slots; the subclasses only lay out widgets and draw, so neither needs `if kiosk` branches.

Subclasses create saliency_panel, recon_panel and stimulus_panel (ImagePanels) and override the hooks they
need: on_chunk/on_marker (calling super for on_chunk), _show_verdict, _stream_changed, _update_status,
show_message, and the controls' current_choice/set_choice/model_dir/set_model_dir (a window without controls
keeps the defaults here).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMainWindow

from eegviz.app.bridge import WindowBridge
from eegviz.app.source_choice import SourceChoice
from eegviz.messages import Chunk, Marker, Reconstruction, StreamInfo


STOPPED_STATES = {"duration": "stopped (duration over)"}  # a session's end reason -> the status bar's word
PLAIN_TITLE = "eegviz"  # the title while no session's source is running or starting from the command line
NOTICE_HISTORY_LEN = 50  # notices (and errors) kept for the operator to look back on; older ones are forgotten


class SessionWindow(QMainWindow):
    """One session's window. info may be None when the stream is not known yet (a session is still starting);
    set_stream_info() switches the window to a new stream at any time.

    The window only emits start_requested/stop_requested; the controller does the work off the GUI thread and
    reports back through set_session_state(), on_session_started(), on_session_error() and on_session_stopped().
    """

    start_requested = Signal(object, str)  # SourceChoice, model folder ("" = the default model)
    stop_requested = Signal()

    def __init__(self, info: StreamInfo | None = None, title: str = "eegviz", parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self._titled_by_session = False  # the title names a session's source (on_session_started), not the command's
        self.info = info if info is not None else StreamInfo(name="", ch_names=(), sfreq=0.0)
        # Session counters shown in the status bar; on_status may override them with the pipeline's own numbers.
        self.n_epochs = 0  # reconstructions shown
        self.drops_total = 0  # markers dropped because generation fell behind (newest wins)
        # Two counts of the same drops (see _count_drops): the pipeline's own, said as each one happens, and the
        # sum of the images' dropped_before; the status bar shows the larger.
        self._drops_said = self._drops_in_images = 0
        self.skipped_total = 0  # markers skipped for other reasons (a gap, NaN samples, the end of the stream)
        self.nan_total = 0  # of those, the ones whose window held NaN/inf samples
        self.rejected_total = 0  # of those, the ones rejected as artefacts (--reject-uv)
        self.last_rec: Reconstruction | None = None
        self.extra_status: dict = {}
        self.session_state = ""  # "starting", "running", "finished", ... shown with the important fields
        self.source_label = ""  # how the session's source was chosen, e.g. "demo recording"
        self.images_dir: str | None = None  # the session's --images-dir: why a marker's stimulus is not known
        self.last_chunk_time: float | None = None  # time.monotonic() of the last chunk
        self._started = True  # the session being started has started (False from "starting" until it has)
        # The recent notices and errors, oldest first, as (time.time(), text): the message line shows only the
        # latest, and an earlier one ("LSL stream 'amp' lost", at 3 a.m.) was gone for good once replaced. Kept
        # across sessions, bounded, so a kiosk that runs for days holds no more than NOTICE_HISTORY_LEN.
        self.notices: deque[tuple[float, str]] = deque(maxlen=NOTICE_HISTORY_LEN)
        self.notice_count = 0  # all notices' lines so far, including those the history has forgotten
        self._repeated: tuple[str, int] = ("", 0)  # the newest line's own text and how often it was said in a row

    # ---------------------------------------------------------------- stream

    def set_stream_info(self, info: StreamInfo | None, label: str | None = None, reset: bool = True) -> None:
        """Switch to a new stream; with reset, the session counters start over too (see _stream_changed)."""
        self.info = info if info is not None else StreamInfo(name="", ch_names=(), sfreq=0.0)
        if label is not None:
            self.source_label = label
        if reset:
            self.n_epochs = 0
            self.drops_total = self.skipped_total = self.nan_total = self.rejected_total = 0
            self._drops_said = self._drops_in_images = 0
            self.last_rec = None
            self.extra_status = {}
        self._stream_changed(reset)
        self._update_status()

    def _stream_changed(self, reset: bool) -> None:
        """Hook: the stream is now self.info; reset says the session's results were cleared as well."""

    # ---------------------------------------------------------------- bridge slots

    def connect_bridge(self, bridge: WindowBridge) -> None:
        bridge.chunk.connect(self.on_chunk)
        bridge.marker.connect(self.on_marker)
        bridge.reconstruction.connect(self.on_reconstruction)
        bridge.status.connect(self.on_status)
        bridge.finished.connect(self.on_finished)

    def on_chunk(self, chunk: Chunk) -> None:
        self.last_chunk_time = time.monotonic()

    def on_marker(self, marker: Marker) -> None:
        """Hook: a marker arrived (only the trace view draws them)."""

    def on_reconstruction(self, rec: Reconstruction, stimulus: np.ndarray | None = None) -> None:
        self.last_rec = rec
        self.n_epochs += 1
        self._drops_in_images += int(rec.dropped_before)
        self._count_drops()
        self.saliency_panel.set_image(rec.decoded.saliency)
        self.recon_panel.set_image(rec.image)
        self.stimulus_panel.set_image(stimulus, *(self._no_stimulus(rec) if stimulus is None else ("", "")))
        for panel in (self.saliency_panel, self.recon_panel, self.stimulus_panel):
            panel.set_detail(rec.marker.payload)  # the same id under all three: one epoch's, and whose
        self._show_verdict(rec)
        self._update_status()

    def _count_drops(self) -> None:
        """drops_total from the two counts of the same drops. An image's dropped_before alone counted a drop only
        once the next image came: drops just before a Stop (or a --duration's end), whose newer marker was then
        stopped too, never reached the status bar, which said "drops 0" over a results.jsonl that had them.
        The pipeline's count comes as each drop happens (its queued signal may arrive after the image that
        counts it, hence the larger of the two rather than their sum)."""
        self.drops_total = max(self._drops_said, self._drops_in_images)

    def set_images_dir(self, folder: str | None) -> None:
        """The stimulus folder (--images-dir) of the session that starts next, None without one."""
        self.images_dir = None if folder is None else str(folder)

    def _no_stimulus(self, rec: Reconstruction) -> tuple[str, str]:
        """What the stimulus panel says for a marker whose image is not known, and its tooltip: why, and what to
        do. It said "unknown", and a lab user whose live session ran without --images-dir was not told that
        the folder their presenter shows was what the panel lacked."""
        payload = rec.marker.payload
        if self.images_dir is None:
            return ("no --images-dir given",
                    f"no ground-truth image for '{payload}': the session was started without --images-dir (the "
                    f"stimulus folder `eegviz present` shows); without it only the synthetic world's ids are known")
        return ("this id is not in --images-dir",
                f"no ground-truth image for '{payload}': --images-dir {self.images_dir} has no image of that name "
                f"(an image's id is its file name without the extension)")

    def _show_verdict(self, rec: Reconstruction) -> None:
        """Hook: say what was decoded (the history strip, the kiosk's caption)."""

    def on_status(self, status: dict) -> None:
        """Merge pipeline-side counters (epochs, drops, skipped, NaN epochs, rejected epochs) and any extra key=value
        fields into the status."""
        status = dict(status or {})
        if status.get("notice"):
            self._remember_notice(str(status["notice"]))
        if "epochs" in status:
            self.n_epochs = int(status.pop("epochs"))
        for key in ("drops", "dropped"):
            if key in status:
                self._drops_said = int(status.pop(key))
                self._count_drops()
        if "skipped" in status:
            self.skipped_total = int(status.pop("skipped"))
        if "NaN epochs" in status:
            self.nan_total = int(status.pop("NaN epochs"))
        if "rejected epochs" in status:
            self.rejected_total = int(status.pop("rejected epochs"))
        if "state" in status:
            self.session_state = str(status.pop("state"))
        self.extra_status.update(status)
        self._update_status()

    def on_finished(self) -> None:
        self.session_state = "finished"
        self._update_status()

    def _update_status(self) -> None:
        """Hook: the counters changed (a window with a status bar redraws it)."""

    def _remember_notice(self, text: str) -> None:
        """Add a line to the notices; the same text said again in a row is counted in the line it has (with the
        time it was said last) instead. A kiosk whose live source is gone retries every 30 s with the same error,
        and its 50 lines covered the last 25 minutes: what had happened before (when the stream was lost, what
        was said then) was gone by morning, under lines that all said the same."""
        now = time.time()
        said, n = self._repeated
        if self.notices and text == said:
            n += 1
            self.notices[-1] = (self.notices[-1][0], f"{text} (said {n} times, the last at "
                                                     f"{time.strftime('%H:%M:%S', time.localtime(now))})")
        else:
            n = 1
            self.notices.append((now, text))
            self.notice_count += 1
        self._repeated = (text, n)
        self._notices_changed()

    def _notices_changed(self) -> None:
        """Hook: a notice or an error was added to self.notices (a window that lists them updates the list)."""

    def recent_notices(self) -> list[str]:
        """self.notices as lines to show, newest first, each starting with its time of day."""
        return [f"{time.strftime('%H:%M:%S', time.localtime(at))}  {text}" for at, text in reversed(self.notices)]

    # ---------------------------------------------------------------- controller slots

    def set_session_state(self, state: str) -> None:
        """idle / starting / running / stopping: shown with the status (back to idle, the last outcome stays)."""
        if state == "starting":
            self._started = False
            if self._titled_by_session:  # the last session's source is no longer running (see on_session_error)
                self._set_plain_title()
        if state == "stopping" and self.session_state != "stopping":
            # the line went on saying "running: ..." while a real model's last image (seconds on CPU) and the
            # files' closing ran, beside a Stop button that had greyed out: as if the click had been lost.
            # A Stop while the session starts waits for what cannot be cut short (a diffusers model loads for
            # tens of seconds on CPU, an LSL stream is looked for for 5 s): it said an image was being finished.
            self.show_message("stopping: finishing the image being made and closing the session's files…"
                              if self._started else
                              "stopping: the session has not started yet; waiting for its model to load or its "
                              "source to open…")
        if state != "idle" or not self.session_state:
            self.session_state = state  # back to idle, the last outcome (finished, stopped, error) stays shown
        self._update_status()

    def show_message(self, text: str, error: bool = False) -> None:
        """Hook: one line about what the session is doing, or what went wrong."""

    def on_session_warming_up(self) -> None:
        """Hook: the starting session's source is open and its generator warms up (the kiosk's overlay says so)."""

    def on_session_started(self, info: StreamInfo, label: str | None = None) -> None:
        self._started = True
        self.set_stream_info(info, label=label)
        if label:  # the title named the command line's source ("eegviz replay X") after the user chose another
            self.setWindowTitle(f"eegviz: {label}")
            self._titled_by_session = True
        self.last_chunk_time = None
        what = label or info.name or "source"
        self.show_message(f"running: {what} — {info.name}, {info.n_channels} channels, {info.sfreq:g} Hz")

    def on_session_error(self, message: str) -> None:
        if not self._started:
            # a Start that failed: the status bar said "error" beside the previous session's source, counters
            # and images, as if that source had failed; they are cleared (that session's files are on disk)
            self.set_stream_info(None, label="")
            # nor does the title name a source: after a Start that failed it still named the last session's (or
            # the command line's), as if that were running
            self._set_plain_title()
        self.session_state = "error"
        self._remember_notice(f"error: {message}")
        self.show_message(f"error: {message}", error=True)
        self._update_status()

    def _set_plain_title(self) -> None:
        self.setWindowTitle(PLAIN_TITLE)
        self._titled_by_session = False

    def on_session_stopped(self, reason: str) -> None:
        if reason != "error":
            # the status bar's state, in words (it showed the controller's reason, "duration", as it was)
            self.session_state = STOPPED_STATES.get(reason, reason)
            if reason == "finished":
                self.show_message("finished: the recording has been played to the end")
            elif reason == "duration":
                self.show_message("stopped: the session duration is over")
            else:
                self.show_message(f"{reason}")
        self._update_status()

    def on_session_ended(self, stats) -> None:
        """Hook: the session's files are closed; stats (eegviz.pipeline.Stats or None) says where they are."""

    # ---------------------------------------------------------------- controls (none here)

    def current_choice(self) -> SourceChoice | None:
        """The source the window's controls describe; None for a window without controls."""
        return None

    def set_choice(self, choice: SourceChoice | None) -> None:
        """Show a SourceChoice in the controls, if the window has any."""

    def model_dir(self) -> str:
        return ""

    def set_model_dir(self, path: str | Path | None) -> None:
        """Show the model folder in the controls, if the window has any."""

    def save_screenshot(self, path: str | Path) -> bool:
        return self.grab().save(str(path))
