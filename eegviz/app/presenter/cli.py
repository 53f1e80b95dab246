"""`eegviz present` on the command line: its arguments, and run_presenter, which goes from a folder to a session.

run_presenter finds the images, plans the schedule (schedule.py), runs the Presenter widget (widget.py) in a
local event loop and prints a one-line summary; add_arguments / main_from_args are what eegviz.cli wires in as
the `present` subcommand, including --write-demo-folder (stimulus_folder.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eegviz.app.presenter.schedule import (DEFAULT_NAME, DESIGNS, MAX_SECONDS, PresentationPlan, check_seconds,
                                           check_stream_name, log_exists_message, remaining, resume_point,
                                           session_path, session_record, write_session)
from eegviz.checks import check_at_least, check_named, check_range
from eegviz.errors import EegvizError, about
from eegviz.stopping import signals_call
from eegviz.words import counted

# No Qt (PySide6) at import: eegviz.cli builds every command's parser from add_arguments, so Qt, the widget, the
# image finder and the stimulus renderer are imported where they are used.


def run_presenter(images_dir: str | Path, *, design: str = "rapid", on_s: float = 0.5, blank_s: float = 0.5,
                  jitter_s: float = 0.0, repeats: int = 1, shuffle: bool = True, seed: int = 0,
                  block_size: int | None = None, name: str = DEFAULT_NAME, log_path: str | Path | None = None,
                  windowed: bool = False, fixation: bool = False, lead_in_s: float = 2.0,
                  wait_for_consumer: bool = True, screen: int = 0, resume: str | Path | None = None) -> int:
    """Find the images, plan the session, present it, return 0 (also after Escape: an abort is a clean stop).

    Waits for an LSL consumer by default: start the recorder (LabRecorder, `eegviz live --markers NAME`) after
    this window is up, or press Space to go without one.

    Ctrl-C (SIGINT) and `kill PID` (SIGTERM) end the run as Escape does - the summary line, the onset log
    closed, the marker outlet dropped - and then raise KeyboardInterrupt, which the command line turns into
    "interrupted" and exit 130. Left to Python's default, Ctrl-C raised inside a Qt slot, where PySide printed
    the traceback and swallowed it: the trial timer was never re-armed and the presentation froze full screen
    with the cursor hidden, and a second Ctrl-C did nothing (eegviz.stopping.signals_call).

    resume: the onset log (--log) of an aborted run of the same schedule; this run shows the trials that run did
    not, into its own log_path. Every log gets a session file beside it (schedule.session_path) so that the
    schedule can be rebuilt and another one refused; after an abort a rerun showed the whole seeded schedule
    from trial 1 again, and the lab repeated images or lost the rest of the session.
    """
    from PySide6 import QtCore, QtWidgets

    from eegviz.app.presenter.widget import Presenter
    from eegviz.data.images import find_images

    if resume is not None and log_path is None:  # a resumed run that is aborted again must be resumable too
        raise EegvizError("--resume needs a --log for this run (a new file: the aborted run's log is kept as it is)")
    if log_path is not None and Path(log_path).exists():  # refused before anything is shown
        raise EegvizError(log_exists_message(log_path))
    if log_path is not None and session_path(log_path).exists():
        raise EegvizError(f"{session_path(log_path)} exists; give --log a new file (an earlier session's record is "
                          "never overwritten).")
    if log_path is not None:  # ... and a log that cannot be created (under a file, a read-only folder)
        from eegviz.paths import check_creatable

        check_creatable(log_path, "--log")
    images = find_images(images_dir)
    check_marker_ids(images)
    plan = PresentationPlan(design=design, on_s=on_s, blank_s=blank_s, jitter_s=jitter_s, repeats=repeats,
                            shuffle=shuffle, seed=seed, block_size=block_size)
    trials = plan.schedule(images)
    n_schedule = len(trials)
    first = 0 if resume is None else resume_point(resume, plan, trials)
    trials = remaining(trials, first)
    app = QtWidgets.QApplication.instance()
    if app is None:
        from eegviz.app.display import check_display

        check_display("the presenter", "run it on the stimulus computer's desktop, or set QT_QPA_PLATFORM=eglfs or "
                      "linuxfb on a screen without a desktop")
        app = QtWidgets.QApplication(sys.argv[:1])
    elif not isinstance(app, QtWidgets.QApplication):
        raise EegvizError("the presenter needs a QApplication, but a non-GUI Qt application is already running.")
    from eegviz.app.presenter.widget import choose_screen

    target = choose_screen(screen)  # before the outlet exists: a wrong number costs nothing
    check_name_free(name)
    presenter = Presenter(trials, {i.image_id: i.path for i in images}, name=name, log_path=log_path,
                          windowed=windowed, fixation=fixation, lead_in_s=lead_in_s,
                          wait_for_consumer=wait_for_consumer, screen=target)
    if log_path is not None:  # the log now exists (the Presenter made it): its schedule beside it
        try:
            write_session(log_path, session_record(plan, images_dir=images_dir, n_trials=n_schedule, first=first))
        except EegvizError:
            presenter.close_stream()
            raise
    n_classes = len({t.class_name for t in trials})
    wait = "; waiting for a recorder (Space starts now, Esc quits)" if wait_for_consumer else ""
    resuming = f" (resuming at trial {first + 1} of {n_schedule})" if resume is not None else ""
    print(f"eegviz: {counted(len(trials), 'trial')}{resuming} of {counted(len(images), 'image')} in "
          f"{counted(n_classes, 'class', 'classes')}, {design} design, "
          f"{_about(presenter.total_s + lead_in_s)}; markers on LSL stream '{name}'{wait}", flush=True)
    loop = QtCore.QEventLoop()  # a local loop works whether or not the caller's application is already running
    presenter.finished.connect(loop.quit)
    interrupted: list[int] = []

    def on_signal(signum: int) -> None:
        # possibly in the middle of _tick or _onset: the abort is asked for, and runs from the event loop
        interrupted.append(signum)
        if presenter.state != "done":
            QtCore.QTimer.singleShot(0, presenter.abort)

    wake = QtCore.QTimer(interval=200)
    wake.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
    with signals_call(on_signal):  # until the summary is out: a second Ctrl-C does not cut it short
        wake.start()
        presenter.start()
        if presenter.state != "done":
            loop.exec()
        wake.stop()
        QtCore.QThread.msleep(200)  # let the last markers reach their receivers before the outlet goes
        presenter.close_stream()
        presenter.close()
        presenter.deleteLater()
        lates = sorted(r["late_ms"] for r in presenter.records)
        timing = f"; onset lateness median {lates[len(lates) // 2]:.1f} ms, max {lates[-1]:.1f} ms" if lates else ""
        timing += duration_error(presenter.records)
        how = "done" if presenter.completed else "aborted"
        unheard = (f"; {presenter.unheard} of the markers sent with no recorder connected (lost)"
                   if presenter.unheard else "")
        print(f"eegviz: {how}, {len(presenter.records)} of {len(trials)} trials shown{timing}{unheard}"
              + (f"; log in {log_path}" if log_path else ""), flush=True)
    if presenter.error is not None:  # an image unreadable mid-run: the run is not a clean stop
        raise EegvizError(presenter.error)
    if interrupted:
        raise KeyboardInterrupt  # the command line: "interrupted", exit 130, as every other command
    return 0


def duration_error(records) -> str:
    """'; on-duration error median +0.1 ms, max +16.7 ms': how long the images stayed up against --on (the onset
    log's on_ms - intended_on_ms), max the largest either way, with its sign (+ held too long, - cut short). An image
    ended by an abort is left out: the abort, not the machine, cut it short."""
    errors = sorted(r["on_ms"] - r["intended_on_ms"] for r in records
                    if r.get("on_ms") is not None and r.get("offset_by") != "abort")
    if not errors:
        return ""
    return (f"; on-duration error median {errors[len(errors) // 2]:+.1f} ms, "
            f"max {max(errors, key=abs):+.1f} ms")


def _about(seconds: float) -> str:
    """How long a run takes, for its opening line: in seconds, or milliseconds where the seconds round to 0 (a quick
    check with `--on 0.03` was announced as "about 0 s", as if nothing would be shown)."""
    if round(seconds) == 0:
        return f"about {seconds * 1000:.0f} ms"
    return f"about {seconds:.0f} s"


def check_name_free(name: str, wait_s: float = 1.0) -> None:
    """Refuse a marker stream name another sender already publishes on LSL (a presenter left running, a simulator's
    markers). A second presenter of one name started beside the first without a word, both began when a recorder
    subscribed, and the recording held their markers interleaved (its outlets share a source_id, so LabRecorder
    took the two for one stream): training read the other session's image ids as this EEG's epochs."""
    from eegviz.sources.lsl_outlet import streams_named

    there = streams_named((name,), wait_s)
    if there:
        _, sid, host, kind = there[0]
        raise EegvizError(f"a stream named '{name}' is already on LSL (type {kind}, "
                          f"source_id {sid or 'none'}, host {host}): another `eegviz present` still "
                          "running? Recorders cannot tell two streams of one name apart, so their markers would mix "
                          "in the recording; stop that sender, or give --name another name")


def check_marker_ids(images) -> None:
    """Refuse an image whose id live and replay would not decode: one named like an MNE span or boundary annotation
    ("bad_apple_01", "edge_2", "boundary"; eegviz.messages.is_span_annotation) is skipped there as "not a stimulus".
    Such an image was presented, recorded and trained on, and then never decoded in a session: every trial of it
    was a "no id" line. Refused here, before a session is recorded, while renaming it costs nothing."""
    from eegviz.messages import is_span_annotation

    for img in images:
        if is_span_annotation(img.image_id):
            raise EegvizError(f"the image {img.path} is named like an MNE annotation of a span or a boundary (BAD..., "
                              "EDGE..., boundary, New Segment), which live and replay do not decode as a stimulus; "
                              "rename it")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `eegviz present`'s arguments to a (sub)parser and make main_from_args its handler (`args.fn`)."""
    parser.add_argument("images_dir", nargs="?",
                        help="folder of images (png, jpg, bmp), flat or one subfolder per class; "
                             "each marker carries the file name without extension")
    parser.add_argument("--design", choices=DESIGNS, default="rapid",
                        help="rapid: all images interleaved; block: runs of one class (default: rapid)")
    most = f"at most {MAX_SECONDS:g}"  # every duration is a Qt timer's; see schedule.MAX_SECONDS
    parser.add_argument("--on", dest="on_s", type=float, default=0.5,
                        help=f"seconds each image is shown, > 0 and {most} (0.5)")
    parser.add_argument("--blank", dest="blank_s", type=float, default=0.5,
                        help=f"seconds of blank after each, {most} (0.5)")
    parser.add_argument("--jitter", dest="jitter_s", type=float, default=0.0,
                        help=f"add a random 0..S seconds to every blank, {most} (0)")
    parser.add_argument("--repeats", type=int, default=1, help="times each image is shown; the whole schedule is at "
                        "most 24 h (1)")
    # every switch has both forms, so a --config file's `windowed = true` can be undone on the command line
    parser.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=True,
                        help="shuffle the order (default: on; --no-shuffle keeps folder order)")
    # with --write-demo-folder it is the synthetic world's seed (its stimuli, ids <class>_<nnn>_s<seed>), which a
    # model trained on another seed's world decodes at chance; said, since "order and jitter" alone sent a user
    # who wanted another order into another world
    parser.add_argument("--seed", type=int, default=0, help="seed for order and jitter; with --write-demo-folder, "
                        "the synthetic world's (its stimuli: the shipped model knows seed 0's) (0)")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"LSL marker stream name, not empty ({DEFAULT_NAME})")
    parser.add_argument("--log", help="CSV of every image: its onset (LSL time, image id, class, planned time) and "
                                        "offset (LSL time, how long it was up against --on, what ended it), and "
                                        "beside it LOG.session.json, the schedule's options (what --resume checks)")
    parser.add_argument("--resume", metavar="LOG",
                        help="go on after an aborted run: LOG is its --log; with the same folder, --seed and schedule "
                             "options (refused where they differ) show the trials it did not, into a new --log")
    parser.add_argument("--windowed", action=argparse.BooleanOptionalAction, default=False,
                        help="a normal window instead of full screen")
    parser.add_argument("--screen", type=int, default=0, metavar="N",
                        help="the screen to present on: 0 the primary, 1 the next (the participant's monitor); "
                             "one the display lacks is refused with a list of its screens, size and position (0)")
    parser.add_argument("--block-size", type=int, help="trials per block (block design; default: one pass over "
                                                       "the class's images)")
    parser.add_argument("--fixation", action=argparse.BooleanOptionalAction, default=False,
                        help="a fixation cross during the lead-in and blanks")
    parser.add_argument("--lead-in", dest="lead_in_s", type=float, default=2.0,
                        help=f"seconds of blank (or fixation) before the first image, {most} (2)")
    parser.add_argument("--wait", dest="wait_for_consumer", action=argparse.BooleanOptionalAction, default=True,
                        help="wait for a recorder to subscribe to the markers before the first image (default: on; "
                             "--no-wait starts at once)")
    demo = parser.add_argument_group("demo stimuli", "render the synthetic world's stimuli into a folder and exit; "
                                                     "markers from presenting it are ids eegviz can score")
    demo.add_argument("--write-demo-folder", metavar="DIR", help="write DIR/<class>/<id>.png and captions.json")
    demo.add_argument("--per-class", type=int, default=2, help="images per class (2)")
    demo.add_argument("--size", type=int, default=256, help="image size in pixels (256)")
    demo.add_argument("--classes", metavar="C[,C...]", help="only these classes (default: all)")
    parser.set_defaults(fn=main_from_args)


def main_from_args(args: argparse.Namespace) -> int:
    """Run the presenter from parsed `eegviz present` arguments (or, with --write-demo-folder, write one)."""
    # `--log "$LOG"` with LOG unset gives "": it was refused as "the presentation log  exists" (the working
    # directory, as a Path), and an empty folder was taken as not given, with a line about the other option
    check_named(args.log, "--log", "the onset log file to write (or leave --log out)")
    check_named(args.write_demo_folder, "--write-demo-folder", "the folder to write the stimuli into")
    check_named(args.images_dir, "present's IMAGES_DIR", "the folder of images to present")
    check_named(args.resume, "--resume", "the onset log of the aborted run (or leave --resume out)")
    if args.write_demo_folder:
        from eegviz.app.presenter.stimulus_folder import MAX_SIZE, write_stimulus_folder

        if args.images_dir:
            with about("--write-demo-folder"):  # a config file's is named before it (eegviz.cli)
                raise EegvizError("give an images folder to present or --write-demo-folder, not both")
        classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
        # named as the options are: write_stimulus_folder's own check names its parameters (n_per_class)
        check_at_least(args.per_class, "--per-class", 1)
        check_range(args.size, "--size", 8, MAX_SIZE, hint="the image size in pixels")
        paths = write_stimulus_folder(args.write_demo_folder, n_per_class=args.per_class, size=args.size,
                                      classes=classes, seed=args.seed)
        print(f"eegviz: wrote {counted(len(paths), 'stimulus', 'stimuli')} to {args.write_demo_folder}; present them "
              f"with `eegviz present {args.write_demo_folder}`", flush=True)
        return 0
    if not args.images_dir:
        raise EegvizError("present needs an images folder (or --write-demo-folder DIR to make one)")
    if args.classes is not None:
        raise EegvizError("--classes chooses what --write-demo-folder renders; a folder is presented whole")
    # --per-class and --size have defaults, so only a value other than theirs can be told apart; given with a
    # folder to present, `--per-class 3` was ignored without a word and every image of every class was shown
    given = [opt for opt, value, default in (("--per-class", args.per_class, 2), ("--size", args.size, 256))
             if value != default]
    if given:
        raise EegvizError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for --write-demo-folder (what "
                          "it renders); a folder is presented whole, every image as it is: leave "
                          f"{'it' if len(given) == 1 else 'them'} out")
    # Checked here, before any image is read, window shown or LSL outlet made: liblsl refuses an empty name with
    # a bare RuntimeError, and a duration beyond a Qt timer's range overflowed inside the event loop and hung.
    check_stream_name(args.name)
    for option, seconds, zero_ok in (("--on", args.on_s, False), ("--blank", args.blank_s, True),
                                     ("--jitter", args.jitter_s, True), ("--lead-in", args.lead_in_s, True)):
        check_seconds(option, seconds, zero_ok=zero_ok)
    if args.log and Path(args.log).exists():
        with about("--log"):  # the message names the file, not the option (a config file's is named before it)
            raise EegvizError(log_exists_message(args.log))
    return run_presenter(args.images_dir, design=args.design, on_s=args.on_s, blank_s=args.blank_s,
                         jitter_s=args.jitter_s, repeats=args.repeats, shuffle=args.shuffle, seed=args.seed,
                         block_size=args.block_size, name=args.name, log_path=args.log, windowed=args.windowed,
                         fixation=args.fixation, lead_in_s=args.lead_in_s, wait_for_consumer=args.wait_for_consumer,
                         screen=args.screen, resume=args.resume)
