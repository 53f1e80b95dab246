"""Training the embedded few-step generator on the synthetic world's stimuli.

x0-prediction diffusion on 32x32 images conditioned on caption embeddings, with three choices made for how the
model is used at run time (img2img from a decoded saliency map, conditioned on a *predicted* embedding, 2 steps):

- Saliency-aware noising. Half of each batch starts not from the clean image but from a degraded copy shaped
  like the saliency branch's output (blurred to a blob, shifted a few pixels, colour muddied). The target is still
  the clean image, so the network learns that at img2img noise levels the blob gives place, size and colour while
  the shape has to come from the caption. Trained on clean images alone, it learned to sharpen whatever blob it
  was given and ignored the caption (label_only ablation at chance).
- Timesteps drawn mostly from the band img2img uses (t in 0.3-0.95), with some uniform draws so the schedule's
  ends stay covered.
- Caption dropout (10%: all-zero context, the "no caption" input) so classifier-free guidance can be used at
  sampling; the kept captions are perturbed (gain and noise) because run-time embeddings are predictions.

A second, adversarial stage then sharpens it, as SD-Turbo's adversarial diffusion distillation does for SD:
x0 regression alone averages over what the noisy input leaves open (rotation, exact outline) and gives soft
blobs; a caption-conditioned projection discriminator on the predicted x0 pushes each prediction to commit to
one plausible sharp shape, with the regression loss kept as the anchor.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from eegviz.decoders.saliency import ProjectionDiscriminator, diff_augment
from eegviz.decoders.text import HashTextEncoder
from eegviz.generators.legacy_pixel import LegacyPixelGenerator, noise_to
from eegviz.generators.tiny_unet import TinyUNet
from eegviz.train.checkpoint import Checkpoints
from eegviz.train.dist import DistInfo, sync_state

log = logging.getLogger(__name__)


def blur(x: torch.Tensor, k: int) -> torch.Tensor:
    """Two box blurs of width k (close to a Gaussian), edge-padded so the background colour is kept."""
    for _ in range(2):
        x = F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)
    return x


def saliency_like(x0: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Degrade clean images (B,3,H,W in [-1,1]) into what a decoded saliency map looks like: a soft blob roughly
    where the object is, roughly its colour, no shape."""
    b = x0.shape[0]
    out = torch.empty_like(x0)
    ks = torch.randint(2, 5, (b,), generator=gen) * 2 + 1  # 5..9 px
    shifts = torch.randint(-3, 4, (b, 2), generator=gen)
    for i in range(b):
        out[i] = torch.roll(blur(x0[i : i + 1], int(ks[i]))[0], shifts=tuple(int(s) for s in shifts[i]), dims=(1, 2))
    bg = out.flatten(2).median(dim=2).values[:, :, None, None]
    gain = 0.5 + 0.8 * torch.rand(b, 1, 1, 1, generator=gen)
    out = bg + (out - bg) * gain
    swap = torch.rand(b, generator=gen) < 0.3  # saliency colours are often wrong
    out[swap] = out[swap][:, torch.randperm(3, generator=gen)]
    return (out + 0.05 * torch.randn(out.shape, generator=gen)).clamp(-1, 1)


def sample_t(batch: int, gen: torch.Generator | None = None) -> torch.Tensor:
    band = 0.3 + 0.65 * torch.rand(batch, generator=gen)
    uniform = torch.rand(batch, generator=gen)
    return torch.where(torch.rand(batch, generator=gen) < 0.75, band, uniform)


def train_generator(image_ids: list[str], classes: list[str], *, steps: int = 1500, batch: int = 32,
                    seed: int = 0, size: int = 32, p_degraded: float = 0.5, p_uncond: float = 0.1,
                    adv_steps: int = 0, adv_weight: float = 0.02, init: TinyUNet | None = None,
                    ck: Checkpoints | None = None, info: DistInfo = DistInfo()) -> tuple[LegacyPixelGenerator, dict]:
    from eegviz.train.decoder import _step, run_stage, stimulus_targets
    from eegviz.world.stimuli import spec_from_id

    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, info.rank])
    images = torch.from_numpy(stimulus_targets(image_ids, size)) * 2 - 1
    text = HashTextEncoder()
    caps = [f"an image of a {spec_from_id(i).class_name}" for i in image_ids]
    ctx_all = torch.from_numpy(text.encode(caps))
    unet = (init or TinyUNet(ctx_dim=text.dim)).train()
    sync_state(unet, info)
    torch.manual_seed(seed + 1000 * info.rank)
    opt = torch.optim.AdamW(unet.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=max(steps, 1), pct_start=0.1)
    t0 = time.perf_counter()
    progress: dict = {"losses": []}

    def batch_inputs(band: bool):
        idx = torch.from_numpy(rng.choice(len(images), batch))
        x0 = images[idx]
        start = x0.clone()
        deg = torch.rand(batch) < p_degraded
        if deg.any():
            start[deg] = saliency_like(x0[deg])
        t = 0.4 + 0.55 * torch.rand(batch) if band else sample_t(batch)
        clean = ctx_all[idx]
        ctx = clean * (0.6 + 0.4 * torch.rand(batch, 1, 1)) + 0.05 * torch.randn_like(clean)
        keep = torch.rand(batch, 1, 1) >= p_uncond
        return x0, noise_to(start, t, torch.randn_like(x0)), t, ctx * keep, (clean * keep).sum(1)

    def step(_i):
        x0, xt, t, ctx, _ = batch_inputs(band=False)
        loss = F.mse_loss(unet(xt, t, ctx), x0)
        _step(loss, opt, unet, info)
        sched.step()
        progress["losses"] = (progress["losses"] + [loss.item()])[-100:]

    ck = ck or Checkpoints(None)
    run_stage("generator", steps, step, modules={"unet": unet}, opts={"opt": opt, "sched": sched}, ck=ck,
              rng=rng, extra=progress, info=info, desc="embedded generator")
    losses = progress["losses"] or [float("nan")]

    # Adversarial stage (img2img noise band only): D judges predicted x0 against real stimuli, given the caption.
    D = ProjectionDiscriminator(feat_dim=text.dim, size=size)
    sync_state(D, info)
    opt_g = torch.optim.Adam(unet.parameters(), lr=2e-4, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.99))
    adv: dict = {"mse": [], "d": []}

    def adv_step(_i):
        x0, xt, t, ctx, feat = batch_inputs(band=True)
        pred = unet(xt, t, ctx).clamp(-1, 1)
        real01, fake01 = (x0 + 1) / 2, (pred + 1) / 2
        d_loss = (F.relu(1 - D(diff_augment(real01), feat)).mean()
                  + F.relu(1 + D(diff_augment(fake01.detach()), feat)).mean())
        _step(d_loss, opt_d, D, info)
        mse = F.mse_loss(pred, x0)
        g_loss = mse - adv_weight * D(diff_augment(fake01), feat).mean()
        _step(g_loss, opt_g, unet, info)
        adv["mse"] = (adv["mse"] + [mse.item()])[-100:]
        adv["d"] = (adv["d"] + [d_loss.item()])[-100:]

    run_stage("generator_adv", adv_steps, adv_step, modules={"unet": unet, "D": D},
              opts={"g": opt_g, "d": opt_d}, ck=ck, rng=rng, extra=adv, info=info, desc="generator (adversarial)")
    gen = LegacyPixelGenerator(unet=unet.eval())
    metrics = {"final_loss": float(np.mean(losses[-100:])), "train_seconds": time.perf_counter() - t0,
               "steps": steps, "batch": batch, "p_degraded": p_degraded, "p_uncond": p_uncond,
               "adv_steps": adv_steps, "adv_weight": adv_weight,
               "adv_final_mse": float(np.mean(adv["mse"])) if adv["mse"] else None,
               "adv_final_d_loss": float(np.mean(adv["d"])) if adv["d"] else None}
    log.info(f"generator: loss {metrics['final_loss']:.4f} ({metrics['train_seconds']:.0f} s)")
    return gen, metrics
