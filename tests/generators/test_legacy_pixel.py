import numpy as np
import torch

from eegviz.generators.legacy_pixel import LegacyPixelGenerator, alpha_bar
from eegviz.generators.tiny_unet import TinyUNet


def make(steps=2):
    torch.manual_seed(0)
    return LegacyPixelGenerator(unet=TinyUNet(channels=(16, 32)), steps=steps, strength=0.6, out_size=32)


def test_schedule_is_monotone_from_clean_to_noise():
    ab = alpha_bar(torch.linspace(0, 1, 11))
    assert ab[0] > 0.99 and ab[-1] < 1e-3 and torch.all(ab[1:] < ab[:-1])


def test_shapes_step_count_and_determinism():
    g = make(steps=3)
    calls = []
    g.unet.register_forward_hook(lambda *a: calls.append(1))
    sal = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    emb = np.random.default_rng(1).standard_normal((2, 8, 64)).astype(np.float32)
    a = g.generate(sal, emb, seed=5)
    assert len(calls) == 3 and a.shape == (2, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, g.generate(sal, emb, seed=5))


def test_saliency_steers_output_of_trained_default():
    from eegviz.paths import default_model_dir

    g = LegacyPixelGenerator(default_model_dir())
    g.out_size = 32
    emb = np.zeros((2, 8, 64), np.float32)
    sal = np.zeros((2, 32, 32, 3), np.float32)
    sal[0, :, :16] = 1.0  # bright left half
    sal[1, :, 16:] = 1.0  # bright right half
    out = g.generate(sal, emb, seed=0).astype(float)
    left_minus_right = out[:, :, :16].mean(axis=(1, 2, 3)) - out[:, :, 16:].mean(axis=(1, 2, 3))
    assert left_minus_right[0] > 40 and left_minus_right[1] < -40


def test_save_load_roundtrip(tmp_path):
    g = make()
    g.save(tmp_path)
    h = LegacyPixelGenerator(tmp_path)
    sal = np.full((1, 32, 32, 3), 0.5, np.float32)
    emb = np.ones((1, 8, 64), np.float32)
    h.out_size = 32
    np.testing.assert_array_equal(g.generate(sal, emb), h.generate(sal, emb))
