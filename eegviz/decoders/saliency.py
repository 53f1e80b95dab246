"""Pixel-level branch: a conditional GAN G(z, f(eeg)) -> saliency map, and the losses that train it.

Per NeuroImagen: hinge adversarial loss, mode-seeking regularisation (different z must give different maps,
in proportion), and an SSIM loss against the stimulus. DiffAugment (colour/translation applied to real and
fake alike) keeps the discriminator from memorising a small stimulus set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SaliencyGenerator(nn.Module):
    """(z, feature) -> (B, 3, size, size) in [0, 1]."""

    def __init__(self, feat_dim: int = 128, z_dim: int = 16, size: int = 32, width: int = 96):
        super().__init__()
        self.z_dim, self.size = z_dim, size
        self.fc = nn.Linear(feat_dim + z_dim, width * 4 * 4)
        blocks, ch, res = [], width, 4
        while res < size:
            out = max(ch // 2, 24)
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(ch, out, 3, padding=1), nn.BatchNorm2d(out), nn.GELU()]
            ch, res = out, res * 2
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(ch, 3, 3, padding=1)
        self.width = width

    def forward(self, z: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, feat], 1)).view(-1, self.width, 4, 4)
        return torch.sigmoid(self.out(self.body(h)))


class ProjectionDiscriminator(nn.Module):
    """D(image, feature) with a projection term, so realism is judged conditionally on the EEG feature."""

    def __init__(self, feat_dim: int = 128, size: int = 32, width: int = 64):
        super().__init__()
        sn = nn.utils.spectral_norm
        layers, ch, res = [], 3, size
        for out in (width // 2, width, width):
            layers += [sn(nn.Conv2d(ch, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            ch, res = out, res // 2
        self.body = nn.Sequential(*layers)
        self.lin = sn(nn.Linear(ch, 1))
        self.proj = sn(nn.Linear(feat_dim, ch))

    def forward(self, img: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        h = self.body(img * 2 - 1).sum(dim=(2, 3))
        return self.lin(h).squeeze(1) + (self.proj(feat) * h).sum(1)


def diff_augment(x: torch.Tensor, shift: int = 2) -> torch.Tensor:
    """Differentiable brightness jitter + small translation, applied identically in spirit to real and fake."""
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5) * 0.2
    dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,)))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Mean SSIM of (B, C, H, W) images in [0, 1] with a uniform window (per image, averaged over channels)."""
    c1, c2 = 0.01**2, 0.03**2
    pad = window // 2
    mu_x = F.avg_pool2d(x, window, 1, pad, count_include_pad=False)
    mu_y = F.avg_pool2d(y, window, 1, pad, count_include_pad=False)
    sxx = F.avg_pool2d(x * x, window, 1, pad, count_include_pad=False) - mu_x**2
    syy = F.avg_pool2d(y * y, window, 1, pad, count_include_pad=False) - mu_y**2
    sxy = F.avg_pool2d(x * y, window, 1, pad, count_include_pad=False) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean(dim=(1, 2, 3))


def mode_seeking_loss(img1: torch.Tensor, img2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Mao et al. 2019: maximise |G(z1)-G(z2)| / |z1-z2|; returned as a quantity to minimise."""
    num = (img1 - img2).abs().mean(dim=(1, 2, 3))
    den = (z1 - z2).abs().mean(dim=1)
    return 1.0 / (num / den + 1e-5).mean()
