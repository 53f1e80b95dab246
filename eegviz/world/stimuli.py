"""Procedural stimuli for the synthetic world: 40 silhouette classes, coloured, placed, captioned.

Every stimulus is fully described by a small frozen `StimulusSpec` that is derived deterministically from
(class, k, seed), so an image id alone is enough to re-create the image, its silhouette mask and its captions
anywhere (EEG simulator, training, evaluation) without storing pixels. Shapes are drawn with PIL polygons on a
supersampled canvas and box-filtered down, so edges are antialiased and masks are soft in [0, 1].

Coordinates follow the visual field: x to the right, y UP, both in [-1, 1] across the image. Each class is
defined once as a list of filled / hole polygons in a unit frame (fits the unit disc), then rotated, scaled by
`size` and moved to (cx, cy).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from eegviz.errors import EegvizError

CLASSES: tuple[str, ...] = (
    "circle", "square", "triangle", "star", "heart", "cross", "crescent", "ring", "arrow", "diamond",
    "hexagon", "pentagon", "house", "tree", "fish", "flower", "bolt", "drop", "bell", "key",
    "oval", "bar", "frame", "hourglass", "chevron", "boat", "car", "mushroom", "cup", "bottle",
    "sun", "cloud", "leaf", "shield", "plane", "boot", "anchor", "spade", "dumbbell", "glasses",
)

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.15, 0.12),
    "green": (0.15, 0.78, 0.22),
    "blue": (0.18, 0.35, 0.95),
    "yellow": (0.95, 0.90, 0.15),
    "orange": (0.98, 0.55, 0.10),
    "purple": (0.62, 0.22, 0.85),
    "white": (0.95, 0.95, 0.95),
    "cyan": (0.15, 0.85, 0.90),
}

_COLOR_NAMES = tuple(COLORS)
_MAX_POS = 0.35
_SIZE_RANGE = (0.4, 0.75)
_MAX_ROT = 0.4  # small for all: larger turns would make square/diamond, hourglass/bowtie etc. collide
_ID_RE = re.compile(r"^([a-z]+)_(\d{3,})(?:_s(-?\d+))?$")


@dataclass(frozen=True)
class StimulusSpec:
    """Everything needed to render one stimulus and describe it in words.

    `color` is the RGB actually painted: the named colour blended towards the background by `contrast`
    (1 = the pure named colour), so the pixels inside the mask equal `color`.
    """

    image_id: str
    class_idx: int
    class_name: str
    color_name: str
    color: tuple[float, float, float]
    background: tuple[float, float, float]
    cx: float
    cy: float
    size: float
    rotation: float
    contrast: float
    caption: str

    @property
    def label_caption(self) -> str:
        """The class-only caption, as used for label-level text conditioning."""
        return f"an image of {_article_word(self.class_name)}"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _article_word(word: str) -> str:
    return f"{_article(word)} {word}"


# ----------------------------------------------------------------------------------------------- geometry
def _ell(cx: float, cy: float, rx: float, ry: float | None = None, angle: float = 0.0, n: int = 48) -> np.ndarray:
    ry = rx if ry is None else ry
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], float)


def _reg(n: int, r: float = 1.0, phase: float = math.pi / 2) -> np.ndarray:
    t = phase + np.arange(n) * 2 * np.pi / n
    return np.stack([r * np.cos(t), r * np.sin(t)], 1)


def _poly(*pts) -> np.ndarray:
    return np.array(pts, float)


def _heart(flip: bool = False, scale: float = 1 / 17) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t) + 2.5
    p = np.stack([x, -y if flip else y], 1) * scale
    return p


def _drop() -> np.ndarray:
    """Teardrop: the apex joined to a circle along its two tangent lines."""
    c, r, apex = -0.3, 0.62, 0.95
    theta = math.acos(r / (apex - c))  # tangent points sit +-theta from the upward vertical, seen from the centre
    angs = np.linspace(math.pi / 2 - theta, math.pi / 2 + theta - 2 * math.pi, 48)
    arc = np.stack([r * np.cos(angs), c + r * np.sin(angs)], 1)
    return np.vstack([[(0.0, apex)], arc])


def _sun() -> list:
    parts = [(_ell(0, 0, 0.5), 1)]
    for i in range(8):
        a = i * math.pi / 4
        d, w = 0.62, 0.14
        base1 = (d * math.cos(a - w), d * math.sin(a - w))
        base2 = (d * math.cos(a + w), d * math.sin(a + w))
        tip = (1.0 * math.cos(a), 1.0 * math.sin(a))
        parts.append((_poly(base1, tip, base2), 1))
    return parts


def _shield() -> np.ndarray:
    t = np.linspace(0, math.pi / 2, 20)
    right = np.stack([0.75 * np.cos(t), 0.3 - 1.28 * np.sin(t)], 1)  # (0.75, 0.3) curving to (0, -0.98)
    left = right[::-1][1:] * np.array([-1.0, 1.0])  # mirrored, back up the left side
    return np.vstack([[(-0.75, 0.9), (0, 0.78), (0.75, 0.9)], right, left])


def _leaf() -> np.ndarray:
    x = np.linspace(-0.95, 0.95, 24)
    y = 0.42 * (1 - (x / 0.95) ** 2)
    pts = np.vstack([np.stack([x, y], 1), np.stack([x[::-1][1:-1], -y[::-1][1:-1]], 1)])
    c = s = math.sqrt(0.5)
    return pts @ np.array([[c, s], [-s, c]])


def _arc(cx: float, cy: float, r0: float, r1: float) -> np.ndarray:
    """The lower half of an annulus (a U-shaped band), as one polygon."""
    t = np.linspace(math.pi, 2 * math.pi, 24)
    outer = np.stack([cx + r1 * np.cos(t), cy + r1 * np.sin(t)], 1)
    inner = np.stack([cx + r0 * np.cos(t[::-1]), cy + r0 * np.sin(t[::-1])], 1)
    return np.vstack([outer, inner])


def _mushroom_cap(y0: float, rx: float, ry: float) -> np.ndarray:
    t = np.linspace(0, math.pi, 32)
    return np.stack([rx * np.cos(t), y0 + ry * np.sin(t)], 1)


def _shapes() -> dict[str, list[tuple[np.ndarray, int]]]:
    """Unit-frame drawings: (polygon, 1 = fill / 0 = hole), drawn in order."""
    star = _reg(10, 1.0)
    star[1::2] *= 0.42
    petals = [(_ell(0.55 * math.cos(a), 0.55 * math.sin(a), 0.42, 0.26, a), 1)
              for a in np.arange(6) * math.pi / 3 + math.pi / 2]
    return {
        "circle": [(_ell(0, 0, 0.95, n=64), 1)],
        "square": [(_rect(-0.68, -0.68, 0.68, 0.68), 1)],
        "triangle": [(_reg(3, 1.0) + [0, -0.1], 1)],
        "star": [(star, 1)],
        "heart": [(_heart(), 1)],
        "cross": [(_rect(-0.9, -0.28, 0.9, 0.28), 1), (_rect(-0.28, -0.9, 0.28, 0.9), 1)],
        "crescent": [(_ell(0, 0, 0.9), 1), (_ell(0.38, 0.2, 0.74), 0)],
        "ring": [(_ell(0, 0, 0.92), 1), (_ell(0, 0, 0.55), 0)],
        "arrow": [(_rect(-0.95, -0.2, 0.15, 0.2), 1), (_poly((0.1, 0.62), (0.98, 0.0), (0.1, -0.62)), 1)],
        "diamond": [(_poly((0, 0.95), (0.8, 0), (0, -0.95), (-0.8, 0)), 1)],
        "hexagon": [(_reg(6, 0.95, 0.0), 1), (_ell(0, 0, 0.42), 0)],  # a hex nut: a solid one is a circle at 32 px
        "pentagon": [(_reg(5, 0.95) + [0, -0.1], 1)],
        "house": [(_rect(-0.6, -0.85, 0.6, 0.1), 1), (_poly((-0.88, 0.1), (0.88, 0.1), (0, 0.9)), 1),
                  (_rect(-0.17, -0.85, 0.17, -0.3), 0)],
        "tree": [(_rect(-0.14, -0.95, 0.14, -0.35), 1),
                 (_poly((-0.78, -0.45), (0.78, -0.45), (0, 0.2)), 1),
                 (_poly((-0.62, -0.05), (0.62, -0.05), (0, 0.6)), 1),
                 (_poly((-0.46, 0.35), (0.46, 0.35), (0, 0.97)), 1)],
        "fish": [(_ell(0.12, 0, 0.62, 0.38), 1), (_poly((-0.35, 0), (-0.95, 0.45), (-0.95, -0.45)), 1),
                 (_ell(0.42, 0.08, 0.08), 0)],
        "flower": petals + [(_ell(0, 0, 0.3), 1)],
        "bolt": [(_poly((0.25, 1.0), (-0.55, -0.1), (-0.05, -0.1), (-0.3, -1.0), (0.55, 0.15), (0.05, 0.15)), 1)],
        "drop": [(_drop(), 1)],
        "bell": [(_ell(0, 0.25, 0.48, 0.55), 1), (_poly((-0.48, 0.25), (0.48, 0.25), (0.82, -0.55), (-0.82, -0.55)), 1),
                 (_ell(0, -0.72, 0.18), 1), (_ell(0, 0.85, 0.12), 1)],
        "key": [(_ell(-0.55, 0, 0.4), 1), (_ell(-0.55, 0, 0.18), 0), (_rect(-0.2, -0.11, 0.97, 0.11), 1),
                (_rect(0.5, -0.42, 0.66, -0.1), 1), (_rect(0.78, -0.42, 0.94, -0.1), 1)],
        "oval": [(_ell(0, 0, 0.56, 0.95), 1)],  # upright, so it is not taken for a cloud or bar
        "bar": [(_rect(-0.95, -0.25, 0.95, 0.25), 1)],
        "frame": [(_rect(-0.82, -0.82, 0.82, 0.82), 1), (_rect(-0.48, -0.48, 0.48, 0.48), 0)],
        "hourglass": [(_poly((-0.7, 0.92), (0.7, 0.92), (0.1, 0), (0.7, -0.92), (-0.7, -0.92), (-0.1, 0)), 1)],
        "chevron": [(_poly((0, 0.75), (0.95, -0.2), (0.95, -0.7), (0, 0.25), (-0.95, -0.7), (-0.95, -0.2)), 1)],
        "boat": [(_poly((-0.95, -0.35), (0.95, -0.35), (0.6, -0.8), (-0.6, -0.8)), 1),
                 (_poly((0.06, -0.25), (0.06, 0.95), (0.72, -0.25)), 1),
                 (_poly((-0.06, -0.25), (-0.06, 0.7), (-0.58, -0.25)), 1)],
        "car": [(_rect(-0.95, -0.32, 0.95, 0.15), 1),
                (_poly((-0.55, 0.15), (0.5, 0.15), (0.28, 0.58), (-0.38, 0.58)), 1),
                (_ell(-0.52, -0.4, 0.24), 1), (_ell(0.52, -0.4, 0.24), 1)],
        "mushroom": [(_mushroom_cap(0.0, 0.95, 0.8), 1), (_rect(-0.24, -0.9, 0.24, 0.02), 1)],
        "cup": [(_ell(0.4, 0.1, 0.42), 1), (_ell(0.4, 0.1, 0.22), 0),
                (_poly((-0.68, 0.72), (0.3, 0.72), (0.2, -0.72), (-0.58, -0.72)), 1)],
        "bottle": [(_rect(-0.4, -0.95, 0.4, 0.2), 1), (_poly((-0.4, 0.2), (0.4, 0.2), (0.16, 0.5), (-0.16, 0.5)), 1),
                   (_rect(-0.16, 0.45, 0.16, 0.97), 1)],
        "sun": _sun(),
        "cloud": [(_ell(-0.62, -0.12, 0.32), 1), (_ell(-0.2, 0.2, 0.4), 1), (_ell(0.3, 0.28, 0.42), 1),
                  (_ell(0.68, -0.08, 0.3), 1), (_rect(-0.62, -0.44, 0.68, -0.1), 1)],
        "leaf": [(_leaf(), 1)],
        "shield": [(_shield(), 1)],
        "plane": [(_ell(0, 0, 0.15, 0.97), 1),
                  (_poly((0, 0.38), (0.97, -0.12), (0.97, -0.3), (0, 0.02), (-0.97, -0.3), (-0.97, -0.12)), 1),
                  (_poly((0, -0.55), (0.42, -0.82), (0.42, -0.95), (0, -0.8), (-0.42, -0.95), (-0.42, -0.82)), 1)],
        "boot": [(_poly((-0.5, 0.92), (0.08, 0.92), (0.08, -0.3), (0.82, -0.42), (0.92, -0.9), (-0.5, -0.9)), 1)],
        "anchor": [(_ell(0, 0.74, 0.22), 1), (_ell(0, 0.74, 0.1), 0), (_rect(-0.1, -0.8, 0.1, 0.55), 1),
                   (_rect(-0.45, 0.28, 0.45, 0.44), 1), (_arc(0, -0.15, 0.62, 0.8), 1),
                   (_poly((-0.95, -0.05), (-0.62, -0.15), (-0.78, -0.3)), 1),
                   (_poly((0.95, -0.05), (0.62, -0.15), (0.78, -0.3)), 1)],
        "spade": [(_heart(flip=True, scale=1 / 19) + [0, 0.3], 1), (_poly((0, -0.2), (0.38, -0.98), (-0.38, -0.98)), 1)],
        "dumbbell": [(_rect(-0.95, -0.5, -0.6, 0.5), 1), (_rect(0.6, -0.5, 0.95, 0.5), 1),
                     (_rect(-0.6, -0.11, 0.6, 0.11), 1)],
        "glasses": [(_ell(-0.5, 0, 0.42), 1), (_ell(-0.5, 0, 0.25), 0), (_ell(0.5, 0, 0.42), 1),
                    (_ell(0.5, 0, 0.25), 0), (_rect(-0.1, -0.02, 0.1, 0.12), 1)],
    }


_SHAPES = _shapes()
assert tuple(_SHAPES) == CLASSES, "every class needs exactly one drawing, in CLASSES order"


# ----------------------------------------------------------------------------------------------- specs
def _rng(class_idx: int, k: int, seed: int) -> np.random.Generator:
    # a stable hash (Python's hash() is salted per process), so specs match across processes and machines
    digest = hashlib.sha256(f"eegviz-stim:{class_idx}:{k}:{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _image_id(class_name: str, k: int, seed: int) -> str:
    return f"{class_name}_{k:03d}" if seed == 0 else f"{class_name}_{k:03d}_s{seed}"


def _caption(size_word: str, color_name: str, class_name: str, cx: float, cy: float, contrast: float) -> str:
    vert = "upper" if cy > 0.12 else "lower" if cy < -0.12 else ""
    horiz = "left" if cx < -0.12 else "right" if cx > 0.12 else ""
    if vert and horiz:
        where = f"in the {vert} {horiz}"
    elif vert:
        where = "at the top" if vert == "upper" else "at the bottom"
    elif horiz:
        where = f"on the {horiz}"
    else:
        where = "in the center"
    words = [w for w in (size_word, "faint" if contrast < 0.75 else "", color_name, class_name) if w]
    return f"{_article(words[0])} {' '.join(words)} {where}"


def make_spec(class_idx: int, k: int, seed: int = 0) -> StimulusSpec:
    """The k-th stimulus of a class: random colour, placement, size, small rotation; deterministic."""
    if not 0 <= class_idx < len(CLASSES):
        raise EegvizError(f"unknown stimulus class index {class_idx}; expected 0..{len(CLASSES) - 1}.")
    if k < 0:
        raise EegvizError(f"stimulus number must be >= 0, got {k}.")
    rng = _rng(class_idx, k, seed)
    name = CLASSES[class_idx]
    color_name = _COLOR_NAMES[int(rng.integers(len(_COLOR_NAMES)))]
    grey = rng.uniform(0.08, 0.22)
    background = tuple(float(np.clip(grey + t, 0, 1)) for t in rng.uniform(-0.025, 0.025, 3))
    cx, cy = (float(v) for v in rng.uniform(-_MAX_POS, _MAX_POS, 2))
    size = float(rng.uniform(*_SIZE_RANGE))
    rotation = float(rng.uniform(-_MAX_ROT, _MAX_ROT))
    contrast = float(rng.uniform(0.6, 1.0))
    base = np.array(COLORS[color_name])
    color = tuple(float(v) for v in np.asarray(background) + contrast * (base - np.asarray(background)))
    size_word = "small" if size < 0.52 else "large" if size > 0.63 else ""
    return StimulusSpec(
        image_id=_image_id(name, k, seed), class_idx=class_idx, class_name=name, color_name=color_name,
        color=color, background=background, cx=cx, cy=cy, size=size, rotation=rotation, contrast=contrast,
        caption=_caption(size_word, color_name, name, cx, cy, contrast),
    )


def _parse_id(image_id: str) -> tuple[int, int, int] | None:
    """(class index, k, seed) of an id make_spec itself would produce; None for any other string."""
    m = _ID_RE.match(image_id) if isinstance(image_id, str) else None
    if m is not None and m.group(1) in CLASSES:
        k, seed = int(m.group(2)), int(m.group(3) or 0)
        if _image_id(m.group(1), k, seed) == image_id:  # rejects e.g. "star_0001" or "star_001_s0"
            return CLASSES.index(m.group(1)), k, seed
    return None


def spec_from_id(image_id: str) -> StimulusSpec:
    """Inverse of `StimulusSpec.image_id`; only ids that make_spec itself would produce are accepted."""
    parsed = _parse_id(image_id)
    if parsed is None:
        raise EegvizError(f"unknown stimulus id '{image_id}'; expected '<class>_<nnn>' or '<class>_<nnn>_s<seed>'.")
    return make_spec(*parsed)


def spec_id_class(image_id: str) -> str | None:
    """The class a synthetic-world stimulus id names ('cup_003' and 'cup_003_s7': 'cup'); None for any other id."""
    parsed = _parse_id(image_id)
    return None if parsed is None else CLASSES[parsed[0]]


def spec_id_seed(image_id: str) -> int | None:
    """The render seed a synthetic-world image id names ('cup_003' 0, 'cup_003_s7' 7); None for any other id."""
    parsed = _parse_id(image_id)
    return None if parsed is None else parsed[2]


def renderable(image_ids, check: int = 50) -> bool:
    """True when the image ids (the first `check` distinct ones) are synthetic-world stimuli, which can be
    rendered again: then image metrics and the embedded generator apply to the dataset."""
    try:
        for i in list(dict.fromkeys(map(str, image_ids)))[:check]:
            spec_from_id(i)
    except EegvizError:
        return False
    return True


def stimulus_set(n_per_class: int, seed: int = 0) -> list[StimulusSpec]:
    """All classes, class-major: class 0 k=0..n-1, then class 1, ..."""
    return [make_spec(c, k, seed) for c in range(len(CLASSES)) for k in range(n_per_class)]


def test_images_per_class(n_per_class: int) -> int:
    """How many of a class's images a synthetic dataset holds out for test (as many again for validation)."""
    return max(1, n_per_class // 10)


def image_split(k: int, n_per_class: int) -> str:
    """The split of a class's k-th image in a synthetic dataset of n_per_class images a class: its last
    test_images_per_class images are "test", the ones before them "val", the rest "train". One rule for the
    datasets (eegviz.data.synthetic) and the demo recording, which shows test images only."""
    n_test = test_images_per_class(n_per_class)
    return "test" if k >= n_per_class - n_test else "val" if k >= n_per_class - 2 * n_test else "train"


# ----------------------------------------------------------------------------------------------- rendering
def render(spec: StimulusSpec, size: int = 64, supersample: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Image (size, size, 3) float32 and soft silhouette mask (size, size) float32, both in [0, 1]."""
    big = size * max(1, int(supersample))
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    c, s = math.cos(spec.rotation), math.sin(spec.rotation)
    rot = np.array([[c, s], [-s, c]])  # row-vector form of a counter-clockwise turn (y up)
    for pts, fill in _SHAPES[spec.class_name]:
        field = pts @ rot * spec.size + (spec.cx, spec.cy)
        px = (field[:, 0] + 1) * 0.5 * big
        py = (1 - field[:, 1]) * 0.5 * big  # y up in the field, rows go down in the image
        draw.polygon([(float(x), float(y)) for x, y in zip(px, py)], fill=255 if fill else 0)
    if big != size:
        canvas = canvas.resize((size, size), Image.Resampling.BOX)
    mask = np.asarray(canvas, np.float32) / 255.0
    bg = np.asarray(spec.background, np.float32)
    fg = np.asarray(spec.color, np.float32)
    image = bg + mask[..., None] * (fg - bg)
    return np.clip(image, 0, 1).astype(np.float32), mask


def render_batch(specs, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Stacked renders: images (N, size, size, 3) and masks (N, size, size), float32."""
    specs = list(specs)
    images = np.zeros((len(specs), size, size, 3), np.float32)
    masks = np.zeros((len(specs), size, size), np.float32)
    for i, spec in enumerate(specs):
        images[i], masks[i] = render(spec, size)
    return images, masks


def contact_sheet(specs, size: int = 64, cols: int = 10) -> np.ndarray:
    """A uint8 (H, W, 3) grid of renders with 2-pixel gaps, for eyeballing a stimulus set."""
    images, _ = render_batch(specs, size)
    n = len(images)
    cols = max(1, min(cols, n)) if n else 1
    rows = max(1, -(-n // cols))
    gap = 2
    sheet = np.full((rows * (size + gap) + gap, cols * (size + gap) + gap, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = gap + r * (size + gap), gap + c * (size + gap)
        sheet[y:y + size, x:x + size] = np.round(img * 255).astype(np.uint8)
    return sheet
