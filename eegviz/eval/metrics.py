"""Reconstruction metrics as NeuroImagen reports them, plus the simple pixel ones.

N-way top-k: classify the reconstruction; it is a hit if, among the true class and N-1 random other classes,
the true class is in the classifier's top k. With N equal to the number of classes this is plain top-k.
Inception Score: exp(E_x KL(p(y|x) || p(y))) over the classifier's softmax; high when each image is classified
confidently and the set covers many classes. It is the paper's IS only when the classifier is Inception-v3.
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


def inception_score(logits: np.ndarray, splits: int = 10) -> dict:
    """IS over (N, classes) logits, as the mean and std over `splits` disjoint parts (the usual protocol;
    fewer parts when there are under 50 images per part, since p(y) from a handful of images is noise)."""
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    splits = max(1, min(splits, len(p) // 50))
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1)
        scores.append(float(np.exp(kl.mean())))
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "splits": splits}
