"""Whether a decoded class was right: the hit/miss mark the history strip and the kiosk caption show.

Only synthetic-world stimuli (ids like `star_003`) have a known class; real sessions send their own image ids,
and then the window shows what was decoded without pretending to score it. Kept apart from the widgets so both
windows use one rule and one pair of colours.
"""

from __future__ import annotations

from eegviz.messages import Reconstruction

HIT_COLOUR = "#1a8f2e"
MISS_COLOUR = "#c62828"


def true_class(payload: str) -> str | None:
    """The class of a marker's stimulus when the stimulus is known (a synthetic-world id), else None.

    Real sessions send their own image ids: then there is no ground truth here, and the window shows what
    was decoded without pretending to score it.
    """
    from eegviz.errors import EegvizError
    from eegviz.world.stimuli import spec_from_id

    try:
        return spec_from_id(payload).class_name
    except EegvizError:
        return None


def verdict(rec: Reconstruction) -> tuple[str, str]:
    """(text, colour) for the decoded class: 'star ✓' in green or 'bolt ✗' in red when the truth is known."""
    decoded = rec.decoded.top_class or "?"
    truth = true_class(rec.marker.payload)
    if truth is None:
        return decoded, ""
    return (f"{decoded} ✓", HIT_COLOUR) if decoded == truth else (f"{decoded} ✗", MISS_COLOUR)
