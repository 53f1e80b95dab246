"""The latent branch's regressor: a closed-form ridge from binned epochs to an autoencoder latent."""

from __future__ import annotations

import torch

from eegviz.decoders.latent import LatentRegressor


def test_ridge_recovers_a_linear_map_and_saves_itself(tmp_path):
    torch.manual_seed(0)
    reg = LatentRegressor(n_channels=6, n_times=40, latent_shape=(2, 3, 3), bin_samples=5)
    w = torch.randn(18, 6 * 8)
    x = torch.randn(300, 6, 40)
    z = (reg.binned(x) @ w.T).unflatten(1, (2, 3, 3)) + 0.05 * torch.randn(300, 2, 3, 3)
    fit = reg.fit(x[:200], z[:200], x[200:250], z[200:250])
    assert fit["val_r2"] > 0.9  # the smallest penalty (10) shrinks a little
    held_out = reg(x[250:])
    assert held_out.shape == (50, 2, 3, 3)
    r2 = 1 - ((held_out - z[250:]) ** 2).sum() / ((z[250:] - z[:200].mean(0)) ** 2).sum()
    assert r2 > 0.9
    # no information, no fit: shuffled targets give a validation R^2 near zero or below
    shuffled = LatentRegressor(6, 40, (2, 3, 3)).fit(x[:200], z[torch.randperm(200)], x[200:250], z[200:250])
    assert shuffled["val_r2"] < 0.1
    reg.save_pretrained(tmp_path / "lat")
    back = LatentRegressor.from_pretrained(tmp_path / "lat")
    torch.testing.assert_close(back(x[:4]), reg(x[:4]))
