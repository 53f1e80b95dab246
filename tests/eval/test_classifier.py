"""The outside image classifier (a transformers model in a local folder), tiny and random, built from config."""

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.eval.classifier import HFImageClassifier
from tiny_models import tiny_image_classifier


def test_loads_a_local_transformers_classifier(tmp_path):
    classes = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
    clf = HFImageClassifier(str(tiny_image_classifier(tmp_path / "clf", classes)), batch=3)
    assert clf.classes == classes and "ResNetForImageClassification" in clf.name
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 40, 24, 3), dtype=np.uint8)  # any size: its processor resizes
    logits = clf.logits_uint8(imgs)
    assert logits.shape == (7, 5) and np.isfinite(logits).all()
    np.testing.assert_allclose(logits[2:3], clf.logits_uint8(imgs[2:3]), atol=1e-5)  # batching changes nothing
    assert clf.logits_uint8(imgs[:0]).shape == (0, 5)


def test_not_a_classifier_is_one_clear_error(tmp_path):
    with pytest.raises(EegvizError, match="cannot load an image classifier"):
        HFImageClassifier(str(tmp_path))
