"""Publish any Source as LSL streams (an EEG outlet plus a string marker outlet).

Used by `eegviz simulate --stream` so a simulated or replayed session looks, to eegviz and to any other LSL
tool, like a live amplifier. Samples are published in microvolts with the unit written into the description,
because that is what most LSL EEG consumers expect; LslSource converts back to volts from that unit.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pylsl

from eegviz.messages import Chunk, Marker, StreamInfo
from eegviz.sources.base import Source

PUBLISH_UNIT = "microvolts"
PUBLISH_SCALE = 1e6  # volts -> microvolts


def streams_named(names, wait_s: float = 1.0) -> list[tuple[str, str, str, str]]:
    """(name, source_id, hostname, type) of every stream on LSL whose name is one of `names`, sorted: what a sender
    about to publish under those names must not stand beside (`eegviz simulate --stream`, `eegviz present`). No
    reader can tell two streams of one name apart: eegviz live takes either, LabRecorder merges outlets that share
    a source_id, and markers of one sender end up with another's EEG."""
    wanted = set(names)
    return sorted({(s.name(), s.source_id(), s.hostname(), s.type())
                   for s in pylsl.resolve_streams(wait_time=wait_s) if s.name() in wanted})


class LslOutlets:
    """An EEG outlet (labels and unit in desc) and a string marker outlet for one StreamInfo."""

    def __init__(self, info: StreamInfo, marker_name: str = "eegviz-markers") -> None:
        source_id = info.source_id or f"eegviz-{info.name}"
        for text in (info.name, marker_name, source_id):
            # said before pylsl: a StreamInfo whose name fails to encode (bytes an ASCII locale could not read, held
            # as surrogates) is left half-built, and dropping it printed "StreamInfo deletion triggered error" to
            # stdout under the one-line error (eegviz.cli)
            text.encode("utf-8")
        eeg_info = pylsl.StreamInfo(
            name=info.name,
            type=info.ch_type or "EEG",
            channel_count=info.n_channels,
            nominal_srate=info.sfreq,
            channel_format=pylsl.cf_float32,
            source_id=source_id,
        )
        channels = eeg_info.desc().append_child("channels")
        for label in info.ch_names:
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", PUBLISH_UNIT)
            ch.append_child_value("type", info.ch_type or "EEG")
        marker_info = pylsl.StreamInfo(
            name=marker_name,
            type="Markers",
            channel_count=1,
            nominal_srate=pylsl.IRREGULAR_RATE,
            channel_format=pylsl.cf_string,
            source_id=f"{source_id}-markers",
        )
        self.info = info
        self.n_samples = self.n_markers = 0  # pushed so far (what a stopped `simulate --stream` says it sent)
        self.eeg = pylsl.StreamOutlet(eeg_info)
        self.markers = pylsl.StreamOutlet(marker_info)

    def push_chunk(self, chunk: Chunk) -> None:
        """Push samples with their own timestamps (already in the LSL clock) so receivers see true times."""
        if len(chunk.timestamps) == 0:
            return
        data = np.ascontiguousarray(chunk.samples * PUBLISH_SCALE, dtype=np.float32)
        self.eeg.push_chunk(data, [float(t) for t in chunk.timestamps])
        self.n_samples += len(chunk.timestamps)

    def push_marker(self, marker: Marker) -> None:
        self.markers.push_sample([marker.payload], float(marker.timestamp))
        self.n_markers += 1

    def close(self) -> None:
        """Drop the outlets so receivers see the streams vanish; safe to call twice."""
        self.eeg = None  # type: ignore[assignment]
        self.markers = None  # type: ignore[assignment]


def stream_source(
    source: Source,
    outlets: LslOutlets,
    duration: float | None = None,
    stop_event: threading.Event | None = None,
) -> tuple[int, int]:
    """Read an already started source and push everything until it finishes, duration passes, or stop_event.

    Returns (samples pushed, markers pushed). Pacing comes from the source itself (a simulator or replay
    delivers in real time), so this loop just forwards.
    """
    n_samples = n_markers = 0
    t_end = None if duration is None else time.monotonic() + duration
    while True:
        if stop_event is not None and stop_event.is_set():
            break
        if t_end is not None and time.monotonic() >= t_end:
            break
        result = source.read(timeout=0.05)
        for chunk in result.chunks:
            outlets.push_chunk(chunk)
            n_samples += len(chunk.timestamps)
        for marker in result.markers:
            outlets.push_marker(marker)
            n_markers += 1
        if result.finished:
            break
    return n_samples, n_markers
