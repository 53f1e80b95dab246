"""The headless sink: results.jsonl (one line per marker) plus saliency/ and reconstruction/ PNGs (and stimulus/,
what was shown, where eegviz knows it: eegviz.stimulus_truth), and at close a run report for people
(eegviz.record.run_report: report.html, contact_sheet.png, latency.png).

Every marker gets a line, also those whose epoch was dropped (newest wins) or could not be cut (a gap), so a
session's results can be lined up with its recording one to one.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from eegviz.errors import naming, os_error_line
from eegviz.generators.base import to_uint8
from eegviz.messages import Marker, Reconstruction, SkipKind

log = logging.getLogger(__name__)


def _safe(name: str) -> str:
    """A marker as part of a PNG's name: letters and digits of any script kept, at most 80 of them and 200 bytes
    of UTF-8. A file name holds 255 bytes (ext4, tmpfs), and 80 letters of 4 bytes each (CJK Extension B, the
    mathematical bold letters of a styled id) made "File name too long", which ended the session."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
    while len(safe.encode("utf-8")) > 200:
        safe = safe[:-1]
    return safe or "marker"


class ResultsWriter:
    name = "headless"

    def __init__(self, out_dir: Path | str, png_size: int = 128):
        self.out = Path(out_dir)
        (self.out / "saliency").mkdir(parents=True, exist_ok=True)
        (self.out / "reconstruction").mkdir(parents=True, exist_ok=True)
        self.png_size = png_size
        self._jsonl = self.out / "results.jsonl"
        self._fh = open(self._jsonl, "x", buffering=1)  # a fresh session folder: never appended
        self._lock = threading.Lock()
        self._failed: OSError | None = None  # the first write that failed (a full disk): close() must not say complete

    def _write(self, row: dict) -> None:
        with self._lock, self._noting(self._jsonl):
            self._fh.write(json.dumps(row) + "\n")

    def _save(self, image: Image.Image, path: Path) -> None:
        """A picture that cannot be saved (a full disk) is an error named by its path (eegviz.errors.naming); it
        is not a failed write of results.jsonl, whose marker then gets its error line (eegviz.pipeline): close()
        used to call results.jsonl NOT complete, naming the PNG, of a file that held every marker's line."""
        with naming(path):
            image.save(path)

    @contextmanager
    def _noting(self, path: Path):
        """naming(path), remembering the first failure of results.jsonl, so close() does not call it complete."""
        try:
            with naming(path):
                yield
        except OSError as e:
            self._failed = self._failed or e
            raise

    def on_result(self, rec: Reconstruction, stimulus: np.ndarray | None = None) -> None:
        ep = rec.decoded.epoch
        stem = f"{ep.index:05d}_{_safe(rec.marker.payload)}"
        sal = Image.fromarray(to_uint8(rec.decoded.saliency))
        truth = {"true_class": rec.true_class}  # the key says this folder records the truth (None: not known)
        pictures = [(sal.resize((self.png_size, self.png_size), Image.BICUBIC), self.out / "saliency" / f"{stem}.png"),
                    (Image.fromarray(rec.image), self.out / "reconstruction" / f"{stem}.png")]
        if stimulus is not None:
            (self.out / "stimulus").mkdir(exist_ok=True)
            pictures.append((Image.fromarray(stimulus), self.out / "stimulus" / f"{stem}.png"))
            truth["stimulus"] = f"stimulus/{stem}.png"
        saved: list[Path] = []
        try:
            for image, path in pictures:
                saved.append(path)
                self._save(image, path)
        except OSError:
            # A full disk: the marker gets its error line (eegviz.pipeline), which names no picture, so this
            # result's pictures go, the one cut short (a 0-byte PNG no viewer opens) and those beside it that no
            # line would name. Each is this session's own (its index is in the name).
            for path in saved:
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            raise
        self._write({
            "index": ep.index, "marker": rec.marker.payload, "t_marker": rec.marker.timestamp, "dropped": False,
            "decoded_class": rec.decoded.top_class, "generator": rec.generator, "init": rec.init,
            "latency_ms": {k: round(v, 3) for k, v in rec.timings_ms.items()},
            "dropped_before": rec.dropped_before, "repeats": rec.repeats,
            "saliency": f"saliency/{stem}.png", "reconstruction": f"reconstruction/{stem}.png", **truth,
        })

    def on_skipped(self, marker: Marker, reason: str, kind: SkipKind) -> None:
        self._write({"marker": marker.payload, "t_marker": marker.timestamp, "dropped": True, "reason": reason,
                     "skip": kind.value})

    def close(self) -> None:
        """Close results.jsonl, then write the run report beside it (report.html, contact sheet, latency plot).

        The report is derived from the files just closed, so a failure while making it is logged and never
        raised: the session's results are already on disk, and write_run_report can be rerun later. Whether
        results.jsonl is complete is said as it is: after a failed write (a full disk) it is not.
        """
        with self._lock:
            if self._fh.closed:
                return
            try:
                with self._noting(self._jsonl):
                    self._fh.close()
            except OSError:  # only a line whose write already failed and was raised is left to flush: said below
                pass
        try:
            from eegviz.record.run_report import write_run_report

            write_run_report(self.out)
            report = None
        except Exception as e:  # noqa: BLE001 - see the docstring
            report = (f"could not write the run report in {self.out} ({type(e).__name__}: {e}; write it again with "
                      f"`python -m eegviz.record.run_report {self.out}`); ")
        if self._failed is not None:
            log.warning("%sresults.jsonl is NOT complete: a write failed (%s)", report or "",
                        os_error_line(self._failed))
        elif report:
            log.warning("%sresults.jsonl is complete", report)
