"""The second pixel branch: EEG regressed straight into the generator's autoencoder latent of the stimulus.

NeuroImagen's critics point to Takagi & Nishimoto's fMRI reconstructions (CVPR 2023), where a linear map
from brain activity to the image autoencoder's latent gives the layout the diffusion model then refines;
here the same idea for EEG: a ridge readout (eegviz.decoders.ridge) from channels x 20 ms bins of the
preprocessed epoch to the latent the model folder's own VAE gives the stimulus (scaled by its scaling
factor, so it is what the UNet denoises), and img2img starts from it instead of from the encoded saliency map
(`eegviz demo|live --init latent`). It is fit after the generator, because its target space is that VAE's.
A linear map from one epoch can only give the average latent of what that epoch could have been: a blur
with the right layout at best; the eval report compares it with the GAN saliency map on the same metrics
and controls.
"""

from __future__ import annotations

import torch

from eegviz.component import Component, register_to_config
from eegviz.decoders.ridge import bin_means, fit_ridge

FOLDER = "latent_regressor"


class LatentRegressor(Component):
    """(B, n_channels, n_times) preprocessed epoch -> (B, C, H, W) scaled VAE latent of the stimulus."""

    @register_to_config
    def __init__(self, n_channels: int, n_times: int, latent_shape: tuple = (4, 16, 16), bin_samples: int = 5):
        super().__init__()
        self.n_bins = n_times // bin_samples
        n_out = int(torch.tensor(latent_shape).prod())
        self.linear = torch.nn.Linear(n_channels * self.n_bins, n_out)
        self.linear.requires_grad_(False)

    def binned(self, x: torch.Tensor) -> torch.Tensor:
        return bin_means(x, self.config.bin_samples)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.binned(x)).unflatten(1, tuple(self.config.latent_shape))

    @torch.no_grad()
    def fit(self, x_train: torch.Tensor, z_train: torch.Tensor, x_val: torch.Tensor, z_val: torch.Tensor,
            alphas=(10.0, 100.0, 1e3, 1e4, 1e5)) -> dict:
        """Closed-form ridge, one penalty per latent element chosen on validation; returns the validation R^2
        (over all elements) and the penalties' spread."""
        weight, bias, chosen = fit_ridge(self.binned(x_train), z_train.flatten(1), self.binned(x_val),
                                         z_val.flatten(1), alphas)
        self.linear.weight.copy_(weight)
        self.linear.bias.copy_(bias)
        pred = self(x_val).flatten(1)
        resid = ((pred - z_val.flatten(1)) ** 2).sum()
        total = ((z_val.flatten(1) - z_train.flatten(1).mean(0)) ** 2).sum()
        return {"val_r2": float(1 - resid / total), "alpha_median": float(chosen.median())}
