"""Latency summaries as every benchmark reports them: p50 / p95 / p99 / max / mean / n (None when empty)."""

from __future__ import annotations

import numpy as np


def percentiles(xs) -> dict:
    if len(xs) == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None, "n": 0}
    a = np.asarray(xs, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "mean": float(a.mean()), "n": int(len(a))}
