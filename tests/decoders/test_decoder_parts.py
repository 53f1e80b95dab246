import numpy as np
import torch

from eegviz.decoders.encoder import EEGEncoder, triplet_loss_semihard
from eegviz.decoders.saliency import SaliencyGenerator, dice_loss, mode_seeking_loss, ssim
from eegviz.decoders.text import HashTextEncoder, pooled
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.stream.preprocess import InputSpec


def test_triplet_loss_zero_when_classes_separated_and_positive_otherwise():
    labels = torch.tensor([0, 0, 1, 1])
    sep = torch.tensor([[1.0, 0], [1.0, 0.01], [-1.0, 0], [-1.0, 0.01]])
    assert triplet_loss_semihard(sep, labels, margin=0.3).item() == 0.0
    mixed = torch.tensor([[1.0, 0], [-1.0, 0], [1.0, 0.01], [-1.0, 0.01]])
    assert triplet_loss_semihard(mixed, labels, margin=0.3).item() > 1.0


def test_triplet_training_separates_classes():
    torch.manual_seed(0)
    x = torch.randn(64, 8, 50)
    y = torch.arange(64) % 4
    x[:, 0, 10:20] += y[:, None].float() * 2  # class signal on one channel
    enc = EEGEncoder(8, 50, out_dim=16)
    opt = torch.optim.Adam(enc.parameters(), 1e-2)
    before = triplet_loss_semihard(enc(x), y).item()
    for _ in range(60):
        loss = triplet_loss_semihard(enc(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert triplet_loss_semihard(enc.eval()(x), y).item() < 0.5 * before


def test_ssim_identity_and_ordering():
    a = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-5)
    noisy = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    noisier = (a + 0.4 * torch.randn_like(a)).clamp(0, 1)
    assert (ssim(a, noisy) > ssim(a, noisier)).all()


def test_mode_seeking_prefers_diverse_outputs():
    z1, z2 = torch.zeros(4, 8), torch.ones(4, 8)
    same = torch.rand(4, 3, 8, 8)
    assert mode_seeking_loss(same, same + 0.5, z1, z2) < mode_seeking_loss(same, same + 0.01, z1, z2)


def test_saliency_generator_composes_one_silhouette_in_two_colours():
    g = SaliencyGenerator(feat_dim=16, attr_dim=10, z_dim=4, size=32).eval()
    z, cond = torch.randn(3, 4), torch.randn(3, 26)
    out = g(z, cond)
    assert out.shape == (3, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    logits, obj, bg = g.parts(z, cond)
    mask = torch.sigmoid(logits)
    # every pixel lies on the segment from the background colour to the object colour, at the mask's level
    torch.testing.assert_close(out, mask * obj[:, :, None, None] + (1 - mask) * bg[:, :, None, None])


def test_saliency_generator_learns_to_put_the_object_where_the_condition_says():
    """The point of the pixel branch: position in, position out (CoordConv + the Dice loss make it learnable)."""
    torch.manual_seed(0)
    g = SaliencyGenerator(feat_dim=2, attr_dim=0, z_dim=2, size=16, width=32)
    opt = torch.optim.Adam(g.parameters(), 3e-3)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16), indexing="ij")

    def batch(n=32):
        c = torch.rand(n, 2) * 1.2 - 0.6
        mask = (((xx - c[:, 0, None, None]) ** 2 + (yy - c[:, 1, None, None]) ** 2) < 0.16).float()[:, None]
        return c, mask

    for _ in range(150):
        c, mask = batch()
        loss = dice_loss(g.parts(torch.zeros(32, 2), c)[0], mask).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    c, mask = batch(64)
    g.eval()
    with torch.no_grad():
        pred = torch.sigmoid(g.parts(torch.zeros(64, 2), c)[0]) > 0.5
    inter, union = (pred & (mask > 0.5)).sum((1, 2, 3)), (pred | (mask > 0.5)).sum((1, 2, 3))
    assert (inter / union.clamp_min(1)).float().mean() > 0.5  # a fixed central disc scores about 0.1


def test_dice_loss_rewards_covering_the_object():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 2:5] = 1
    right, wrong = mask * 20 - 10, mask.roll(4, dims=3) * 20 - 10
    assert dice_loss(right, mask).item() < 0.05 < 0.9 < dice_loss(wrong, mask).item()


def test_hash_text_encoder_is_deterministic_and_content_based():
    enc = HashTextEncoder(n_tokens=8, dim=64)
    a, b, c = enc.encode(["an image of a star", "An image of a STAR", "an image of a heart"])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 64) and np.abs(a[1:]).sum() == 0  # one content word, rest padding
    assert abs(float(pooled(a) @ pooled(c))) < 0.5


def test_two_branch_save_load_roundtrip_and_corrupt_weights(tmp_path):
    import pytest

    from eegviz.errors import EegvizError

    spec = InputSpec(ch_names=tuple(f"c{i}" for i in range(8)), sfreq=100.0, tmin=-0.1, tmax=0.4)
    dec = TwoBranchDecoder(spec, ["a", "b", "c"], feat_dim=16, z_dim=4, saliency_size=16, n_tokens=4, text_dim=8)
    dec.prototypes = torch.randn(3, 16)
    x = np.random.default_rng(0).standard_normal((2, 8, spec.n_times)).astype(np.float32)
    ref = dec.forward(x)
    dec.save(tmp_path)
    again = TwoBranchDecoder.load(tmp_path).forward(x)
    for k in ref:
        np.testing.assert_allclose(ref[k], again[k], rtol=1e-5, atol=1e-6)
    assert ref["saliency"].shape == (2, 16, 16, 3) and ref["embedding"].shape == (2, 4, 8)
    np.testing.assert_allclose(ref["scores"].sum(1), 1.0, rtol=1e-5)
    assert ref["attributes"].shape == (2, 10)
    for part in ("eeg_encoder", "attribute_encoder", "saliency_generator", "semantic_regressor"):
        assert (tmp_path / part / "config.json").is_file()  # each network saved the diffusers way
    weights = tmp_path / "eeg_encoder" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(EegvizError, match="corrupt"):
        TwoBranchDecoder.load(tmp_path)
