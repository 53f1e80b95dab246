"""A ready stimulus folder rendered from the synthetic world, so the whole loop can be tried without a lab.

`eegviz present --write-demo-folder DIR` writes it; presenting it sends marker ids eegviz can re-render and
score. Apart from the widget and the schedule because it needs neither (only numpy, PIL and the world).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from eegviz.errors import EegvizError


# A stimulus is rendered whole in memory (float RGB plus its mask and antialiasing buffers, ~40 bytes a pixel
# measured at 1024 px): 4096 px is ~0.7 GB, already past any screen a stimulus is shown on; 100000 px would
# need 400 GB, and the process is killed instead of told.
MAX_SIZE = 4096


def write_stimulus_folder(out_dir: str | Path, n_per_class: int = 2, size: int = 256, *,
                          classes: Sequence[str] | None = None, seed: int = 0) -> list[Path]:
    """Render synthetic-world stimuli into OUT/<class>/<image_id>.png plus OUT/captions.json (id -> caption).

    The ids are the world's own (`star_001`), so markers from presenting this folder are ones eegviz can
    re-render and score, which makes the folder a ready test of the whole record -> train -> live loop.
    Returns the written image paths. OUT must be new or empty: an existing stimulus folder is never overwritten.
    """
    from PIL import Image

    from eegviz.generators.base import to_uint8
    from eegviz.paths import check_new_output
    from eegviz.world.stimuli import CLASSES, stimulus_set, render

    if n_per_class < 1 or not 8 <= size <= MAX_SIZE:
        raise EegvizError(f"need n_per_class >= 1 and 8 <= size <= {MAX_SIZE}, got {n_per_class} and {size}.")
    wanted = list(CLASSES) if classes is None else list(classes)
    if not wanted:
        raise EegvizError("no stimulus classes chosen; name at least one (or leave --classes out for all)")
    unknown = [c for c in wanted if c not in CLASSES]
    if unknown:
        raise EegvizError(f"unknown stimulus class '{unknown[0]}'; known classes: {', '.join(CLASSES)}.")
    out = Path(out_dir)
    check_new_output(out, "--write-demo-folder", "a stimulus folder (images and captions.json)")
    written, captions = [], {}
    for spec in stimulus_set(n_per_class, seed=seed):
        if spec.class_name not in wanted:
            continue
        image, _ = render(spec, size=size)
        path = out / spec.class_name / f"{spec.image_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(image)).save(path)
        written.append(path)
        captions[spec.image_id] = spec.caption
    (out / "captions.json").write_text(json.dumps(captions, indent=1))
    return written
