"""A ready stimulus folder rendered from the synthetic world, so the whole loop can be tried without a lab.

`eegviz present --write-demo-folder DIR` writes it; presenting it sends marker ids eegviz can re-render and
score. Apart from the widget and the schedule because it needs neither (only numpy, PIL and the world).
"""

from __future__ import annotations

import io
import json
import shutil
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
    from eegviz.world.stimuli import CLASSES, make_spec, render

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
    chosen = [c for c, name in enumerate(CLASSES) if name in wanted]
    _check_disk_room(out, [make_spec(c, 0, seed) for c in chosen[:4]], n_per_class * len(chosen), size)
    written, captions = [], {}
    # one stimulus at a time, in stimulus_set's order: the whole set of --per-class 10^8 never ended being drawn
    for spec in (make_spec(c, k, seed) for c in chosen for k in range(n_per_class)):
        image, _ = render(spec, size=size)
        path = out / spec.class_name / f"{spec.image_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(image)).save(path)
        written.append(path)
        captions[spec.image_id] = spec.caption
    (out / "captions.json").write_text(json.dumps(captions, indent=1))
    return written


def _check_disk_room(out: Path, samples: list, n_images: int, size: int) -> None:
    """Refuse, before the first file, a folder the disk cannot hold: n_images times half the smallest of a few
    sample stimuli as PNG. Half, because one class's stimuli vary: at 1024 px a frame's PNG ran from 5.7 to
    18.3 KB, so the sample alone could refuse a folder that fits. A guard against sizes far past the disk
    (--per-class 10^8 rendered for minutes first), not an exact bound: a write that still runs out of room fails
    as it would have."""
    from PIL import Image

    from eegviz.generators.base import to_uint8
    from eegviz.world.stimuli import render

    each = min(len(_png(Image.fromarray(to_uint8(render(spec, size=size)[0])))) for spec in samples) / 2
    where = out.absolute()
    while not where.exists():  # the new folder's nearest existing parent holds it
        where = where.parent
    free = shutil.disk_usage(where).free
    if n_images * each > free:
        raise EegvizError(f"{n_images} stimuli at {size} px would take at least {n_images * each / 2**30:.1f} GiB "
                          f"({each / 1024:.1f} KiB each), more than the {free / 2**30:.1f} GiB free on "
                          f"{where}; fewer --per-class or a smaller --size")


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
