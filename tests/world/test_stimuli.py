"""Behaviour of the procedural stimuli: ids, determinism, geometry of the masks and class distinctness."""

import dataclasses

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.world.stimuli import (CLASSES, COLORS, contact_sheet, make_spec, render, render_batch, spec_from_id,
                                  stimulus_set)


def _at(spec, **kw):
    base = dict(cx=0.0, cy=0.0, size=0.6, rotation=0.0)
    base.update(kw)
    return dataclasses.replace(spec, **base)


def test_forty_unique_lowercase_classes_and_colours():
    assert len(CLASSES) == 40 and len(set(CLASSES)) == 40
    assert all(c == c.lower() and c.isalpha() for c in CLASSES)
    assert len(COLORS) >= 6 and all(len(v) == 3 and all(0 <= x <= 1 for x in v) for v in COLORS.values())


def test_spec_is_deterministic_and_in_range():
    specs = stimulus_set(5)
    assert specs == stimulus_set(5)
    assert stimulus_set(2, seed=3) != stimulus_set(2)
    assert [s.class_idx for s in specs[:6]] == [0] * 5 + [1]
    for s in specs:
        assert abs(s.cx) <= 0.35 and abs(s.cy) <= 0.35 and 0.4 <= s.size <= 0.75
        assert abs(s.rotation) <= 0.4 and 0 < s.contrast <= 1
        assert s.class_name in s.caption and s.color_name in s.caption
        assert s.label_caption.startswith("an image of ") and s.label_caption.endswith(f" {s.class_name}")
    assert make_spec(CLASSES.index("star"), 0).label_caption == "an image of a star"
    assert make_spec(CLASSES.index("oval"), 0).label_caption == "an image of an oval"


def test_id_round_trip_and_format():
    assert make_spec(3, 7).image_id == f"{CLASSES[3]}_007"
    assert make_spec(3, 7, seed=2).image_id == f"{CLASSES[3]}_007_s2"
    for s in stimulus_set(2) + stimulus_set(1, seed=5) + [make_spec(39, 1234, seed=-1)]:
        assert spec_from_id(s.image_id) == s


@pytest.mark.parametrize("bad", ["", "star", "star_1", "star_0001", "star_001_s0", "unicorn_001", "Star_001",
                                 "star_001_x", "star_-01"])
def test_bad_id_raises(bad):
    with pytest.raises(EegvizError, match="unknown stimulus id"):
        spec_from_id(bad)


def test_render_shapes_and_colour_inside_mask():
    spec = make_spec(CLASSES.index("square"), 0)
    img, mask = render(spec, 48)
    assert img.shape == (48, 48, 3) and mask.shape == (48, 48)
    assert img.dtype == mask.dtype == np.float32
    assert 0 <= img.min() and img.max() <= 1 and 0 <= mask.min() and mask.max() <= 1
    inside = mask > 0.999
    outside = mask < 0.001
    assert inside.sum() > 50 and outside.sum() > 50
    np.testing.assert_allclose(img[inside], np.broadcast_to(spec.color, img[inside].shape), atol=1e-3)
    np.testing.assert_allclose(img[outside], np.broadcast_to(spec.background, img[outside].shape), atol=1e-3)
    assert 0 < ((mask > 0) & (mask < 1)).sum()  # antialiased edge


def test_mask_area_grows_with_size():
    spec = make_spec(CLASSES.index("star"), 0)
    areas = [render(_at(spec, size=s), 32)[1].sum() for s in (0.4, 0.55, 0.75)]
    assert areas[0] < areas[1] < areas[2]
    assert areas[2] / areas[0] == pytest.approx((0.75 / 0.4) ** 2, rel=0.15)


def test_mask_centroid_follows_position_with_y_up():
    spec = make_spec(CLASSES.index("circle"), 0)
    rows, cols = np.mgrid[0:32, 0:32]

    def centroid(**kw):
        m = render(_at(spec, size=0.45, **kw), 32)[1]
        return (rows * m).sum() / m.sum(), (cols * m).sum() / m.sum()

    r0, c0 = centroid()
    assert abs(r0 - 15.5) < 0.3 and abs(c0 - 15.5) < 0.3
    r, c = centroid(cx=0.3)
    assert c > c0 + 4 and abs(r - r0) < 0.3
    r, c = centroid(cy=0.3)  # up in the visual field = smaller row index
    assert r < r0 - 4 and abs(c - c0) < 0.3


def test_classes_have_distinct_silhouettes():
    masks = np.stack([render(_at(make_spec(i, 0)), 32)[1] for i in range(len(CLASSES))]).reshape(40, -1)
    inter = np.minimum(masks[:, None], masks[None]).sum(-1)
    union = np.maximum(masks[:, None], masks[None]).sum(-1)
    iou = inter / union
    np.fill_diagonal(iou, 0)
    i, j = np.unravel_index(np.argmax(iou), iou.shape)
    assert iou.max() < 0.8, f"{CLASSES[i]} and {CLASSES[j]} overlap too much (IoU {iou.max():.2f})"
    assert masks.sum(-1).min() > 40  # every class visible at 32 px


def test_batch_and_contact_sheet():
    specs = stimulus_set(1)[:7]
    imgs, masks = render_batch(specs, 16)
    assert imgs.shape == (7, 16, 16, 3) and masks.shape == (7, 16, 16)
    np.testing.assert_array_equal(imgs[2], render(specs[2], 16)[0])
    sheet = contact_sheet(specs, 16, cols=3)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.shape[0] > 3 * 16 and sheet.shape[1] > 3 * 16


def test_the_demo_recording_shows_the_shipped_models_test_images_only():
    """The demo must show images no trained part has seen: one rule (image_split) makes the datasets' test split
    and picks the demo's images (eegviz.world.demo had its own copy of it)."""
    import json

    from eegviz.paths import default_model_dir, demo_recording
    from eegviz.sources.xdf import load_xdf_session
    from eegviz.world.stimuli import image_split

    dataset = json.loads((default_model_dir() / "training.json").read_text())["dataset"]
    per_class = dataset["images"] // dataset["classes"]
    ids = [m.payload for m in load_xdf_session(demo_recording()).markers]
    assert len(ids) == 40 and len({i.split("_")[0] for i in ids}) == 40  # one image a class
    assert {image_split(int(i.split("_")[1]), per_class) for i in ids} == {"test"}
    assert image_split(per_class - 6, per_class) == "val" and image_split(0, per_class) == "train"
