"""Presenter: the full-screen QWidget that plays a schedule and marks every image onset on LSL.

Timing. Onsets are scheduled against one LSL-clock anchor, so lateness never accumulates. A precise QTimer fires
a couple of milliseconds early and the last stretch is spun, because Qt timers are only ~1 ms accurate and a
loaded machine wakes late. At an onset the frame is painted synchronously (repaint), handed to the window system
(QGuiApplication.sync), and only then is the LSL timestamp taken and the marker pushed. A QWidget cannot see the
display's actual flip, so the light reaches the eye up to one refresh (plus any compositor delay) after the
marker; that offset is constant per setup and should be measured once with a photodiode.

Offsets are timed the same way: the blank (or the next image) is painted, handed over, and then the LSL time is taken,
so a trial's on_ms (offset_lsl - onset_lsl) is how long the image was up, the constant display delay cancelling, and
on_ms - intended_on_ms what a loaded machine added to (or cut from) --on. They go to the onset log only, never to the
marker stream: the epocher and training read every string marker as an image id, and an "off" marker would be
taken for one. A row is written and flushed at the onset, and completed in place at the offset, so a kill while an
image is up keeps its onset (its offset columns empty); an abort logs the abort's time as the offset, offset_by "abort".

What to show when comes from eegviz.app.presenter.schedule; this module only keeps time, draws and sends.
"""

from __future__ import annotations

import csv
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from eegviz.app.presenter.schedule import (DEFAULT_NAME, LOG_FIELDS, Trial, check_seconds, check_stream_name,
                                           log_exists_message, onset_events, schedule_duration)
from eegviz.errors import EegvizError

SPIN_S = 0.002  # the timer fires this much early; the rest is spun so onsets land within ~0.1 ms of plan
CONSUMER_POLL_MS = 50
CHECK_NOTE_AT = 300  # images: from this many the up-front decode takes a noticeable while, and says so


class Presenter(QtWidgets.QWidget):
    """A black window that shows each trial's image centred and scaled to fit, and marks each onset on LSL.

    The marker outlet exists from construction, so recorders and `eegviz live --markers NAME` can find it
    while the window waits. With wait_for_consumer the run only starts once something has opened the stream
    (or Space is pressed): markers sent before a recorder connects are simply lost. Then lead_in_s of blank
    (or fixation) lets the participant settle before the first image. Escape, or closing the window, aborts;
    the log written so far is kept. `finished(completed)` is emitted once either way.
    """

    finished = QtCore.Signal(bool)  # True: every trial ran; False: aborted
    onset = QtCore.Signal(int, str, float)  # trial index, image id, LSL timestamp pushed with the marker

    def __init__(self, trials: Sequence[Trial], images: Mapping[str, str | Path], *, name: str = DEFAULT_NAME,
                 log_path: str | Path | None = None, windowed: bool = False, fixation: bool = False,
                 lead_in_s: float = 1.0, wait_for_consumer: bool = True, screen: QtGui.QScreen | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        import pylsl  # here, not at import: keeps `eegviz --help` and schedule-only use light

        self._pylsl = pylsl
        if not trials:
            raise EegvizError("nothing to present: the schedule is empty.")
        self.trials = list(trials)
        self.paths = {k: Path(v) for k, v in images.items()}
        missing = sorted({t.image_id for t in self.trials} - set(self.paths))
        if missing:
            raise EegvizError(f"no image file for id '{missing[0]}' ({len(missing)} missing).")
        shown = sorted({t.image_id for t in self.trials})
        if len(shown) >= CHECK_NOTE_AT:  # seconds for thousands: say why nothing appears yet
            print(f"eegviz: checking {len(shown)} images (each decoded once before the run)…", file=sys.stderr,
                  flush=True)
        from eegviz.data.images import check_image_format

        for image_id in shown:
            # decoded whole once now (a few ms an image), not just its header: a file cut short passes a header
            # check and fails at its first onset, mid-session, with the participant in the chair
            _read_image(self.paths[image_id])
            # and readable by training too: Qt shows WebP, GIF and TIFF under any name, which `eegviz train
            # --images-dir` then refused, once the unrepeatable session was recorded
            check_image_format(self.paths[image_id])
        # before the log and the outlet exist: an empty name fails in liblsl, and a lead-in beyond a QTimer's
        # range would raise in start() (see schedule.MAX_SECONDS)
        self.name = check_stream_name(name)
        self.windowed = windowed
        self.fixation = fixation
        self.lead_in_s = check_seconds("--lead-in", lead_in_s)
        self.wait_for_consumer = wait_for_consumer
        self.target_screen = screen  # None: where Qt puts a new window (the primary screen)
        self.records: list[dict] = []  # one per onset, the same fields as the CSV log
        self._up: dict | None = None  # the record of the marked image still on screen: its offset is still to come
        self._row_at = 0  # where its log row starts (the log's last row), to complete it in place at the offset
        self.state = "idle"  # idle -> waiting -> lead_in -> running -> done
        self.completed = False
        self.error: str | None = None  # why the run ended early, when an image could not be read mid-run
        # Markers pushed while nothing has the stream open are lost. `eegviz record` ends at once when its
        # recording fails (a full disk), and the presenter went on showing the session to the participant, its
        # markers lost, without a word: each onset now asks, and the operator is told when the recorder goes.
        self.unheard = 0  # markers pushed with no consumer connected
        self._heard: bool | None = None  # whether one was connected at the last onset

        self._log_file = self._log = None
        if log_path is not None:
            try:
                Path(log_path).parent.mkdir(parents=True, exist_ok=True)
                # "x": a rerun never truncates an earlier session's onset log
                self._log_file = open(log_path, "x", newline="", encoding="utf-8")  # noqa: SIM115
            except FileExistsError:
                raise EegvizError(log_exists_message(log_path)) from None
            except OSError as exc:
                raise EegvizError(f"cannot write the presentation log {log_path}: {exc.strerror}.") from None
            self._log = csv.writer(self._log_file)
            self._log.writerow(LOG_FIELDS)
            self._log_file.flush()

        info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                                f"eegviz-presenter@{socket.gethostname()}:{name}")  # stable: recorders re-attach
        info.desc().append_child_value("design", "eegviz present: one marker per image onset, payload = image id")
        self.outlet = pylsl.StreamOutlet(info)

        # events name trials by position here: a resumed run's trials keep their schedule indices (from K, not 0)
        position = {t.index: i for i, t in enumerate(self.trials)}
        self._events = [(t, kind, position.get(i, -1)) for t, kind, i in onset_events(self.trials)]
        self._of = self.trials[-1].index + 1  # the whole schedule's length, also in a resumed run
        self._next_event = 0
        self._t0 = 0.0
        self._showing: str | None = None
        self._cache: dict[str, QtGui.QPixmap] = {}
        self._timer = QtCore.QTimer(self, singleShot=True, timerType=QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._poll = QtCore.QTimer(self, interval=CONSUMER_POLL_MS)
        self._poll.timeout.connect(self._poll_consumer)
        self._lead = QtCore.QTimer(self, singleShot=True, timerType=QtCore.Qt.TimerType.PreciseTimer)
        self._lead.timeout.connect(self._begin)

        self.setWindowTitle(f"eegviz present ({name})")
        self.setAutoFillBackground(False)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paintEvent covers every pixel
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setCursor(QtCore.Qt.CursorShape.BlankCursor)

    # -- public -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Show the window and begin: wait for a consumer (if asked), the lead-in, then the trials."""
        if self.state != "idle":
            return
        if self.target_screen is not None:
            place_on(self, self.target_screen, windowed=self.windowed)
        if self.windowed:
            if self.target_screen is None:
                self.resize(800, 600)
            self.show()
        else:
            self.showFullScreen()
        self.activateWindow()
        self.setFocus()
        self._pixmap(self.trials[0].image_id)  # decode before the clock starts
        if self.wait_for_consumer and not self.outlet.have_consumers():
            self.state = "waiting"
            self._poll.start()
            self.update()
        else:
            self._lead_in()

    def abort(self) -> None:
        """Stop now (Escape, window closed); the log so far is kept."""
        if self.state not in ("done", "idle"):
            self._finish(False)

    def close_stream(self) -> None:
        """Drop the marker outlet so receivers see the stream end. Kept apart from _finish so the last markers
        have time to reach slow receivers before the outlet goes. Also closes the log of a never-started run."""
        self.outlet = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = self._log = None

    @property
    def total_s(self) -> float:
        return schedule_duration(self.trials)

    def _poll_consumer(self) -> None:
        if self.outlet is not None and self.outlet.have_consumers():
            self._poll.stop()
            self._lead_in()

    def _lead_in(self) -> None:
        self._poll.stop()
        self.state = "lead_in"
        self.update()
        self._lead.start(int(round(self.lead_in_s * 1000)))

    def _begin(self) -> None:
        if self.state != "lead_in":  # aborted during the lead-in
            return
        self.state = "running"
        self._t0 = self._pylsl.local_clock() + 0.01  # a little headroom so the first onset is not already late
        self._arm()

    def _arm(self) -> None:
        """Set the timer for the next event, SPIN_S early; _tick spins the rest."""
        due = self._t0 + self._events[self._next_event][0]
        wait = due - self._pylsl.local_clock() - SPIN_S
        self._timer.start(max(0, int(wait * 1000)))

    def _tick(self) -> None:
        if self.state != "running":
            return
        t_rel, kind, idx = self._events[self._next_event]
        due = self._t0 + t_rel
        clock = self._pylsl.local_clock
        while clock() < due:  # at most SPIN_S plus timer slack
            pass
        self._next_event += 1
        if kind == "on":
            self._onset(idx, due)
        elif kind == "off":
            self._showing = None
            # nothing, if an Escape in the hand-over's sync() already ended the run and logged it
            self._end_shown(self._hand_over(), "blank")
        else:
            self._finish(True)
            return
        if self.state == "running":  # sync() in _onset may have delivered an Escape
            self._arm()

    def _hand_over(self) -> float:
        """Paint the frame now (repaint: synchronously, where update() would wait for the event loop), hand it to
        the window system (sync), and only then take the LSL time, which this returns: every onset's marker and
        every offset logged is stamped so (module docstring), where onsets, blanks and the last offset each wrote
        the steps out. sync() delivers pending events, so an Escape may have ended the run when this returns."""
        self.repaint()
        QtGui.QGuiApplication.sync()
        return self._pylsl.local_clock()

    def _onset(self, position: int, due: float) -> None:
        """Paint the image, hand it to the window system, then timestamp and push the marker."""
        trial = self.trials[position]
        self._showing = trial.image_id
        ts = self._hand_over()
        if self.state != "running" or self.outlet is None:
            return
        self.outlet.push_sample([trial.image_id], ts)
        self._note_consumer(trial)
        self._end_shown(ts, "next")  # the image this one replaced, where no blank came between them
        row = {"trial": trial.index, "image_id": trial.image_id, "class": trial.class_name, "onset_lsl": ts,
               "intended_lsl": due, "late_ms": (ts - due) * 1000.0, "offset_lsl": None, "on_ms": None,
               "intended_on_ms": trial.duration_s * 1000.0, "offset_by": ""}
        self.records.append(row)
        self._up = row
        if self._log is not None:
            self._row_at = self._log_file.tell()
            self._log.writerow(_log_row(row))
            self._log_file.flush()  # a crash or kill keeps every onset so far
        self.onset.emit(trial.index, trial.image_id, ts)
        if position + 1 < len(self.trials):  # decode and scale the next image while this one is up
            nxt = self.trials[position + 1].image_id
            self._cache = {k: v for k, v in self._cache.items() if k in (trial.image_id, nxt)}
            self._try_pixmap(nxt)

    def _end_shown(self, ts: float, by: str) -> None:
        """Log ts as the offset of the marked image on screen (if one is), ended by `by` (schedule.OFFSET_BY), and
        complete its row, the log's last, in place: rewritten whole in one write, it never leaves less than it was."""
        row, self._up = self._up, None
        if row is None:
            return
        row.update(offset_lsl=ts, on_ms=(ts - row["onset_lsl"]) * 1000.0, offset_by=by)
        if self._log is not None:
            self._log_file.seek(self._row_at)
            self._log.writerow(_log_row(row))
            self._log_file.flush()

    def _note_consumer(self, trial: Trial) -> None:
        """Counts a marker pushed with nothing connected, and says (on stderr, once each way) when the recorder
        that was connected has gone and when one is back."""
        heard = self.outlet.have_consumers()
        if not heard:
            self.unheard += 1
            if self._heard:
                print(f"eegviz: no recorder has LSL stream '{self.name}' open any more (from trial {trial.index + 1}"
                      f" of {self._of}): its markers are lost until one connects again; Esc stops the run",
                      file=sys.stderr, flush=True)
        elif self._heard is False and self.unheard:
            print(f"eegviz: a recorder has LSL stream '{self.name}' open (from trial {trial.index + 1}); "
                  f"{self.unheard} marker{'s' if self.unheard != 1 else ''} before were sent with none",
                  file=sys.stderr, flush=True)
        self._heard = heard

    def _try_pixmap(self, image_id: str) -> QtGui.QPixmap | None:
        """_pixmap inside a Qt slot or paint: an image that became unreadable after the start (changed or removed
        on disk) ends the run with its reason (self.error, said by the caller) instead of an exception that
        Qt would swallow, leaving the timer never re-armed and the window up for good."""
        try:
            return self._pixmap(image_id)
        except EegvizError as exc:
            if self.state not in ("done", "idle"):
                self.error = str(exc)
                self._finish(False)
            return None

    def _finish(self, completed: bool) -> None:
        self._timer.stop()
        self._poll.stop()
        self._lead.stop()
        self.state = "done"
        self.completed = completed
        up, self._showing = self._showing is not None, None
        if self._up is not None:  # a marked image's offset is still to come: this is it
            # blanked now, unless from inside a paint (where an image failed to draw)
            ts = self._hand_over() if up and not self.paintingActive() else self._pylsl.local_clock()
            # up: the image was still on screen (the schedule's end, or an abort); not up: an 'off' had blanked it
            # and an Escape came during that blank's handover
            self._end_shown(ts, ("end" if completed else "abort") if up else "blank")
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = self._log = None
        self.update()
        self.finished.emit(completed)

    # -- drawing ----------------------------------------------------------------------------------------------
    def _pixmap(self, image_id: str) -> QtGui.QPixmap:
        """The image scaled to fit the window at device resolution, keeping its aspect ratio; cached per size."""
        pm = self._cache.get(image_id)
        if pm is not None:
            return pm
        img = _read_image(self.paths[image_id])
        dpr = self.devicePixelRatioF()
        target = QtCore.QSize(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        img = img.scaled(target, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                         QtCore.Qt.TransformationMode.SmoothTransformation)
        pm = QtGui.QPixmap.fromImage(img)
        pm.setDevicePixelRatio(dpr)
        self._cache[image_id] = pm
        return pm

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        self._cache.clear()  # scaled for the old size
        super().resizeEvent(event)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtCore.Qt.GlobalColor.black)
        pm = self._try_pixmap(self._showing) if self._showing is not None else None
        if pm is not None:
            size = pm.deviceIndependentSize().toSize()
            p.drawPixmap((self.width() - size.width()) // 2, (self.height() - size.height()) // 2, pm)
        elif self.state == "waiting":
            p.setPen(QtGui.QColor(110, 110, 110))
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter,
                       f"Waiting for a recorder on LSL stream '{self.name}'\nSpace: start now    Esc: quit")
        elif self.fixation and self.state in ("lead_in", "running"):
            arm = max(6, min(self.width(), self.height()) // 50)
            p.setPen(QtGui.QPen(QtGui.QColor(200, 200, 200), max(2, arm // 4)))
            cx, cy = self.width() // 2, self.height() // 2
            p.drawLine(cx - arm, cy, cx + arm, cy)
            p.drawLine(cx, cy - arm, cx, cy + arm)
        p.end()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.abort()
        elif event.key() == QtCore.Qt.Key.Key_Space and self.state == "waiting":
            self._lead_in()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.abort()
        super().closeEvent(event)


def screens_in_order() -> list[QtGui.QScreen]:
    """The screens as --screen numbers them: 0 the primary, then the others in the window system's order."""
    primary = QtGui.QGuiApplication.primaryScreen()
    others = [s for s in QtGui.QGuiApplication.screens() if s != primary]
    return ([primary] if primary is not None else []) + others


def describe_screens() -> str:
    """'0: HDMI-1 1920x1080 at (0, 0) (primary); 1: DP-2 ...': what a refused --screen lists to choose from."""
    out = []
    for i, s in enumerate(screens_in_order()):
        g = s.geometry()
        out.append(f"{i}: {s.name() or 'unnamed'} {g.width()}x{g.height()} at ({g.x()}, {g.y()})"
                   + (" (primary)" if i == 0 else ""))
    return "; ".join(out) or "none"


def choose_screen(number) -> QtGui.QScreen:
    """The QScreen --screen NUMBER names (0 the primary), or a one-line EegvizError listing the screens there are.

    Full screen opened on the primary screen only, where a lab shows stimuli on a second monitor facing the
    participant (the primary one is the operator's)."""
    screens = screens_in_order()
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < len(screens):
        raise EegvizError(f"--screen {number!r} is not a screen here; this display has {len(screens)}: "
                          f"{describe_screens()}")
    return screens[number]


def place_on(widget: QtWidgets.QWidget, screen: QtGui.QScreen, *, windowed: bool) -> None:
    """Put a top-level widget on screen before it is shown: full screen then fills that screen; windowed, an
    800 x 600 window (at most the screen's free area) centred there. Given the screen and moved there too: the
    monitors of an X11 desktop are parts of one virtual screen, where a window's position picks its screen."""
    widget.setScreen(screen)
    area = screen.availableGeometry()
    if windowed:
        widget.resize(min(800, area.width()), min(600, area.height()))
        widget.move(area.center() - widget.rect().center())
    else:
        widget.move(screen.geometry().topLeft())


def _log_row(row: Mapping) -> list:
    """A record as its onset log row (schedule.LOG_FIELDS); the offset's cells are empty until it is known."""
    off = row["offset_lsl"] is not None
    return [row["trial"], row["image_id"], row["class"], f"{row['onset_lsl']:.6f}", f"{row['intended_lsl']:.6f}",
            f"{row['late_ms']:.3f}", f"{row['offset_lsl']:.6f}" if off else "", f"{row['on_ms']:.3f}" if off else "",
            f"{row['intended_on_ms']:.3f}", row["offset_by"]]


def _read_image(path: Path) -> QtGui.QImage:
    """The image decoded whole (EXIF orientation applied, as photo viewers do), or a one-line EegvizError."""
    reader = QtGui.QImageReader(str(path))
    reader.setAutoTransform(True)
    img = reader.read()
    if img.isNull():
        # Qt refuses to decode an image past its allocation limit (256 MB: about 67 Mpx at 4 bytes a pixel) and
        # says only "Unable to read image data", which sent the user looking for a broken file that every viewer,
        # and training, reads. The size from a fresh reader: one whose read failed may no longer know it
        size, limit_mb = QtGui.QImageReader(str(path)).size(), QtGui.QImageReader.allocationLimit()
        if limit_mb > 0 and size.isValid() and size.width() * size.height() * 4 > limit_mb * 2**20:
            raise EegvizError(f"the image {path} is {size.width()} x {size.height()} pixels, more than the presenter "
                              f"decodes ({limit_mb} MB, about {limit_mb * 2**20 / 4e6:.0f} Mpx); scale it down (the "
                              "screen shows it at its own resolution at most)")
        raise EegvizError(f"cannot read image {path}: {reader.errorString()}.")
    return img
