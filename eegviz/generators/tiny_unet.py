"""A small conditional UNet for pixel-space diffusion on 32x32 images, sized for a 2-core CPU.

The text embedding enters twice, as in SD: pooled into the timestep embedding (FiLM in every block) and as a
token sequence through cross-attention at the lowest resolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of continuous t in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = t[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, c_emb: int):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(c_emb, 2 * c_out)
        self.n2, self.c2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.c2(F.silu(self.n2(h) * (1 + scale) + shift))
        return h + self.skip(x)


class CrossAttention(nn.Module):
    def __init__(self, channels: int, ctx_dim: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attn = nn.MultiheadAttention(channels, heads, kdim=ctx_dim, vdim=ctx_dim, batch_first=True)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(q, ctx, ctx, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class TinyUNet(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (32, 64, 96), ctx_dim: int = 64, emb_dim: int = 128):
        super().__init__()
        self.channels, self.ctx_dim, self.emb_dim = channels, ctx_dim, emb_dim
        self.t_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.ctx_mlp = nn.Linear(ctx_dim, emb_dim)
        self.inp = nn.Conv2d(3, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        prev = channels[0]
        for c in channels:
            self.down.append(ResBlock(prev, c, emb_dim))
            prev = c
        self.mid = ResBlock(prev, prev, emb_dim)
        self.attn = CrossAttention(prev, ctx_dim)
        self.up = nn.ModuleList()
        for i in reversed(range(len(channels))):
            c_out = channels[i - 1] if i else channels[0]
            self.up.append(ResBlock(prev + channels[i], c_out, emb_dim))
            prev = c_out
        self.out = nn.Sequential(nn.GroupNorm(8, prev), nn.SiLU(), nn.Conv2d(prev, 3, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        emb = self.t_mlp(timestep_embedding(t, self.emb_dim)) + self.ctx_mlp(ctx.sum(dim=1))
        h = self.inp(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.down) - 1:
                h = F.avg_pool2d(h, 2)
        h = self.attn(self.mid(h, emb), ctx)
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if i < len(self.up) - 1:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        return self.out(h)
