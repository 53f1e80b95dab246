"""MneFileSource: replay any recording MNE reads (FIF, EDF/BDF, BrainVision, EEGLAB .set, ...) as a Source.

Labs keep their data in these formats, not in XDF; MNE already knows them all (mne.io.read_raw picks the
reader by extension) and gives samples in volts with channel types, so this source only has to turn the file
into eegviz's terms: EEG channels only (EOG/EMG/stim channels and channels marked bad are not scalp EEG the
model could use; bad ones are interpolated by the montage mapping when the model needs them), sample
timestamps in the recording's clock (first_samp / sfreq + times), and annotations as string markers at their
onsets in that same clock, the description as the payload. BAD_ and EDGE annotations mark spans, not events,
and are skipped (so is BrainVision's "New Segment"). Pacing (real time or as fast as possible with speed=0) is eegviz.sources.replay's.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError, one_line
from eegviz.messages import Marker, StreamInfo
from eegviz.sources.replay import ReplaySource, checked_speed

log = logging.getLogger(__name__)

# Annotations that mark spans or recording boundaries, not events: MNE's "BAD_..."/"BAD ..." and "EDGE..."
# spans (matched in any case, as MNE writes them) and BrainVision's "New Segment" (where the amplifier started
# or resumed recording). Only these prefixes: an image id such as "badger_01" is a marker like any other.
SKIPPED_ANNOTATIONS = ("bad_", "bad ", "edge", "new segment")


def _skipped(desc: str) -> bool:
    d = desc.strip().lower()
    return d == "bad" or d.startswith(SKIPPED_ANNOTATIONS)


def read_recording(path: Path):
    """(raw with EEG channels only, markers) from a file; every failure is one EegvizError line."""
    import mne

    if not path.exists():
        raise EegvizError(f"{path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FIF naming conventions: notes for MNE users, not errors
            # EDF/BDF labels carry their type ("EEG Fp1", "ECG ECG", the form the EDF+ spec recommends):
            # infer_types strips the prefix and types the channel, so non-EEG ones are dropped below
            extra = {"infer_types": True} if path.suffix.lower() in (".edf", ".bdf") else {}
            raw = mne.io.read_raw(path, preload=True, verbose="error", **extra)
    except Exception as e:  # noqa: BLE001 - MNE's readers raise many kinds; the user needs one line
        formats = "FIF, EDF/BDF, BrainVision (.vhdr), EEGLAB (.set) and the other formats of mne.io.read_raw"
        if "unsupported file" in str(e).lower():
            raise EegvizError(f"{path.name} is not an XDF recording nor a file MNE reads ({formats})") from None
        raise EegvizError(f"cannot read {path.name} with MNE ({one_line(e)}); readable: {formats}") from None
    bads = [b for b in raw.info["bads"] if b in raw.ch_names]
    try:
        raw.pick("eeg", exclude="bads")
    except ValueError:
        raise EegvizError(f"{path.name} holds no (good) EEG channels; its channel types: "
                          f"{', '.join(sorted(set(raw.get_channel_types()))) or 'none'}") from None
    if bads:
        log.warning("%s: channels marked bad are left out: %s", path.name, ", ".join(bads))
    markers = []
    ann = raw.annotations
    # Raw keeps its annotations relative to meas_date (or, without one, in the first_samp/sfreq frame), the
    # frame in which sample i lies at first_time + times[i]
    shift = 0.0
    if ann.orig_time is not None and raw.info["meas_date"] is not None:
        shift = (ann.orig_time - raw.info["meas_date"]).total_seconds()
    skipped = 0
    for onset, desc in zip(ann.onset, ann.description):
        if _skipped(str(desc)):
            skipped += 1
            continue
        markers.append(Marker(timestamp=float(onset) + shift, payload=str(desc), source="annotations"))
    if skipped:
        log.info("%d annotation(s) mark bad spans, edges or segment starts, not stimuli: not replayed as markers",
                 skipped)
    markers.sort(key=lambda m: m.timestamp)
    return raw, markers


class MneFileSource(ReplaySource):
    """Plays a file mne.io.read_raw reads, annotations as markers, in the recording's own clock."""

    def __init__(self, path: str | Path, speed: float = 1.0, chunk_s: float = 0.02) -> None:
        self.speed = checked_speed(speed)
        self.path = Path(path)
        self.chunk_s = float(chunk_s)
        self.info = StreamInfo(name=self.path.stem, ch_names=(), sfreq=0.0)

    @classmethod
    def from_cli(cls, source) -> MneFileSource:
        """From a session's eegviz.settings.SourceSettings (`eegviz replay FILE --speed S`)."""
        given = [flag for flag, value in (("--stream", source.stream), ("--markers", source.markers)) if value]
        if given:  # silently ignored, a user would think the named stream was used
            raise EegvizError(f"{' and '.join(given)} pick streams inside an XDF file; {Path(source.file).name} is "
                              "read by MNE, whose EEG channels and annotations are used")
        return cls(source.file, speed=source.speed)

    def load(self):
        raw, markers = read_recording(self.path)
        sfreq = float(raw.info["sfreq"])
        data = raw.get_data().T.astype(np.float32)  # MNE gives volts
        timestamps = raw.first_time + raw.times
        if not len(timestamps):
            raise EegvizError(f"{self.path.name} holds no samples")
        if not markers:
            log.warning("%s: no annotations to use as markers, so nothing will be decoded", self.path.name)
        self.info = StreamInfo(name=self.path.stem, ch_names=tuple(raw.ch_names), sfreq=sfreq,
                               source_id=f"mne:{self.path.name}", ch_type="EEG", unit="volts")
        return data, timestamps, markers
