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
from pathlib import Path

import numpy as np
from PIL import Image

from eegviz.generators.base import to_uint8
from eegviz.messages import Marker, Reconstruction, SkipKind

log = logging.getLogger(__name__)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "marker"


class ResultsWriter:
    name = "headless"

    def __init__(self, out_dir: Path | str, png_size: int = 128):
        self.out = Path(out_dir)
        (self.out / "saliency").mkdir(parents=True, exist_ok=True)
        (self.out / "reconstruction").mkdir(parents=True, exist_ok=True)
        self.png_size = png_size
        self._fh = open(self.out / "results.jsonl", "x", buffering=1)  # a fresh session folder: never appended
        self._lock = threading.Lock()

    def _write(self, row: dict) -> None:
        with self._lock:
            self._fh.write(json.dumps(row) + "\n")

    def on_result(self, rec: Reconstruction, stimulus: np.ndarray | None = None) -> None:
        ep = rec.decoded.epoch
        stem = f"{ep.index:05d}_{_safe(rec.marker.payload)}"
        sal = Image.fromarray(to_uint8(rec.decoded.saliency))
        sal.resize((self.png_size, self.png_size), Image.BICUBIC).save(self.out / "saliency" / f"{stem}.png")
        Image.fromarray(rec.image).save(self.out / "reconstruction" / f"{stem}.png")
        truth = {"true_class": rec.true_class}  # the key says this folder records the truth (None: not known)
        if stimulus is not None:
            (self.out / "stimulus").mkdir(exist_ok=True)
            Image.fromarray(stimulus).save(self.out / "stimulus" / f"{stem}.png")
            truth["stimulus"] = f"stimulus/{stem}.png"
        self._write({
            "index": ep.index, "marker": rec.marker.payload, "t_marker": rec.marker.timestamp, "dropped": False,
            "decoded_class": rec.decoded.top_class, "generator": rec.generator,
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
        raised: the session's results are already safe on disk, and write_run_report can be rerun later.
        """
        with self._lock:
            if self._fh.closed:
                return
            self._fh.close()
        try:
            from eegviz.record.run_report import write_run_report

            write_run_report(self.out)
        except Exception as e:  # noqa: BLE001 - see the docstring
            log.warning("could not write the run report in %s (%s: %s); results.jsonl is complete",
                        self.out, type(e).__name__, e)
