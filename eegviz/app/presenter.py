"""`eegviz present`: a full-screen stimulus presenter that sends one LSL marker per image onset.

A lab needs two things to collect training data or run a live session: images on a screen at known times, and a
marker stream that says which image appeared when. This module does both so eegviz needs no other presentation
software. Each onset pushes the image id (the file stem) as a string sample on an LSL "Markers" outlet; eegviz's
Epocher cuts one epoch per marker and reads the payload as the image id, so only image ids are ever sent (no
"start"/"blank"/"end" markers that would become bogus epochs). A CSV log, if asked for, keeps the planned and the
actual onset of every trial.

Pieces, each usable alone:
  find_images      a folder (flat, or one subfolder per class) -> ImageFile list
  make_schedule    ids -> Trial list (rapid or block design, repeats, shuffle, jittered blanks; seeded)
  Presenter        the QWidget that runs a schedule and owns the marker outlet
  run_presenter    all of the above for the CLI; add_arguments / main_from_args wire `eegviz present`
  write_stimulus_folder   a demo folder rendered from the synthetic world, so the whole loop can be tried

Timing. Onsets are scheduled against one LSL-clock anchor, so lateness never accumulates. A precise QTimer fires
a couple of milliseconds early and the last stretch is spun, because Qt timers are only ~1 ms accurate and a
loaded machine wakes late. At an onset the frame is painted synchronously (repaint), handed to the window system
(QGuiApplication.sync), and only then is the LSL timestamp taken and the marker pushed. A QWidget cannot see the
display's actual flip, so the light reaches the eye up to one refresh (plus any compositor delay) after the
marker; that offset is constant per setup and should be measured once with a photodiode.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from eegviz.data.images import IMAGE_EXTENSIONS, ImageFile, class_of, find_images  # noqa: F401 (re-exported)
from eegviz.errors import EegvizError

DESIGNS = ("rapid", "block")
DEFAULT_NAME = "eegviz-presenter"
SPIN_S = 0.002  # the timer fires this much early; the rest is spun so onsets land within ~0.1 ms of plan
CONSUMER_POLL_MS = 50
LOG_FIELDS = ("trial", "image_id", "class", "onset_lsl", "intended_lsl", "late_ms")


# ----------------------------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class Trial:
    """One image presentation: shown at onset_s (seconds after the schedule starts) for duration_s, followed by
    blank_s of blank screen."""

    index: int
    image_id: str
    class_name: str
    onset_s: float
    duration_s: float
    blank_s: float


@dataclass(frozen=True)
class PresentationPlan:
    """The design parameters of a session, checked on construction so a typo fails before the screen goes black.

    rapid: every image once per repeat, passes shuffled, never the same image twice in a row.
    block: images grouped by class into blocks (block_size trials, default one pass over the class's images);
    blocks come in random order and two blocks of one class are kept apart where the counts allow it.
    Blank after each image lasts uniform [blank_s, blank_s + jitter_s]; jitter decorrelates onsets from any
    rhythm (alpha, the mains, the refresh) that a fixed rate would lock onto.
    """

    design: str = "rapid"
    on_s: float = 0.5
    blank_s: float = 0.5
    jitter_s: float = 0.0
    repeats: int = 1
    shuffle: bool = True
    seed: int = 0
    block_size: int | None = None

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise EegvizError(f"unknown design '{self.design}'; expected one of {', '.join(DESIGNS)}.")
        for name, value, zero_ok in (("on_s", self.on_s, False), ("blank_s", self.blank_s, True),
                                     ("jitter_s", self.jitter_s, True)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not number or value < 0 or (value == 0 and not zero_ok):
                raise EegvizError(f"{name} must be a finite number {'>=' if zero_ok else '>'} 0 seconds, "
                                  f"got {value!r}.")
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise EegvizError(f"repeats must be a whole number >= 1, got {self.repeats!r}.")
        if self.block_size is not None and (isinstance(self.block_size, bool) or not isinstance(self.block_size, int)
                                            or self.block_size < 1):
            raise EegvizError(f"block_size must be a whole number >= 1, got {self.block_size!r}.")
        if self.block_size is not None and self.design != "block":
            raise EegvizError("block_size only applies to the block design; add design='block' or drop it.")

    def schedule(self, images: Sequence[str | ImageFile]) -> list[Trial]:
        """The trial list for these images; see make_schedule."""
        classes = _classes(images)
        rng = random.Random(self.seed)
        if self.design == "rapid":
            order = _passes(list(classes), self.repeats, self.shuffle, rng)
        else:
            order = _block_order(classes, self.repeats, self.shuffle, self.block_size, rng)
        trials, t = [], 0.0
        for i, image_id in enumerate(order):
            blank = self.blank_s + (rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0)
            trials.append(Trial(i, image_id, classes[image_id], t, float(self.on_s), blank))
            t += self.on_s + blank
        return trials


def make_schedule(image_ids: Sequence[str | ImageFile], *, design: str = "rapid", on_s: float = 0.5,
                  blank_s: float = 0.5, jitter_s: float = 0.0, repeats: int = 1, shuffle: bool = True,
                  seed: int = 0, block_size: int | None = None) -> list[Trial]:
    """Trials (image, class, onset, duration, blank after) for a session; deterministic for a given seed.

    image_ids are bare ids (class = prefix before the last '_') or ImageFile entries from find_images (class =
    their subfolder). Raises EegvizError on bad parameters, an empty list or duplicate ids.
    """
    plan = PresentationPlan(design=design, on_s=on_s, blank_s=blank_s, jitter_s=jitter_s, repeats=repeats,
                            shuffle=shuffle, seed=seed, block_size=block_size)
    return plan.schedule(image_ids)


def schedule_duration(trials: Sequence[Trial]) -> float:
    """Seconds from the first onset to the end of the last blank."""
    return trials[-1].onset_s + trials[-1].duration_s + trials[-1].blank_s if trials else 0.0


def _classes(images: Sequence[str | ImageFile]) -> dict[str, str]:
    """id -> class in the given order, rejecting duplicates (one id = one picture = one marker payload)."""
    if isinstance(images, (str, bytes)) or not images:
        raise EegvizError("the schedule needs a non-empty list of image ids.")
    out: dict[str, str] = {}
    for item in images:
        image_id, cls = (item.image_id, item.class_name) if isinstance(item, ImageFile) else (item, None)
        if not isinstance(image_id, str) or not image_id:
            raise EegvizError(f"image ids must be non-empty strings, got {image_id!r}.")
        if image_id in out:
            raise EegvizError(f"image id '{image_id}' is listed twice; each id must name one image.")
        out[image_id] = cls if cls is not None else class_of(image_id)
    return out


def _passes(ids: list[str], repeats: int, shuffle: bool, rng: random.Random) -> list[str]:
    """repeats passes over ids, each in fresh random order; a pass that would start with the image that ended
    the previous one has that first image swapped with another, so no image is ever shown twice in a row."""
    order: list[str] = []
    for _ in range(repeats):
        p = list(ids)
        if shuffle:
            rng.shuffle(p)
            if order and len(p) > 1 and p[0] == order[-1]:
                j = rng.randrange(1, len(p))
                p[0], p[j] = p[j], p[0]
        order += p
    return order


def _block_order(classes: dict[str, str], repeats: int, shuffle: bool, block_size: int | None,
                 rng: random.Random) -> list[str]:
    """Block design: each class's own stream of passes cut into blocks, blocks interleaved across classes.

    A class's blocks always appear in stream order, so even when two of its blocks meet the junction is a pass
    boundary, where _passes already prevents a repeat.
    """
    by_class: dict[str, list[str]] = {}
    for image_id, cls in classes.items():
        by_class.setdefault(cls, []).append(image_id)
    blocks: dict[str, list[list[str]]] = {}
    for cls, ids in by_class.items():
        stream = _passes(ids, repeats, shuffle, rng)
        size = block_size or len(ids)
        blocks[cls] = [stream[i:i + size] for i in range(0, len(stream), size)]
    if shuffle:
        labels = _spread({cls: len(b) for cls, b in blocks.items()}, rng)
    else:  # round robin in first-appearance order: A B C A B C ...
        labels, left = [], {cls: len(b) for cls, b in blocks.items()}
        while any(left.values()):
            for cls in left:
                if left[cls]:
                    labels.append(cls)
                    left[cls] -= 1
    order, taken = [], dict.fromkeys(blocks, 0)
    for cls in labels:
        order += blocks[cls][taken[cls]]
        taken[cls] += 1
    return order


def _spread(counts: dict[str, int], rng: random.Random) -> list[str]:
    """A random sequence with counts[c] copies of each c and no two equal neighbours when that is possible.

    Greedy: pick uniformly among the labels that differ from the previous one and leave a solvable rest.
    A rest of T items is solvable iff no label has more than ceil(T/2) of them, and, when T is odd, the label
    just placed does not have exactly ceil(T/2) (it would have to come first again).
    """
    left = {c: n for c, n in counts.items() if n > 0}
    out: list[str] = []

    def solvable(after: dict[str, int], prev: str) -> bool:
        total = sum(after.values())
        half = (total + 1) // 2
        if total == 0:
            return True
        if max(after.values()) > half:
            return False
        return not (total % 2 == 1 and after.get(prev, 0) == half)

    prev = None
    while left:
        options = [c for c in left if c != prev]
        good = [c for c in options if solvable({**left, c: left[c] - 1}, c)]
        pool = good or options or list(left)  # impossible counts (one class dominates): allow a repeat
        pick = pool[rng.randrange(len(pool))]
        out.append(pick)
        left[pick] -= 1
        if not left[pick]:
            del left[pick]
        prev = pick
    return out


# ----------------------------------------------------------------------------------------------- presenter
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
                 lead_in_s: float = 1.0, wait_for_consumer: bool = True,
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
        for image_id in sorted({t.image_id for t in self.trials}):  # header check: fail now, not mid-session
            reader = QtGui.QImageReader(str(self.paths[image_id]))
            if not reader.canRead():
                raise EegvizError(f"cannot read image {self.paths[image_id]}: {reader.errorString()}.")
        self.name = name
        self.windowed = windowed
        self.fixation = fixation
        self.lead_in_s = max(0.0, float(lead_in_s))
        self.wait_for_consumer = wait_for_consumer
        self.records: list[dict] = []  # one per onset, the same fields as the CSV log
        self.state = "idle"  # idle -> waiting -> lead_in -> running -> done
        self.completed = False

        self._log_file = self._log = None
        if log_path is not None:
            try:
                Path(log_path).parent.mkdir(parents=True, exist_ok=True)
                self._log_file = open(log_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise EegvizError(f"cannot write the presentation log {log_path}: {exc.strerror}.") from None
            self._log = csv.writer(self._log_file)
            self._log.writerow(LOG_FIELDS)
            self._log_file.flush()

        info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                                f"eegviz-presenter@{socket.gethostname()}:{name}")  # stable: recorders re-attach
        info.desc().append_child_value("design", "eegviz present: one marker per image onset, payload = image id")
        self.outlet = pylsl.StreamOutlet(info)

        self._events = self._build_events()
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
        if self.windowed:
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

    # -- schedule ---------------------------------------------------------------------------------------------
    def _build_events(self) -> list[tuple[float, str, int]]:
        """(time after start, 'on'|'off'|'end', trial index); no 'off' for zero blanks (the next 'on' repaints)."""
        events = []
        for t in self.trials:
            events.append((t.onset_s, "on", t.index))
            if t.blank_s > 0:
                events.append((t.onset_s + t.duration_s, "off", t.index))
        events.append((self.total_s, "end", -1))
        return events

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
            self._onset(self.trials[idx], due)
        elif kind == "off":
            self._showing = None
            self.repaint()
        else:
            self._finish(True)
            return
        if self.state == "running":  # sync() in _onset may have delivered an Escape
            self._arm()

    def _onset(self, trial: Trial, due: float) -> None:
        """Paint the image, hand it to the window system, then timestamp and push the marker."""
        self._showing = trial.image_id
        self.repaint()
        QtGui.QGuiApplication.sync()
        if self.state != "running" or self.outlet is None:
            return
        ts = self._pylsl.local_clock()
        self.outlet.push_sample([trial.image_id], ts)
        row = {"trial": trial.index, "image_id": trial.image_id, "class": trial.class_name, "onset_lsl": ts,
               "intended_lsl": due, "late_ms": (ts - due) * 1000.0}
        self.records.append(row)
        if self._log is not None:
            self._log.writerow([row["trial"], row["image_id"], row["class"], f"{ts:.6f}", f"{due:.6f}",
                                f"{row['late_ms']:.3f}"])
            self._log_file.flush()  # a crash or kill keeps every onset so far
        self.onset.emit(trial.index, trial.image_id, ts)
        if trial.index + 1 < len(self.trials):  # decode and scale the next image while this one is up
            nxt = self.trials[trial.index + 1].image_id
            self._cache = {k: v for k, v in self._cache.items() if k in (trial.image_id, nxt)}
            self._pixmap(nxt)

    def _finish(self, completed: bool) -> None:
        self._timer.stop()
        self._poll.stop()
        self._lead.stop()
        self.state = "done"
        self.completed = completed
        self._showing = None
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
        reader = QtGui.QImageReader(str(self.paths[image_id]))
        reader.setAutoTransform(True)  # honour EXIF orientation, as photo viewers do
        img = reader.read()
        if img.isNull():
            raise EegvizError(f"cannot read image {self.paths[image_id]}: {reader.errorString()}.")
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
        if self._showing is not None:
            pm = self._pixmap(self._showing)
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


# ----------------------------------------------------------------------------------------------- running
def run_presenter(images_dir: str | Path, *, design: str = "rapid", on_s: float = 0.5, blank_s: float = 0.5,
                  jitter_s: float = 0.0, repeats: int = 1, shuffle: bool = True, seed: int = 0,
                  block_size: int | None = None, name: str = DEFAULT_NAME, log_path: str | Path | None = None,
                  windowed: bool = False, fixation: bool = False, lead_in_s: float = 2.0,
                  wait_for_consumer: bool = True) -> int:
    """Find the images, plan the session, present it, return 0 (also after Escape: an abort is a clean stop).

    Waits for an LSL consumer by default: start the recorder (LabRecorder, `eegviz live --markers NAME`) after
    this window is up, or press Space to go without one.
    """
    images = find_images(images_dir)
    trials = make_schedule(images, design=design, on_s=on_s, blank_s=blank_s, jitter_s=jitter_s, repeats=repeats,
                           shuffle=shuffle, seed=seed, block_size=block_size)
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(sys.argv[:1])
    elif not isinstance(app, QtWidgets.QApplication):
        raise EegvizError("the presenter needs a QApplication, but a non-GUI Qt application is already running.")
    presenter = Presenter(trials, {i.image_id: i.path for i in images}, name=name, log_path=log_path,
                          windowed=windowed, fixation=fixation, lead_in_s=lead_in_s,
                          wait_for_consumer=wait_for_consumer)
    n_classes = len({t.class_name for t in trials})
    wait = "; waiting for a recorder (Space starts now, Esc quits)" if wait_for_consumer else ""
    print(f"eegviz: {len(trials)} trials of {len(images)} images in {n_classes} classes, {design} design, "
          f"about {presenter.total_s + lead_in_s:.0f} s; markers on LSL stream '{name}'{wait}", flush=True)
    loop = QtCore.QEventLoop()  # a local loop works whether or not the caller's application is already running
    presenter.finished.connect(loop.quit)
    presenter.start()
    if presenter.state != "done":
        loop.exec()
    QtCore.QThread.msleep(200)  # let the last markers reach their receivers before the outlet goes
    presenter.close_stream()
    presenter.close()
    presenter.deleteLater()
    lates = sorted(r["late_ms"] for r in presenter.records)
    timing = f"; onset lateness median {lates[len(lates) // 2]:.1f} ms, max {lates[-1]:.1f} ms" if lates else ""
    how = "done" if presenter.completed else "aborted"
    print(f"eegviz: {how}, {len(presenter.records)} of {len(trials)} trials shown{timing}"
          + (f"; log in {log_path}" if log_path else ""), flush=True)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `eegviz present`'s arguments to a (sub)parser and make main_from_args its handler (`args.fn`)."""
    parser.add_argument("images_dir", nargs="?",
                        help="folder of images (png, jpg, bmp), flat or one subfolder per class; "
                             "each marker carries the file name without extension")
    parser.add_argument("--design", choices=DESIGNS, default="rapid",
                        help="rapid: all images interleaved; block: runs of one class (default: rapid)")
    parser.add_argument("--on", dest="on_s", type=float, default=0.5, help="seconds each image is shown (0.5)")
    parser.add_argument("--blank", dest="blank_s", type=float, default=0.5, help="seconds of blank after each (0.5)")
    parser.add_argument("--jitter", dest="jitter_s", type=float, default=0.0,
                        help="add a random 0..S seconds to every blank (0)")
    parser.add_argument("--repeats", type=int, default=1, help="times each image is shown (1)")
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false", help="keep folder order")
    parser.add_argument("--seed", type=int, default=0, help="seed for order and jitter (0)")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"LSL marker stream name ({DEFAULT_NAME})")
    parser.add_argument("--log", help="CSV of every onset (LSL time, image id, class, planned time)")
    parser.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    parser.add_argument("--block-size", type=int, help="trials per block (block design; default: one pass over "
                                                       "the class's images)")
    parser.add_argument("--fixation", action="store_true", help="a fixation cross during the lead-in and blanks")
    parser.add_argument("--lead-in", dest="lead_in_s", type=float, default=2.0,
                        help="seconds of blank (or fixation) before the first image (2)")
    parser.add_argument("--no-wait", dest="wait_for_consumer", action="store_false",
                        help="start at once instead of waiting for a recorder to subscribe to the markers")
    demo = parser.add_argument_group("demo stimuli", "render the synthetic world's stimuli into a folder and exit; "
                                                     "markers from presenting it are ids eegviz can score")
    demo.add_argument("--write-demo-folder", metavar="DIR", help="write DIR/<class>/<id>.png and captions.json")
    demo.add_argument("--per-class", type=int, default=2, help="images per class (2)")
    demo.add_argument("--size", type=int, default=256, help="image size in pixels (256)")
    demo.add_argument("--classes", metavar="C[,C...]", help="only these classes (default: all)")
    parser.set_defaults(fn=main_from_args)


def main_from_args(args: argparse.Namespace) -> int:
    """Run the presenter from parsed `eegviz present` arguments (or, with --write-demo-folder, write one)."""
    if args.write_demo_folder:
        if args.images_dir:
            raise EegvizError("give an images folder to present or --write-demo-folder, not both")
        classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
        paths = write_stimulus_folder(args.write_demo_folder, n_per_class=args.per_class, size=args.size,
                                      classes=classes, seed=args.seed)
        print(f"eegviz: wrote {len(paths)} stimuli to {args.write_demo_folder}; present them with "
              f"`eegviz present {args.write_demo_folder}`", flush=True)
        return 0
    if not args.images_dir:
        raise EegvizError("present needs an images folder (or --write-demo-folder DIR to make one)")
    if not args.lead_in_s >= 0:
        raise EegvizError(f"--lead-in must be >= 0 seconds, got {args.lead_in_s}")
    return run_presenter(args.images_dir, design=args.design, on_s=args.on_s, blank_s=args.blank_s,
                         jitter_s=args.jitter_s, repeats=args.repeats, shuffle=args.shuffle, seed=args.seed,
                         block_size=args.block_size, name=args.name, log_path=args.log, windowed=args.windowed,
                         fixation=args.fixation, lead_in_s=args.lead_in_s, wait_for_consumer=args.wait_for_consumer)


# ----------------------------------------------------------------------------------------------- demo stimuli
def write_stimulus_folder(out_dir: str | Path, n_per_class: int = 2, size: int = 256, *,
                          classes: Sequence[str] | None = None, seed: int = 0) -> list[Path]:
    """Render synthetic-world stimuli into OUT/<class>/<image_id>.png plus OUT/captions.json (id -> caption).

    The ids are the world's own (`star_001`), so markers from presenting this folder are ones eegviz can
    re-render and score, which makes the folder a ready test of the whole record -> train -> live loop.
    Returns the written image paths.
    """
    import numpy as np
    from PIL import Image

    from eegviz.world.stimuli import CLASSES, stimulus_set, render

    if n_per_class < 1 or size < 8:
        raise EegvizError(f"need n_per_class >= 1 and size >= 8, got {n_per_class} and {size}.")
    wanted = list(CLASSES) if classes is None else list(classes)
    unknown = [c for c in wanted if c not in CLASSES]
    if unknown:
        raise EegvizError(f"unknown stimulus class '{unknown[0]}'; known classes: {', '.join(CLASSES)}.")
    out = Path(out_dir)
    written, captions = [], {}
    for spec in stimulus_set(n_per_class, seed=seed):
        if spec.class_name not in wanted:
            continue
        image, _ = render(spec, size=size)
        path = out / spec.class_name / f"{spec.image_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
        written.append(path)
        captions[spec.image_id] = spec.caption
    (out / "captions.json").write_text(json.dumps(captions, indent=1))
    return written
