"""The headless sink: results.jsonl (one line per marker) plus saliency/ and reconstruction/ PNGs.

Every marker gets a line, also those whose epoch was dropped (newest wins) or could not be cut (a gap), so a
session's results can be lined up with its recording one to one.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from eegviz.messages import Marker, Reconstruction


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
        self.n_lines = 0

    def _write(self, row: dict) -> None:
        with self._lock:
            self._fh.write(json.dumps(row) + "\n")
            self.n_lines += 1

    def on_result(self, rec: Reconstruction, stimulus: np.ndarray | None = None) -> None:
        ep = rec.decoded.epoch
        stem = f"{ep.index:05d}_{_safe(rec.marker.payload)}"
        sal = Image.fromarray((np.clip(rec.decoded.saliency, 0, 1) * 255).astype(np.uint8))
        sal.resize((self.png_size, self.png_size), Image.BICUBIC).save(self.out / "saliency" / f"{stem}.png")
        Image.fromarray(rec.image).save(self.out / "reconstruction" / f"{stem}.png")
        self._write({
            "index": ep.index, "marker": rec.marker.payload, "t_marker": rec.marker.timestamp, "dropped": False,
            "decoded_class": rec.decoded.top_class, "generator": rec.generator,
            "latency_ms": {k: round(v, 3) for k, v in rec.timings_ms.items()},
            "dropped_before": rec.dropped_before,
            "saliency": f"saliency/{stem}.png", "reconstruction": f"reconstruction/{stem}.png",
        })

    def on_skipped(self, marker: Marker, reason: str) -> None:
        self._write({"marker": marker.payload, "t_marker": marker.timestamp, "dropped": True, "reason": reason})

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()
