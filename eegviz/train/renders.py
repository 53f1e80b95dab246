"""Fresh synthetic-world renders for training the diffusers generator, and the saliency-like blobs it starts from.

Every batch is drawn anew (rendering costs well under a millisecond per image), so the autoencoder and the UNet
never see the same picture twice and cannot memorise the EEG stimuli: training seeds start at FRESH_SEED0 and are
disjoint from the EEG stimuli (seed 0 by default) and the evaluation classifier's renders (`train --seed` + 1,
seed 1 by default; eegviz.train.run.check_classifier_seed refuses a --seed that would make them any other set's).
Held-out validation and test renders use their own seed ranges (VAL_SEED, TEST_SEED), never drawn in training.

`blob_init` builds what the decoder's saliency branch hands the generator at run time: a soft blob of the
object's colour where the object is, roughly its size, on the background - no shape. Training the UNet to go
from such a blob (noised) to the clean image is what lets the decoded map steer position, size and colour.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from eegviz.world.stimuli import CLASSES, StimulusSpec, make_spec, render_batch

FRESH_SEED0 = 1000  # training draws seeds FRESH_SEED0 .. FRESH_SEED0 + FRESH_SEEDS - 1
FRESH_SEEDS = 1_000_000
VAL_SEED = 900  # validation renders (sampler choice): one fixed seed, never a training seed
TEST_SEED = 901  # held-out test renders


def fresh_specs(n: int, rng: np.random.Generator) -> list[StimulusSpec]:
    """n random specs (any class, any k) from the training seed range."""
    classes = rng.integers(0, len(CLASSES), n)
    ks = rng.integers(0, 1000, n)
    seeds = FRESH_SEED0 + rng.integers(0, FRESH_SEEDS, n)
    return [make_spec(int(c), int(k), int(s)) for c, k, s in zip(classes, ks, seeds)]


def heldout_specs(n_per_class: int, seed: int) -> list[StimulusSpec]:
    """A class-balanced held-out set (class-major) from one seed outside the training range."""
    if FRESH_SEED0 <= seed < FRESH_SEED0 + FRESH_SEEDS:
        raise ValueError(f"held-out seed {seed} is a training seed")
    return [make_spec(c, k, seed) for c in range(len(CLASSES)) for k in range(n_per_class)]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) [0, 1] -> (N, 3, H, W) [-1, 1], the autoencoder's range."""
    return torch.from_numpy(images).permute(0, 3, 1, 2) * 2 - 1


def _gauss_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image separable Gaussian blur of (N, C, H, W) with per-image sigma (pixels), edge-replicated."""
    r = int(torch.ceil(3 * sigma.max()).item())
    taps = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    k = k / k.sum(1, keepdim=True)  # (N, 2r+1)
    n, c, h, w = x.shape
    y = F.pad(x, (r, r, r, r), mode="replicate").reshape(1, n * c, h + 2 * r, w + 2 * r)
    kk = k.repeat_interleave(c, 0)
    y = F.conv2d(y, kk[:, None, None, :], groups=n * c)
    y = F.conv2d(y, kk[:, None, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


EVAL_SOFTEN = 0.06  # the fixed blur (sigma, as a fraction of the image) of evaluation's blobs and ellipses


def _soften(m: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) shapes Gaussian-blurred by per-image sigma, each scaled so its peak is 1 (the full colour)."""
    m = _gauss_blur(m, sigma)
    return m / m.flatten(1).amax(1).clamp_min(1e-6)[:, None, None, None]


def _paint(specs: list[StimulusSpec], weight: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) weights -> (N, H, W, 3) images in [0, 1]: each stimulus's colour over its background."""
    bg = torch.tensor([s.background for s in specs], dtype=torch.float32)[:, :, None, None]
    fg = torch.tensor([s.color for s in specs], dtype=torch.float32)[:, :, None, None]
    out = bg + weight.clamp(0, 1) * (fg - bg)
    return out.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def blob_init(specs: list[StimulusSpec], masks: np.ndarray, rng: np.random.Generator | None = None,
              jitter: bool = True) -> np.ndarray:
    """Saliency-like init images (N, H, W, 3) in [0, 1]: each silhouette softened to a blob (dilated or eroded,
    then Gaussian-blurred), painted in the object's colour on its background.

    With jitter (training), blur, dilation, a few pixels of shift and the colour's strength vary per image,
    as decoded maps do; without it (evaluation's "true silhouette blob"), one fixed softening."""
    n, h, _ = masks.shape
    m = torch.tensor(masks, dtype=torch.float32)[:, None]  # a copy: the dilation below writes into it
    if jitter and rng is not None:
        grow = rng.integers(-1, 3, n)  # morphological: -1 erode, 0 keep, 1-2 dilate (3x3 steps)
        for i in np.nonzero(grow)[0]:
            for _ in range(abs(int(grow[i]))):
                mi = m[i : i + 1]
                m[i : i + 1] = F.max_pool2d(mi, 3, 1, 1) if grow[i] > 0 else -F.max_pool2d(-mi, 3, 1, 1)
        sigma = torch.from_numpy(rng.uniform(0.04, 0.09, n) * h).float()
        shift = rng.integers(-h // 16, h // 16 + 1, (n, 2))
        gain = torch.from_numpy(rng.uniform(0.6, 1.1, n)).float()
    else:
        sigma = torch.full((n,), EVAL_SOFTEN * h)
        shift = np.zeros((n, 2), int)
        gain = torch.ones(n)
    m = _soften(m, sigma)
    for i in np.nonzero(np.abs(shift).sum(1))[0]:
        m[i] = torch.roll(m[i], shifts=(int(shift[i, 0]), int(shift[i, 1])), dims=(1, 2))
    return _paint(specs, m * gain[:, None, None, None])


def ellipse_init(specs: list[StimulusSpec], masks: np.ndarray) -> np.ndarray:
    """Shapeless inits (N, H, W, 3) in [0, 1]: each silhouette replaced by the ellipse with its centroid and second
    moments (a filled ellipse of semi-axes a, b has variances a^2/4, b^2/4), softened as blob_init softens, in
    the object's colour on its background.

    What a perfect decoder of where, how big and what colour would hand the generator: unlike a blurred
    silhouette (blob_init), it carries none of the shape, so the class must come from the caption."""
    n, h, w = masks.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((n, h, w), np.float32)
    for i, m in enumerate(masks.astype(np.float64)):
        tot = m.sum()
        if tot <= 0:
            continue
        mx, my = (m * xs).sum() / tot, (m * ys).sum() / tot
        dx, dy = xs - mx, ys - my
        cov = np.array([[(m * dx * dx).sum(), (m * dx * dy).sum()], [(m * dx * dy).sum(), (m * dy * dy).sum()]]) / tot
        inv = np.linalg.inv(cov + 1e-6 * np.eye(2))
        r2 = inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy
        out[i] = (r2 <= 4.0).astype(np.float32)
    return _paint(specs, _soften(torch.from_numpy(out)[:, None], torch.full((n,), EVAL_SOFTEN * h)))


def render_with_blobs(specs: list[StimulusSpec], size: int, rng: np.random.Generator | None = None,
                      jitter: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renders, their silhouettes and their blob inits, all (N, size, size[, 3]) float32 in [0, 1]."""
    images, masks = render_batch(specs, size)
    return images, masks, blob_init(specs, masks, rng, jitter)
