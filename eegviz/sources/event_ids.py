"""replay's --event-ids FILE: which image each trigger code (or each stimulus event) of a recording stands for.

A lab presenting with PsychoPy or Presentation and a parallel-port trigger records numbers (BDF's "Status", FIF's
STI channel, annotations such as "3" or BrainVision's "Stimulus/S  3"), not the image ids eegviz decodes by, and
keeps a log of which image each trial showed. The file says how to turn one into the other, in one of two forms,
told apart by its header alone (nothing is guessed from the values):

- a code table: columns `code` and `image_id` (other columns ignored), one row per code; each stimulus event
  becomes the id of its code (a code per image, or a code per class);
- a sequence: the one column `image_id`, one row per stimulus event in presentation order (the nth event is the
  nth id); `eegviz present --log`'s onset log (trial,image_id,class,...) is one, as it is. Any other header with
  image_id and no code column is refused: a code table whose codes are headed `trigger` or `event` was read as a
  sequence, its codes ignored, and replayed with the nth image at the nth event, whatever code it had.

Which events are stimulus events: all of the file's trigger-code events, or with --event-codes LIST only those
whose code it lists ("1-200", "1,2,5-9"); the others (responses, a start code) are left out. Everything is
checked hard and refused in one line: a code that is not an integer, a code the table lacks, an event count that
is not the sequence's length.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from eegviz.errors import EegvizError
from eegviz.messages import Marker

OPTION = "--event-ids"
CODES_OPTION = "--event-codes"


@dataclass(frozen=True)
class EventIds:
    """A read --event-ids file: kind "table" (codes -> ids) or "sequence" (one id per stimulus event, in order)."""

    path: Path
    kind: str
    table: dict[int, str]
    sequence: tuple[str, ...]

    def describe(self) -> str:
        if self.kind == "table":
            return (f"a code table ({len(self.table)} codes -> {len(set(self.table.values()))} image ids; its "
                    "header has code and image_id)")
        return (f"a sequence ({len(self.sequence)} image ids, one per stimulus event in order; its header has "
                "image_id and no code)")


def _int(text: str) -> int | None:
    """A trigger code written as digits (no sign, no "1_000" Python would read), else None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def read_event_ids(path: str | Path) -> EventIds:
    """The --event-ids file as an EventIds, or a one-line EegvizError saying what in it is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EegvizError(f"{OPTION} {path}: no such file") from None
    except UnicodeDecodeError:
        raise EegvizError(f"{OPTION} {path} is not a UTF-8 text file (a CSV or TSV)") from None
    first = text.split("\n", 1)[0]
    # Excel saves "CSV" with semicolons where the decimal mark is a comma (most of Europe): "code;image_id" was
    # one column, refused as naming no image_id column
    delimiter = ("\t" if "\t" in first or path.suffix.lower() == ".tsv" else
                 ";" if ";" in first and "," not in first else ",")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]  # (its line in the file, cells)
    if not rows:
        raise EegvizError(f"{OPTION} {path} is empty: give a code table (header code,image_id) or a sequence "
                          "(header image_id, one row per stimulus event)")
    header = [c.strip().lower() for c in rows[0][1]]
    if "image_id" not in header:
        raise EegvizError(f"{OPTION} {path}: its first line ({first.strip()[:80]!r}) names no image_id column; "
                          "give a header: code,image_id (a code table) or image_id (a sequence, one row per "
                          "stimulus event, as `eegviz present --log` writes)")
    at = header.index("image_id")
    code_at = header.index("code") if "code" in header else None
    if code_at is None and not _sequence_header(header):
        raise EegvizError(f"{OPTION} {path}: its header ({first.strip()[:80]!r}) has image_id but no code column, "
                          "and is no sequence's: a code table's header is code,image_id (the trigger codes in a "
                          "column named code), a sequence's is image_id alone, one row per stimulus event, or the "
                          "onset log `eegviz present --log` writes, as it is")
    ids = []
    for line, row in rows[1:]:
        image_id = row[at].strip() if at < len(row) else ""
        if not image_id:
            raise EegvizError(f"{OPTION} {path}, line {line}: no image id")
        ids.append((line, row, image_id))
    if not ids:
        raise EegvizError(f"{OPTION} {path} has a header but no rows")
    if code_at is None:
        return EventIds(path, "sequence", {}, tuple(image_id for _, _, image_id in ids))
    table: dict[int, str] = {}
    for line, row, image_id in ids:
        cell = row[code_at].strip() if code_at < len(row) else ""
        code = _int(cell)
        if code is None:
            raise EegvizError(f"{OPTION} {path}, line {line}: code {cell!r} is not an integer (a trigger code)")
        if table.get(code, image_id) != image_id:
            raise EegvizError(f"{OPTION} {path}, line {line}: code {code} is given twice, as '{table[code]}' and "
                              f"'{image_id}'")
        table[code] = image_id
    return EventIds(path, "table", table, ())


# The headers of `eegviz present --log`'s onset logs: eegviz.app.presenter.schedule's LOG_FIELDS, and ONSET_FIELDS of
# the logs written before offsets were, spelt out here because the sources do not import the app (a test pins them).
_ONSET_LOG = ("trial", "image_id", "class", "onset_lsl", "intended_lsl", "late_ms")
PRESENT_LOG_HEADERS = (_ONSET_LOG + ("offset_lsl", "on_ms", "intended_on_ms", "offset_by"), _ONSET_LOG)


def _sequence_header(header: list[str]) -> bool:
    """Whether a header without a code column is a sequence's: image_id alone (a spreadsheet's empty trailing
    columns aside), or an onset log of `eegviz present --log`, this version's or an older one's."""
    named = [c for c in header if c]
    return named == ["image_id"] or tuple(named) in PRESENT_LOG_HEADERS


@dataclass(frozen=True)
class Codes:
    """--event-codes as the ranges it names (lo, hi), inclusive: kept as ranges, since "0-4294967295" as a set of
    its codes would not fit in memory."""

    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in self.ranges)


def check_codes_named(event_ids, event_codes) -> None:
    """--event-codes without --event-ids is refused in one line: it only says which codes the table names."""
    if event_codes is not None and event_ids is None:
        raise EegvizError(f"{CODES_OPTION} says which trigger codes are stimuli for {OPTION} FILE to name; give "
                          f"{OPTION} too")


def parse_codes(text: str | None) -> Codes | None:
    """--event-codes "1-200,255" as the Codes it names (None: not given, every code is a stimulus)."""
    if text is None:
        return None
    ranges = []
    for part in (p.strip() for p in str(text).split(",")):
        lo, sep, hi = part.partition("-")
        a, b = _int(lo), (_int(hi) if sep else _int(lo))
        if not part or a is None or b is None or b < a:
            raise EegvizError(f"{CODES_OPTION} {text!r}: give trigger codes as integers and ranges, e.g. 1-200 "
                              "or 1,2,5-9")
        ranges.append((a, b))
    return Codes(tuple(ranges))


def _codes_shown(counts: dict[int, int], limit: int = 8) -> str:
    items = sorted(counts.items())
    shown = ", ".join(f"{c} (x{n})" for c, n in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def mapped_markers(events: list[tuple[float, int]], ids: EventIds, codes: Codes | None, name: str,
                   where: str) -> tuple[list[Marker], str]:
    """The recording's trigger-code events (time, code), `where` saying where they came from, as image-id markers,
    and the one line that says how (which form the file is, how many events, how many left out by --event-codes).
    Refused in one line: no stimulus event, a code the table lacks, a count that is not the sequence's length."""
    kept = [(t, c) for t, c in events if codes is None or c in codes]
    left_out = len(events) - len(kept)
    counts: dict[int, int] = {}
    for _, c in kept:
        counts[c] = counts.get(c, 0) + 1
    by = f"; {CODES_OPTION} leaves out {left_out} event(s) of other codes" if left_out else ""
    if not kept:
        raise EegvizError(f"{name}: none of its {len(events)} trigger-code events ({where}) has a code "
                          f"{CODES_OPTION} names, so no stimulus is left to map with {OPTION}")
    if ids.kind == "table":
        unknown = {c: n for c, n in counts.items() if c not in ids.table}
        if unknown:
            raise EegvizError(f"{name}: codes {_codes_shown(unknown)} of its stimulus events ({where}{by}) are not "
                              f"in the code table {OPTION} {ids.path.name}: add them, or name the stimulus codes "
                              f"with {CODES_OPTION} (e.g. 1-200) so the others are left out")
        payloads = [ids.table[c] for _, c in kept]
    else:
        if len(kept) != len(ids.sequence):
            raise EegvizError(f"{name} has {len(kept)} stimulus events ({where}{by}; codes {_codes_shown(counts)}) "
                              f"but the sequence {OPTION} {ids.path.name} lists {len(ids.sequence)} image ids, "
                              f"one per event: nothing is guessed; name the stimulus codes with {CODES_OPTION} "
                              "(responses and other codes left out), or give the log of this recording")
        payloads = list(ids.sequence)
    markers = [Marker(timestamp=t, payload=p, source="event-ids") for (t, _), p in zip(kept, payloads)]
    line = (f"{name}: {len(kept)} stimulus events ({where}{by}) named by {OPTION} {ids.path.name}, "
            f"{ids.describe()}")
    return markers, line
