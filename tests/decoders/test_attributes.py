"""Object attributes (where, how big, what colour) from images, and the encoder that reads them from EEG."""

import numpy as np
import pytest
import torch

from eegviz.decoders.attributes import ATTRIBUTE_NAMES, AttributeEncoder, object_attributes
from eegviz.world.stimuli import make_spec, render_batch


def test_object_attributes_follow_the_rendered_stimulus():
    specs = [make_spec(c, k) for c in (0, 1, 13) for k in range(6)]
    images, masks = render_batch(specs, 64)
    a = object_attributes(images, masks)
    assert a.shape == (len(specs), len(ATTRIBUTE_NAMES))
    cx = np.array([s.cx for s in specs])
    cy = np.array([s.cy for s in specs])
    # image fractions: x to the right, y DOWN (the field's y is up)
    assert np.corrcoef(a[:, 0], cx)[0, 1] > 0.95 and np.corrcoef(a[:, 1], -cy)[0, 1] > 0.95
    assert np.corrcoef(a[:, 2], [s.size for s in specs])[0, 1] > 0.6
    np.testing.assert_allclose(a[:, 4:7], [s.color for s in specs], atol=0.06)  # antialiased edges blend
    np.testing.assert_allclose(a[:, 7:10], [s.background for s in specs], atol=0.03)
    empty = object_attributes(images[:1], np.zeros_like(masks[:1]))
    assert empty[0, 0] == empty[0, 1] == 0.5 and empty[0, 2] == 0 and np.allclose(empty[0, 4:7], empty[0, 7:10])


def test_attribute_encoder_reads_a_position_code_and_reports_units():
    torch.manual_seed(0)
    n, ch, t = 256, 6, 40
    target = torch.rand(n, len(ATTRIBUTE_NAMES))
    x = torch.randn(n, ch, t) * 0.3
    x[:, 0, 5:15] += target[:, :1] * 3  # "cx" lives on channel 0 early on
    enc = AttributeEncoder(ch, t, bin_samples=5, hidden=16)
    enc.mean.copy_(target.mean(0))
    enc.std.copy_(target.std(0))
    chosen = enc.fit_linear(x[:200], target[:200], x[200:], target[200:])
    assert not enc.linear.weight.requires_grad and set(chosen) == set(ATTRIBUTE_NAMES)
    assert chosen["cx"]["alpha"] < chosen["obj_g"]["alpha"]  # signal: a light penalty wins; noise: the heaviest
    # no times given: no baseline to whiten with, no window: the raw whole-epoch readout
    assert chosen["cx"] == {**chosen["cx"], "whitened": False, "window_s": None, "class_weight": 0.0}
    opt = torch.optim.Adam([p for p in enc.parameters() if p.requires_grad], 1e-2)
    for _ in range(30):
        loss = enc.loss(x, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    enc.eval()
    with torch.no_grad():
        pred = enc(x)
    assert np.corrcoef(pred[:, 0], target[:, 0])[0, 1] > 0.9  # in attribute units, not standardised ones
    assert pred[:, 0].mean().item() == pytest.approx(target[:, 0].mean().item(), abs=0.05)
    # held-out trials: the coded attribute is read, an uncoded one is not
    new = torch.rand(128, len(ATTRIBUTE_NAMES))
    held = torch.randn(128, ch, t) * 0.3
    held[:, 0, 5:15] += new[:, :1] * 3
    with torch.no_grad():
        out = enc(held)
    assert np.corrcoef(out[:, 0], new[:, 0])[0, 1] > 0.9 and abs(np.corrcoef(out[:, 8], new[:, 8])[0, 1]) < 0.3


def test_the_colour_is_chosen_among_colours_the_stimuli_had():
    """A regression would return the mean of the colours it cannot tell apart; a choice returns one of them."""
    torch.manual_seed(0)
    palette = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9]])
    which = torch.arange(300) % 3
    obj = palette[which] + 0.02 * torch.randn(300, 3)
    enc = AttributeEncoder(4, 20, bin_samples=5, hidden=16, n_colours=3)
    enc.set_colour_vocabulary(obj)
    found = enc.colour_prototypes[enc.colour_prototypes[:, 0].argsort(descending=True)]
    assert torch.allclose(found[0], palette[0], atol=0.02)  # red is found, whatever cluster order k-means picked
    x = torch.randn(300, 4, 20) * 0.3
    x[:, 1, 5:10] += which[:, None].float() * 2  # the colour index is in the EEG
    target = torch.cat([torch.rand(300, 4), obj, torch.rand(300, 3)], 1)
    opt = torch.optim.Adam(enc.parameters(), 1e-2)
    for _ in range(100):
        loss = enc.loss(x, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = enc.eval()(x)[:, 4:7]
    # every predicted colour is exactly one of the vocabulary's, and the right one
    assert (out[:, None] == enc.colour_prototypes[None]).all(-1).any(1).all()  # exact copies (cdist's mm path is not)
    assert (torch.cdist(out, palette).argmin(1) == which).float().mean() > 0.9


def _world(n: int, ch: int = 8, t: int = 60, seed: int = 0):
    """Epochs from -0.2 s at 100 Hz: strongly correlated background noise on every channel, a weak "cx" code on
    channels 0-1 at 40-120 ms, and a per-class offset of "cx" that no sample carries (the class is given)."""
    g = torch.Generator().manual_seed(seed)
    times = -0.2 + np.arange(t) / 100.0
    target = torch.rand(n, len(ATTRIBUTE_NAMES), generator=g)
    classes = torch.randint(0, 4, (n,), generator=g)
    shared = torch.randn(n, 1, t, generator=g) * 3.0  # one big source seen by every channel
    x = shared * torch.linspace(0.5, 1.5, ch)[None, :, None] + torch.randn(n, ch, t, generator=g) * 0.3
    code = torch.from_numpy((times >= 0.04) & (times < 0.12))
    x[:, 0, code] += target[:, :1]
    x[:, 1, code] -= target[:, :1]
    target[:, 0] += torch.tensor([0.0, 0.5, -0.5, 1.0])[classes]
    return x, target, classes, times


def test_the_readout_whitens_windows_and_adds_class_offsets_when_validation_says_so():
    x, target, classes, times = _world(900)
    tr, va, te = slice(0, 600), slice(600, 750), slice(750, 900)
    enc = AttributeEncoder(8, 60, bin_samples=5, hidden=8, n_classes=4)
    enc.mean.copy_(target[tr].mean(0))
    enc.std.copy_(target[tr].std(0))
    chosen = enc.fit_linear(x[tr], target[tr], x[va], target[va], times=times, classes_train=classes[tr],
                            classes_val=classes[va])
    # the background is one shared source: whitening removes it; the class offset carries what no sample does
    assert chosen["cx"]["whitened"] and chosen["cx"]["class_weight"] > 0
    assert not enc.class_offset.weight.requires_grad
    with torch.no_grad():
        lin = enc._linear(enc.binned(x[te]), classes[te]) * enc.std + enc.mean  # the folded layer, in attribute units
        with pytest.raises(ValueError, match="decoded class"):
            enc._linear(enc.binned(x[te]), None)
    r = np.corrcoef(lin[:, 0], target[te, 0])[0, 1]
    assert r > 0.9
    # the same data through the old readout (raw, whole epoch, no class) reads far less of it
    old = AttributeEncoder(8, 60, bin_samples=5, hidden=8)
    old.mean.copy_(enc.mean)
    old.std.copy_(enc.std)
    old.fit_linear(x[tr], target[tr], x[va], target[va])
    with torch.no_grad():
        r_old = np.corrcoef(old._linear(old.binned(x[te]), None)[:, 0], target[te, 0])[0, 1]
    assert r_old < r - 0.1


def test_whitening_and_windows_are_folded_exactly_into_one_layer():
    """The layer over raw bins gives what the chosen readout computes on whitened, windowed bins."""
    from eegviz.decoders.attributes import noise_whitener
    from eegviz.decoders.ridge import bin_means, fit_ridge

    x, target, classes, times = _world(500, seed=1)
    enc = AttributeEncoder(8, 60, bin_samples=5, hidden=8)
    enc.mean.copy_(target[:400].mean(0))
    enc.std.copy_(target[:400].std(0))
    only = ((True, (0.04, 0.22), 0.0),)
    enc.fit_linear(x[:400], target[:400], x[400:], target[400:], times=times, candidates=only)
    w_white = noise_whitener(x[:400], times)
    keep = (times[:60].reshape(12, 5).mean(1) >= 0.04) & (times[:60].reshape(12, 5).mean(1) < 0.22)

    def feats(v):
        return torch.einsum("dc,ncb->ndb", w_white, bin_means(v, 5).view(-1, 8, 12)[..., keep]).flatten(1)

    std = (target - enc.mean) / enc.std
    w, b, _ = fit_ridge(feats(x[:400]), std[:400], feats(x[400:]), std[400:])
    with torch.no_grad():
        torch.testing.assert_close(enc._linear(enc.binned(x[400:]), None), feats(x[400:]) @ w.T + b, atol=1e-4, rtol=1e-4)


def test_no_baseline_no_whitening():
    from eegviz.decoders.attributes import noise_whitener

    x = torch.randn(20, 4, 30)
    assert noise_whitener(x, np.arange(30) / 100.0) is None  # epochs that start at onset
    assert noise_whitener(x, -0.1 + np.arange(30) / 100.0).shape == (4, 4)


@pytest.mark.parametrize("n_colours", [2, 3])
def test_the_linear_colour_readout_reads_a_colour_code_under_correlated_noise(n_colours):
    """Fit on whitened bins, folded into one frozen layer over the raw bins, added to the trunk head's logits."""
    x, target, classes, times = _world(600, seed=2)
    palette = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9]])[:n_colours]
    which = torch.arange(600) % n_colours
    x[:, 3, torch.from_numpy((times >= 0.1) & (times < 0.2))] += 0.4 * which[:, None].float()
    enc = AttributeEncoder(8, 60, bin_samples=5, hidden=8, n_colours=n_colours, linear_colour=True)
    enc.set_colour_vocabulary(palette[which])
    got = enc.fit_colour(x[:400], palette[which[:400]], x[400:500], palette[which[400:500]], times)
    assert got["whitened"] and got["val_acc"] > 0.9 and not enc.colour_linear.weight.requires_grad
    with torch.no_grad():
        lin = enc.colour_linear(enc.binned(x[500:])).argmax(1)
    labels = enc.colour_labels(palette[which[500:]])
    assert (lin == labels).float().mean() > 0.9  # held-out trials, through the folded layer
    old = AttributeEncoder(8, 60, bin_samples=5, hidden=8, n_colours=n_colours)
    with pytest.raises(ValueError, match="without a linear colour"):
        old.fit_colour(x[:400], palette[which[:400]], x[400:500], palette[which[400:500]], times)
