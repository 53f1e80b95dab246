"""The generator's autoencoder: a diffusers AutoencoderKL trained in-house on fresh renders.

Why AutoencoderKL with 3 blocks (factor 4: 64 px -> 16 x 16 x 4 latents) and not AutoencoderTiny at factor 8:
measured here, a factor-8 TAESD-style model trained for 7 minutes left the stimulus classifier at 0.875 on its
reconstructions, and the autoencoder then caps everything drawn through it; the synthetic world's classes differ
in small details (a key's teeth, a nut's hole, a fish's eye) that 8 x 8 x 4 latents blur away. Factor 4 keeps
them at a UNet cost that still fits 2 CPU cores.

Factor 8 with more latent channels was tried once the four-block classifier could judge it: an AutoencoderKL
16/32/32/64 with 8 x 8 x 8 latents reached 0.99 on its reconstructions in 13 minutes (the factor-4 one: 1.00), but
a UNet on those latents (64/128, two layers, cross-attention at both levels, 7.4M parameters) trained for 43
minutes drew the right class less often than the shipped factor-4 teacher (0.28 against 0.33 from the true blob
on test renders, 0.07 against 0.25 from the label caption alone) and took longer per image (64 ms for one pass
against 58 ms for two). So factor 4 stays; the comparison is not at equal steps (1227 against 3951 teacher
steps: the 8 x 8 UNet's steps cost 2.2 s at batch 64 on a continued run) and could turn with a longer run.

The loss is L1 + MSE with silhouette edges weighted up (the shape is what the classifier and the viewer read;
the flat background is easy), plus a tiny KL term so the latent stays a well-scaled Gaussian the diffusion
model can noise. The latent scaling factor is set from the trained encoder's latent std (SD's 0.18215 plays
the same role), so noised latents are unit-variance as the scheduler assumes.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from eegviz.train.loop import run_loop
from eegviz.train.renders import fresh_specs, to_tensor
from eegviz.world.stimuli import render_batch

log = logging.getLogger("eegviz.train.diffusers_gen")  # the stages share it: train.dist TRAINING_LOGGERS

# the shipped size: 2500 steps (about 28 idle minutes on 2 cores) reach the classifier's own ceiling on renders;
# twice the width costs twice the time per step and a slower decode at run time
AE_DEFAULTS = {"channels": (16, 32, 32), "layers": 1, "latent_channels": 4}


def build_autoencoder(channels=AE_DEFAULTS["channels"], layers: int = 1, latent_channels: int = 4,
                      size: int = 64):
    from diffusers import AutoencoderKL

    n = len(channels)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(channels),
                         layers_per_block=layers, latent_channels=latent_channels,
                         norm_num_groups=min(16, min(channels)), sample_size=size, force_upcast=False)


def edge_weight(masks: torch.Tensor, gain: float = 4.0) -> torch.Tensor:
    """(N, H, W) soft silhouettes -> (N, 1, H, W) pixel weights: 1 + gain on the morphological edge band."""
    m = masks[:, None]
    edge = F.max_pool2d(m, 3, 1, 1) + F.max_pool2d(-m, 3, 1, 1)  # dilate - erode
    return 1.0 + gain * edge


def encode_mean(vae, x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> scaled latents (the posterior mean: what the UNet learns to produce)."""
    return vae.encode(x).latent_dist.mode() * vae.config.scaling_factor


def decode(vae, z: torch.Tensor) -> torch.Tensor:
    """Scaled latents -> images in [-1, 1]."""
    return vae.decode(z / vae.config.scaling_factor).sample


def train_autoencoder(*, steps: int = 3000, batch: int = 32, lr: float = 1.5e-3, kl_weight: float = 1e-6,
                      size: int = 64, seed: int = 0, max_minutes: float = 0.0, config: dict | None = None,
                      log_every: int = 20):
    """Train on fresh renders every step; returns (vae, metrics). The vae's scaling_factor is set at the end."""
    cfg = {**AE_DEFAULTS, **(config or {})}
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 11])
    vae = build_autoencoder(cfg["channels"], cfg["layers"], cfg["latent_channels"], size).train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)

    def step(_i, _frac):
        imgs, masks = render_batch(fresh_specs(batch, rng), size)
        x = to_tensor(imgs)
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample()).sample
        w = edge_weight(torch.from_numpy(masks))
        err = y - x
        loss = (w * (err.abs() + err.pow(2))).mean() + kl_weight * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        return loss.item()

    res = run_loop("autoencoder", steps, step, opt, lr=lr, max_minutes=max_minutes, log_every=log_every)
    vae.eval()
    scale = set_scaling_factor(vae, rng, size)
    return vae, {**res.summary(), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                 "batch": batch, "lr": lr, "kl_weight": kl_weight, "scaling_factor": scale}


@torch.no_grad()
def set_scaling_factor(vae, rng: np.random.Generator, size: int, n: int = 256) -> float:
    """1 / std of the unscaled latents of n fresh renders, written into the vae's config (saved with it)."""
    imgs, _ = render_batch(fresh_specs(n, rng), size)
    z = vae.encode(to_tensor(imgs)).latent_dist.mode()
    scale = float(1.0 / z.std().clamp_min(1e-6))
    vae.register_to_config(scaling_factor=scale)
    return scale


@torch.no_grad()
def reconstruct(vae, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, H, W, 3) [0, 1] -> the autoencoder's reconstructions, same shape and range."""
    out = []
    for s in range(0, len(images), batch):
        x = to_tensor(images[s : s + batch])
        out.append(((decode(vae, encode_mean(vae, x)) + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out) if out else images[:0]


def score_reconstructions(vae, clf, specs, size: int = 64) -> dict:
    """The acceptance test: the stimulus classifier's top-1 on held-out renders and on their reconstructions."""
    from eegviz.generators.base import to_uint8

    imgs, _ = render_batch(specs, size)
    y = np.array([s.class_idx for s in specs])
    rec = reconstruct(vae, imgs)
    on_true = float((clf.logits_uint8(to_uint8(imgs)).argmax(1) == y).mean())
    on_rec = float((clf.logits_uint8(to_uint8(rec)).argmax(1) == y).mean())
    mse = float(np.mean((rec - imgs) ** 2))
    log.info(f"autoencoder: classifier top-1 {on_rec:.3f} on reconstructions, {on_true:.3f} on the renders")
    return {"classifier_on_renders": on_true, "classifier_on_reconstructions": on_rec, "reconstruction_mse": mse,
            "n": len(specs)}
