import numpy as np
import torch
import torch.nn.functional as F

from eegviz.decoders.attributes import N_ATTRIBUTES, object_attributes
from eegviz.decoders.encoder import EEGEncoder, triplet_loss_semihard
from eegviz.decoders.saliency import (REFERENCE_SIZE, SaliencyGenerator, dice_loss, follow_condition, mode_seeking_loss,
                                     place, rotation_tolerant, ssim)
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


def test_saliency_generator_composes_one_silhouette_in_the_colours_it_is_given():
    g = SaliencyGenerator(feat_dim=16, z_dim=4, size=32).eval()
    z, cond = torch.randn(3, 4), torch.cat([torch.randn(3, 16), torch.rand(3, N_ATTRIBUTES)], 1)
    out = g(z, cond)
    assert out.shape == (3, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    logits, obj, bg = g.parts(z, cond)
    torch.testing.assert_close(obj, cond[:, 16 + 4 : 16 + 7])  # the attribute encoder's colours, as given
    torch.testing.assert_close(bg, cond[:, 16 + 7 : 16 + 10])
    mask = torch.sigmoid(logits)
    # every pixel lies on the segment from the background colour to the object colour, at the mask's level
    torch.testing.assert_close(out, mask * obj[:, :, None, None] + (1 - mask) * bg[:, :, None, None])


def _attrs(masks: torch.Tensor, n: int = 3) -> torch.Tensor:
    """(N, 1, H, W) silhouettes -> their first n attributes (object_attributes; the first three: centroid x, y
    and size), the object white on black."""
    m = masks[:, 0].numpy()
    return torch.from_numpy(object_attributes(np.repeat(m[..., None], 3, -1), m)[:, :n])


def test_place_moves_and_scales_a_centred_shape_to_the_given_centroid_and_size():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    r = 2 * REFERENCE_SIZE / np.sqrt(np.pi)  # a centred disc of the reference size (radius in grid units)
    disc = torch.where(xx**2 + yy**2 < r**2, 12.0, -12.0)[None, None].expand(3, 1, 32, 32)
    where = torch.tensor([[0.3, 0.6, 0.2], [0.7, 0.35, 0.3], [0.5, 0.5, 0.4]])
    got = _attrs(torch.sigmoid(place(disc, where)))
    torch.testing.assert_close(got, where, atol=0.02, rtol=0)


def test_follow_condition_moves_the_stimulus_to_where_the_generator_was_told():
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 8:16, 10:20] = 1
    mask[1, :, 14:26, 16:24] = 1
    images = 0.2 + 0.6 * mask.expand(2, 3, 32, 32)
    true = _attrs(mask)
    given = true + torch.tensor([[0.15, -0.05, 0.05], [-0.2, -0.1, -0.04]])
    moved, moved_mask = follow_condition(images, mask, true, given)
    torch.testing.assert_close(_attrs(moved_mask), given, atol=0.015, rtol=0)
    torch.testing.assert_close(moved, 0.2 + 0.6 * moved_mask.expand(2, 3, 32, 32), atol=1e-5, rtol=0)


def test_rotation_tolerant_scores_against_the_turn_closest_to_the_drawing():
    """G is not told the turn: the target is turned (within the tolerance) to match what it drew, and a turn
    keeps the centroid and size where G was told."""
    bar = torch.zeros(1, 1, 32, 32)
    bar[..., 14:18, 6:26] = 1
    images = 0.1 + 0.8 * bar.expand(1, 3, 32, 32)
    attrs = _attrs(bar)
    turned = follow_condition(images, bar, attrs, attrs, angle=0.3)[1]
    torch.testing.assert_close(_attrs(turned), attrs, atol=0.01, rtol=0)

    def iou(a, b):
        return float(((a > 0.5) & (b > 0.5)).sum() / ((a > 0.5) | (b > 0.5)).sum())

    drawn = turned * 24 - 12  # G drew the bar turned by 0.3 rad
    _, mask = rotation_tolerant(drawn, images, bar, attrs, attrs)
    assert iou(mask, turned) > 0.8 > 0.6 > iou(bar, turned)


def test_saliency_generator_learns_which_shape_from_the_feature_and_draws_it_where_told():
    """The point of the pixel branch: the feature says which shape (here a disc or a bar), the attributes where
    and how big; the map must get both right at places and sizes it was not trained on."""
    torch.manual_seed(0)
    g = SaliencyGenerator(feat_dim=2, z_dim=2, size=16, width=32)
    opt = torch.optim.Adam(g.parameters(), 3e-3)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16), indexing="ij")

    def batch(n=32):
        shape = torch.randint(0, 2, (n,))
        c, s = torch.rand(n, 2) * 1.0 - 0.5, 0.25 + 0.2 * torch.rand(n, 1, 1)
        dx, dy = xx - c[:, 0, None, None], yy - c[:, 1, None, None]
        disc = dx**2 + dy**2 < s**2
        bar = (dx.abs() < 1.6 * s) & (dy.abs() < 0.45 * s)
        mask = torch.where(shape[:, None, None] == 0, disc, bar).float()[:, None]
        return torch.cat([F.one_hot(shape, 2).float(), _attrs(mask, N_ATTRIBUTES)], 1), mask

    for _ in range(150):
        cond, mask = batch()
        loss = dice_loss(g.parts(torch.zeros(32, 2), cond)[0], mask).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    cond, mask = batch(64)
    g.eval()

    def iou(cond):
        with torch.no_grad():
            pred = torch.sigmoid(g.parts(torch.zeros(64, 2), cond)[0]) > 0.5
        inter, union = (pred & (mask > 0.5)).sum((1, 2, 3)), (pred | (mask > 0.5)).sum((1, 2, 3))
        return float((inter / union.clamp_min(1)).float().mean())

    other_shape = torch.cat([1 - cond[:, :2], cond[:, 2:]], 1)
    assert iou(cond) > 0.7 > iou(other_shape) + 0.15  # the shape comes from the feature, not only the place


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
