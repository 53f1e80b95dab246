"""Pixel-level branch: a conditional GAN G(z, f(eeg)) -> saliency map, and the losses that train it.

Per NeuroImagen: hinge adversarial loss, mode-seeking regularisation (different z must give different maps,
in proportion), and an SSIM loss against the stimulus; plus a Dice + BCE loss of the silhouette against the
stimulus's own, which is what makes the map carry which shape, where and how big. Both are scored against the
stimulus moved to where the generator was told to draw it (follow_condition) and turned to the angle nearest
its drawing (rotation_tolerant). DiffAugment (colour/translation applied to real and fake alike) keeps the
discriminator from memorising a small stimulus set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eegviz.component import Component, register_to_config
from eegviz.decoders.attributes import ATTRIBUTE_NAMES, N_ATTRIBUTES

# where the condition's attributes keep the centroid (x, y, then size: `place` reads the three), and the colours
_CX, _OBJ, _BG = (ATTRIBUTE_NAMES.index(name) for name in ("cx", "obj_r", "bg_r"))
assert ATTRIBUTE_NAMES[_CX : _CX + 3] == ("cx", "cy", "size")


def coord_channels(b: int, h: int, w: int, device=None) -> torch.Tensor:
    """(b, 2, h, w) x and y coordinates in [-1, 1] (CoordConv): a convolution alone cannot tell where it is,
    and this generator's whole job is to put the object where the EEG says it was."""
    ys = torch.linspace(-1, 1, h, device=device)
    xs = torch.linspace(-1, 1, w, device=device)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))
    return grid.expand(b, 2, h, w)


# The object's size (square root of its area fraction) in the generator's object-centred frame: large enough that
# the shape is drawn with detail, small enough that the longest shapes stay inside the frame's window (below).
REFERENCE_SIZE = 0.4
FRAME_MARGIN = 0.15  # the frame's border band (grid units, of 2) where the shape fades to background


def frame_window(size: int, margin: float = FRAME_MARGIN) -> torch.Tensor:
    """(size, size) weights: 1 inside, falling linearly to 0 at the frame's edge. Placed in the image, the frame's
    edge lands inside it; without the window, whatever the network draws near its border showed as the edges
    of a box around large objects."""
    u = torch.linspace(-1, 1, size).abs()
    edge = torch.maximum(u[:, None], u[None, :])
    return ((1 - edge) / margin).clamp(0, 1)


OUTSIDE = -12.0  # the mask logit of plain background


def _similarity_grid(shape, src: torch.Tensor, dst: torch.Tensor, k: torch.Tensor,
                     angle: torch.Tensor | float = 0.0) -> torch.Tensor:
    """The sampling grid (for F.grid_sample) under which output point p reads the input at src + k R(angle) (p - dst):
    what sits at src in the input lands at dst, turned by -angle and scaled by 1 / k. Points in grid units
    ([-1, 1], align_corners=False); src, dst (B, 2), k (B,), angle one for all or (B,). The one transform both
    `place` and `follow_condition` are made of."""
    a = torch.as_tensor(angle, dtype=k.dtype, device=k.device).expand(len(k))
    cos, sin = torch.cos(a) * k, torch.sin(a) * k
    theta = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    theta = torch.cat([theta, (src - (theta @ dst[:, :, None])[:, :, 0])[:, :, None]], 2)
    return F.affine_grid(theta, list(shape), align_corners=False)


def place(logits: torch.Tensor, where: torch.Tensor, reference: float = REFERENCE_SIZE,
          outside: float = OUTSIDE) -> torch.Tensor:
    """Mask logits drawn in an object-centred frame (B, 1, S, S) moved to the image place where = (B, 3) centroid
    x, y (image fractions) and size (eegviz.decoders.attributes units): a spatial transformer (Jaderberg et al.
    2015) with no learned parameters. Everything outside the frame is background (logit `outside`)."""
    scale = (where[:, 2] / reference).clamp(0.1, 2.0)
    # image point p reads the frame at (p - c) / scale
    grid = _similarity_grid(logits.shape, torch.zeros_like(where[:, :2]), where[:, :2] * 2 - 1, 1 / scale)
    return F.grid_sample(logits - outside, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + outside


class SaliencyGenerator(Component):
    """G(z, condition) -> saliency map: a silhouette (which shape, where, how big) in one colour on one background.

    The condition is the triplet feature (which shape) joined with the attribute encoder's estimates (where,
    how big, what colours; eegviz.decoders.attributes, all N_ATTRIBUTES in ATTRIBUTE_NAMES order). What and
    where are drawn apart, as the EEG decoder reads them apart: a convnet draws the shape from the feature and
    z alone, centred in an object-centred frame, and `place` moves and scales it to the estimated centroid and
    size. Drawn by one image-space network instead (eegviz before this version), the shape had to be learnt at
    every position separately, and after the decoder's training budget the maps were shapeless blobs in the
    right place: the stimulus classifier named 0.19 of them on the validation split, and names 0.96 of these
    (0.78 before their loss tolerated the stimulus's turn, rotation_tolerant).
    The map is composed, not painted pixel by pixel: mask * object colour + (1 - mask) * background colour, with
    the colours the attribute encoder chose (a colour head of G's own, trained on noisy colours, named fewer:
    0.63 against 0.74), so the map can only say what a saliency map should."""

    @register_to_config
    def __init__(self, feat_dim: int = 128, z_dim: int = 16, size: int = 32, width: int = 96):
        super().__init__()
        self.feat_dim, self.z_dim, self.size, self.width = feat_dim, z_dim, size, width
        self.fc = nn.Linear(feat_dim + z_dim, width * 4 * 4)
        blocks, ch, res = nn.ModuleList(), width, 4
        while res < size:
            out = max(ch // 2, 24)
            blocks.append(nn.Sequential(nn.Conv2d(ch + 2, out, 3, padding=1), nn.BatchNorm2d(out), nn.GELU()))
            ch, res = out, res * 2
        self.blocks = blocks
        self.mask_out = nn.Conv2d(ch + 2, 1, 3, padding=1)

    def shape_logits(self, z: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """(B, 1, size, size) mask logits of the shape alone, centred, at REFERENCE_SIZE, background at the
        frame's edge."""
        h = self.fc(torch.cat([z, feat], 1)).view(-1, self.width, 4, 4)
        for block in self.blocks:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, coord_channels(len(h), *h.shape[2:], h.device)], 1))
        logits = self.mask_out(torch.cat([h, coord_channels(len(h), *h.shape[2:], h.device)], 1))
        w = frame_window(logits.shape[-1]).to(logits)
        return w * logits + (1 - w) * OUTSIDE

    def parts(self, z: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask logits (B, 1, size, size) in the image, and the object and background colours (B, 3) the
        condition gives."""
        feat, attrs = cond[:, : self.feat_dim], cond[:, self.feat_dim :]
        if attrs.shape[1] != N_ATTRIBUTES:
            raise ValueError(f"the condition holds the feature and {N_ATTRIBUTES} attributes, got {attrs.shape[1]}")
        logits = place(self.shape_logits(z, feat), attrs[:, _CX : _CX + 3])
        return logits, attrs[:, _OBJ : _OBJ + 3].clamp(0, 1), attrs[:, _BG : _BG + 3].clamp(0, 1)

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


def _condition_grid(shape, true_attrs: torch.Tensor, given_attrs: torch.Tensor, max_scale: float,
                    angle: torch.Tensor | float) -> torch.Tensor:
    """follow_condition's sampling grid: the stimulus's centroid to the given one, its size to the given size."""
    k = (true_attrs[:, 2] / given_attrs[:, 2].clamp_min(1e-3)).clamp(1 / max_scale, max_scale)
    # image fractions -> grid units; output point p samples the input at c_true + k R(angle) (p - c_given)
    return _similarity_grid(shape, true_attrs[:, :2] * 2 - 1, given_attrs[:, :2] * 2 - 1, k, angle)


def _sample_mask(masks: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def follow_condition(images: torch.Tensor, masks: torch.Tensor, true_attrs: torch.Tensor, given_attrs: torch.Tensor,
                     max_scale: float = 1.6, angle: torch.Tensor | float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The stimuli (B, 3, H, W) and silhouettes (B, 1, H, W) moved and scaled to the centroid and size the generator
    was told (given_attrs, attribute units of eegviz.decoders.attributes) instead of their own (true_attrs).

    Why: the generator learns from attributes blurred by the attribute encoder's error. Scored against the
    stimulus where it really was, the best it can draw is the average over every place the object might be - a
    shapeless blob, which is what the maps were. Scored against the stimulus moved to where it was told, there is
    one right answer - the class's silhouette, sharp, at the given place and size - and that is what img2img
    needs to name the class (a sharp 32 px silhouette passes through the generator at 0.99 top-1, a blurred
    one at 0.43). The background is flat, so the border colour fills what moves into view.

    angle (radians, per image or one for all) also turns the stimulus about its centroid (see rotation_tolerant).
    """
    grid = _condition_grid(images.shape, true_attrs, given_attrs, max_scale, angle)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return moved, _sample_mask(masks, grid)


# How far the stimuli may be turned (radians) for the silhouette to match what G drew: the synthetic world turns
# its stimuli by up to 0.4 rad either way (eegviz.world.stimuli), and nothing in the EEG decoder reads the turn.
ROTATION_TOLERANCE = 0.4
ROTATION_STEPS = 9


def rotation_tolerant(logits: torch.Tensor, images: torch.Tensor, masks: torch.Tensor, true_attrs: torch.Tensor,
                      given_attrs: torch.Tensor, max_scale: float = 1.6) -> tuple[torch.Tensor, torch.Tensor]:
    """follow_condition at the turn (within +-ROTATION_TOLERANCE) whose silhouette best matches what G drew
    (lowest Dice + BCE, chosen per image and not differentiated through).

    Why: G is not told how the stimulus was turned, so scored against every turn as it came, its best answer is
    the average over turns - a pentagon, square or sun drawn as a disc (the most common confusions of the maps
    before: pentagon, sun, diamond and square named "circle", hexagon and frame named "ring"). Scored against the
    turn closest to its own drawing, it can draw one sharp turn of the shape. Only the silhouettes are moved to
    compare the turns; the stimulus itself once, at the chosen one."""
    angles = torch.linspace(-ROTATION_TOLERANCE, ROTATION_TOLERANCE, ROTATION_STEPS)
    with torch.no_grad():
        losses = []
        for a in angles:
            m = _sample_mask(masks, _condition_grid(masks.shape, true_attrs, given_attrs, max_scale, float(a)))
            bce = F.binary_cross_entropy_with_logits(logits, m, reduction="none").mean((1, 2, 3))
            losses.append(dice_loss(logits, m) + bce)
        best = angles[torch.stack(losses, 1).argmin(1)]
    return follow_condition(images, masks, true_attrs, given_attrs, max_scale, angle=best)


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
