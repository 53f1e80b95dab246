"""Presentation schedules: which image when, as plain data (no Qt, no LSL), so designs are testable and reusable.

make_schedule / PresentationPlan turn image ids into Trials (rapid or block design, repeats, shuffle,
jittered blanks; deterministic for a seed); onset_events turns Trials into the timed on/off/end events the
Presenter widget plays against its LSL-clock anchor. check_seconds and check_stream_name are the checks every
duration and the marker stream's name pass before any window or LSL outlet exists (the CLI needs them without Qt).
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from eegviz.data.images import ImageFile, class_of, utf8_on_disk
from eegviz.errors import EegvizError, about

DESIGNS = ("rapid", "block")
DEFAULT_NAME = "eegviz-presenter"  # the marker outlet's LSL name (here, not in widget: the CLI needs it without Qt)


# The longest duration any option may ask for: an hour. Every duration ends up in a QTimer, which takes whole
# milliseconds up to 2**31 - 1 (about 24.8 days); beyond that PySide6 raises OverflowError, and inside Qt's event
# loop that cannot stop the run, so the session hung. An hour is far more than any image, blank or lead-in needs
# and far inside the timer's range, even for --blank plus --jitter (the longest single wait between events).
MAX_SECONDS = 3600.0
MAX_SESSION_S = 24 * 3600.0  # the longest schedule (images x repeats x (on + blank)) accepted
# The onset log's columns: one row per image, written at its onset (flushed: a crash keeps it) and completed in place
# at its offset. ONSET_FIELDS are the columns of logs from before offsets were logged, which --resume still reads.
# offset_lsl is taken as onset_lsl is (after the blank frame is handed over), so on_ms - intended_on_ms is how long the
# machine held the image beyond (or short of) --on; offset_by says what ended it (OFFSET_BY), empty for an image still
# up when the process was killed.
ONSET_FIELDS = ("trial", "image_id", "class", "onset_lsl", "intended_lsl", "late_ms")
LOG_FIELDS = ONSET_FIELDS + ("offset_lsl", "on_ms", "intended_on_ms", "offset_by")
# blank: the scheduled blank; next: the next image (no blank between them); end: the end of the schedule (the last
# image, no blank after it); abort: Esc, the window closed, Ctrl-C or SIGTERM, or an image unreadable mid-run ended the
# run while the image was up, so its offset is the abort's time and its on_ms is not the machine's timing
OFFSET_BY = ("blank", "next", "end", "abort")


def check_seconds(option: str, value, *, zero_ok: bool = True) -> float:
    """value as float seconds if it is a finite number > 0 (>= 0 with zero_ok) and at most MAX_SECONDS, else
    a one-line EegvizError naming the command-line option (--on, --blank, --jitter, --lead-in)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < 0 or (value == 0 and not zero_ok) or value > MAX_SECONDS:
        raise EegvizError(f"{option} must be a finite number {'>=' if zero_ok else '>'} 0 and at most "
                          f"{MAX_SECONDS:g} seconds (an hour), got {value!r}.")
    return float(value)


def check_stream_name(name) -> str:
    """name if liblsl can name a marker outlet with it, else a one-line EegvizError.

    liblsl refuses an empty name (pylsl then raises a bare RuntimeError), a name of only spaces is one no
    recorder can be pointed at, and pylsl encodes the name as UTF-8 (a non-UTF-8 argv byte would raise).
    """
    if not isinstance(name, str) or not name.strip():
        raise EegvizError(f"--name must be a non-empty LSL stream name, got {name!r}.")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        if utf8_on_disk(name):  # typed in UTF-8 under an ASCII locale: the name is fine, the locale is not
            raise EegvizError(f"--name {name!r} is UTF-8 that this system's locale ({sys.getfilesystemencoding()}) "
                              "cannot read as text; run with a UTF-8 locale (LANG=C.UTF-8) or PYTHONUTF8=1") from None
        raise EegvizError(f"--name must be UTF-8 text, got {name!r}.") from None
    return name


def log_exists_message(log_path) -> str:
    """The one-line refusal of a --log that exists: an onset log is a session record, never overwritten."""
    return f"the presentation log {log_path} exists; give a new file (an earlier session's log is never overwritten)."


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
        # named as on the command line (eegviz present); the keyword arguments are on_s, blank_s, ...
        for name, value, zero_ok in (("--on", self.on_s, False), ("--blank", self.blank_s, True),
                                     ("--jitter", self.jitter_s, True)):
            check_seconds(name, value, zero_ok=zero_ok)
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise EegvizError(f"--repeats must be a whole number >= 1, got {self.repeats!r}.")
        if self.block_size is not None and (isinstance(self.block_size, bool) or not isinstance(self.block_size, int)
                                            or self.block_size < 1):
            raise EegvizError(f"--block-size must be a whole number >= 1, got {self.block_size!r}.")
        if self.block_size is not None and self.design != "block":
            raise EegvizError("--block-size only applies to the block design; add --design block or drop it.")

    def schedule(self, images: Sequence[str | ImageFile]) -> list[Trial]:
        """The trial list for these images; see make_schedule."""
        classes = _classes(images)
        # before the trial list is built: --repeats 100000000 built it for minutes, memory growing, with nothing said
        shortest = len(classes) * self.repeats * (self.on_s + self.blank_s)
        if shortest > MAX_SESSION_S:
            with about("--repeats", "--on", "--blank"):  # the one a config file set is named (eegviz.cli)
                raise EegvizError(f"{len(classes)} images x --repeats {self.repeats} would present for at least "
                                  f"{shortest / 3600:.0f} h; a session is at most {MAX_SESSION_S / 3600:g} h: "
                                  "use fewer --repeats")
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


def remaining(trials: Sequence[Trial], first: int) -> list[Trial]:
    """The trials from schedule index `first` on, keeping their indices (a resumed run's log numbers its trials as
    the whole schedule does) and moved earlier so the first of them starts at 0."""
    rest = [t for t in trials if t.index >= first]
    shift = rest[0].onset_s if rest else 0.0
    return [replace(t, onset_s=t.onset_s - shift) for t in rest]


# -- resuming an aborted session from its onset log --------------------------------------------------------------
# An onset log (LOG_FIELDS) says which trials were shown; the session file beside it (LOG.session.json)
# says which schedule they came from, so a resume can rebuild that schedule and refuse another one.

def session_path(log_path) -> Path:
    """The session file beside an onset log: session.csv -> session.csv.session.json."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.name + ".session.json")


def session_record(plan: PresentationPlan, *, images_dir, n_trials: int, first: int) -> dict:
    """What the session file keeps: the schedule's options (as plan fields), its images folder, its length and the
    schedule index this run started at (0, or where a resumed run went on)."""
    return {"schedule": asdict(plan), "images_dir": str(Path(images_dir).resolve()), "trials": n_trials,
            "first_trial": first}


def write_session(log_path, record: dict) -> None:
    """Write the session file of a new onset log; never over an existing one (a session record)."""
    path = session_path(log_path)
    try:
        with open(path, "x", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
    except FileExistsError:
        raise EegvizError(f"{path} exists; give --log a new file (an earlier session's record is never "
                          "overwritten).") from None
    except OSError as exc:
        raise EegvizError(f"cannot write {path}: {exc.strerror}.") from None


OPTION_NAMES = {"design": "--design", "on_s": "--on", "blank_s": "--blank", "jitter_s": "--jitter",
                "repeats": "--repeats", "shuffle": "--shuffle", "seed": "--seed", "block_size": "--block-size"}


def resume_point(log_path, plan: PresentationPlan, trials: Sequence[Trial]) -> int:
    """The schedule index a run resuming from the onset log `log_path` starts at, or a one-line EegvizError.

    Refused: a log that is not a presenter's onset log, a schedule whose options differ from the session file's
    (each named, with both values), one whose images at the logged trials are not the ones the log says were
    shown (an older log without a session file is checked this way alone: another seed or folder shows other
    images), and a log that already holds the whole schedule."""
    log_path = Path(log_path)
    try:
        with open(log_path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = [r for r in reader if r]
    except FileNotFoundError:
        raise EegvizError(f"--resume {log_path}: no such onset log (the --log of the aborted run).") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EegvizError(f"--resume {log_path}: cannot read it ({exc}).") from None
    if header is None or tuple(header) not in (LOG_FIELDS, ONSET_FIELDS):  # this version's, or an older onset log
        raise EegvizError(f"--resume {log_path} is not an `eegviz present --log` onset log (its first line is not "
                          f"{','.join(LOG_FIELDS)}).")
    first = 0
    record_path = session_path(log_path)
    if record_path.exists():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            then, first = record["schedule"], int(record["first_trial"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EegvizError(f"cannot read the session file {record_path} ({exc}).") from None
        now = asdict(plan)
        differ = [f"{OPTION_NAMES.get(k, k)} {then.get(k)!r} there, {now[k]!r} here" for k in now
                  if then.get(k) != now[k]]
        if differ:
            raise EegvizError(f"--resume {log_path}: the aborted run's schedule options differ ({'; '.join(differ)}); "
                              "resume with the options it ran with")
        if record.get("trials") != len(trials):
            raise EegvizError(f"--resume {log_path}: the aborted run's schedule had {record.get('trials')} trials, "
                              f"this one {len(trials)}: the images folder has changed")
    by_index = {t.index: t for t in trials}
    for row in rows:
        try:
            index, image_id = int(row[0]), row[1]
        except (ValueError, IndexError):
            raise EegvizError(f"--resume {log_path}: a line of it is not an onset ({','.join(row)}).") from None
        if index not in by_index or by_index[index].image_id != image_id:
            there = by_index[index].image_id if index in by_index else "nothing"
            raise EegvizError(f"--resume {log_path}: its trial {index} showed {image_id}, this schedule shows {there} "
                              "there; resume with the aborted run's images folder, --seed and schedule options")
    if rows:
        first = int(rows[-1][0]) + 1
    if first >= len(trials):
        raise EegvizError(f"--resume {log_path}: that run showed all {len(trials)} trials; nothing is left to show")
    return first


def schedule_duration(trials: Sequence[Trial]) -> float:
    """Seconds from the first onset to the end of the last blank."""
    return trials[-1].onset_s + trials[-1].duration_s + trials[-1].blank_s if trials else 0.0


def onset_events(trials: Sequence[Trial]) -> list[tuple[float, str, int]]:
    """(time after start, 'on'|'off'|'end', trial index); no 'off' for zero blanks (the next 'on' repaints)."""
    events = []
    for t in trials:
        events.append((t.onset_s, "on", t.index))
        if t.blank_s > 0:
            events.append((t.onset_s + t.duration_s, "off", t.index))
    events.append((schedule_duration(trials), "end", -1))
    return events


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
    just placed does not have exactly ceil(T/2) (it would have to come first again). Where none is (one label
    outnumbers all the others together), the most numerous label that differs from the previous one is placed,
    so the fewest equal neighbours are left (D x D x D D, never x D D D D): a uniform pick started with a
    minority label and left one block pair more of the dominant class back to back.
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
        if not good and options:  # impossible counts (one class dominates): the fewest repeats
            most = max(left[c] for c in options)
            good = [c for c in options if left[c] == most]
        pool = good or options or list(left)  # only the previous label is left: a repeat
        pick = pool[rng.randrange(len(pool))]
        out.append(pick)
        left[pick] -= 1
        if not left[pick]:
            del left[pick]
        prev = pick
    return out
