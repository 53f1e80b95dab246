"""EEG encoder f(eeg) of the pixel branch, trained with a triplet loss (same-class anchor/positive).

A compact spatial-then-temporal convolutional net: a learned spatial filter bank first (like CSP/xDAWN, it
collapses 128 electrodes into a few virtual sources), then temporal convolutions over the evoked window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eegviz.component import Component, register_to_config


class EEGEncoder(Component):
    @register_to_config
    def __init__(self, n_channels: int, n_times: int, out_dim: int = 128, n_spatial: int = 32, width: int = 64):
        super().__init__()
        self.spatial = nn.Conv1d(n_channels, n_spatial, 1)
        self.temporal = nn.Sequential(
            nn.Conv1d(n_spatial, width, 7, stride=2, padding=3), nn.BatchNorm1d(width), nn.GELU(),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.BatchNorm1d(width), nn.GELU(),
            nn.AdaptiveAvgPool1d(8),
        )
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(width * 8, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.temporal(self.spatial(x)).flatten(1)
        return self.head(self.drop(h))


def triplet_loss_semihard(emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Batch triplet loss on L2-normalised embeddings with semi-hard negative mining.

    For each anchor/positive pair (same class), the negative is the closest different-class sample that is
    still farther than the positive (semi-hard); if none exists, the hardest negative is used. Semi-hard mining
    avoids the collapse that pure hardest-negative mining causes early in training.
    """
    emb = F.normalize(emb, dim=1)
    d = torch.cdist(emb, emb)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    pos_mask = same & ~eye
    a_idx, p_idx = pos_mask.nonzero(as_tuple=True)
    if len(a_idx) == 0:
        return emb.sum() * 0.0
    d_ap = d[a_idx, p_idx]
    d_an = d[a_idx]  # (n_pairs, B)
    neg = ~same[a_idx]
    inf = torch.tensor(float("inf"), device=emb.device)
    semi = neg & (d_an > d_ap[:, None])
    semi_d = torch.where(semi, d_an, inf).min(dim=1).values
    hard_d = torch.where(neg, d_an, inf).min(dim=1).values
    d_neg = torch.where(torch.isfinite(semi_d), semi_d, hard_d)
    return F.relu(d_ap - d_neg + margin).mean()
