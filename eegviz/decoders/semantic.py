"""Sample-level branch: EEG -> text embedding of the stimulus caption, trained with an L2 loss.

Its own encoder trunk (the paper trains the branches separately), ending in a (tokens x dim) matrix shaped
like the text encoder's output, so it can stand in for the caption embedding when conditioning the generator.
"""

from __future__ import annotations

import torch
from torch import nn

from eegviz.component import Component, register_to_config
from eegviz.decoders.encoder import EEGEncoder


class SemanticRegressor(Component):
    @register_to_config
    def __init__(self, n_channels: int, n_times: int, n_tokens: int = 16, dim: int = 384, hidden: int = 256):
        super().__init__()
        self.n_tokens, self.dim = n_tokens, dim
        self.trunk = EEGEncoder(n_channels, n_times, out_dim=hidden)
        self.head = nn.Sequential(nn.GELU(), nn.Linear(hidden, n_tokens * dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).view(-1, self.n_tokens, self.dim)
