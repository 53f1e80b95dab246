"""XDF recordings: load_xdf_session() reads EEG + markers from a file; XdfReplaySource plays one back as a Source.

Files come from eegviz's own SessionRecorder or from LabRecorder. pyxdf does the decoding and the clock
synchronisation (including clock resets). Before handing the bytes to pyxdf the chunk structure is walked once:
a recording cut short by a crash ends in a partial chunk, which pyxdf may misread or choke on, so only the
complete chunks are passed on and the rest is reported in a warning. Damage inside complete chunks pyxdf
logs (with a traceback) and skips past to the next boundary chunk; eegviz keeps those messages, reads the file
again without the damaged samples chunks (eegviz.sources.xdf_chunks), and says what was lost in one line.
"""

from __future__ import annotations

import io
import logging
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyxdf

from eegviz.checks import check_file, physical_memory
from eegviz.errors import EegvizError, one_line
from eegviz.messages import Marker, StreamInfo, usable_ch_names
from eegviz.sources.base import first_channel, marker_text, sender_kinship
from eegviz.sources.rate import contradicts, stamp_rate
from eegviz.sources.replay import ReplaySource, checked_speed
from eegviz.sources.units import judged_scale, volts_per_unit
from eegviz.sources.xdf_chunks import (
    TAG_SAMPLES, VALUE_BYTES, complete_prefix, drop_damaged, first_string_values, sample_stamps, stream_of,
    walk_chunks
)

log = logging.getLogger(__name__)


@dataclass
class XdfSession:
    """One recording: EEG (n_times, n_channels) float32 volts with timestamps, and the markers in time order."""

    info: StreamInfo
    data: np.ndarray
    timestamps: np.ndarray
    markers: list[Marker] = field(default_factory=list)
    path: Path | None = None


@contextmanager
def _pyxdf_errors():
    """The messages pyxdf logs at ERROR while it reads, collected instead of printed: it logs a damaged chunk
    with a traceback on stderr and reads on (skipping to the next boundary chunk), so what it means is for
    load_xdf_session to say, in one line."""
    errors: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        errors.append(record.getMessage())
        return False

    logger = logging.getLogger(pyxdf.load_xdf.__module__)
    logger.addFilter(keep)
    try:
        yield errors
    finally:
        logger.removeFilter(keep)


def _first(d: dict, key: str, default: str = "") -> str:
    v = d.get(key) if isinstance(d, dict) else None
    if isinstance(v, list) and v and isinstance(v[0], str):
        return v[0]
    return default


def _channels(stream: dict) -> list[dict]:
    try:
        return stream["info"]["desc"][0]["channels"][0]["channel"] or []
    except (KeyError, IndexError, TypeError):
        return []


def _is_empty(stream: dict) -> bool:
    return len(stream["time_stamps"]) == 0


def _is_string(stream: dict) -> bool:
    return _first(stream["info"], "channel_format") == "string"


def _n_channels(stream: dict) -> int:
    return int(_first(stream["info"], "channel_count", "0") or 0)


def _name(stream: dict) -> str:
    return _first(stream["info"], "name")


# samples a stream of undeclared units is judged by (units.judged_scale), evenly spaced through the file
JUDGE_ROWS = 100_000


def _scale(stream: dict, data: np.ndarray, path: Path) -> np.ndarray:
    """Volts per stored unit for each channel; channels without a known unit are judged from their values."""
    n = data.shape[1]
    chans = _channels(stream)
    units = [(_first(c, "unit") or "").strip().lower() for c in chans] if len(chans) == n else [""] * n
    scale = np.array([np.nan if v is None else v for v in map(volts_per_unit, units)])
    unknown = np.isnan(scale)
    if unknown.any():
        # judged on at most JUDGE_ROWS evenly spaced samples: the whole of an hour of 256 channels, in float64
        # and copied twice, was several GB
        step = max(1, len(data) // JUDGE_ROWS)
        judged = judged_scale(data[::step, unknown])
        bad = sorted({u or "(none)" for u, k in zip(units, unknown) if k})
        log.warning(
            "%s: stream '%s' has unknown channel unit(s) %s; values look like %s (|median| %.3g, spread %.3g), "
            "scaling as such", _shown(path), _name(stream), ", ".join(bad), judged.what, judged.median_abs,
            judged.spread,
        )
        scale[unknown] = judged.scale
    return scale


def _kinship(marker: dict, eeg: dict) -> int:
    """eegviz.sources.base.sender_kinship of two recorded streams: the rule a live session chooses by."""
    return sender_kinship(*((_first(s["info"], "hostname"), _first(s["info"], "source_id"), _name(s))
                            for s in (marker, eeg)))


def _choose_markers(strings: list[dict], eeg: dict, path: Path,
                    names_image: Callable[[str], str | None] | None = None) -> list[dict]:
    """The one marker stream a replay decodes (with any others of its name, as --markers NAME takes them), chosen
    as a live session would choose it among these streams:
    string streams with markers, of type Markers or annotations (mne-lsl) if any are, the EEG sender's own first
    (_kinship), then by name. Every string stream used to become markers: a stimulus program's image ids and an
    amplifier's trigger stream ("S  1") both, each trigger decoded as an epoch. The others are named in a
    warning, with how to take another.

    names_image (training, which knows the stimulus folder): the image id a payload names, or None. Then the
    stream whose markers name the most images of the folder comes first, since only such markers become epochs:
    by the rule above alone, a recording of the amplifier's triggers (the EEG sender's) or the simulator's
    markers beside the presenter's decoded the wrong stream and trained on nothing, or on the wrong trials
    (review 2, finding 1). The rule above breaks ties (none names an image: as before)."""
    with_markers = [s for s in strings if not _is_empty(s)]
    if len(with_markers) <= 1:
        return with_markers or strings
    typed = {id(s) for s in with_markers if _first(s["info"], "type").strip().lower() in ("markers", "annotations")}
    named = {id(s): _images_named(s, names_image) for s in with_markers} if names_image else {}
    none = (0, 0)
    # typed first among the untyped only where some are typed: as `typed or with_markers` did
    pool = sorted(with_markers, key=lambda s: (tuple(-n for n in named.get(id(s), none)), id(s) not in typed,
                                               -_kinship(s, eeg), _name(s), _first(s["info"], "source_id")))
    chosen = pool[0]
    # streams of the chosen one's name are decoded with it, as --markers NAME decodes every stream of that name: a
    # stimulus program restarted mid-session without a source_id is a new stream of the same name to LabRecorder,
    # and its markers before or after the restart were left out, "not used: 'stim'" naming no stream --markers
    # could take apart
    same = [s for s in with_markers if _name(s) == _name(chosen)]
    left = [s for s in with_markers if _name(s) != _name(chosen)]
    if not left:
        log.warning("%s: %d string streams named '%s' hold markers (a sender restarted without a source_id records "
                    "as a new stream); decoding them together, as --markers '%s' does", _shown(path), len(same),
                    _name(chosen), _name(chosen))
        return same
    together = f" ({len(same)} streams of that name, together)" if len(same) > 1 else ""
    by_images = named.get(id(chosen), none)[0] > 0
    if by_images:
        why = f" (its markers name {named[id(chosen)][0]} images of the stimulus folder, the most)"
        others = ", ".join(f"'{_name(s)}' ({named[id(s)][0] or 'no'} images)" for s in left)
    else:
        said = (["the EEG sender's"] if _kinship(chosen, eeg) >= 2 else []) + \
            (["no stream's markers name an image of the stimulus folder"] if names_image else [])
        why = f" ({'; '.join(said)})" if said else ""
        others = ", ".join(f"'{_name(s)}'" for s in left)
    log.warning("%s: %d string streams hold markers; decoding '%s'%s%s; not used: %s; to use another, name it with "
                "--markers NAME", _shown(path), len(with_markers), _name(chosen), together, why, others)
    return same


def _images_named(stream: dict, names_image: Callable[[str], str | None]) -> tuple[int, int]:
    """(distinct images, markers) of the stimulus folder that a string stream's markers name."""
    ids = [names_image(first_channel(row)) for row in stream["time_series"]]
    return len({i for i in ids if i is not None}), sum(i is not None for i in ids)


def _shown(path: Path) -> str:
    """A file as messages name it: its path as given (a dataset folder's file with the folder and subfolders
    before it), not only its name; every `eegviz record` session is a session.xdf, and with several under one
    dataset folder a warning naming 'session.xdf' could not be told apart (review 2, finding 7)."""
    return str(path)


def _one_hot_labels(stream: dict) -> list[str] | None:
    """The channel labels of mne-lsl's one-hot annotation stream (PlayerLSL's default, annotations_encoding=
    "one-hot": type "annotations", irregular, one numeric channel per annotation description, labelled with it),
    else None. A recording of PlayerLSL keeps its annotations so; read as numbers, each marker was "0,0,0.5,0,0"
    (the annotation's duration in its description's channel), which names no image."""
    if _is_string(stream) or _rate(stream) != 0 or _first(stream["info"], "type").strip().lower() != "annotations":
        return None
    labels = [_first(c, "label").strip() for c in _channels(stream)]
    return labels if len(labels) == _n_channels(stream) and all(labels) else None


def _payload(row, labels: list[str] | None = None) -> str:
    """A marker's text: a string stream's first channel as sent (the image id; the same rule live reads by,
    eegviz.sources.base.first_channel: a stimulus program's [id, condition] is 'id', never 'id,condition');
    for a one-hot annotation stream (labels: _one_hot_labels), the description of its one channel set; a
    numeric event's values, integral ones without '.0' ([3.0] -> '3', as BrainFlow's markers arrive), several
    joined by commas (an event code and its value)."""
    def text(v):
        return str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer() else str(v)
    if len(row) and isinstance(row[0], str):
        return first_channel(row)
    if labels is not None and len(hot := np.flatnonzero(np.asarray(row, dtype=np.float64))) <= 1:
        # an all-zero row: an older mne-lsl's zero-length annotation (1.14 writes -1): no description to read, so
        # an empty id (skipped as naming no image), not "0,0,0" decoded as one
        return labels[hot[0]] if len(hot) else ""
    return text(row[0]) if len(row) == 1 else ",".join(text(v) for v in row)


def _undecoded(stream: dict, raw: bytes, path: Path) -> list[str] | None:
    """A string stream's ids read from the bytes stored where some are not UTF-8 text (a Windows stimulus
    program's 'Bild_\\xe4'), by the rule a live session reads them by (eegviz.sources.base.marker_text: as
    Windows-1252), with one warning; else None. pyxdf made such an id 'Bild_\\ufffd', which names no image,
    so a replay of LabRecorder's file of a session did not decode the id the live session decoded. raw: the
    bytes pyxdf read."""
    if not _is_string(stream) or not any("\ufffd" in str(first_channel(row)) for row in stream["time_series"]):
        return None
    sid = stream["info"].get("stream_id")
    stored = first_string_values(raw, sid, _n_channels(stream)) if isinstance(sid, int) else None
    if stored is None or len(stored) != len(stream["time_series"]):
        return None
    texts = [marker_text(b) for b in stored]
    odd = [(b, t) for b, (t, not_utf8) in zip(stored, texts) if not_utf8]
    if not odd:  # the replacement character was sent as such
        return None
    log.warning("%s: marker stream '%s' holds ids that are not UTF-8 text (%r); they are read as Windows-1252 text "
                "('%s'), as a live session reads them", _shown(path), _name(stream), *odd[0])
    return [t for t, _ in texts]


def _rate(stream) -> float:
    """A stream's nominal sampling rate (0: irregular, LSL's IRREGULAR_RATE; NaN where it is not a number, which
    the loaders refuse with the stream's name)."""
    try:
        return float(_first(stream["info"], "nominal_srate", "0") or 0)
    except ValueError:
        return float("nan")


def _samples_fit(raw: bytes, stream_id: int, n_channels: int, value_bytes: int | None,
                 chunks: int = 3) -> bool | None:
    """Whether any of the stream's first `chunks` samples chunks that hold samples parses to its exact length at
    n_channels values a sample (value_bytes: bytes a value, None for strings); None when it has none. One damaged
    chunk fails alone; a header declaring the wrong channel count fails them all (pyxdf reads such a file on,
    often without a word, into garbage). raw: the file's complete chunks."""
    seen = 0
    for tag, body, end in walk_chunks(raw):
        if tag == TAG_SAMPLES and stream_of(raw, body) == stream_id:
            stamps = sample_stamps(raw, body, end, n_channels, value_bytes)
            if stamps:
                return True
            seen += stamps is None
            if seen == chunks:
                break
    return False if seen else None


def _value_bytes(stream: dict) -> int | None | bool:
    """Bytes a value of the stream's channel format, None for strings, False for a format XDF does not have."""
    fmt = _first(stream["info"], "channel_format")
    return None if fmt == "string" else VALUE_BYTES.get(fmt, False)


def _repairable(streams: list[dict], raw: bytes) -> dict[int, tuple[int, int | None, float]]:
    """The streams whose damaged samples chunks xdf_chunks.drop_damaged may leave out: those whose other chunks
    parse at the declared width (a wrong header fails every chunk; it is refused, not repaired)."""
    out = {}
    for s in streams:
        sid, value_bytes, rate = s["info"].get("stream_id"), _value_bytes(s), _rate(s)
        if (isinstance(sid, int) and value_bytes is not False
                and _samples_fit(raw, sid, _n_channels(s), value_bytes, chunks=1000) is True):
            out[sid] = (_n_channels(s), value_bytes, rate if np.isfinite(rate) else 0.0)
    return out


def _read(complete: bytes, path: Path) -> tuple[list[dict], list[str]]:
    """pyxdf's streams from the file's complete chunks, clocks synchronised, and the damage it logged."""
    try:
        with _pyxdf_errors() as damage:
            streams, _ = pyxdf.load_xdf(
                io.BytesIO(complete),
                synchronize_clocks=True,
                handle_clock_resets=True,
                dejitter_timestamps=False,
            )
    except Exception as e:  # pyxdf raises bare exceptions for corrupt content
        raise EegvizError(f"{path} could not be read as XDF ({one_line(e)})") from None
    return streams, damage


def _repair(streams: list[dict], damage: list[str], complete: bytes, path: Path):
    """Where pyxdf found damage: the file read again without the damaged samples chunks (xdf_chunks.drop_damaged),
    said in one warning; (streams, the damage pyxdf still finds, the bytes read). pyxdf alone lost everything up
    to the next boundary chunk (up to 10 s of every stream) and misdated what followed."""
    repaired, report = drop_damaged(complete, _repairable(streams, complete))
    if not report:
        return streams, damage, complete
    names = {s["info"].get("stream_id"): s for s in streams}
    parts = []
    for sid, (n_chunks, lost) in report.items():
        s = names[sid]
        what = "markers" if _is_string(s) else "samples"
        if lost is None:
            parts.append(f"stream '{_name(s)}' lost the {what} of {n_chunks} chunk(s), some of an unreadable count "
                         "(its samples after them written without their own timestamp, LabRecorder's regular ones, "
                         "are dated as if none were lost)")
        else:
            parts.append(f"stream '{_name(s)}' lost {lost} {what}" +
                         (" (a gap in its time where they were)" if what == "samples" and _rate(s) > 0 else ""))
    log.warning("%s: %d damaged chunk(s) left out (%s): %s", _shown(path), sum(r[0] for r in report.values()),
                _damage_line(damage), "; ".join(parts))
    streams, damage = _read(repaired, path)
    return streams, damage, repaired


def _check_width(stream: dict, raw: bytes, damage: list[str], path: Path) -> None:
    """Refuse a numeric stream whose samples are not as wide as its header declares: every one of its chunks was
    read at the wrong width, its values garbage (the review's 64-declared, 128-channel file ended in a montage
    error). Checked whether or not pyxdf complained: it often reads on without a word."""
    declared, value_bytes = _n_channels(stream), _value_bytes(stream)
    stream_id = stream["info"].get("stream_id")
    if not value_bytes or not isinstance(stream_id, int):  # strings, or a format XDF does not have
        return
    if _samples_fit(raw, stream_id, declared, value_bytes) is False:
        listed = len(_channels(stream))
        names = f" (its channel list names {listed})" if listed and listed != declared else ""
        said = f" ({_damage_line(damage)})" if damage else ""
        raise EegvizError(f"{path}: stream '{_name(stream)}' declares {declared} channels{names}, but its samples "
                          f"are not {declared} values wide{said}; the file was written with a wrong header, so its "
                          "samples cannot be trusted")


def _damage_line(damage: list[str]) -> str:
    return damage[0].splitlines()[0][:120] + (f"; {len(damage) - 1} more" if len(damage) > 1 else "")


def _check_rate(sfreq: float, timestamps: np.ndarray, name: str, path: Path) -> None:
    """Refuse a header rate the timestamps contradict (eegviz.sources.rate): 1 MHz declared over stamps 4 ms
    apart cut every epoch 4000 times too long, and the replay skipped every marker with exit status 0. Judged by
    the stamps' net advance (rate.stamp_rate: gaps over GAP_S left out, steps of 0 and short backward steps
    counted), not by their typical step: a sender that pushes its chunks unstamped has them back-dated at the
    declared rate, so their typical step bears out any rate (both a sender twice too fast and one four times too
    slow passed). Samples stamped in bursts as they arrived (a board's own stamps) advance at the true rate all
    the same; what this refuses too is a recording that lost over half its samples in gaps under GAP_S."""
    if not 0 < sfreq < float("inf") or len(timestamps) < 11:  # no rate, or too few: refused as such elsewhere
        return
    measured = stamp_rate(timestamps)
    if measured is None:  # all gaps: nothing to measure the stream's own rate over
        return
    if contradicts(measured[0], sfreq):
        raise EegvizError(f"{path}: stream '{name}' declares {sfreq:g} Hz but its timestamps advance at "
                          f"{measured[0]:.4g} Hz; the header's rate or the timestamps are wrong (or the stream lost "
                          "over half its samples), and epochs cut at the declared rate would not be the recorded ones")


def _replayable(stream: dict) -> bool:
    """Whether a stream can be replayed as the EEG: numeric, with samples, at a regular rate (an irregular one, a
    gaze tracker's fixations or an event stream, has no sample clock to cut epochs in)."""
    return not _is_string(stream) and not _is_empty(stream) and _rate(stream) != 0


def _choose_eeg(streams: list[dict], eeg_stream: str | None, path: Path) -> dict:
    """The EEG stream: the one named, else the regular-rate numeric stream typed EEG (or any numeric one) with the
    most channels; refused in one line where there is none."""
    names = [_name(s) for s in streams]
    if eeg_stream is not None:
        matches = [s for s in streams if _name(s) == eeg_stream]
        if not matches:
            raise EegvizError(f"no stream named '{eeg_stream}' in {path}; available: {', '.join(names) or 'none'}")
        # several of that name (an amplifier's outlet restarted without a source_id is a new stream to LabRecorder,
        # of the same name): the first was taken, however short, or refused as empty while the other held the EEG
        usable = [s for s in matches if _replayable(s)]
        eeg = max(usable, key=lambda s: len(s["time_stamps"])) if usable else matches[0]
        if _is_string(eeg):
            raise EegvizError(f"stream '{eeg_stream}' in {path} holds strings, not EEG; pick a numeric stream")
        if _is_empty(eeg):
            raise EegvizError(f"stream '{eeg_stream}' in {path} holds no samples")
        if _rate(eeg) == 0:
            raise EegvizError(f"stream '{eeg_stream}' in {path} has no sampling rate (irregular: events, gaze "
                              "fixations...), so it cannot be EEG; pick a regular-rate stream")
    else:
        # regular-rate numeric streams only: an irregular one (a gaze tracker's fixations, an event stream) has no
        # sample clock to cut epochs in, and with more channels than the EEG it was taken for it
        numeric = [s for s in streams if _replayable(s)]
        typed = [s for s in numeric if _first(s["info"], "type").strip().lower() == "eeg"]
        # a stream typed EEG that holds no samples (an amplifier whose outlet was up but sent nothing while it was
        # recorded): another stream (an eye tracker's 3 channels) used to be replayed as the EEG without a word,
        # ending in a montage error about the model's channels that never named the empty EEG stream
        empty = [s for s in streams if _is_empty(s) and not _is_string(s) and _rate(s) != 0
                 and _first(s["info"], "type").strip().lower() == "eeg"]
        # so is one whose header declares no rate (nominal_srate 0, a sender set up as irregular): the 3 channels of
        # an accelerometer beside it were replayed as the EEG without a word, ending in a montage error, and
        # alone it was "no EEG stream with samples", though it held every sample
        irregular = [s for s in streams if not _is_empty(s) and not _is_string(s) and _rate(s) == 0
                     and _first(s["info"], "type").strip().lower() == "eeg"]
        if (empty or irregular) and not typed:
            said = ([f"the EEG stream {', '.join(repr(_name(s)) for s in empty)} in {path} holds no samples (its "
                     "sender sent none while it was recorded)"] if empty else []) + \
                ([f"the EEG stream {', '.join(repr(_name(s)) for s in irregular)} in {path} declares no sampling "
                  "rate (nominal_srate 0: irregular), so it cannot be replayed: epochs are cut by sample count at the "
                  "declared rate"]
                 if irregular else [])
            others = (f"; streams with samples: {', '.join(repr(_name(s)) for s in numeric)} (--stream NAME "
                      "replays one as the EEG)") if numeric else ""
            raise EegvizError("; ".join(said) + others)
        pool = typed or numeric
        if not pool:
            raise EegvizError(f"no EEG stream with samples in {path}; streams: {', '.join(names) or 'none'}")
        eeg = max(pool, key=lambda s: (_n_channels(s), len(s["time_stamps"])))  # a tie: the longer recording
        if not typed and len(pool) > 1:
            log.warning("%s: no stream is typed EEG; taking '%s' (%d channels, the most), not %s (--stream NAME "
                        "picks another)", _shown(path), _name(eeg), _n_channels(eeg),
                        ", ".join(f"'{_name(s)}'" for s in pool if s is not eeg))
        # two amplifiers (or an amplifier and a second EEG-typed device) recorded together: one was replayed
        # without a word, and the user could not tell which without reading the file (those of the same name
        # are _say_same_named's)
        others = [s for s in typed if s is not eeg and _name(s) != _name(eeg)]
        if others:
            log.warning("%s: %d streams are typed EEG; replaying '%s' (%d channels, %d samples: the most channels, "
                        "then the most samples), not %s; --stream NAME replays another", _shown(path),
                        len(typed), _name(eeg), _n_channels(eeg), len(eeg["time_stamps"]),
                        ", ".join(f"'{_name(s)}' ({_n_channels(s)} channels, {len(s['time_stamps'])} samples)"
                                  for s in others))
    _say_same_named(eeg, streams, path)
    return eeg


def _say_same_named(eeg: dict, streams: list[dict], path: Path) -> None:
    """A warning where other streams share the replayed EEG's name: which one is replayed (the most channels, then
    the most samples) and what the others hold, since only one is decoded (nothing joins a restarted outlet's two
    halves)."""
    same = [s for s in streams if s is not eeg and _name(s) == _name(eeg) and not _is_string(s)]
    if not same:
        return

    def what(s: dict) -> str:
        return (f"{_n_channels(s)} channels, {len(s['time_stamps'])} samples, source_id "
                f"'{_first(s['info'], 'source_id')}' on {_first(s['info'], 'hostname') or 'an unnamed host'}")
    log.warning("%s: %d streams are named '%s' (an outlet restarted without a source_id records as a new one); "
                "replaying one (%s), not %s", _shown(path), len(same) + 1, _name(eeg), what(eeg),
                "; ".join(what(s) for s in same))


GZIP_MAGIC = b"\x1f\x8b"


def _xdf_bytes(path: Path) -> bytes:
    """The file's XDF bytes: as stored, or decompressed where it is gzip-compressed (.xdfz, .xdf.gz: judged from
    its first bytes, as pyxdf does), which LabRecorder can write and pyxdf and SigViewer read. Decompressed up to
    what this machine's memory can hold and no further (a few KB of gzip can expand without end); a file cut short
    (a crash while recording) up to where it breaks, as a plain one is read up to its last complete chunk."""
    with open(path, "rb") as f:
        if f.read(2) != GZIP_MAGIC:
            return path.read_bytes()
    limit = (physical_memory() or 1 << 62) // 2  # the XDF bytes and pyxdf's arrays of them are in memory together
    out: list[bytes] = []
    size, pending, unzip, inside = 0, b"", zlib.decompressobj(31), False  # 31: gzip's header and trailer
    cut = None
    try:
        with open(path, "rb") as f:
            while pending or (pending := f.read(1 << 20)):
                block = unzip.decompress(pending, 1 << 24)  # bounded: a block of gzip may hold GBs
                pending, inside = unzip.unconsumed_tail, True
                if unzip.eof:  # a gzip member ended; another may follow (gzip allows several)
                    pending, unzip, inside = unzip.unused_data + pending, zlib.decompressobj(31), False
                out.append(block)
                size += len(block)
                if size > limit:
                    raise EegvizError(f"{path} decompresses to over {limit / 2**30:.1f} GiB, more than half this "
                                      "machine's memory; decompress it (gunzip) and give the .xdf")
        if inside:
            cut = "it ends inside the compressed data"
    except zlib.error as e:
        cut = one_line(e)
    if cut is not None:
        if not size:
            raise EegvizError(f"{path} is not a readable gzip-compressed XDF file ({cut})")
        log.warning("%s: the compressed file is cut short or damaged after %d decompressed bytes (%s); reading what "
                    "came before", _shown(path), size, cut)
    return b"".join(out)


def load_xdf_session(
    path: str | Path, eeg_stream: str | None = None, marker_stream: str | None = None,
    names_image: Callable[[str], str | None] | None = None,
) -> XdfSession:
    """Load EEG (in volts) and string markers from an XDF file, clocks synchronised by pyxdf.

    names_image: where the stimulus folder is known (training), the image id a marker's text names, or None;
    without marker_stream, the string stream naming the most images is decoded (_choose_markers)."""
    path = check_file(path, "XDF file")
    raw = _xdf_bytes(path)
    if not raw.startswith(b"XDF:"):
        raise EegvizError(f"{path} is not an XDF file (it does not start with 'XDF:')")
    end, headers = complete_prefix(raw)
    if headers == 0:
        raise EegvizError(f"{path} holds no complete stream header (empty or truncated); nothing can be read")
    if end < len(raw):
        log.warning(
            "%s: file is truncated or corrupt after byte %d of %d; loading the %d complete bytes",
            _shown(path), end, len(raw), end,
        )
    complete = raw[:end]  # the same object where nothing was cut
    streams, damage = _read(complete, path)
    if damage:
        streams, damage, complete = _repair(streams, damage, complete, path)

    names = [_name(s) for s in streams]
    if damage:  # said first: what pyxdf skipped may be why a stream below holds fewer samples, or none
        # pyxdf dates a sample written without its own stamp from the one before it (LabRecorder leaves regular
        # samples unstamped; eegviz stamps every one), across what it skipped too
        log.warning("%s: damaged chunks that pyxdf could not read and skipped (%s): what they held (samples, "
                    "markers or a stream's footer) is missing, and samples after them written without their own "
                    "timestamp (LabRecorder's regular ones) are dated as if nothing were", _shown(path),
                    _damage_line(damage))
    try:
        eeg = _choose_eeg(streams, eeg_stream, path)
    except EegvizError:
        if damage:  # a stream read at the wrong width may have lost every sample: that is the cause to name
            for s in streams:
                if not _is_string(s):
                    _check_width(s, complete, damage, path)
        raise
    _check_width(eeg, complete, damage, path)
    if marker_stream is not None:
        mstreams = [s for s in streams if _name(s) == marker_stream]
        if not mstreams:
            # the marker streams apart from the rest: "available: amp, ..." offered the EEG as a --markers name
            kinds = [_is_string(s) or _rate(s) == 0 for s in streams]
            markers = [n for n, is_marker in zip(names, kinds) if is_marker]
            others = [n for n, is_marker in zip(names, kinds) if not is_marker]
            raise EegvizError(
                f"no marker stream named '{marker_stream}' in {path}; its marker streams: "
                f"{', '.join(markers) or 'none'}" + (f" (other streams: {', '.join(others)})" if others else "")
            )
        # every sample of an EEG stream would become a marker; irregular numeric events ([code, value] rows) are
        # markers. Where a marker stream shares its name with such a stream (an amplifier's triggers named as its
        # EEG), it is the one named: "not markers" refused the very stream the default decoded
        regular = [s for s in mstreams if not _is_string(s) and _rate(s) > 0]
        if len(regular) == len(mstreams):
            s = regular[0]
            raise EegvizError(f"stream '{marker_stream}' in {path} is a {_n_channels(s)}-channel numeric stream "
                              f"at {_rate(s):g} Hz, not markers; name a string or irregular-rate stream")
        mstreams = [s for s in mstreams if not any(s is r for r in regular)]
    else:
        mstreams = _choose_markers([s for s in streams if _is_string(s)], eeg, path, names_image)
    if mstreams and all(_is_empty(s) for s in mstreams):
        log.warning("%s: the marker stream(s) %s hold no markers: nothing will be decoded", _shown(path),
                    ", ".join(f"'{_name(s)}'" for s in mstreams))
    elif not mstreams:
        one_hot = [f"'{_name(s)}'" for s in streams if not _is_empty(s) and _one_hot_labels(s) is not None]
        log.warning("%s: no string marker stream: nothing will be decoded (name one with --markers%s)", _shown(path),
                    f"; mne-lsl's one-hot annotations {', '.join(one_hot)} can be" if one_hot else "")
    markers: list[Marker] = []
    for s in mstreams:
        if _is_empty(s):
            continue
        src = _name(s)
        if _is_string(s) and _n_channels(s) > 1:  # said, as live says it (lsl.first_channel_notice)
            log.warning("%s: marker stream '%s' has %d channels: the first is read as the image id", _shown(path),
                        src, _n_channels(s))
        labels = _one_hot_labels(s)
        texts = _undecoded(s, complete, path)
        for k, (t, row) in enumerate(zip(s["time_stamps"], s["time_series"])):
            payload = texts[k] if texts is not None else _payload(row, labels)
            markers.append(Marker(timestamp=float(t), payload=payload, source=src))
    markers.sort(key=lambda m: m.timestamp)

    values = np.asarray(eeg["time_series"], dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    data = (values * _scale(eeg, values, path)).astype(np.float32)
    timestamps = np.asarray(eeg["time_stamps"], dtype=np.float64)
    back, steps = int((np.diff(timestamps) < 0).sum()), max(len(timestamps) - 1, 1)
    if back > steps / 2:  # not a clock reset pyxdf missed: no clock to cut epochs in (every marker was skipped)
        raise EegvizError(f"{path}: the EEG stream's timestamps go backwards in {back} of its {steps} steps, even "
                          "after clock synchronisation; its clock (or the file) is broken, so no epoch can be cut")
    if back:
        log.warning("%s: EEG timestamps go backwards in places even after clock synchronisation", _shown(path))

    n = data.shape[1]
    labels = [_first(c, "label") for c in _channels(eeg)]
    labels = usable_ch_names(labels, n, f"{_shown(path)}: stream '{_name(eeg)}'")
    sfreq = float(_first(eeg["info"], "nominal_srate", "0") or 0)
    _check_rate(sfreq, timestamps, _name(eeg), path)
    if sfreq <= 0:
        sfreq = float(eeg["info"].get("effective_srate") or 0.0)
    info = StreamInfo(
        name=_name(eeg) or path.stem,
        ch_names=tuple(labels),
        sfreq=sfreq,
        source_id=_first(eeg["info"], "source_id"),
        ch_type=_first(eeg["info"], "type") or "EEG",
        unit="volts",
    )
    return XdfSession(info=info, data=data, timestamps=timestamps, markers=markers, path=path)


class XdfReplaySource(ReplaySource):
    """Plays an XDF recording back as a Source, in the recording's own clock (pacing: eegviz.sources.replay)."""

    # a recorded stream's labels are what its sender sent then: a refusal of one that has none offers --montage
    # FILE alone (eegviz.stream.montage), not labelling them in the sender
    label_hint = ""

    def __init__(
        self,
        path: str | Path,
        speed: float = 1.0,
        eeg_stream: str | None = None,
        marker_stream: str | None = None,
        chunk_s: float = 0.02,
    ) -> None:
        self.speed = checked_speed(speed)
        self.path = Path(path)
        self.eeg_stream = eeg_stream
        self.marker_stream = marker_stream
        self.chunk_s = float(chunk_s)
        self.info = StreamInfo(name=self.path.stem, ch_names=(), sfreq=0.0)
        self.session: XdfSession | None = None

    def load(self):
        s = load_xdf_session(self.path, self.eeg_stream, self.marker_stream)
        self.session, self.info = s, s.info
        return s.data, s.timestamps, s.markers
