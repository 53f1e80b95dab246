"""The real diffusers path on a tiny randomly initialised SD pipeline built from config (no downloads)."""

import numpy as np
import pytest
import torch

from eegviz.errors import EegvizError
from eegviz.generators.diffusers_sd import DiffusersImg2ImgGenerator


def tiny_pipe():
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8)
    sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    return StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=sched,
                                          safety_checker=None, feature_extractor=None, requires_safety_checker=False)


@pytest.fixture(scope="module")
def gen():
    return DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="turbo", steps=1, strength=0.5, size=32)


def _count_unet_calls(g, fn):
    calls = []
    h = g.pipe.unet.register_forward_hook(lambda *a: calls.append(1))
    try:
        fn()
    finally:
        h.remove()
    return len(calls)


def test_shapes_and_exact_step_counts(gen):
    sal = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    emb = np.random.default_rng(1).standard_normal((2, 8, 32)).astype(np.float32)
    for steps in (1, 2, 4):
        gen.steps = steps
        n = _count_unet_calls(gen, lambda: gen.generate(sal, emb))
        assert n == steps
    gen.steps = 1
    out = gen.generate(sal, emb)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8


def test_deterministic_with_seed_and_steered_by_saliency(gen):
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((1, 8, 32)).astype(np.float32)
    a = np.zeros((1, 16, 16, 3), np.float32)
    a[:, :, :8] = 1.0  # bright left half
    b = a[:, :, ::-1].copy()  # bright right half
    np.testing.assert_array_equal(gen.generate(a, emb, seed=3), gen.generate(a, emb, seed=3))

    seen = []
    hook = gen.pipe.unet.register_forward_hook(lambda m, args, kw=None: seen.append(args[0].detach().clone()))
    try:
        gen.generate(a, emb, seed=3)
        gen.generate(b, emb, seed=3)
    finally:
        hook.remove()
    # same seed, so the noise is identical: the UNet's input differs only by the encoded saliency maps
    diff_in = (seen[0] - seen[1]).flatten()
    enc = lambda x: gen.pipe.vae.encode(torch.from_numpy(x).permute(0, 3, 1, 2) * 2 - 1).latent_dist.mean
    with torch.no_grad():
        ia = torch.nn.functional.interpolate(torch.from_numpy(a).permute(0, 3, 1, 2), size=32, mode="bicubic")
        ib = torch.nn.functional.interpolate(torch.from_numpy(b).permute(0, 3, 1, 2), size=32, mode="bicubic")
        diff_lat = (enc(ia.clamp(0, 1).permute(0, 2, 3, 1).numpy()) - enc(ib.clamp(0, 1).permute(0, 2, 3, 1).numpy())).flatten()
    assert diff_in.abs().max() > 0
    assert float(torch.corrcoef(torch.stack([diff_in, diff_lat]))[0, 1]) > 0.5


def test_embedding_width_mismatch_is_a_clear_error(gen):
    with pytest.raises(EegvizError, match="expects 32-d"):
        gen.generate(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 8, 64), np.float32))
    gen.set_projection(torch.nn.Linear(64, 32))
    assert gen.generate(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 8, 64), np.float32)).shape[0] == 1
    gen.projection = None


def test_missing_model_offline_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EegvizError, match="cannot load diffusers model"):
        DiffusersImg2ImgGenerator("stabilityai/sd-turbo-not-cached")
