"""Training the embedded few-step generator on the synthetic world's stimuli.

x0-prediction diffusion on 32x32 images conditioned on caption embeddings. The conditioning is perturbed
during training (noise and random token dropout), because at run time it is the semantic branch's *predicted*
embedding, never the exact caption's.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from eegviz.decoders.text import HashTextEncoder
from eegviz.generators.embedded import EmbeddedGenerator, noise_to
from eegviz.generators.tiny_unet import TinyUNet


def train_generator(image_ids: list[str], classes: list[str], *, steps: int = 1500, batch: int = 32,
                    seed: int = 0, size: int = 32, log=print) -> tuple[EmbeddedGenerator, dict]:
    from eegviz.train.decoder import stimulus_targets
    from eegviz.world.stimuli import spec_from_id

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(stimulus_targets(image_ids, size)) * 2 - 1
    text = HashTextEncoder()
    caps = [f"an image of a {spec_from_id(i).class_name}" for i in image_ids]
    ctx_all = torch.from_numpy(text.encode(caps))
    unet = TinyUNet(ctx_dim=text.dim).train()
    opt = torch.optim.AdamW(unet.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    t0 = time.perf_counter()
    losses = []
    for _ in tqdm(range(steps), desc="embedded generator", leave=False):
        idx = torch.from_numpy(rng.choice(len(images), batch))
        x0 = images[idx]
        t = torch.rand(batch)
        ctx = ctx_all[idx]
        ctx = ctx * (0.6 + 0.4 * torch.rand(batch, 1, 1)) + 0.05 * torch.randn_like(ctx)
        xt = noise_to(x0, t, torch.randn_like(x0))
        loss = F.mse_loss(unet(xt, t, ctx), x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
    gen = EmbeddedGenerator(unet=unet.eval())
    metrics = {"final_loss": float(np.mean(losses[-100:])), "train_seconds": time.perf_counter() - t0}
    log(f"generator: loss {metrics['final_loss']:.4f} ({metrics['train_seconds']:.0f} s)")
    return gen, metrics
