"""The messages that travel along the data path: Chunk/Marker -> Epoch -> Decoded -> Reconstruction.

Frozen dataclasses holding numpy arrays. Every stage adds its own timestamps (time.perf_counter() seconds) so
the latency from marker to image is measured per epoch, stage by stage.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

log = logging.getLogger(__name__)


def default_ch_names(n: int) -> list[str]:
    """ch1 .. chN: the labels given to channels a stream or file does not name."""
    return [f"ch{i + 1}" for i in range(n)]


def ch_name_problem(labels: list[str], n: int) -> str | None:
    """None when `labels` name all n channels, each non-empty (stripped) and distinct regardless of case; else what
    is wrong, in a few words. The montage maps channels by name, case aside (eegviz.stream.montage), so a blank or
    doubled one cannot be placed or told apart: 'Fz' and 'FZ' fed one of them twice and lost the other."""
    labels = [str(label).strip() for label in labels]
    if len(labels) != n:
        return f"{len(labels)} labels for {n} channels"
    if not all(labels):
        return f"{labels.count('')} of {n} channels have no label"
    key, times = Counter(label.casefold() for label in labels).most_common(1)[0] if labels else ("", 1)
    if times == 1:
        return None
    spellings = list(dict.fromkeys(label for label in labels if label.casefold() == key))
    if len(spellings) == 1:
        return f"'{spellings[0]}' labels {times} channels"
    return f"{' and '.join(map(repr, spellings))} name one channel (names are matched regardless of case)"


def usable_ch_names(labels: list[str], n: int, source: str = "the stream") -> list[str]:
    """`labels` (stripped) when they name all n channels, each non-empty and distinct, else default_ch_names(n):
    a stream that names some channels and leaves others blank or doubled is not half-trusted, because the
    montage maps channels by name. Labels given but not used are named in a warning: the montage check that
    follows can only report ch1..chN as unplaced, which sent a user with doubled names looking at montages."""
    labels = [str(label).strip() for label in labels]
    problem = ch_name_problem(labels, n)
    if problem is None:
        return labels
    if any(labels):
        log.warning("%s: its channel labels are not used (%s); its channels are called ch1..ch%d", source, problem, n)
    return default_ch_names(n)


@dataclass(frozen=True)
class StreamInfo:
    """What a source delivers: channel labels, nominal rate, and a name for status bars and recordings."""

    name: str
    ch_names: tuple[str, ...]
    sfreq: float
    source_id: str = ""
    ch_type: str = "EEG"
    unit: str = "volts"

    @property
    def n_channels(self) -> int:
        return len(self.ch_names)


@dataclass(frozen=True)
class Chunk:
    """Consecutive EEG samples: samples is (n_times, n_channels) float32 in volts, timestamps in the LSL clock.

    timestamps are what the epocher cuts in: this machine's clock, dejittered. raw_timestamps are the stamps
    exactly as the sender made them (its own clock, jitter and all), which is what a recording must keep so
    that a reader (pyxdf) can synchronise and dejitter them later from the clock offsets; None means the
    source has only one kind of stamp (a replay, the simulator) and timestamps are also the raw ones.
    NaN samples are kept as they came: the recording stores them, the epocher skips epochs that hold them.
    """

    samples: np.ndarray
    timestamps: np.ndarray
    source: str = ""
    raw_timestamps: np.ndarray | None = None
    raw_samples: np.ndarray | None = None  # as the sender sent them (its format and unit), for the recording

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[0] != self.timestamps.shape[0]:
            raise ValueError(
                f"chunk shape mismatch: samples {self.samples.shape} vs timestamps {self.timestamps.shape}"
            )
        if self.raw_timestamps is not None and self.raw_timestamps.shape != self.timestamps.shape:
            raise ValueError(f"chunk shape mismatch: raw_timestamps {self.raw_timestamps.shape} vs "
                             f"timestamps {self.timestamps.shape}")


@dataclass(frozen=True)
class ClockOffset:
    """One clock-offset measurement of a stream, as LabRecorder records it: sender clock + value = local clock.

    stream is "eeg" or "markers"; collection_time is the local time the measurement was taken.
    """

    stream: str
    collection_time: float
    value: float


# MNE annotations that mark spans or recording boundaries, not events: MNE's "BAD_..."/"BAD ..." and "EDGE..."
# spans (matched in any case, as MNE writes them), BrainVision's "New Segment" (where the amplifier started or
# resumed recording) and "DC Correction" (where a DC amplifier's offset was reset: the samples jump there).
# Only these prefixes: an image id such as "badger_01" is a marker like any other.
SPAN_ANNOTATIONS = ("bad_", "bad ", "edge ", "edge_", "new segment", "dc correction")
# EEGLAB's "boundary" event (MNE reads it as an annotation of that name): where EEGLAB cut data out or joined
# datasets, so the samples either side are not continuous. Matched whole: "boundary_12" may be an image id.
JOIN_ANNOTATIONS = ("boundary",)


def is_span_annotation(desc: str) -> bool:
    """Is a marker's text one of MNE's span or boundary annotations (SPAN_ANNOTATIONS), which names no stimulus?
    A file MNE reads leaves them out of its markers (eegviz.sources.mne_file); mne-lsl's PlayerLSL streams the
    same file's annotations as markers, these included (the pipeline skips them: why_no_image)."""
    d = desc.strip().lower()
    return d in ("bad", "edge", *JOIN_ANNOTATIONS) or d.startswith(SPAN_ANNOTATIONS)  # not "edger_01"


# what a marker's id is trimmed of: whitespace, and the NUL a C or MATLAB sender leaves after a string it sends
# whole from a fixed-size buffer ("bell_030\0"): str.strip() keeps NUL, so such an id named no image (not scored,
# not averaged over repeats, trained on as nothing) and "\0" alone was decoded as an image id
STRAY_CHARS = " \t\n\r\v\f\0"


def stimulus_id(payload: str) -> str:
    """A marker's text as the id of the image it names: stray whitespace and NUL either side trimmed
    (STRAY_CHARS). The recording keeps the text as sent."""
    return payload.strip(STRAY_CHARS)


def why_no_image(payload: str) -> str | None:
    """Why a marker names no image to decode (its results line), or None for a stimulus id. The one place that
    decides it, before any epoch is cut: an empty or whitespace-only payload (a sender's "stimulus off"), and MNE's
    span and boundary annotations (is_span_annotation), which mne-lsl's PlayerLSL streams beside the stimuli."""
    if not stimulus_id(payload):
        return "the marker names no image (empty); recorded, not decoded"
    if is_span_annotation(payload):
        return (f"'{payload}' is an MNE annotation marking a span or a boundary, not a stimulus (recorded, not "
                "decoded)")
    return None


@dataclass(frozen=True)
class Marker:
    """A string event, e.g. the id of the image shown at that instant (LSL clock seconds)."""

    timestamp: float
    payload: str
    source: str = ""
    raw_timestamp: float | None = None  # as the sender stamped it (its clock); None: same as timestamp


@dataclass(frozen=True)
class Break:
    """A place in a recording that no epoch may reach into or across, in the clock epochs are cut in.

    Why: a file can be continuous in its sample count but not in what the samples are: a BrainVision recording
    paused and resumed ("New Segment"), two recordings joined (MNE's "BAD boundary"/"EDGE boundary"), a span
    marked BAD_. An epoch reaching across holds samples from both sides (its baseline from the other one), so it
    is skipped as a gap, as a hole in a stream is. after: the stamp of the last usable sample before it (-inf at
    the start); before: that of the first usable sample after it (inf at the end). The samples in between are
    not usable; with none in between, the two sides are not continuous. what: which break, for the marker's line.
    """

    after: float
    before: float
    what: str

    def reached_by(self, first: float, last: float) -> bool:
        """Does a window of samples stamped first .. last hold an unusable sample or both sides of the break?"""
        return first < self.before and last > self.after


class SkipKind(str, Enum):
    """Why a marker got no image, as sinks receive it (on_skipped's kind) beside the reason text: a sink
    counts or routes skips by kind, never by parsing the text. A str, so it writes into JSON as its value."""

    DROPPED = "dropped"  # generation fell behind the marker rate; the newest epoch won
    GAP = "gap"  # the window fell in a gap of the stream, had already left the buffer, or reaches a Break
    NAN = "nan"  # the window held NaN/inf samples (kept in the recording, not decoded)
    INCOMPLETE = "incomplete"  # the stream ended before the window was complete
    STOPPED = "stopped"  # the session was stopped before the window was complete
    ERROR = "error"  # the session ended by an error before this epoch was generated
    NO_ID = "no id"  # the marker names no image (empty, whitespace only, an MNE span annotation): recorded, not decoded
    CLOCK = "clock"  # stamped in another clock than the EEG (minutes away from it): recorded, not decoded
    REJECTED = "rejected"  # an artefact: peak to peak over --reject-uv (eegviz.stream.reject); recorded, not decoded


@dataclass(frozen=True)
class Epoch:
    """EEG locked to one marker: data (n_channels, n_times) from marker.timestamp + tmin, already preprocessed."""

    data: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    tmin: float
    marker: Marker
    t_ready: float  # perf_counter when the chunk completing the window reached the epocher (before cutting)
    t_marker_seen: float = 0.0  # perf_counter when the marker itself arrived
    index: int = 0  # running number of the epoch in the session
    repeats: int = 1  # epochs of this stimulus id averaged into data (eegviz.stream.repeats; 1: this one alone)


@dataclass(frozen=True)
class Decoded:
    """Both branches' outputs for one epoch."""

    epoch: Epoch
    feature: np.ndarray  # pixel-branch EEG feature f(eeg)
    saliency: np.ndarray  # (H, W, 3) float32 in [0, 1]
    embedding: np.ndarray  # predicted text embedding, (tokens, dim)
    class_scores: np.ndarray  # (n_classes,) softmax over the model's classes
    class_names: tuple[str, ...] = ()
    t_done: float = 0.0
    latent: np.ndarray | None = None  # the second pixel branch: (C, h, w) scaled VAE latent, when the model has one

    @property
    def repeats(self) -> int:
        """How many showings of this stimulus the decoded epoch averages."""
        return self.epoch.repeats

    @property
    def top_class(self) -> str:
        return self.class_names[int(np.argmax(self.class_scores))] if self.class_names else ""


@dataclass(frozen=True)
class Reconstruction:
    """The final image for one epoch, with the time each stage took."""

    decoded: Decoded
    image: np.ndarray  # (H, W, 3) uint8
    generator: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    dropped_before: int = 0  # epochs dropped (newest wins) since the previous reconstruction
    true_class: str | None = None  # the class of what was shown, where known (eegviz.stimulus_truth)
    # what img2img started from: the saliency map, or ("latent") the decoder's latent branch (--init latent); the
    # window and results.jsonl say so, where the saliency map beside the image read as its start
    init: str = "saliency"

    @property
    def marker(self) -> Marker:
        return self.decoded.epoch.marker

    @property
    def repeats(self) -> int:
        return self.decoded.epoch.repeats
