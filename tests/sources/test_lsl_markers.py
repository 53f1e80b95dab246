"""read_marker_inlet: the one marker read both LSL-marker sources make (an LSL session, a BrainFlow board beside
a stimulus program), against a stand-in inlet (no network)."""

from __future__ import annotations

import numpy as np
import pylsl

from eegviz.sources.base import ReadResult
from eegviz.sources.lsl import read_marker_inlet
from eegviz.sources.lsl_reconnect import RecoveringInlet


class _Inlet:
    """What RecoveringInlet and pull_marker_chunk ask of a marker inlet: chunks of [id, ...] rows, as bytes."""

    def __init__(self, chunks, offset: float = 0.25) -> None:
        self.chunks, self.offset = list(chunks), offset

    def pull_chunk(self, timeout, max_samples, as_numpy):
        rows, stamps = self.chunks.pop(0) if self.chunks else ([], [])
        return rows, np.asarray(stamps, dtype=np.float64)

    def time_correction(self, timeout):
        return self.offset

    def close_stream(self):
        pass


def _markers(chunks) -> RecoveringInlet:
    info = pylsl.StreamInfo("stim", "Markers", 2, 0, pylsl.cf_string, "stim-sid")
    return RecoveringInlet(_Inlet(chunks), info, None, "markers")


def test_ids_come_stamped_in_the_local_clock_with_the_sender_clock_kept_where_asked() -> None:
    chunks = [([[b"star_001", b"attend"], [b"cat_002", b"ignore"]], [10.0, 11.0])]
    mk, result = _markers(chunks), ReadResult()
    assert read_marker_inlet(mk, result, "eeg-amp", False) is False
    assert [(m.payload, m.timestamp, m.raw_timestamp, m.source) for m in result.markers] == [
        ("star_001", 10.25, 10.0, "eeg-amp"), ("cat_002", 11.25, 11.0, "eeg-amp")]
    assert [(o.stream, o.value) for o in result.clock_offsets] == [("markers", 0.25)]
    mk, result = _markers(chunks), ReadResult()  # a board's session: the recording keeps the local stamps only
    read_marker_inlet(mk, result, "stim", False, sender_clock=False)
    assert [(m.payload, m.timestamp, m.raw_timestamp) for m in result.markers] == [
        ("star_001", 10.25, None), ("cat_002", 11.25, None)]
    assert not result.clock_offsets and not result.notices


def test_an_id_that_is_not_utf8_is_read_and_said_once_per_session() -> None:
    mk = _markers([([[b"Bild_\xe4", b""]], [1.0]), ([[b"Bild_\xf6", b""]], [2.0])])
    first, second = ReadResult(), ReadResult()
    told = read_marker_inlet(mk, first, "amp", False)
    assert told is True and [m.payload for m in first.markers] == ["Bild_ä"]
    assert len(first.notices) == 1 and "'stim'" in first.notices[0] and "Windows-1252" in first.notices[0]
    assert read_marker_inlet(mk, second, "amp", told) is True
    assert [m.payload for m in second.markers] == ["Bild_ö"] and not second.notices


def test_a_marker_stream_looked_for_alone_is_chosen_once_every_one_of_its_name_answered() -> None:
    """A BrainFlow session's --markers NAME, sent by two stimulus programs: resolve_streams took the first to answer
    (either) and said nothing; now both have answered (SETTLE_S), the same one is taken each time, and it is said."""
    import uuid

    from eegviz.sources.lsl import resolve_streams

    name = f"mk-{uuid.uuid4().hex[:8]}"
    outlets = [pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, f"{name}-{i}"))
               for i in (1, 0)]
    try:
        notices: list[str] = []
        eeg, markers = resolve_streams(None, None, name, "Markers", 5.0, notices)
    finally:
        del outlets
    assert eeg is None and markers.source_id() == f"{name}-0"
    assert len(notices) == 1 and notices[0].startswith("2 LSL marker streams fit") and "stop the others" in notices[0]
