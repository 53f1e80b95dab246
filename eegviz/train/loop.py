"""The training loop the diffusers-generator stages share: a step budget AND a wall-clock cap, a learning rate
that follows progress, EMA weights, and progress lines.

Why a wall-clock cap: the generator is trained on 2 shared CPU cores, where a step's cost varies severalfold
with the machine's load; a stage that must end by a deadline stops at whichever comes first, and records how
many steps it ran, so a rerun can ask for exactly those steps. The learning rate follows the larger of the two
progress fractions (steps done, time used), so a capped stage still ends on a decayed rate.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import torch

log = logging.getLogger("eegviz.train.diffusers_gen")  # the stages share it: train.dist TRAINING_LOGGERS


class Ema:
    """Exponential moving average of a module's weights (the copy that is saved and sampled from).

    `decay` is a cap: the warm-up (1 + step) / (10 + step) reaches 0.999 only after about 9000 steps, so a
    3000-step run ends averaging at 0.997; `last_decay` is the decay the final update used, which training
    records beside the cap."""

    def __init__(self, module: torch.nn.Module, decay: float = 0.999):
        self.decay = decay
        self.last_decay: float | None = None
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up: early weights are not averaged in for long
        self.last_decay = d
        for e, p in zip(self.module.parameters(), module.parameters()):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.module.buffers(), module.buffers()):
            e.copy_(b)


def optimise(loss: torch.Tensor, opt: torch.optim.Optimizer, module: torch.nn.Module, avg: Ema, step: int) -> float:
    """One update shared by the teacher and the student: gradients clipped to norm 1, then the EMA follows."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    opt.step()
    avg.update(module, step)
    return loss.item()


@dataclass
class LoopResult:
    steps: int
    seconds: float
    stopped_by: str  # "steps" or "time"
    losses: list[float] = field(default_factory=list)

    def summary(self, tail: int = 50) -> dict:
        """Step counts and the mean loss over the first and the last `tail` steps (a quarter of a short run)."""
        tail = max(1, min(tail, len(self.losses) // 4))
        last = self.losses[-tail:] or [float("nan")]
        first = self.losses[:tail] or [float("nan")]
        return {"steps": self.steps, "seconds": round(self.seconds, 1), "stopped_by": self.stopped_by,
                "loss_first": float(sum(first) / len(first)), "loss_last": float(sum(last) / len(last))}


def run_loop(name: str, steps: int, step_fn, opt: torch.optim.Optimizer, *, lr: float, max_minutes: float = 0.0,
             warmup: int = 50, log_every: int = 50) -> LoopResult:
    """Call loss = step_fn(i, frac) (it does its own backward) until `steps` or `max_minutes` (0: no cap);
    step_fn's return value (a float loss) is logged. The optimiser's lr is set before each step: linear warm-up,
    then cosine decay over the progress fraction (warm-up at most a tenth of the steps)."""
    t0 = time.perf_counter()
    cap = max_minutes * 60.0
    res = LoopResult(0, 0.0, "steps")
    warmup = min(warmup, max(1, steps // 10))
    for i in range(steps):
        elapsed = time.perf_counter() - t0
        if cap and elapsed >= cap:
            res.stopped_by = "time"
            break
        frac = max(i / max(steps, 1), elapsed / cap if cap else 0.0)
        scale = min(1.0, (i + 1) / max(warmup, 1)) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr * max(scale, 0.02)
        res.losses.append(float(step_fn(i, frac)))
        res.steps = i + 1
        if log_every and (i + 1) % log_every == 0:
            recent = res.losses[-log_every:]
            log.info(f"{name}: step {i + 1}/{steps} loss {sum(recent) / len(recent):.4f} "
                     f"({time.perf_counter() - t0:.0f} s)")
    res.seconds = time.perf_counter() - t0
    log.info(f"{name}: done, {res.steps} steps in {res.seconds:.0f} s (stopped by {res.stopped_by})")
    return res
