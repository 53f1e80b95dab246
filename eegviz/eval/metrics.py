"""Reconstruction metrics as NeuroImagen reports them, plus the simple pixel ones.

N-way top-k: classify the reconstruction; it is a hit if, among the true class and N-1 random other classes,
the true class is in the classifier's top k. With N equal to the number of classes this is plain top-k.
"""

from __future__ import annotations

import numpy as np


def nway_topk(logits: np.ndarray, labels: np.ndarray, n_way: int, k: int = 1, trials: int = 20, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    n_classes = logits.shape[1]
    n_way = min(n_way, n_classes)
    hits = []
    for _ in range(trials):
        for row, y in zip(logits, labels):
            others = rng.choice(np.delete(np.arange(n_classes), y), n_way - 1, replace=False)
            cand = np.concatenate([[y], others])
            top = cand[np.argsort(-row[cand])[:k]]
            hits.append(y in top)
    return float(np.mean(hits))


def ssim_np(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM between two batches of (N, H, W, 3) images in [0,1] (same definition as training)."""
    import torch

    from eegviz.decoders.saliency import ssim

    ta = torch.from_numpy(np.ascontiguousarray(a)).float().permute(0, 3, 1, 2)
    tb = torch.from_numpy(np.ascontiguousarray(b)).float().permute(0, 3, 1, 2)
    return float(ssim(ta, tb).mean())


def pixcorr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-image Pearson correlation of flattened pixels."""
    fa = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    fb = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    num = (fa * fb).sum(1)
    den = np.sqrt((fa**2).sum(1) * (fb**2).sum(1)) + 1e-12
    return float(np.mean(num / den))
