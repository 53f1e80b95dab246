"""What the person was shown for a marker: the ground-truth panel, results.jsonl's true class, the run report.

A marker carries an image id. Given the session's stimulus folder (`--images-dir DIR`: the folder `eegviz
present` showed, flat or one subfolder per class; eegviz.data.images), the truth is that folder's file of the id
and its class, and an id the folder does not hold is unknown. The folder is authoritative: a lab photo named like
a synthetic stimulus ('cup_003.jpg') is shown and scored as itself, never as the synthetic render of that name.
Without a folder, an id of the synthetic world (eegviz.world.stimuli) is rendered again; any other is unknown.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eegviz.errors import EegvizError
from eegviz.generators.base import to_uint8

log = logging.getLogger(__name__)

SIZE = 128  # px: the window's panels and the report's tiles scale from this
CACHED = 256  # images kept decoded (a session shows its stimuli again and again; 128 px RGB is 48 KB each)


@dataclass(frozen=True)
class Shown:
    """One stimulus as shown: (SIZE, SIZE, 3) uint8 (read-only, shared between sinks) and its class name."""

    image: np.ndarray
    class_name: str


@lru_cache(maxsize=CACHED)
def synthetic_stimulus(payload: str, size: int = SIZE) -> np.ndarray | None:
    """The image a synthetic-world stimulus id names, re-rendered; None for any other payload."""
    from eegviz.world.stimuli import render, spec_from_id

    try:
        img, _ = render(spec_from_id(payload), size=size)
    except EegvizError:
        return None
    out = to_uint8(img)
    out.setflags(write=False)  # cached and shared between sinks: read-only
    return out


def synthetic_shown(payload: str, size: int = SIZE) -> Shown | None:
    """A synthetic-world stimulus id's image (re-rendered at `size`) and class; None for any other id."""
    from eegviz.world.stimuli import spec_id_class

    img = synthetic_stimulus(payload, size)
    return None if img is None else Shown(img, spec_id_class(payload))


def synthetic_classes() -> tuple[str, ...]:
    """The synthetic world's class names (what a run report's chance level is taken over)."""
    from eegviz.world.stimuli import CLASSES

    return tuple(CLASSES)


class StimulusTruth:
    """Marker id -> Shown or None (module docstring). Called from the inference thread; thread-safe anyway.

    prefetch(id), called as the marker arrives, decodes the folder's file on a worker thread of its own while the
    epoch is still being recorded (the window runs ~0.6 s past the marker): a large PNG takes tens of
    milliseconds to decode, which the inference thread would otherwise spend before the next batch."""

    def __init__(self, images_dir: str | Path | None = None) -> None:
        from eegviz.data.images import find_images

        self.images_dir = None if images_dir is None else Path(images_dir)
        # refused here, before the session starts: a missing or empty folder, two files of one id
        self._files = (None if images_dir is None
                       else {f.image_id: f for f in find_images(images_dir, "--images-dir")})
        self._cache: OrderedDict[str, Shown | None] = OrderedDict()
        self._pending: dict[str, Future] = {}
        self._pool: ThreadPoolExecutor | None = None  # started by the first prefetch
        self._lock = threading.Lock()
        self._told: set[str] = set()

    def prefetch(self, payload: str) -> None:
        """Start decoding the folder's file for `payload` in the background, unless it is cached or under way.
        Without a folder nothing is done: a synthetic stimulus renders in well under a millisecond."""
        if self._files is None or payload not in self._files:
            return
        with self._lock:
            if payload in self._cache or payload in self._pending:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="eegviz-truth")
            future = self._pool.submit(self._load, payload)
            self._pending[payload] = future
        future.add_done_callback(lambda f, p=payload: self._settle(p, f))

    def _settle(self, payload: str, future: Future) -> None:
        """A prefetch is done: its image joins the cache (bounded), whether or not its epoch is ever decoded (one
        whose epochs were all skipped kept its decoded image in _pending for the rest of the session)."""
        with self._lock:
            if self._pending.get(payload) is future:
                del self._pending[payload]
            if not future.cancelled() and future.exception() is None:
                self._remember(payload, future.result())

    def _remember(self, payload: str, shown: Shown | None) -> None:
        """(with the lock held)"""
        self._cache[payload] = shown
        self._cache.move_to_end(payload)
        while len(self._cache) > CACHED:
            self._cache.popitem(last=False)

    def close(self) -> None:
        """Stop the prefetch worker (a decode under way finishes first)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._pending.clear()

    def __call__(self, payload: str) -> Shown | None:
        if self._files is None:
            return synthetic_shown(payload)
        with self._lock:
            if payload in self._cache:
                self._cache.move_to_end(payload)
                return self._cache[payload]
            pending = self._pending.get(payload)
        shown = self._load(payload) if pending is None or pending.cancelled() else pending.result()
        with self._lock:
            self._pending.pop(payload, None)
            self._remember(payload, shown)
        return shown

    def _load(self, payload: str) -> Shown | None:
        from eegviz.data.images import load_image

        f = self._files.get(payload)
        if f is None:
            return None
        try:
            img = to_uint8(load_image(f.path, SIZE, draft=True))  # decoded small (JPEG's draft mode)
        except EegvizError as e:  # changed on disk since the start: unknown, said once
            if payload not in self._told:
                self._told.add(payload)
                log.warning("%s", e)
            return None
        img.setflags(write=False)
        return Shown(img, f.class_name)
