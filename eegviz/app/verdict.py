"""Whether a decoded class was right: the hit/miss mark the history strip and the kiosk caption show.

The class of what was shown is known for synthetic-world stimuli (ids like `star_003`) and for the images of
the session's --images-dir (eegviz.stimulus_truth, which the pipeline puts in Reconstruction.true_class); for any
other id the window shows what was decoded without pretending to score it. Kept apart from the widgets so both
windows use one rule and one pair of colours.
"""

from __future__ import annotations

from eegviz.messages import Reconstruction

HIT_COLOUR = "#1a8f2e"
MISS_COLOUR = "#c62828"


def verdict(rec: Reconstruction) -> tuple[str, str]:
    """(text, colour) for the decoded class: 'star ✓' in green or 'bolt ✗' in red when the truth is known."""
    decoded = rec.decoded.top_class or "?"
    truth = rec.true_class
    if truth is None:
        return decoded, ""
    return (f"{decoded} ✓", HIT_COLOUR) if decoded == truth else (f"{decoded} ✗", MISS_COLOUR)
