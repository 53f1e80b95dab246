"""Pixel-level branch: a conditional GAN G(z, f(eeg)) -> saliency map, and the losses that train it.

Per NeuroImagen: hinge adversarial loss, mode-seeking regularisation (different z must give different maps,
in proportion), and an SSIM loss against the stimulus; plus a Dice + BCE loss of the silhouette against the
stimulus's mask and an L1 loss on its colours, which is what makes the map carry where, how big and what
colour. DiffAugment (colour/translation applied to real and fake alike) keeps the discriminator from memorising
a small stimulus set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eegviz.component import Component, register_to_config


def coord_channels(b: int, h: int, w: int, device=None) -> torch.Tensor:
    """(b, 2, h, w) x and y coordinates in [-1, 1] (CoordConv): a convolution alone cannot tell where it is,
    and this generator's whole job is to put the object where the EEG says it was."""
    ys = torch.linspace(-1, 1, h, device=device)
    xs = torch.linspace(-1, 1, w, device=device)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))
    return grid.expand(b, 2, h, w)


class SaliencyGenerator(Component):
    """G(z, condition) -> saliency map: a silhouette (where, how big) filled with one colour on one background.

    The condition is the triplet feature (which shape) joined with the attribute encoder's estimates (where,
    how big, what colours; eegviz.decoders.attributes). The map is composed, not painted pixel by pixel:
    mask * object colour + (1 - mask) * background colour, so it can only say what a saliency map should -
    the silhouette and its colours - and the mask can be trained against the stimulus's own silhouette."""

    @register_to_config
    def __init__(self, feat_dim: int = 128, attr_dim: int = 10, z_dim: int = 16, size: int = 32, width: int = 96):
        super().__init__()
        self.z_dim, self.size, self.width = z_dim, size, width
        cond = feat_dim + attr_dim + z_dim
        self.fc = nn.Linear(cond, width * 4 * 4)
        blocks, ch, res = nn.ModuleList(), width, 4
        while res < size:
            out = max(ch // 2, 24)
            blocks.append(nn.Sequential(nn.Conv2d(ch + 2, out, 3, padding=1), nn.BatchNorm2d(out), nn.GELU()))
            ch, res = out, res * 2
        self.blocks = blocks
        self.mask_out = nn.Conv2d(ch + 2, 1, 3, padding=1)
        self.colours = nn.Sequential(nn.Linear(cond, 64), nn.GELU(), nn.Linear(64, 6))

    def parts(self, z: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask logits (B, 1, size, size), object colour (B, 3) and background colour (B, 3) in [0, 1]."""
        h0 = torch.cat([z, cond], 1)
        h = self.fc(h0).view(-1, self.width, 4, 4)
        for block in self.blocks:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, coord_channels(len(h), *h.shape[2:], h.device)], 1))
        logits = self.mask_out(torch.cat([h, coord_channels(len(h), *h.shape[2:], h.device)], 1))
        col = torch.sigmoid(self.colours(h0))
        return logits, col[:, :3], col[:, 3:]

    @staticmethod
    def compose(mask: torch.Tensor, obj: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
        return mask * obj[:, :, None, None] + (1 - mask) * bg[:, :, None, None]

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, 3, size, size) in [0, 1]."""
        logits, obj, bg = self.parts(z, cond)
        return self.compose(torch.sigmoid(logits), obj, bg)


class ProjectionDiscriminator(nn.Module):
    """D(image, condition) with a projection term, so realism is judged conditionally on what the EEG says.
    Used in training only, so it is a plain module (never saved)."""

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


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of (B, C, H, W) images in [0, 1] with the standard 11-tap Gaussian window (sigma 1.5),
    pytorch-msssim's, the window the papers report and eegviz.eval.metrics scores with."""
    from pytorch_msssim import ssim as gaussian_ssim

    return gaussian_ssim(x, y, data_range=1.0, size_average=False)


def dice_loss(logits: torch.Tensor, mask: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice between sigmoid(logits) and the silhouette (B, 1, H, W): rewards covering the object
    whatever its size, where a pixel loss is dominated by the background that fills most of the image."""
    p = torch.sigmoid(logits)
    inter = (p * mask).sum((1, 2, 3))
    return 1 - (2 * inter + eps) / (p.sum((1, 2, 3)) + mask.sum((1, 2, 3)) + eps)


def mode_seeking_loss(img1: torch.Tensor, img2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Mao et al. 2019: maximise |G(z1)-G(z2)| / |z1-z2|; returned as a quantity to minimise."""
    num = (img1 - img2).abs().mean(dim=(1, 2, 3))
    den = (z1 - z2).abs().mean(dim=1)
    return 1.0 / (num / den + 1e-5).mean()
