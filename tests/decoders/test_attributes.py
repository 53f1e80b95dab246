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
    alphas = enc.fit_linear(x[:200], target[:200], x[200:], target[200:])
    assert not enc.linear.weight.requires_grad and set(alphas) == set(ATTRIBUTE_NAMES)
    assert alphas["cx"] < alphas["obj_g"]  # signal: a light penalty wins; noise: the heaviest
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
