"""Few-step distillation: a student UNet that does in 1-2 passes, guidance included, what the CFG teacher does in
2 x K passes.

Method: guided knowledge distillation (Luhman & Luhman 2021, "Knowledge distillation in iterative generative
models", with the guidance folded in as Meng et al. 2023 do), on the run-time timesteps only. Each step draws a
fresh batch exactly as run time will see it - a blob latent noised to an img2img start level, pure noise at
t = T for text-only generation, or a noised clean latent at the level a 2-step sampler's second pass sees -
and the teacher's classifier-free-guided DDIM solution from there (K jumps, 2 passes each, no gradient) is the
student's target for its single jump to t = 0. The student starts from the teacher's weights, outputs v like
the teacher (so any diffusers scheduler step turns it into the teacher-sampled clean latent), and is trained
only at the timesteps a DDIM "trailing" schedule of 1-3 steps uses, so no capacity goes to levels run time
never visits. A small anchor to the true clean latent (the synthetic world has it) keeps errors of the teacher
from being copied where the blob says where the object is.

Why this and not LCM / adversarial distillation on 2 CPU cores: LCM's consistency targets need many thousands of
steps to propagate from t = 0 to the img2img band (each step only ties neighbouring timesteps), and ADD adds a
discriminator forward/backward per step and is unstable at small batch; here the teacher's full guided path is
the target from the first step, so a few hundred steps already give a usable 1-pass sampler, and its cost (2K
no-grad teacher passes per sample) is spent where run time samples.
Measured once for the text-only pass (README, "Read this honestly"): 400 steps of adversarial fine-tuning
of the shipped student (latent discriminator conditioned on the caption) made its samples sharper but not the
right shape, and lowered their class on validation renders (0.245 -> 0.105 from the label caption).

Paired targets (`paired` > 0): for inputs that start from a blob, the synthetic world knows the picture the blob
came from, so the student's target there can be that true clean latent itself (weight `paired`; the teacher's
path gets 1 - paired), as one-step paired image-to-image models are trained (Parmar et al. 2024, "One-step
image translation with text-to-image models"). The teacher is then only the target where no pair exists: from
pure noise (text only) and at the second pass's levels. Why: the teacher's own blob-to-image paths name the right
class only about a third of the time (the shipped training.json's guidance_on_val, scored from blob starts), and
a student distilled from them inherits that ceiling; the pairs are the run-time task itself. At paired = 1 the
teacher is not run on blob starts at all, so a step costs less.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch

from eegviz.train.diffusion import Captions, LatentBatches, add_noise, build_scheduler, ddim_solve, x0_from_v
from eegviz.train.loop import Ema, optimise, run_loop

log = logging.getLogger("eegviz.train.diffusers_gen")  # the stages share it: train.dist TRAINING_LOGGERS

# The timesteps a DDIM "trailing" schedule (1000 training steps) visits with 1-3 img2img passes: first passes
# from a blob (BLOB_TIMESTEPS), from pure noise (T-1: text only), and the second passes' levels.
BLOB_TIMESTEPS = (666, 499, 399, 332)
NOISE_TIMESTEP = 999
SECOND_TIMESTEPS = (499, 332, 249, 199)


def student_timesteps(rng: np.random.Generator, n: int, p_noise: float = 0.25, p_second: float = 0.25):
    """(t, from_blob): per sample, one of the run-time levels, and whether its input starts from a blob."""
    kind = rng.random(n)
    t = np.where(kind < p_noise, NOISE_TIMESTEP,
                 np.where(kind < p_noise + p_second, rng.choice(SECOND_TIMESTEPS, n), rng.choice(BLOB_TIMESTEPS, n)))
    return torch.from_numpy(t).long(), torch.from_numpy(kind >= p_noise + p_second)


def distill(teacher, vae, text, *, steps: int = 600, batch: int = 32, lr: float = 2e-4, guidance: float = 3.0,
            teacher_steps: int = 3, anchor: float = 0.1, size: int = 64, ema: float = 0.99, seed: int = 0,
            max_minutes: float = 0.0, log_every: int = 10, p_rich: float = 0.5, paired: float = 0.0, init=None):
    """Returns (the EMA student UNet, metrics). init: the student's starting weights (default: the teacher's),
    e.g. an earlier run's student to continue."""
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 33])
    teacher = teacher.eval().requires_grad_(False)
    student = copy.deepcopy(teacher if init is None else init).train().requires_grad_(True)
    avg = Ema(student, ema)
    sched = build_scheduler()
    caps = Captions(text, p_rich=p_rich, p_uncond=0.0)  # always conditioned: guidance is baked in
    data = LatentBatches(vae, rng, size, p_degraded=0.0)
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)

    def step(i, _frac):
        loss = distill_loss(student, teacher, sched, data, caps, rng, batch=batch, guidance=guidance,
                            teacher_steps=teacher_steps, anchor=anchor, paired=paired)
        return optimise(loss, opt, student, avg, i)

    res = run_loop("distill (1-2 step student)", steps, step, opt, lr=lr, max_minutes=max_minutes, warmup=20,
                   log_every=log_every)
    method = "guided knowledge distillation (teacher DDIM path as target)"
    if paired:
        method += f", paired targets on blob starts (weight {paired:g})"
    return avg.module, {**res.summary(), "method": method,
                        "batch": batch, "lr": lr, "guidance": guidance, "teacher_steps": teacher_steps,
                        "anchor": anchor, "paired": paired, "continued_from_earlier_student": init is not None,
                        "ema": ema, "ema_final_decay": avg.last_decay, "p_rich": p_rich,
                        "blob_timesteps": list(BLOB_TIMESTEPS),
                        "second_timesteps": list(SECOND_TIMESTEPS), "noise_timestep": NOISE_TIMESTEP}


def distill_loss(student, teacher, sched, data: LatentBatches, caps: Captions, rng: np.random.Generator, *,
                 batch: int, guidance: float, teacher_steps: int, anchor: float, paired: float = 0.0) -> torch.Tensor:
    """One fresh batch at the run-time timesteps: the student's one-jump clean latent against the guided
    teacher's DDIM path (plus the small anchor to the true latent); blob starts' target is blended towards the
    true latent by `paired` (see the module docstring)."""
    t, from_blob = student_timesteps(rng, batch)
    specs, z0, start, _ = data.draw(batch, deg=from_blob)
    noise = torch.from_numpy(rng.standard_normal(z0.shape).astype(np.float32))
    x_t = add_noise(sched, start, t, noise)
    ctx = caps.sample(specs, rng)
    target = z0.clone()
    need = ~from_blob if paired >= 1.0 else torch.ones_like(from_blob)  # where the teacher's path is used
    if need.any():
        target[need] = ddim_solve(teacher, sched, x_t[need], t[need], ctx[need], caps.empty, guidance, teacher_steps)
    if 0.0 < paired < 1.0:
        target[from_blob] = (1 - paired) * target[from_blob] + paired * z0[from_blob]
    pred = x0_from_v(sched, x_t, t, student(x_t, t, encoder_hidden_states=ctx).sample)
    return (pred - target).pow(2).mean() + anchor * (pred - z0).pow(2).mean()
