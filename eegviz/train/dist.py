"""Data-parallel training under torchrun: one process per core/GPU, gradients all-reduced by DDP.

`eegviz train` works unchanged on one process. Under `torchrun --nproc-per-node N -m eegviz train ...` every
rank starts from rank 0's weights, draws its own batches (rank-seeded), and averages gradients with all ranks
after each backward pass (what DistributedDataParallel does; done explicitly here because DDP's autograd hooks
trip over the GAN's several forward passes per step). Every rank runs the same validation on the same data so
model selection agrees, and only rank 0 writes files. gloo on CPU, NCCL on GPUs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


class MainRankOnly(logging.Filter):
    """Passes progress records (below WARNING) only on rank 0, so N ranks do not print every line N times;
    warnings and errors come from every rank (a failing rank must say so)."""

    def __init__(self, info: DistInfo):
        super().__init__()
        self.info = info

    def filter(self, record: logging.LogRecord) -> bool:
        return self.info.is_main or record.levelno >= logging.WARNING


# The loggers a training run's progress lines come from. A logger's filters see only the records logged on it
# (not those its children propagate), so each is named. The embedded generator's stages (diffusers_gen,
# autoencoder, diffusion, distill, loop) share diffusers_gen's, so that one name here covers a stage added later;
# it was "eegviz.train.generator", a module deleted long ago, which no line a user sees printed (progress lines go
# to stdout without a logger name, and no warning is logged on it), so it was renamed to a module that is there.
TRAINING_LOGGERS = ("eegviz.train.run", "eegviz.train.decoder", "eegviz.train.diffusers_gen", "eegviz.eval.report",
                    "eegviz.eval.controls")


@contextmanager
def main_rank_logging(info: DistInfo, names: tuple[str, ...] = TRAINING_LOGGERS):
    """Within the block, non-main ranks keep their progress lines to themselves (a no-op on one process)."""
    if info.is_main:
        yield
        return
    flt, loggers = MainRankOnly(info), [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)


def init_from_env() -> DistInfo:
    """Join the process group torchrun describes in the environment (no-op for a plain single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: keep gloo's traffic on loopback
        dist.init_process_group(backend)
    return DistInfo(dist.get_rank(), dist.get_world_size())


def sync_state(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers (BatchNorm statistics) to every rank."""
    if info.enabled:
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(module: nn.Module, info: DistInfo) -> None:
    """All-reduce and average gradients across ranks (call between backward() and step())."""
    if not info.enabled:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= info.world_size


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def state_digest(module: nn.Module) -> str:
    """Short hash of a module's parameters, to show that all ranks ended with the same weights."""
    h = hashlib.sha1()
    for _, p in sorted(module.state_dict().items()):
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def gather_digests(module: nn.Module, info: DistInfo) -> list[str]:
    digest = state_digest(module)
    if not info.enabled:
        return [digest]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, digest)
    return out


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
