"""Where, how big, what colour: the object attributes the pixel branch reads from EEG.

The triplet encoder makes every image of a class alike by design, so its feature keeps the class and loses
the rest (a ridge readout of stimulus position from it reaches R^2 0.07, against 0.48-0.66 from the raw
epoch). A saliency map conditioned on it alone can only draw a class-average blob. The AttributeEncoder reads
the rest from the epoch itself: the object's centroid, its size, its colour and the background's, six
numbers per dimension pair, each defined from the stimulus image and its silhouette (`object_attributes`), so
the same definition serves the synthetic world and real photographs.

Two paths, summed: a linear readout over 20 ms bins of every channel (retinotopic position lives in the
early, contralateral C1/P1 topography, which a linear map captures best: a ridge readout beats a convnet
there) and the convolutional EEGEncoder trunk (colour and size ride on later, weaker components that need
its spatial filters).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eegviz.component import Component, register_to_config
from eegviz.decoders.encoder import EEGEncoder
from eegviz.decoders.ridge import bin_means, fit_ridge

# the six attribute pairs, in order: centroid (x, y as image fractions, 0 = left/top), size (square root of
# the silhouette's area fraction, and its bounding extent), object colour (r, g, b), background colour (r, g, b)
ATTRIBUTE_NAMES = ("cx", "cy", "size", "extent", "obj_r", "obj_g", "obj_b", "bg_r", "bg_g", "bg_b")
N_ATTRIBUTES = len(ATTRIBUTE_NAMES)


def _span(occupied: np.ndarray) -> np.ndarray:
    """(N, L) bool -> fraction of L from the first to the last True (0 where none)."""
    n = occupied.shape[1]
    first = np.argmax(occupied, 1)
    last = n - 1 - np.argmax(occupied[:, ::-1], 1)
    return np.where(occupied.any(1), (last - first + 1) / n, 0.0)


def object_attributes(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) images in [0, 1] and (N, H, W) soft silhouettes -> (N, 10) attributes (ATTRIBUTE_NAMES).

    An empty silhouette counts as a centred object of zero size coloured like the background."""
    m = np.clip(masks.astype(np.float64), 0, 1)
    n, h, w = m.shape
    total = m.sum((1, 2))
    safe = np.maximum(total, 1e-6)
    xs, ys = (np.arange(w) + 0.5) / w, (np.arange(h) + 0.5) / h
    cx = np.where(total > 0, (m.sum(1) * xs).sum(1) / safe, 0.5)
    cy = np.where(total > 0, (m.sum(2) * ys).sum(1) / safe, 0.5)
    size = np.sqrt(total / (h * w))
    hard = m > 0.5
    extent = np.maximum(_span(hard.any(2)), _span(hard.any(1)))  # bounding box: the larger side, as a fraction
    img = images.astype(np.float64)
    bg_w = 1 - m
    bg = (img * bg_w[..., None]).sum((1, 2)) / np.maximum(bg_w.sum((1, 2)), 1e-6)[:, None]
    obj = np.where(total[:, None] > 0, (img * m[..., None]).sum((1, 2)) / safe[:, None], bg)
    return np.concatenate([np.stack([cx, cy, size, extent], 1), obj, bg], 1).astype(np.float32)


class AttributeEncoder(Component):
    """(B, n_channels, n_times) preprocessed epoch -> (B, 10) object attributes (see ATTRIBUTE_NAMES).

    The linear readout is fit first, in closed form (fit_linear); the trunk then trains on what it leaves.
    Trained on standardised targets; `mean`/`std` buffers map its output back to attribute units, and
    `residual_std` (the validation error per attribute, set after training) is the noise the saliency
    generator is trained with, so it learns to draw from predictions as uncertain as the real ones."""

    @register_to_config
    def __init__(self, n_channels: int, n_times: int, bin_samples: int = 5, hidden: int = 128, n_colours: int = 8):
        super().__init__()
        self.n_bins = n_times // bin_samples
        self.linear = nn.Linear(n_channels * self.n_bins, N_ATTRIBUTES)
        self.trunk = EEGEncoder(n_channels, n_times, out_dim=hidden)
        self.head = nn.Sequential(nn.GELU(), nn.Linear(hidden, N_ATTRIBUTES))
        self.colour_head = nn.Sequential(nn.GELU(), nn.Linear(hidden, n_colours))
        self.register_buffer("mean", torch.zeros(N_ATTRIBUTES))
        self.register_buffer("std", torch.ones(N_ATTRIBUTES))
        self.register_buffer("residual_std", torch.zeros(N_ATTRIBUTES))
        self.register_buffer("colour_prototypes", torch.full((n_colours, 3), 0.5))

    def set_colour_vocabulary(self, obj_rgb: torch.Tensor, seed: int = 0) -> None:
        """The object colours the encoder chooses among: k-means centres of the training stimuli's object colours
        (scikit-learn). A regression of RGB from EEG returns the average of the colours it cannot tell apart, a
        grey no stimulus had; a choice among colours the stimuli really had returns one of them."""
        from sklearn.cluster import KMeans

        k = self.config.n_colours
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(obj_rgb.double().numpy())
        self.colour_prototypes.copy_(torch.as_tensor(km.cluster_centers_, dtype=torch.float32))

    def colour_labels(self, obj_rgb: torch.Tensor) -> torch.Tensor:
        """Index of the nearest colour prototype for each (N, 3) object colour."""
        return torch.cdist(obj_rgb.float(), self.colour_prototypes).argmin(1)

    def binned(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ch, T) -> (B, ch * bins): the mean of each channel over consecutive bins of `bin_samples`."""
        return bin_means(x, self.config.bin_samples)

    def colour_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.colour_head(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attributes in their units; the object colour is the most likely colour prototype. The trunk runs once
        for both heads (the convolutional part; the linear readout is a single matrix product)."""
        h = self.trunk(x)
        attrs = (self.linear(self.binned(x)) + self.head(h)) * self.std + self.mean
        chosen = self.colour_prototypes[self.colour_head(h).argmax(1)]
        return torch.cat([attrs[:, :4], chosen, attrs[:, 7:]], 1)

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """MSE in standard units of the targets, plus cross-entropy of the object's colour prototype."""
        h = self.trunk(x)
        mse = F.mse_loss(self.linear(self.binned(x)) + self.head(h), (target - self.mean) / self.std)
        return mse + F.cross_entropy(self.colour_head(h), self.colour_labels(target[:, 4:7]))

    @torch.no_grad()
    def fit_linear(self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                   alphas=(1.0, 10.0, 100.0, 1e3, 1e4)) -> dict[str, float]:
        """Fit the linear readout in closed form (ridge regression, one penalty per attribute chosen on the
        validation trials) and freeze it; the convolutional path then learns only what it leaves over.

        Closed form because the readout has more inputs (channels x bins) than there are training trials:
        gradient descent would take many epochs to find what one solve gives exactly. Solved in the dual
        (trials x trials), with one eigendecomposition shared by every penalty (eegviz.decoders.ridge). Returns
        the chosen penalties."""
        weight, bias, chosen = fit_ridge(self.binned(x_train), (y_train - self.mean) / self.std,
                                         self.binned(x_val), (y_val - self.mean) / self.std, alphas)
        self.linear.weight.copy_(weight)
        self.linear.bias.copy_(bias)
        self.linear.requires_grad_(False)
        return {name: float(a) for name, a in zip(ATTRIBUTE_NAMES, chosen)}
