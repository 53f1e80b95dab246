"""A stimulus classifier trained offline on the synthetic stimulus set: the stand-in for NeuroImagen's
ImageNet classifier when judging whether a reconstruction shows the right class (N-way top-k).

Trained on fresh renders (seed 1, never the evaluation images) so it judges shape, not memorised pictures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from eegviz.modelio import load_module, save_module


class StimulusClassifier(nn.Module):
    def __init__(self, n_classes: int = 40, size: int = 32):
        super().__init__()
        self.size = size

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(3, 32), block(32, 64), block(64, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(96, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) in [0,1], any H, W (resized to the training size)."""
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", antialias=True, align_corners=False)
        return self.head(self.body(x))

    @torch.inference_mode()
    def logits_uint8(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).float().permute(0, 3, 1, 2) / 255.0
        return self.eval()(x).numpy()


def train_classifier(n_per_class: int = 200, epochs: int = 15, seed: int = 1, size: int = 32) -> StimulusClassifier:
    from eegviz.world.stimuli import CLASSES, render_batch, stimulus_set

    torch.manual_seed(seed)
    specs = stimulus_set(n_per_class, seed=seed)
    imgs, _ = render_batch(specs, size=size)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
    y = torch.tensor([s.class_idx for s in specs])
    clf = StimulusClassifier(len(CLASSES), size)
    opt = torch.optim.AdamW(clf.parameters(), lr=3e-3)
    for _ in tqdm(range(epochs), desc="stimulus classifier", leave=False):
        clf.train()
        for b in torch.randperm(len(x)).split(64):
            xb = x[b]
            # blur/noise/contrast augmentation: reconstructions are softer and noisier than renders, and the
            # classifier should judge the shape, not the rendering style
            r = float(torch.rand(()))
            if r < 0.5:
                xb = F.avg_pool2d(xb, 3, 1, 1, count_include_pad=False)
            if r < 0.2:
                xb = F.avg_pool2d(xb, 3, 1, 1, count_include_pad=False)
            gain = 0.7 + 0.6 * torch.rand(len(xb), 1, 1, 1)
            mean = xb.mean(dim=(2, 3), keepdim=True)
            xb = (mean + (xb - mean) * gain + 0.05 * torch.randn_like(xb)).clamp(0, 1)
            loss = F.cross_entropy(clf(xb), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return clf.eval()


def save_classifier(clf: StimulusClassifier, path: Path) -> None:
    save_module(clf, Path(path))


def load_classifier(path: Path, n_classes: int = 40) -> StimulusClassifier:
    return load_module(StimulusClassifier(n_classes), Path(path))
