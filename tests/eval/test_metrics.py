"""The reconstruction metrics on inputs whose answer is known by construction."""

import numpy as np
import pytest

from eegviz.eval.metrics import inception_score, nway_topk, pixcorr, ssim_np


def _confident(labels, n_classes, margin=30.0):
    logits = np.zeros((len(labels), n_classes))
    logits[np.arange(len(labels)), labels] = margin
    return logits


def test_inception_score_bounds():
    k = 8
    spread = _confident(np.arange(800) % k, k)  # confident and every class equally often: IS = k
    assert inception_score(spread)["mean"] == pytest.approx(k, rel=1e-3)
    one_class = _confident(np.zeros(400, int), k)  # confident but no diversity: IS = 1
    assert inception_score(one_class)["mean"] == pytest.approx(1.0, abs=1e-6)
    unsure = np.zeros((400, k))  # diverse on average but never confident: IS = 1
    assert inception_score(unsure)["mean"] == pytest.approx(1.0, abs=1e-6)
    half = _confident(np.arange(800) % 2, k)  # two classes used: IS = 2
    assert inception_score(half)["mean"] == pytest.approx(2.0, rel=1e-3)


def test_inception_score_splits_need_enough_images():
    logits = _confident(np.arange(120) % 4, 4)
    assert inception_score(logits)["splits"] == 2  # at least 50 images per part
    assert inception_score(logits[:30])["splits"] == 1
    assert inception_score(_confident(np.arange(1000) % 4, 4))["splits"] == 10


def test_nway_topk_perfect_random_and_full():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 40, 500)
    assert nway_topk(_confident(y, 40), y, 50, 1) == 1.0  # N capped at the number of classes
    noise = rng.standard_normal((500, 40))
    for n in (2, 5, 10):
        assert abs(nway_topk(noise, y, n, 1) - 1 / n) < 0.03  # chance is 1/N
    assert nway_topk(noise, y, 5, 5) == 1.0  # top-5 of 5 candidates always hits
    plain = float((noise.argmax(1) == y).mean())
    assert nway_topk(noise, y, 40, 1, trials=1) == pytest.approx(plain)


def test_ssim_and_pixcorr_on_known_pairs():
    rng = np.random.default_rng(1)
    a = rng.random((4, 32, 32, 3)).astype(np.float32)
    assert ssim_np(a, a) == pytest.approx(1.0, abs=1e-4)
    assert pixcorr(a, a) == pytest.approx(1.0, abs=1e-6)
    assert pixcorr(a, 1 - a) == pytest.approx(-1.0, abs=1e-6)
    assert ssim_np(a, rng.random(a.shape).astype(np.float32)) < 0.1
