"""MneFileSource: replay any recording MNE reads (FIF, EDF/BDF, BrainVision, EEGLAB .set, ...) as a Source.

Labs keep their data in these formats, not in XDF; MNE already knows them all (mne.io.read_raw picks the
reader by extension) and gives samples in volts with channel types (but for EDF/BDF and BrainVision units it
does not know: _edf_units, _vhdr_units), so this source only has to turn the file
into eegviz's terms: EEG channels only (EOG/EMG/stim channels and channels marked bad are not scalp EEG the
model could use; bad ones are interpolated by the montage mapping when the model needs them), sample
timestamps in the recording's clock (first_samp / sfreq + times), and annotations as string markers at their
onsets in that same clock, the description as the payload (a BrainVision Comment's text: _payload). BAD_ and EDGE annotations mark spans, not events,
and are not markers (nor are BrainVision's "New Segment" and "DC Correction" and EEGLAB's "boundary"; nor its
"SyncStatus", which is no break either: _recorder_status); they are breaks instead: the
stamps of a file MNE reads run on across a pause and resume ("New Segment"), a join of two recordings
(mne.concatenate_raws writes "BAD boundary" and "EDGE boundary", EEGLAB "boundary", also where it cut data out)
and a BAD_ span, so no hole in them stops an epoch from holding samples of both
sides; the breaks are handed to the epocher (ReplaySource.breaks), which skips such epochs as gaps, as MNE's own
Epochs reject them (reject_by_annotation). Trigger channels (BDF's Status, FIF's STI) carry numbers, not the
image ids eegviz decodes by: a file whose only events are there is refused, saying how to name them (with
--event-ids FILE, eegviz.sources.event_ids, the trigger-code events, on the trigger channel or annotations such
as "3", are the markers, each named by the image id the file gives it).
An EDF+D file with gaps between its records is refused (_refuse_discontinuous_edf). Electrode positions the file
carries are offered to the session (positions_file) for names no montage places.
Pacing (real time or as fast as possible with speed=0) is eegviz.sources.replay's.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError, one_line
from eegviz.messages import JOIN_ANNOTATIONS, Marker, StreamInfo, is_span_annotation
from eegviz.sources.replay import ReplaySource, checked_speed
from eegviz.sources.units import judged_scale, volts_per_unit

log = logging.getLogger(__name__)


def _sample(raw, t: float) -> int:
    """The sample number (0: the first one read) at time t, in the frame where sample i lies at first_time + i/sfreq."""
    return int(round(t * raw.info["sfreq"])) - raw.first_samp


def _breaks(raw, ann_times) -> list[tuple[int, int, str]]:
    """Where raw's samples are not continuous although its times are, from its annotations (onsets in raw's
    sample frame: ann_times): (a, b, what) for samples a..b-1 no epoch may use, a == b where samples a - 1 and a
    lie on two sides of a pause or join. "New Segment" marks where the amplifier resumed (BrainVision gives it
    one sample's duration, which is not a span), "DC Correction" where a DC amplifier's offset was reset (the
    samples jump), and so does EEGLAB's "boundary" (where EEGLAB cut data out or
    joined datasets; its duration is how much was cut, which is no longer in the file); a BAD/EDGE annotation
    marks its span, or with no duration the place (MNE's "BAD boundary"/"EDGE boundary" at a join)."""
    out, seen = [], set()
    sfreq = raw.info["sfreq"]
    for onset, duration, desc in zip(ann_times, raw.annotations.duration, raw.annotations.description):
        desc = str(desc)
        if not is_span_annotation(desc):
            continue
        a = _sample(raw, onset)
        name = desc.strip().lower()
        point = name.startswith(("new segment", "dc correction")) or name in JOIN_ANNOTATIONS
        b = a if point else max(a, _sample(raw, onset + duration))
        if b <= 0 or a >= raw.n_times:  # before the first sample or after the last: nothing to break
            continue
        if (a, b) in seen:  # MNE writes "BAD boundary" and "EDGE boundary" at the same join
            continue
        seen.add((a, b))
        t0 = raw.first_time + a / sfreq
        what = (f"'{desc}' at {t0:.3f} s" if a == b else
                f"the span '{desc}' ({t0:.3f}-{raw.first_time + b / sfreq:.3f} s)")
        out.append((a, b, what))
    return out


# the channels MNE's find_events reads by default, where a file has several trigger channels: Neuromag's and
# MNE's own composite channel, BioSemi's Status
COMPOSITE_TRIGGERS = ("STI101", "STI 014", "STI014", "Status")


def _trigger_events(raw, path: Path) -> list[tuple[str, np.ndarray]]:
    """(channel, its events (n, 3) as mne.find_events gives them: sample, code before, code) for each trigger
    channel holding any (BioSemi BDF's "Status", Neuromag FIF's STI channels, any stim channel), one per stimulus
    (_stimulus_onsets)."""
    import mne

    found = []
    for name in [raw.ch_names[i] for i in mne.pick_types(raw.info, meg=False, stim=True, exclude=[])]:
        # BioSemi's Status: the triggers are its low 16 bits; the high ones are the amplifier's (new epoch, CMS in
        # range, battery low), which made triggers 1, 2, 3 read "codes 65537, 65538, 65539" and a CMS flicker an
        # event
        biosemi = {"mask": 0xFFFF, "mask_type": "and"} if path.suffix.lower() == ".bdf" and name == "Status" else {}
        try:
            # every change (output="step", consecutive=True), judged below: find_events' default onsets are the
            # changes up only ("increasing"), so a code written over a higher one without a return to zero (5
            # then 3) was no event, a stimulus lost, and a code whose bits rose a sample apart (0, 1, 3) two
            steps = mne.find_events(raw, stim_channel=name, output="step", consecutive=True, shortest_event=1,
                                    verbose="error", **biosemi)
        except Exception:  # noqa: BLE001 - a channel find_events cannot read is no evidence of triggers
            continue
        events = _stimulus_onsets(steps, raw.info["sfreq"])
        if len(events):
            found.append((name, events))
    return found


# A parallel port's lines do not all change at one instant: code 3 written over 0 can read 1 for a sample on its
# way up, and 6 cleared to 0 read 4 on its way down. Such a passing value lasts well under a millisecond; a
# stimulus program does not write two codes that close together.
TRANSITION_S = 0.001


def _between(code: int, before: int, after: int) -> bool:
    """Whether `code` is a value the lines pass through going from `before` to `after`: the bits the two share, and
    only bits of either."""
    return (before & after) & ~code == 0 and code & ~(before | after) == 0


def _stimulus_onsets(steps: np.ndarray, sfreq: float) -> np.ndarray:
    """The onsets (sample, code before, code) among a trigger channel's steps (every change, as find_events'
    output="step" gives them), one per stimulus: each change to a code other than 0, a code held for many samples
    being one onset, and a code written over another without a return to zero one more. A value the lines only
    pass through between two codes (_between, for at most TRANSITION_S, and at least a sample) is no onset: the
    change it opened goes on to the code after it, from the sample it started at (the first line to move). A code
    that lasts a single sample between zeros is a short pulse, and kept."""
    short = max(1, int(round(TRANSITION_S * sfreq)))
    rows = [tuple(int(v) for v in row) for row in np.asarray(steps).reshape(-1, 3)]
    onsets = []
    level = rows[0][1] if rows else 0  # the code before the step, passing values left out
    start = None  # the sample a passing value began at
    for i, (sample, _, code) in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if (nxt is not None and nxt[0] - sample <= short and code not in (level, nxt[2])
                and _between(code, level, nxt[2])):
            start = sample if start is None else start
            continue
        if code != level and code != 0:
            onsets.append((sample if start is None else start, level, code))
        level, start = code, None
    return np.array(onsets, dtype=np.int64).reshape(-1, 3)


def _trigger_line(name: str, events: np.ndarray) -> str:
    codes = sorted({int(c) for c in events[:, 2]})
    shown = ", ".join(map(str, codes[:8])) + (f" and {len(codes) - 8} more" if len(codes) > 8 else "")
    return f"trigger channel '{name}' holds {len(events)} events (codes {shown})"


def _refuse_trigger_events(raw, path: Path) -> None:
    """A file with no annotations to use as markers but events on a trigger channel is refused in one line naming
    them. Why: replayed, it ran to the end with 0 markers and exit 0, as if there were nothing to decode. eegviz
    needs each onset's image id (a string); a trigger code is a number, which --event-ids FILE turns into one."""
    found = [_trigger_line(name, events) for name, events in _trigger_events(raw, path)]
    if found:
        more = f" (and {len(found) - 2} more trigger channels)" if len(found) > 2 else ""
        raise EegvizError(f"{path.name} has no annotations to use as markers, but its "
                          f"{'; '.join(found[:2])}{more}: eegviz takes each stimulus from an annotation whose "
                          "description is the image id, and a trigger code is not one; say which image each "
                          "event showed with --event-ids FILE (a code table, header code,image_id; or the "
                          "presentation log, header image_id, one row per event), or add annotations with MNE "
                          "(raw.set_annotations(mne.Annotations(onsets, 0, image_ids))) and save it as FIF")


def _annotation_code(desc: str) -> int | None:
    """The trigger code an annotation holds ("3", BrainVision's "Stimulus/S  3", EEGLAB's "3.0"), else None. MNE
    names an EEGLAB event whose type MATLAB kept as a number (a double, as EEGLAB stores numeric types) by its
    float, "3.0"; such events were no codes, and --event-ids found none in the file."""
    text = desc.strip()
    if text.startswith("Stimulus/S"):
        text = text[len("Stimulus/S"):].strip()
    whole, dot, zeros = text.partition(".")
    if dot and zeros and set(zeros) == {"0"}:
        text = whole
    return int(text) if text.isascii() and text.isdigit() else None


def _code_events(raw, path: Path, annotations: list[tuple[float, str]]) -> tuple[list[tuple[float, int]], str]:
    """The file's trigger-code events as (time in the recording's clock, code), and where they are: its annotations
    that are codes (a stimulus program's numbers, BrainVision's Stimulus markers) where it has any, else the
    events of its trigger channel (of several, the composite one MNE reads by default). Refused in one line where
    it has neither, or several trigger channels and none of them the composite one."""
    coded = [(t, code) for t, desc in annotations if (code := _annotation_code(desc)) is not None]
    if coded:
        return coded, "annotations holding trigger codes"
    found = _trigger_events(raw, path)
    if len(found) > 1:
        found = [f for f in found if f[0] in COMPOSITE_TRIGGERS][:1] or found
    if len(found) != 1:
        what = "; ".join(_trigger_line(name, events) for name, events in found[:3]) if found else ""
        raise EegvizError(f"{path.name} holds no trigger-code events for --event-ids to map"
                          + (f": several trigger channels hold events ({what}), and none is the composite one "
                             f"({', '.join(COMPOSITE_TRIGGERS)}) to read" if found else
                             " (no annotation is a code such as '3' or 'Stimulus/S  3', and no trigger channel "
                             "holds events); a file whose annotations name the images needs no --event-ids"))
    name, events = found[0]
    sfreq = raw.info["sfreq"]
    return [(float(s) / sfreq, int(c)) for s, c in zip(events[:, 0], events[:, 2])], f"trigger channel '{name}'"


def _record_starts(path: Path) -> tuple[str, float, list[float]] | None:
    """An EDF+D/BDF+D file's (format, record duration, start time of each data record), from the first
    annotation signal's time-keeping TAL that opens every record (EDF+ spec 2.2.4); None for any other file."""
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256 or not head[192:197].upper() in (b"EDF+D", b"BDF+D"):
            return None
        ns, n_records, duration = int(head[252:256]), int(head[236:244]), float(head[244:252])
        fields = f.read(256 * ns)  # each field for every signal in turn: label (16 bytes) first, ...
        labels = [fields[16 * i:16 * (i + 1)].decode("latin-1").strip() for i in range(ns)]
        at = 216 * ns  # ... "samples in each data record" (8) after label, transducer, unit, ranges, filters
        counts = [int(fields[at + 8 * i:at + 8 * (i + 1)]) for i in range(ns)]
        tal = next((i for i, name in enumerate(labels) if name in ("EDF Annotations", "BDF Annotations")), None)
        if tal is None:
            return None
        size = 3 if head[:1] == b"\xff" else 2
        offset = 256 * (ns + 1) + size * sum(counts[:tal])
        starts = []
        for k in range(n_records):
            f.seek(offset + k * size * sum(counts))
            text = f.read(size * counts[tal]).split(b"\x14", 1)[0]
            try:
                starts.append(float(text))
            except ValueError:
                return None  # not the TAL the spec puts there: nothing to judge by
    return head[192:197].decode("latin-1").upper(), duration, starts


def _refuse_discontinuous_edf(path: Path) -> None:
    """Refuse an EDF+D/BDF+D file whose data records are not back to back, in one line naming the first gap. MNE
    reads such a file's records as one continuous run: the samples after a gap were stamped as if the recording
    had gone on (a 7 s pause vanished), and the annotations, whose onsets keep the true time, landed on the wrong
    samples or, past the shortened end, were dropped, all without a word."""
    found = _record_starts(path)
    if found is None:
        return
    kind, duration, starts = found
    steps = np.diff(starts) - duration
    gaps = np.flatnonzero(np.abs(steps) > 1e-3)
    if len(gaps):
        k = int(gaps[0])
        raise EegvizError(f"{path.name} is {kind} (discontinuous) and its data records are not back to back "
                          f"({len(gaps)} gap(s); the first: {steps[k]:+.3f} s at {starts[k] + duration:.3f} s); MNE "
                          "reads them as one continuous run, so the samples and annotations after the first gap "
                          "would be misplaced: export each continuous part as its own file and replay them")


def _edf_units(raw) -> tuple[dict[str, float], dict[str, float]]:
    """How to put an EDF/BDF file's EEG channels in volts where MNE did not, from its header: (factor by channel
    for those whose unit eegviz knows, MNE's gain by channel for those to judge from their values: _read_volts).
    MNE's EDF reader converts only the units "uV"/"µV" and "mV" spelled so; any other unit ("uv", "UV", "nV",
    "microvolts") and an empty physical dimension (some exporters leave it blank) it takes for volts, so such a
    file's microvolts reached the model a million times too large, without a word. A unit eegviz knows
    (eegviz.sources.units) is applied; channels declaring none it knows are judged from their values, as XDF and
    LSL channels without a unit are (units.judged_scale), with one line saying so."""
    import mne

    gains = np.asarray(getattr(raw, "_raw_extras", [{}])[0].get("units", ()), dtype=np.float64)  # what MNE applied
    if gains.shape != (len(raw.ch_names),):  # not MNE's EDF reader as we know it: leave its volts as they are
        return {}, {}
    declared, unknown = {}, {}
    for i in mne.pick_types(raw.info, eeg=True, exclude=[]):
        name = raw.ch_names[i]
        scale = volts_per_unit(raw._orig_units.get(name, ""))
        if scale is None:
            unknown[name] = float(gains[i])
        elif not np.isclose(scale, gains[i], rtol=1e-6):
            declared[name] = scale / gains[i]
    return declared, unknown


MNE_VHDR_VOLTS = ("V", "mV", "µV", "uV", "nV")  # the units MNE's BrainVision reader scales by and keeps as EEG


def _vhdr_header_units(path: Path) -> dict[int, str]:
    """The unit each channel of a BrainVision header declares, as written (channel index -> text): MNE keeps a
    unit it does not know as "n/a"."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # Codepage=ANSI: the micro sign is one latin-1 byte
        text = raw.decode("latin-1")
    units, section = {}, ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.lower()
        elif section == "[channel infos]" and line[:2].lower() == "ch" and "=" in line:
            key, _, props = line.partition("=")
            fields = props.split(",")
            if key[2:].isdigit() and len(fields) >= 4:
                units[int(key[2:]) - 1] = fields[3].strip()
    return units


def _vhdr_units(raw, path: Path) -> dict[str, float]:
    """Read as EEG, in volts, a BrainVision file's channels whose unit MNE does not know but eegviz does. MNE's
    reader scales by, and keeps as EEG, the voltages spelled "V", "mV", "µV" (the micro sign), "uV" and "nV"
    only: a channel in "μV" (the Greek mu, which Unicode normalisation makes of the micro sign), "uv" or
    "microvolts" it types misc, at scale 1 (its range), so a file all in such units was refused as "holds no EEG
    channels; its channel types: misc", and one with some left them out without a word. A channel MNE made misc
    for another reason (no coordinates, where the header gives other channels theirs) is left as it is. Returns
    the factor to multiply each such channel by (_read_volts)."""
    import mne

    declared = _vhdr_header_units(path)
    fixed, factors = {}, {}
    for i in mne.pick_types(raw.info, misc=True, exclude=[]):
        unit = declared.get(int(i), "").replace("\xc2", "")  # as MNE reads it: a latin-1 "Âµ" is its "µ"
        scale = volts_per_unit(unit)
        if scale is not None and unit not in MNE_VHDR_VOLTS:
            factors[raw.ch_names[i]] = scale / float(raw.info["chs"][i]["range"])  # the range: what MNE scaled by
            fixed[raw.ch_names[i]] = "eeg"
    if fixed:
        raw.set_channel_types(fixed, on_unit_change="ignore", verbose="error")
    return factors


# samples read at once (float64) while a recording is put into its float32 array; and about how many samples
# (all channels together) are looked at to judge a unit (every k-th sample of a long recording: microvolts and
# volts lie a million times apart)
READ_BLOCK_VALUES = 1 << 22
JUDGE_VALUES = 1 << 18


def _stride(data: np.ndarray, n_channels: int) -> int:
    """Every how many samples of data (n, ch) to judge n_channels of its channels by (JUDGE_VALUES)."""
    return max(1, len(data) * n_channels // JUDGE_VALUES)


def _read_volts(raw, factors: dict[str, float], judge: dict[str, float],
                path: Path) -> tuple[np.ndarray, np.ndarray]:
    """raw's samples as a float32 (n, ch) array in volts, and which channels hold a finite sample (ch,), read block
    by block: `factors` multiply the channels
    MNE put in the wrong unit, and those in `judge` (channel -> the gain MNE applied) are judged from their
    values (units.judged_scale), with one line saying so. Why in blocks, from a file MNE has not loaded: MNE's
    preload held the recording as float64, get_data() copied it and the float32 array was a third copy, five
    times the float32 size at once (a 2 h BioSemi file of 128 channels at 2048 Hz, 7.5 GB as float32, needed
    some 38 GB); now it is the float32 array and one block."""
    n, names = raw.n_times, raw.ch_names
    data = np.empty((n, len(names)), dtype=np.float32)
    finite = np.zeros(len(names), dtype=bool)
    step = max(1, READ_BLOCK_VALUES // max(1, len(names)))
    for a in range(0, n, step):
        block = raw.get_data(start=a, stop=min(n, a + step))
        finite |= np.isfinite(block).any(axis=1)
        data[a:a + step] = block.T
    unknown = [i for i, name in enumerate(names) if name in judge]
    if unknown:
        gains = np.array([judge[names[i]] for i in unknown])
        judged = judged_scale(data[::_stride(data, len(unknown)), unknown] / gains)
        log.warning("%s: %d EEG channel(s) declare no unit that says volts or which fraction of them (%s): read as "
                    "%s from their values (median |x| %.3g, spread %.3g)", path.name, len(unknown),
                    ", ".join(names[i] for i in unknown[:4]) + (", ..." if len(unknown) > 4 else ""),
                    judged.what, judged.median_abs, judged.spread)
        factors = {**factors, **{names[i]: judged.scale / judge[names[i]] for i in unknown}}
    for i, name in enumerate(names):
        if factors.get(name, 1.0) != 1.0:
            data[:, i] *= factors[name]
    return data, finite


def _recorder_status(desc: str, path: Path) -> bool:
    """Is a BrainVision marker the recorder's own news rather than a stimulus: "SyncStatus/Sync On" (and "Off"),
    the amplifier's sync with a scanner or other clock, which an EEG-fMRI recording holds by the thousand. Each
    was replayed as a stimulus and decoded, an image of "SyncStatus/Sync On"."""
    return path.suffix.lower() == ".vhdr" and desc.lower().startswith("syncstatus/")


def _payload(desc: str, path: Path) -> str:
    """A marker's payload from its annotation. MNE names a BrainVision marker "type/description"; a Comment
    marker's description is free text, where a stimulus program (or mne.export of image-id annotations, which
    writes every description that is not a trigger number as a Comment) puts the image id. Kept whole,
    "Comment/anchor_000" matched no stimulus: no ground truth, no --images-dir image, no score. Stimulus and
    Response markers keep their type: "S  1" alone says less than "Stimulus/S  1"."""
    if path.suffix.lower() == ".vhdr" and desc.startswith("Comment/") and desc[len("Comment/"):].strip():
        return desc[len("Comment/"):]
    return desc


# files that are one part of a recording MNE reads from its header: (suffix, the header's suffix, what the part is)
PART_OF_A_RECORDING = ((".eeg", ".vhdr", "the samples of a BrainVision recording"),
                       (".vmrk", ".vhdr", "the markers of a BrainVision recording"),
                       (".fdt", ".set", "the samples of an EEGLAB dataset"))


def _refuse_part_of_a_recording(path: Path) -> None:
    """Refuse, naming the header to give instead, a BrainVision .eeg or .vmrk or an EEGLAB .fdt that has its header
    beside it. Given the .eeg, MNE took it for a Nihon Kohden file and failed with "UnicodeDecodeError: 'ascii'
    codec can't decode byte 0x84"; the .vmrk and .fdt were "not a file MNE reads", which said nothing of the
    header that is. (A Nihon Kohden .eeg, with no .vhdr beside it, is read as before.)"""
    for suffix, header_suffix, what in PART_OF_A_RECORDING:
        if path.suffix.lower() != suffix:
            continue
        header = next((p for p in (path.with_suffix(header_suffix), path.with_suffix(header_suffix.upper()))
                       if p.is_file()), None)
        if header is not None:
            raise EegvizError(f"{path.name} holds {what}: replay its header, {header.name}, which names the files "
                              "that go with it")


def read_recording(path: Path, event_ids=None, event_codes=None):
    """(raw with EEG channels only, its samples (n, ch) float32 volts (_read_volts), markers, breaks (_breaks),
    MNE's warnings about markers, annotations or events, the EEG channels left out as bad, {name: why}: info['bads']
    and those with no finite sample) from a file; every failure is one EegvizError line. With event_ids (--event-ids,
    an eegviz.sources.event_ids.EventIds), the markers are the file's trigger-code events named by it (_code_events;
    event_codes: --event-codes, which codes are stimuli), and its other annotations are no markers."""
    import mne

    if not path.exists():
        raise EegvizError(f"{path} does not exist")
    _refuse_part_of_a_recording(path)
    if path.suffix.lower() in (".edf", ".bdf") and path.is_file():
        try:
            _refuse_discontinuous_edf(path)
        except (OSError, ValueError):  # a header this cannot parse: MNE's reader says what is wrong with it
            pass
    try:
        # MNE's warnings are kept, not shown: most are notes for MNE users (FIF naming conventions), but one
        # about markers is why a file has none ("MarkerFile 'rec.vmrk' not found"), which load() then says
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # EDF/BDF labels carry their type ("EEG Fp1", "ECG ECG", the form the EDF+ spec recommends):
            # infer_types strips the prefix and types the channel, so non-EEG ones are dropped below
            extra = {"infer_types": True} if path.suffix.lower() in (".edf", ".bdf") else {}
            # not loaded: _read_volts reads it into float32 block by block (EEGLAB's .set with the data inside
            # is loaded all the same)
            raw = mne.io.read_raw(path, preload=False, verbose="warning", **extra)
    except Exception as e:  # noqa: BLE001 - MNE's readers raise many kinds; the user needs one line
        formats = "FIF, EDF/BDF, BrainVision (.vhdr), EEGLAB (.set) and the other formats of mne.io.read_raw"
        if "unsupported file" in str(e).lower():
            # a CSV replayed without --source csv ended here, and nothing said a plugin could read it
            raise EegvizError(f"{path.name} is not an XDF recording nor a file MNE reads ({formats}); a source "
                              "plugin reads others: --source NAME (`eegviz plugins` lists them)") from None
        if "no raw data in" in str(e).lower() or "read_epochs" in str(e):
            # an -epo.fif / -ave.fif or an epoched EEGLAB set: "cannot read x-epo.fif with MNE (No raw data in ...);
            # readable: FIF, ..." named as readable the very format the user gave
            raise EegvizError(f"{path.name} holds epochs (or an average), not a continuous recording: eegviz replays "
                              "the continuous recording they were cut from, with an annotation naming the image at "
                              "each stimulus") from None
        raise EegvizError(f"cannot read {path.name} with MNE ({one_line(e)}); readable: {formats}") from None
    factors, judge = {}, {}
    if path.suffix.lower() in (".edf", ".bdf"):
        factors, judge = _edf_units(raw)
    elif path.suffix.lower() == ".vhdr":
        try:
            factors = _vhdr_units(raw, path)
        except OSError:  # MNE just read it; should it be gone, its channels stay as MNE typed them
            pass
    markers = []
    ann = raw.annotations
    # Raw keeps its annotations relative to meas_date (or, without one, in the first_samp/sfreq frame), the
    # frame in which sample i lies at first_time + times[i]
    shift = 0.0
    if ann.orig_time is not None and raw.info["meas_date"] is not None:
        shift = (ann.orig_time - raw.info["meas_date"]).total_seconds()
    for onset, desc in zip(ann.onset, ann.description):
        if not is_span_annotation(str(desc)) and not _recorder_status(str(desc), path):
            markers.append(Marker(timestamp=float(onset) + shift, payload=_payload(str(desc), path),
                                  source="annotations"))
    markers.sort(key=lambda m: m.timestamp)
    breaks = _breaks(raw, ann.onset + shift)
    n_skipped = len(ann) - len(markers)
    if event_ids is not None:  # before the pick below drops the trigger channels
        from eegviz.sources.event_ids import mapped_markers

        events, where = _code_events(raw, path, [(m.timestamp, m.payload) for m in markers])
        n_other = len(markers) - (len(events) if where.startswith("annotations") else 0)
        markers, line = mapped_markers(sorted(events), event_ids, event_codes, path.name, where)
        log.warning("%s%s", line, f"; its {n_other} other annotation(s) are no markers" if n_other else "")
    elif not markers:
        _refuse_trigger_events(raw, path)
    elif all(_annotation_code(m.payload) is not None for m in markers):
        # "3" or "Stimulus/S  3" at every stimulus: a trigger program's codes, which were replayed as image ids
        # and named no image (no ground truth, no score, nothing to train on), with nothing said of --event-ids
        codes = sorted({m.payload for m in markers}, key=_annotation_code)
        log.warning("%s: all %d of its markers are trigger codes (%s%s), not image ids: say which image each "
                    "showed with --event-ids FILE (a code table, header code,image_id; or the presentation log, "
                    "header image_id); replayed as they are", path.name, len(markers),
                    ", ".join(f"'{c}'" for c in codes[:4]), ", ..." if len(codes) > 4 else "")
    bads = [b for b in raw.info["bads"] if b in raw.ch_names]
    try:
        raw.pick("eeg", exclude="bads")
    except ValueError:
        n_eeg = len(mne.pick_types(raw.info, eeg=True, exclude=[]))
        if n_eeg:  # "holds no (good) EEG channels; its channel types: eeg" left the user to work out why
            shown = ", ".join(bads[:5]) + (", ..." if len(bads) > 5 else "")
            raise EegvizError(f"all {n_eeg} EEG channels of {path.name} are marked bad (info['bads']: {shown}), so "
                              "none is left to decode; unmark the usable ones (raw.info['bads'] = [...]) and save "
                              "it again") from None
        types = sorted(set(raw.get_channel_types()))
        # mne.create_info types every channel misc unless told otherwise, so a RawArray built without ch_types
        # came here with nothing said of how to mark the EEG
        hint = ("; if some are EEG, mark them (raw.set_channel_types({name: 'eeg', ...})) and save it again"
                if "misc" in types else "")
        raise EegvizError(f"{path.name} holds no EEG channels; its channel types: {', '.join(types) or 'none'}"
                          f"{hint}") from None
    if bads:
        log.warning("%s: channels marked bad are left out: %s", path.name, ", ".join(bads))
    if n_skipped:
        log.info("%s: %d annotation(s) mark bad spans, edges, segment starts or the recorder's sync status, not "
                 "stimuli: not replayed as markers", path.name, n_skipped)
    notes = [" ".join(str(w.message).split()) for w in caught
             if any(k in str(w.message).lower() for k in ("marker", "annotation", "event"))]
    try:
        data, finite = _read_volts(raw, factors, judge, path)
    except MemoryError:
        raise EegvizError(f"{path.name} does not fit in memory: {raw.n_times} samples of {len(raw.ch_names)} "
                          f"channels need {raw.n_times * len(raw.ch_names) * 4 / 1e9:.1f} GB as float32; replay "
                          "a part of it (raw.crop(tmin, tmax).save(...))") from None
    except Exception as e:  # noqa: BLE001 - the samples are read now, not when the header was
        raise EegvizError(f"cannot read the samples of {path.name} with MNE ({one_line(e)})") from None
    dead = [name for name, ok in zip(raw.ch_names, finite) if not ok]
    if dead:
        # a channel stored as NaN throughout (an electrode a lab blanked out rather than marking it bad) put NaN
        # into every epoch the montage made from it, which with interpolation is all of them: the replay skipped
        # each marker for "NaN/inf in 408 of 408 samples", never naming the channel. It is left out as a bad one
        # is, and interpolated where the model needs it.
        if not finite.any():
            raise EegvizError(f"none of the {len(dead)} EEG channels of {path.name} holds a finite sample (all "
                              "NaN/inf), so there is nothing to decode")
        log.warning("%s: channels holding no finite sample (all NaN/inf) are left out, as bad ones are: %s",
                    path.name, ", ".join(dead))
        raw.drop_channels(dead)
        data = data[:, finite]
    _say_if_not_volts(data, path)
    return raw, data, markers, breaks, notes, {**{b: "left out by the file's own info['bads']" for b in bads},
                                               **{d: "left out: no finite sample in the whole file" for d in dead}}


def _say_if_not_volts(data: np.ndarray, path: Path) -> None:
    """One line where the EEG, in volts as the file says, varies by far more than scalp EEG in volts can
    (units.judged_scale calls it microvolts): a recording made with mne.io.RawArray from microvolts, which takes
    volts, or an EDF that says "V" over microvolts. Such a file reached the model a million times too large,
    without a word; it is still replayed as the file says (the file's word is all there is to go by), but the
    line says what to fix."""
    judged = judged_scale(data[::_stride(data, data.shape[1])])
    if judged.scale != 1.0:
        log.warning("%s: its EEG, in volts as the file says, varies by %.3g (median spread; |median| %.3g), which "
                    "no scalp EEG in volts does (some 1e-5): microvolts saved as volts? (mne.io.RawArray takes "
                    "volts: multiply microvolts by 1e-6); replayed as the file says", path.name, judged.spread,
                    judged.median_abs)


def _bids_events(path: Path) -> Path | None:
    """The BIDS events file of a recording (sub-01_task-x_eeg.edf: sub-01_task-x_events.tsv beside it), else None.
    Why: a BIDS dataset often keeps its stimuli there only, and such a file replayed with "no annotations to use
    as markers" and no word of where its events were."""
    stem = path.name.split(".")[0]
    if "_" not in stem:
        return None
    events = path.with_name(stem.rsplit("_", 1)[0] + "_events.tsv")
    return events if events.is_file() else None


def _placed_electrodes(raw) -> list[tuple[str, np.ndarray]] | None:
    """The electrode positions the file carries (FIF's digitisation, EEGLAB's chanlocs, BrainVision's
    [Coordinates]: MNE's head frame, metres), (name, xyz) per placed channel; None where fewer than
    MIN_SOURCE_CHANNELS channels have one. Why: a cap named in no built-in montage (an EGI net's E1..E128,
    Neuromag's "EEG 001") was refused for want of positions the file held, and the user had to write them out by
    hand."""
    from eegviz.stream.montage import MIN_SOURCE_CHANNELS

    placed = [(ch["ch_name"], np.asarray(ch["loc"][:3], dtype=np.float64)) for ch in raw.info["chs"]]
    placed = [(name, p) for name, p in placed if np.isfinite(p).all() and np.linalg.norm(p) > 0]
    return placed if len(placed) >= MIN_SOURCE_CHANNELS else None


def _write_positions(placed: list[tuple[str, np.ndarray]], path: Path) -> Path:
    """`placed` (_placed_electrodes) as an ASA .elc file in a new temporary folder, which eegviz.stream.montage
    reads as it reads `--montage FILE`. Old-style .elc, one label a line, so names with spaces survive."""
    out = Path(tempfile.mkdtemp(prefix="eegviz-positions-")) / f"{path.stem}.elc"
    out.write_text("# electrode positions read from " + path.name + "\nUnitPosition m\n"
                   f"NumberPositions= {len(placed)}\nPositions\n"
                   + "".join(f"{p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n" for _, p in placed)
                   + "Labels\n" + "".join(f"{name}\n" for name, _ in placed), encoding="utf-8")
    return out


class MneFileSource(ReplaySource):
    """Plays a file mne.io.read_raw reads, annotations as markers, in the recording's own clock."""

    def __init__(self, path: str | Path, speed: float = 1.0, chunk_s: float = 0.02,
                 event_ids: str | Path | None = None, event_codes: str | None = None) -> None:
        """event_ids, event_codes: replay's --event-ids FILE and --event-codes LIST (eegviz.sources.event_ids),
        read here, so a bad table is refused before any model loads."""
        from eegviz.sources.event_ids import check_codes_named, parse_codes, read_event_ids

        self.speed = checked_speed(speed)
        self.path = Path(path)
        check_codes_named(event_ids, event_codes)
        self.event_ids = read_event_ids(event_ids) if event_ids is not None else None
        self.event_codes = parse_codes(event_codes)
        self.chunk_s = float(chunk_s)
        self.info = StreamInfo(name=self.path.stem, ch_names=(), sfreq=0.0)
        self._placed: list | None = None  # the file's own electrode positions (_placed_electrodes), from load()
        self._positions_path: Path | None = None  # their .elc, once asked for (positions_file)

    @classmethod
    def from_cli(cls, source) -> MneFileSource:
        """From a session's eegviz.settings.SourceSettings (`eegviz replay FILE --speed S`)."""
        given = [flag for flag, value in (("--stream", source.stream), ("--markers", source.markers)) if value]
        if given:  # silently ignored, a user would think the named stream was used
            raise EegvizError(f"{' and '.join(given)} pick streams inside an XDF file; {Path(source.file).name} is "
                              "read by MNE, whose EEG channels and annotations are used")
        return cls(source.file, speed=source.speed, event_ids=source.event_ids, event_codes=source.event_codes)

    def load(self):
        raw, data, markers, breaks, notes, left_out = read_recording(self.path, self.event_ids, self.event_codes)
        # why each of the channels left out, for session.json's "bads"; a --bads name among them is left out
        # already, not "not a channel of the source" (eegviz.pipeline)
        self.bads_why = dict(left_out)
        self.breaks = tuple(breaks)
        sfreq = float(raw.info["sfreq"])
        timestamps = raw.first_time + raw.times
        if not len(timestamps):
            raise EegvizError(f"{self.path.name} holds no samples")
        if not markers:
            why = "; ".join(notes[:2])
            events = _bids_events(self.path)
            log.warning("%s: no annotations to use as markers, so nothing will be decoded%s%s", self.path.name,
                        f" (MNE, reading it: {why})" if why else "",
                        f"; the BIDS events file beside it, {events.name}, is not read: make its rows annotations "
                        "(mne_bids.read_raw_bids does, trial_type as the description) and save the recording as FIF"
                        if events else "")
        elif self.breaks:  # said at the start, so a skipped marker's "break" is no surprise
            shown = "; ".join(what for _, _, what in self.breaks[:3])
            more = f"; and {len(self.breaks) - 3} more" if len(self.breaks) > 3 else ""
            log.warning("%s: %d break(s) in the recording (%s%s): epochs reaching one are skipped as gaps; every "
                        "sample is still replayed and recorded", self.path.name, len(self.breaks), shown, more)
        self.info = StreamInfo(name=self.path.stem, ch_names=tuple(raw.ch_names), sfreq=sfreq,
                               source_id=f"mne:{self.path.name}", ch_type="EEG", unit="volts")
        self._placed = _placed_electrodes(raw)
        return data, timestamps, markers

    @property
    def positions_file(self) -> Path | None:
        """The file's own electrode positions as an .elc file, for a session whose channel names place too few
        electrodes on any montage (eegviz.pipeline asks only then); None before load() or where the file has
        too few. Written on the first ask, not at every load: most files are placed by their names."""
        if self._positions_path is None and self._placed:
            self._positions_path = _write_positions(self._placed, self.path)
        return self._positions_path

    def stop(self) -> None:
        super().stop()
        if self._positions_path is not None:  # the channel map was made from it when the session began
            shutil.rmtree(self._positions_path.parent, ignore_errors=True)
            self._positions_path = None
