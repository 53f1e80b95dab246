"""How many CPU threads torch's kernels get while a session (or the benchmark of one) runs.

A session has two busy threads of its own: acquisition (pull samples, record them, cut epochs) and inference
(decode, generate); a window adds the GUI thread. torch's default gives inference one kernel thread per core,
so on a 2-core machine its second kernel thread fights acquisition for the other core, and every kernel waits
for the slower of the two at its barrier. Measured on a 2-core VM (the bundled demo, headless, 3 runs of 40
epochs each): epoch ready -> image p50 38.6-42.3 ms with 2 kernel threads, 29.3-30.3 with 1; offscreen window
46.3 against 33.4. So inference leaves one core to the rest of the session: all cores but one, and never more
than torch itself would use. An explicit --threads, or OMP_NUM_THREADS in the environment, wins.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch


def inference_threads(requested: int | None = None) -> int:
    """The kernel thread count for inference: `requested` when given, torch's own when OMP_NUM_THREADS is set,
    else torch's default capped at the cores but one (at least 1)."""
    if requested is not None:
        return max(1, int(requested))
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1))


@contextmanager
def inference_thread_count(requested: int | None = None) -> Iterator[int]:
    """torch.set_num_threads(inference_threads(requested)) for the block, then the count from before (the setting
    is the whole process's, and a test suite or a window runs more than one session in one process)."""
    before = torch.get_num_threads()
    n = inference_threads(requested)
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
