"""Ridge regression in closed form, solved in the dual, with one penalty per output chosen on validation data.

The decoder's linear readouts (object attributes, autoencoder latents) map channels x 20 ms bins (thousands of
inputs) from a few thousand training epochs: more inputs than trials, so the dual (trials x trials) system is
the small one, and one eigendecomposition of it serves every penalty. scikit-learn's RidgeCV would choose one
penalty for all outputs by leave-one-out on the training trials; here each output gets its own, chosen on the
validation split, which is how every other model choice in eegviz is made.
"""

from __future__ import annotations

import torch


def bin_means(x: torch.Tensor, bin_samples: int) -> torch.Tensor:
    """(B, ch, T) -> (B, ch * (T // bin_samples)): each channel's mean over consecutive bins, the readouts' input."""
    n_bins = x.shape[-1] // bin_samples
    return x[..., : n_bins * bin_samples].unflatten(-1, (n_bins, bin_samples)).mean(-1).flatten(1)


@torch.no_grad()
def fit_ridge(x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
              alphas=(1.0, 10.0, 100.0, 1e3, 1e4)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, F) inputs, (N, K) targets -> (weight (K, F), bias (K,), chosen penalty per output (K,)), so that
    x @ weight.T + bias predicts y; the inputs are centred on the training mean inside."""
    mu_x, mu_y = x_train.double().mean(0), y_train.double().mean(0)
    xt, yt = x_train.double() - mu_x, y_train.double() - mu_y
    xv, yv = x_val.double() - mu_x, y_val.double() - mu_y
    evals, evecs = torch.linalg.eigh(xt @ xt.T)
    proj = evecs.T @ yt
    best_err = torch.full((yt.shape[1],), float("inf"), dtype=torch.float64)
    best_w = torch.zeros(xt.shape[1], yt.shape[1], dtype=torch.float64)
    chosen = torch.zeros(yt.shape[1], dtype=torch.float64)
    for alpha in alphas:
        w = xt.T @ (evecs @ (proj / (evals.clamp_min(0) + alpha)[:, None]))
        err = ((xv @ w - yv) ** 2).mean(0)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_w[:, better] = w[:, better]
        chosen[better] = alpha
    return best_w.T.float(), (mu_y - mu_x @ best_w).float(), chosen
