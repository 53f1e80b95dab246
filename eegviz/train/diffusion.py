"""The generator's denoiser: a diffusers UNet2DConditionModel on the autoencoder's latents, conditioned on MiniLM
caption states (16 x 384), trained on fresh renders - the CFG teacher that eegviz.train.distill then distils.

Choices, and why:
- v-prediction on a cosine schedule rescaled to zero terminal SNR (DDIMScheduler(rescale_betas_zero_snr=True)):
  at t = T the input is pure noise, so "text only" generation (strength 1) is a case the model was trained on,
  not an offset from one; v stays well defined there, where eps-prediction is not. The loss is measured on the
  implied clean latent with min-SNR weighting (weight min(SNR, 5) + 1: high-SNR steps do not dominate, the
  pure-noise end still learns).
- EMA weights (0.999) are what is kept.
- Caption dropout (p_uncond ~10%): the unconditional input is the MiniLM encoding of the empty caption "",
  as SD's is the CLIP encoding of "", so classifier-free guidance has a real unconditional branch. The kept
  captions are the label caption ("an image of a star") or the rich one ("a small faint green star in the lower
  right") at random, lightly perturbed (the decoder's embeddings at run time are predictions, not encodings).
- Saliency steering: with probability p_degraded the noisy input is built not from the clean latent but from
  the latent of a blob rendering of the same stimulus (eegviz.train.renders.blob_init: softened silhouette in
  the object's colour), noised to an img2img level; the target stays the clean latent. So at run time the
  decoded map, noised, tells the model where, how big and what colour, and the caption tells it what shape.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch

from eegviz.train.autoencoder import encode_mean
from eegviz.train.loop import Ema, optimise, run_loop
from eegviz.train.renders import fresh_specs, render_with_blobs, to_tensor

log = logging.getLogger("eegviz.train.diffusers_gen")  # the stages share it: train.dist TRAINING_LOGGERS

UNET_DEFAULTS = {"channels": (32, 64, 128), "layers": 1, "head_dim": 32, "pooled_caption": True}
T_TRAIN = 1000
MIN_SNR_GAMMA = 5.0


def build_unet(cross_dim: int, latent_size: int = 16, latent_channels: int = 4, channels=UNET_DEFAULTS["channels"],
               layers: int = 1, head_dim: int = 32, pooled_caption: bool = True, attend_top: bool = False):
    """Conv-only at the latent's full resolution, cross-attention to the caption below it (where the shape is
    decided), as SD's UNet is but three levels deep and narrow enough for a CPU.

    pooled_caption: an attention-pooled summary of the caption states is added to the timestep embedding
    (diffusers' addition_embed_type="text", as Kandinsky/unCLIP do), so every ResNet block sees the class, not
    only the two cross-attention levels. It is computed from encoder_hidden_states inside the UNet, so
    StableDiffusionImg2ImgPipeline and the lean loop call the UNet exactly as they call SD's."""
    from diffusers import UNet2DConditionModel

    n = len(channels)
    top = 0 if attend_top else 1  # attend_top: cross-attention at the latent's full resolution too
    down = ("DownBlock2D",) * top + ("CrossAttnDownBlock2D",) * (n - top)
    up = ("CrossAttnUpBlock2D",) * (n - top) + ("UpBlock2D",) * top
    return UNet2DConditionModel(sample_size=latent_size, in_channels=latent_channels, out_channels=latent_channels,
                                down_block_types=down, up_block_types=up, block_out_channels=tuple(channels),
                                layers_per_block=layers, cross_attention_dim=cross_dim,
                                attention_head_dim=head_dim, norm_num_groups=min(32, min(channels)),
                                addition_embed_type="text" if pooled_caption else None,
                                addition_embed_type_num_heads=cross_dim // 64 if cross_dim % 64 == 0 else 1)


def build_scheduler():
    from diffusers import DDIMScheduler

    # steps_offset only shifts "leading" spacing; 1 is what diffusers' SD pipelines expect of every scheduler
    # config, and any other value makes them print a deprecation warning with the whole config on every load
    return DDIMScheduler(num_train_timesteps=T_TRAIN, beta_schedule="squaredcos_cap_v2",
                         prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing",
                         clip_sample=False, set_alpha_to_one=True, steps_offset=1)


class Captions:
    """Caption states for training: label or rich caption per stimulus, dropout to "", light perturbation."""

    def __init__(self, text, p_rich: float = 0.5, p_uncond: float = 0.1, noise: float = 0.05):
        self.text, self.p_rich, self.p_uncond, self.noise = text, p_rich, p_uncond, noise
        self.empty = torch.from_numpy(text.encode([""]))  # (1, T, D)

    def encode(self, captions: list[str]) -> torch.Tensor:
        return torch.from_numpy(self.text.encode(list(captions)))

    def sample(self, specs, rng: np.random.Generator) -> torch.Tensor:
        rich = rng.random(len(specs)) < self.p_rich
        ctx = self.encode([s.caption if r else s.label_caption for s, r in zip(specs, rich)])
        if self.noise:
            ctx = ctx + self.noise * ctx.std() * torch.from_numpy(rng.standard_normal(ctx.shape).astype(np.float32))
        drop = torch.from_numpy(rng.random(len(specs)) < self.p_uncond)
        ctx[drop] = self.empty[0]
        return ctx


def schedule_terms(sched, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t), shaped (B, 1, 1, 1)."""
    ab = sched.alphas_cumprod[t].float()[:, None, None, None]
    return ab.sqrt(), (1 - ab).sqrt()


def x0_from_v(sched, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    a, s = schedule_terms(sched, t)
    return a * x_t - s * v


def eps_from_v(sched, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    a, s = schedule_terms(sched, t)
    return s * x_t + a * v


def add_noise(sched, z: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    a, s = schedule_terms(sched, t)
    return a * z + s * noise


def snr_weight(sched, t: torch.Tensor) -> torch.Tensor:
    ab = sched.alphas_cumprod[t].float()
    snr = ab / (1 - ab).clamp_min(1e-8)
    return (snr.clamp(max=MIN_SNR_GAMMA) + 1)[:, None, None, None]


def guided_v(unet, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, uncond: torch.Tensor,
             guidance: float) -> torch.Tensor:
    """Classifier-free guided v (two passes in one batch); guidance 1 is the plain conditional pass."""
    if guidance == 1.0:
        return unet(x, t, encoder_hidden_states=ctx).sample
    both = unet(torch.cat([x, x]), torch.cat([t, t]),
                encoder_hidden_states=torch.cat([ctx, uncond.expand_as(ctx)])).sample
    cond, unc = both.chunk(2)
    return unc + guidance * (cond - unc)


@torch.no_grad()
def ddim_solve(unet, sched, x_t: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, uncond: torch.Tensor,
               guidance: float, n_steps: int) -> torch.Tensor:
    """The guided teacher's deterministic DDIM path from (x_t, t) (per-sample t) to a clean latent, in n_steps
    evenly spaced jumps."""
    x = x_t
    frac = torch.linspace(1.0, 0.0, n_steps + 1)
    for k in range(n_steps):
        t_now = (t.float() * frac[k]).round().long()
        v = guided_v(unet, x, t_now, ctx, uncond, guidance)
        x0, eps = x0_from_v(sched, x, t_now, v), eps_from_v(sched, x, t_now, v)
        if k == n_steps - 1:
            return x0
        t_next = (t.float() * frac[k + 1]).round().long()
        x = add_noise(sched, x0, t_next, eps)
    return x


class LatentBatches:
    """Fresh training batches in latent space: clean latents, start latents (clean, or a blob's with probability
    p_degraded), the specs, and which ones start from a blob."""

    def __init__(self, vae, rng: np.random.Generator, size: int = 64, p_degraded: float = 0.4):
        self.vae, self.rng, self.size, self.p_degraded = vae, rng, size, p_degraded

    @torch.no_grad()
    def draw(self, batch: int, deg: torch.Tensor | None = None):
        """deg: which samples start from a blob (default: each with probability p_degraded)."""
        specs = fresh_specs(batch, self.rng)
        imgs, _, blobs = render_with_blobs(specs, self.size, self.rng)
        z0 = encode_mean(self.vae, to_tensor(imgs))
        if deg is None:
            deg = torch.from_numpy(self.rng.random(batch) < self.p_degraded)
        start = z0.clone()
        if deg.any():
            start[deg] = encode_mean(self.vae, to_tensor(blobs[deg.numpy()]))
        return specs, z0, start, deg


def sample_timesteps(rng: np.random.Generator, deg: torch.Tensor, p_top: float = 0.1,
                     deg_range: tuple[float, float] = (0.35, 1.0)) -> torch.Tensor:
    """Clean starts: uniform over the schedule, p_top of them at t = T-1 (text-only generation starts there);
    blob starts: the img2img band deg_range (a blob barely noised cannot turn into the object)."""
    n = len(deg)
    t = rng.integers(0, T_TRAIN, n)
    t[rng.random(n) < p_top] = T_TRAIN - 1
    lo, hi = (int(f * T_TRAIN) for f in deg_range)
    band = rng.integers(lo, hi, n)
    return torch.from_numpy(np.where(deg.numpy(), band, t)).long()


def train_teacher(vae, text, *, steps: int = 4000, batch: int = 64, lr: float = 1e-3, size: int = 64,
                  p_degraded: float = 0.4, p_uncond: float = 0.1, p_rich: float = 0.5, ema: float = 0.999,
                  seed: int = 0, max_minutes: float = 0.0, config: dict | None = None, log_every: int = 20,
                  init=None):
    """Returns (the EMA UNet, metrics).

    init: a UNet to continue training from (an earlier run's saved teacher; its architecture wins over `config`),
    with a fresh warm-up and cosine schedule over this run's steps. Continuing spends a second session's minutes
    on one teacher when a single stage's wall-clock cap ends before the loss has flattened."""
    cfg = {**UNET_DEFAULTS, **(config or {})}
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 22] if init is None else [seed, 22, 1])  # a continuation draws new batches
    latent_size = size // (2 ** (len(vae.config.block_out_channels) - 1))
    if init is not None:
        unet = copy.deepcopy(init).train().requires_grad_(True)
        uc = unet.config
        cfg = {"channels": tuple(uc.block_out_channels), "layers": uc.layers_per_block,
               "head_dim": uc.attention_head_dim, "pooled_caption": uc.addition_embed_type == "text",
               "attend_top": uc.down_block_types[0].startswith("CrossAttn")}
    else:
        unet = build_unet(text.dim, latent_size, vae.config.latent_channels, cfg["channels"], cfg["layers"],
                          cfg["head_dim"], cfg["pooled_caption"], cfg.get("attend_top", False)).train()
    avg = Ema(unet, ema)
    sched = build_scheduler()
    caps = Captions(text, p_rich=p_rich, p_uncond=p_uncond)
    data = LatentBatches(vae, rng, size, p_degraded)
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=1e-4)

    def step(i, _frac):
        specs, z0, start, deg = data.draw(batch)
        t = sample_timesteps(rng, deg)
        noise = torch.from_numpy(rng.standard_normal(z0.shape).astype(np.float32))
        x_t = add_noise(sched, start, t, noise)
        v = unet(x_t, t, encoder_hidden_states=caps.sample(specs, rng)).sample
        loss = (snr_weight(sched, t) * (x0_from_v(sched, x_t, t, v) - z0).pow(2)).mean()
        return optimise(loss, opt, unet, avg, i)

    res = run_loop("unet (teacher)", steps, step, opt, lr=lr, max_minutes=max_minutes, log_every=log_every)
    n_params = sum(p.numel() for p in unet.parameters())
    return avg.module, {**res.summary(), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                        "params": n_params, "batch": batch, "lr": lr, "p_degraded": p_degraded,
                        "p_uncond": p_uncond, "p_rich": p_rich, "ema": ema, "ema_final_decay": avg.last_decay,
                        "prediction": "v",
                        "min_snr_gamma": MIN_SNR_GAMMA,
                        "continued_from_earlier_run": init is not None}
