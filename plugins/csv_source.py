"""First-party example plugin: a SOURCE that replays a CSV/TSV file of EEG samples in real time.

Shows the source side of the plugin API: a module in the plugins directory calls
eegviz.plugins.register("sources", name, cls), and the class implements the Source protocol of
eegviz/sources/base.py (info, start, read, stop). Pacing follows XdfReplaySource: samples are released in
chunks of chunk_s once their time has come, speed times faster than real time; speed=0 releases everything as
fast as the caller reads, at most PacedReplay.BATCH_S seconds of data per read().

File layout (one sample per row, delimiter sniffed from the header: comma, tab or semicolon):

    Fz,Cz,Pz,marker            <- header row: channel names, plus optional columns
    1.5,-2.0,0.25,             <- values in `unit` (microvolts unless told otherwise)
    1.4,-2.1,0.30,star_003     <- a non-empty marker cell = a stimulus id at this sample's time

* `marker` (any case; `marker_column` picks another name): stimulus ids; empty cells and the values in
  `no_marker` (default "" and "0", as amplifier exports write) mean no event.
* `time` or `timestamp` (optional): sample times in seconds; without it, sample i is at i / sfreq and `sfreq`
  must be given. With it, sfreq defaults to 1 / median step.
* Leading blank lines and lines starting with '#' are skipped.

Timestamps are the file's own clock (like an XDF replay), so markers and samples stay aligned exactly.
Anything wrong with the file is an EegvizError with one line naming the file, row and column.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from eegviz.checks import check_positive
from eegviz.errors import EegvizError
from eegviz.messages import Marker, StreamInfo
from eegviz.plugins import register
from eegviz.sources.replay import ReplaySource, checked_speed
from eegviz.sources.units import checked_unit

log = logging.getLogger("eegviz.plugins.csv")

TIME_COLUMNS = ("time", "timestamp")
DELIMITERS = (",", "\t", ";")
# how a missing rate is given: the command line reads this plugin (`eegviz replay --source csv`), where "(sfreq=...)"
# named a Python argument the user never sees
SFREQ_HOW = "--sfreq HZ; sfreq= in Python"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class CsvSource(ReplaySource):
    """Replays a CSV/TSV of EEG samples (header row of channel names, optional marker and time columns)."""

    name = "csv"

    def __init__(
        self,
        path: str | Path,
        sfreq: float | None = None,
        speed: float = 1.0,
        unit: str = "uV",
        marker_column: str = "marker",
        no_marker: tuple[str, ...] = ("", "0"),
        chunk_s: float = 0.02,
        delimiter: str | None = None,
    ) -> None:
        speed = checked_speed(speed)
        if sfreq is not None:
            check_positive(sfreq, "sfreq", unit="Hz")
        self.scale = checked_unit(unit)
        self.path = Path(path)
        self.sfreq = None if sfreq is None else float(sfreq)
        self.speed = speed
        self.unit = unit
        self.marker_column = marker_column
        self.no_marker = {v.strip().lower() for v in no_marker}
        self.chunk_s = float(chunk_s)
        self.delimiter = delimiter
        self.info = StreamInfo(name=self.path.stem, ch_names=(), sfreq=0.0)
        self.data = np.zeros((0, 0), np.float32)
        self.timestamps = np.zeros(0)
        self.markers: list[Marker] = []

    @classmethod
    def from_cli(cls, source) -> "CsvSource":
        """Build from `eegviz replay --source csv FILE [--speed S] [--sfreq F] [--unit U]`: `source` is the
        session's eegviz.settings.SourceSettings, whose fields are named after those options."""
        return cls(source.file, sfreq=source.sfreq, speed=source.speed, unit=source.unit or "uV")

    # -- loading ---------------------------------------------------------------------------------------------------
    def _fail(self, what: str) -> EegvizError:
        return EegvizError(f"{self.path}: {what}")

    def _rows(self) -> tuple[list[str], list[list[str]], int]:
        """Header, data rows and the file line number of the first data row."""
        if not self.path.is_file():
            raise EegvizError(f"CSV file {self.path} does not exist; check the path")
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise self._fail(f"cannot be read as UTF-8 text ({type(e).__name__})") from None
        lines = text.splitlines()
        start = 0
        while start < len(lines) and (not lines[start].strip() or lines[start].lstrip().startswith("#")):
            start += 1
        if start == len(lines):
            raise self._fail("is empty; expected a header row of channel names, then one row per sample")
        delim = self.delimiter or max(DELIMITERS, key=lines[start].count)
        rows = list(csv.reader(lines[start:], delimiter=delim))
        header = [h.strip() for h in rows[0]]
        body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
        return header, body, start + 2

    def _load(self) -> None:
        header, body, first_line = self._rows()
        if all(_is_number(h) for h in header if h):
            raise self._fail("has no header row (the first row is numbers); add a row of channel names")
        lower = [h.lower() for h in header]
        m_col = lower.index(self.marker_column.lower()) if self.marker_column.lower() in lower else None
        t_col = next((lower.index(c) for c in TIME_COLUMNS if c in lower), None)
        ch_cols = [i for i in range(len(header)) if i not in (m_col, t_col)]
        ch_names = [header[i] for i in ch_cols]
        if not ch_cols:
            raise self._fail("has no channel columns in its header")
        unnamed = [i + 1 for i in ch_cols if not header[i]]
        if unnamed:
            raise self._fail(f"header column {unnamed[0]} has no name; every channel column needs one")
        dupes = sorted({n for n in ch_names if lower.count(n.lower()) > 1})
        if dupes:
            raise self._fail(f"channel name(s) {', '.join(dupes)} appear more than once in the header")
        if not body:
            raise self._fail("has a header but no sample rows")
        for k, r in enumerate(body):
            if len(r) != len(header):
                raise self._fail(f"row on line {first_line + k} has {len(r)} fields, the header has {len(header)}")

        values = [[r[i].strip() for i in ch_cols] for r in body]
        try:
            data = np.asarray(values, dtype=np.float64)
        except ValueError:
            data = None
        if data is None or not np.isfinite(data).all():
            for k, row in enumerate(values):
                for j, v in enumerate(row):
                    if not _is_number(v) or not np.isfinite(float(v)):
                        raise self._fail(f"line {first_line + k}, column '{ch_names[j]}': value {v!r} is not "
                                         "a finite number")

        n = len(body)
        if t_col is not None:
            try:
                ts = np.asarray([r[t_col].strip() for r in body], dtype=np.float64)
            except ValueError:
                raise self._fail(f"column '{header[t_col]}' holds a value that is not a number") from None
            if not np.isfinite(ts).all() or (n > 1 and not (np.diff(ts) > 0).all()):
                raise self._fail(f"column '{header[t_col]}' must increase strictly from row to row")
            sfreq = self.sfreq or (round(1.0 / float(np.median(np.diff(ts))), 6) if n > 1 else 0.0)
            if not sfreq > 0:
                raise self._fail(f"has a single row, so the sampling rate must be given ({SFREQ_HOW})")
        else:
            if self.sfreq is None:
                raise self._fail(f"has no time column, so the sampling rate must be given ({SFREQ_HOW})")
            sfreq = self.sfreq
            ts = np.arange(n, dtype=np.float64) / sfreq

        markers = []
        if m_col is not None:
            for t, r in zip(ts, body):
                v = r[m_col].strip()
                if v.lower() not in self.no_marker:
                    markers.append(Marker(timestamp=float(t), payload=v, source=self.path.stem))
        if not markers:
            # said at the start, as an XDF or MNE replay without markers says it: the file played to its end and
            # only then did the session say it had held no markers (a column named "Trigger", not "marker")
            why = (f"its '{header[m_col]}' column names no stimulus" if m_col is not None else
                   f"it has no '{self.marker_column}' column (header: {', '.join(header)})")
            log.warning("%s: %s, so nothing will be decoded", self.path, why)

        self.data = (data * self.scale).astype(np.float32)
        self.timestamps = ts
        self.markers = markers
        self.info = StreamInfo(name=self.path.stem, ch_names=tuple(ch_names), sfreq=float(sfreq),
                               source_id=f"csv:{self.path.name}", ch_type="EEG", unit="volts")

    # -- Source protocol -------------------------------------------------------------------------------------------
    def load(self):  # open(), start(), read() and stop() come from ReplaySource
        self._load()
        return self.data, self.timestamps, self.markers


register("sources", "csv", CsvSource)
