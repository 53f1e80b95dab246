"""Where, how big, what colour: the object attributes the pixel branch reads from EEG.

The triplet encoder makes every image of a class alike by design, so its feature keeps the class and loses
the rest (a ridge readout of stimulus position from it reaches R^2 0.07, against 0.48-0.66 from the raw
epoch). A saliency map conditioned on it alone can only draw a class-average blob. The AttributeEncoder reads
the rest from the epoch itself: the object's centroid, its size, its colour and the background's, ten
numbers in four groups, each defined from the stimulus image and its silhouette (`object_attributes`), so
the same definition serves the synthetic world and real photographs.

Two paths, summed: a linear readout over 20 ms bins of every channel (retinotopic position lives in the
early, contralateral C1/P1 topography, which a linear map captures best: a ridge readout beats a convnet
there) and the convolutional EEGEncoder trunk (colour and size ride on later, weaker components that need
its spatial filters).

How the linear readout is fit (fit_linear), and why. Each attribute gets its own readout, chosen on the
validation split among a few candidates (READOUT_CANDIDATES):
- spatially whitened or raw: the background EEG is strongly correlated across channels (1/f sources, alpha), and
  a ridge penalty on raw channels spends its budget on those shared directions. Whitening with the noise
  covariance of the pre-stimulus samples (as MNE's inverse methods do) makes the penalty treat every direction
  of the noise alike;
- the whole epoch or a window: the centroid lives in the first 40-220 ms (C1, P1, N1); the later samples add
  thousands of inputs that carry no position and cost the ridge its accuracy;
- with or without the decoded class: where a silhouette's mass sits relative to where the object was placed,
  and how much area it covers, depend on which shape it is, so a per-class offset (the triplet decoder's class,
  as the live path has it) adds what no EEG sample says.
On the shipped model's validation split this took the centroid's correlation from 0.80 / 0.82 (raw, whole
epoch, no class) to 0.88 / 0.90, and the maps' mask IoU from 0.46 to 0.49. Whatever is chosen is folded into
one linear layer over the raw bins (whitening and window are linear) plus a table of per-class offsets.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eegviz.component import Component, register_to_config
from eegviz.decoders.encoder import EEGEncoder
from eegviz.decoders.ridge import bin_means, fit_ridge

# the ten attributes in four groups, in order: centroid (x, y as image fractions, 0 = left/top), size (square root of
# the silhouette's area fraction, and its bounding extent), object colour (r, g, b), background colour (r, g, b)
ATTRIBUTE_NAMES = ("cx", "cy", "size", "extent", "obj_r", "obj_g", "obj_b", "bg_r", "bg_g", "bg_b")
N_ATTRIBUTES = len(ATTRIBUTE_NAMES)

# The linear readout's candidates (see the module docstring), each attribute choosing its own on validation:
# (whitened, window in seconds from onset or None for the whole epoch, weight of the class one-hot (0: none)).
# The first is the readout as it was before whitening and classes were added, so the choice can only match
# or beat it on the validation split. The class weight sets how lightly the ridge penalises the per-class
# offsets against the whitened bins (whose noise is about unit variance); 10 was chosen on validation.
READOUT_CANDIDATES = ((False, None, 0.0),
                      (True, None, 0.0), (True, (0.04, 0.22), 0.0), (True, (0.0, 0.4), 0.0),
                      (True, None, 10.0), (True, (0.04, 0.22), 10.0), (True, (0.0, 0.4), 10.0))
# the linear colour classifier's windows (fit_colour), chosen on validation: the colour component and the early
# responses around it, or the whole epoch
COLOUR_WINDOWS = ((0.04, 0.3), None)
MIN_BASELINE_SAMPLES = 5  # fewer pre-stimulus samples than this per epoch: no whitening (raw candidates only)


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
    def __init__(self, n_channels: int, n_times: int, bin_samples: int = 5, hidden: int = 128, n_colours: int = 8,
                 n_classes: int = 0, linear_colour: bool = False):
        super().__init__()
        self.n_bins = n_times // bin_samples
        self.linear = nn.Linear(n_channels * self.n_bins, N_ATTRIBUTES)
        # linear_colour: the colour's logits also get a linear classifier over the bins (fit_colour), the trunk's
        # colour head learning what it leaves; False is how encoders saved before that read
        self.colour_linear = nn.Linear(n_channels * self.n_bins, n_colours) if linear_colour else None
        if self.colour_linear is not None:
            nn.init.zeros_(self.colour_linear.weight)
            nn.init.zeros_(self.colour_linear.bias)
        # n_classes > 0: the readout also takes the decoded class (a per-class offset, fit with the linear
        # readout); 0 is how encoders saved before that read (no offsets, no class needed)
        self.class_offset = nn.Embedding(n_classes, N_ATTRIBUTES) if n_classes else None
        if self.class_offset is not None:
            nn.init.zeros_(self.class_offset.weight)
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

    def colour_logits(self, x: torch.Tensor, h: torch.Tensor | None = None,
                      xb: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n_colours) logits of the object's colour prototype; `h` the trunk's output and `xb` the binned
        epoch, when already computed."""
        logits = self.colour_head(self.trunk(x) if h is None else h)
        if self.colour_linear is not None:
            logits = logits + self.colour_linear(self.binned(x) if xb is None else xb)
        return logits

    def _linear(self, xb: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
        """The linear readout in standard units of the binned epoch `xb`: the bins' map plus, where the encoder
        reads classes, the decoded class's offset."""
        out = self.linear(xb)
        if self.class_offset is not None:
            if classes is None:
                raise ValueError("this attribute encoder reads the decoded class too: pass `classes`")
            out = out + self.class_offset(torch.as_tensor(classes, dtype=torch.long))
        return out

    def forward(self, x: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """Attributes in their units; the object colour is the most likely colour prototype. `classes` (B,) the
        decoded class per epoch, needed when the encoder was built with n_classes. The trunk runs once for both
        heads (the convolutional part; the linear readout is a single matrix product)."""
        h, xb = self.trunk(x), self.binned(x)
        attrs = (self._linear(xb, classes) + self.head(h)) * self.std + self.mean
        chosen = self.colour_prototypes[self.colour_logits(x, h, xb).argmax(1)]
        return torch.cat([attrs[:, :4], chosen, attrs[:, 7:]], 1)

    def loss(self, x: torch.Tensor, target: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """MSE in standard units of the targets, plus cross-entropy of the object's colour prototype."""
        h, xb = self.trunk(x), self.binned(x)
        mse = F.mse_loss(self._linear(xb, classes) + self.head(h), (target - self.mean) / self.std)
        return mse + F.cross_entropy(self.colour_logits(x, h, xb), self.colour_labels(target[:, 4:7]))

    def freeze_readouts(self) -> None:
        """Keep the closed-form readouts (fit_linear, fit_colour) out of gradient training, as fitting them does;
        for readouts loaded from a checkpoint, whose state dict does not say they were frozen."""
        for m in (self.linear, self.class_offset, self.colour_linear):
            if m is not None:
                m.requires_grad_(False)

    @torch.no_grad()
    def fit_linear(self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                   alphas=(1.0, 10.0, 100.0, 1e3, 1e4), times: np.ndarray | None = None,
                   classes_train: torch.Tensor | None = None, classes_val: torch.Tensor | None = None,
                   candidates=READOUT_CANDIDATES) -> dict[str, dict]:
        """Fit the linear readout in closed form (ridge regression) and freeze it; the convolutional path then
        learns only what it leaves over. Per attribute, the penalty and the candidate readout (whitened or not,
        window, class offsets: READOUT_CANDIDATES, the module docstring says why) are chosen on the validation
        trials. `times` (n_times,) seconds from onset per sample, for the windows and the pre-stimulus noise;
        without it (or without a baseline) only unwhitened whole-epoch candidates run. `classes_*` the decoded
        class per trial, needed for the class candidates when the encoder reads classes.

        Closed form because the readout has more inputs (channels x bins) than there are training trials:
        gradient descent would take many epochs to find what one solve gives exactly. Solved in the dual
        (trials x trials), with one eigendecomposition per candidate shared by every penalty
        (eegviz.decoders.ridge). Returns, per attribute, the chosen penalty and candidate."""
        n_ch, nb = self.config.n_channels, self.n_bins
        yt, yv = (y_train - self.mean) / self.std, (y_val - self.mean) / self.std
        bt, bv = self.binned(x_train).view(-1, n_ch, nb), self.binned(x_val).view(-1, n_ch, nb)
        whiten = noise_whitener(x_train, times) if times is not None else None
        n_cls = self.config.n_classes
        best_err = torch.full((N_ATTRIBUTES,), float("inf"), dtype=torch.float64)
        weight = torch.zeros(N_ATTRIBUTES, n_ch, nb)
        offsets = torch.zeros(N_ATTRIBUTES, max(n_cls, 1))
        bias = torch.zeros(N_ATTRIBUTES)
        chosen: dict[str, dict] = {}
        for white, window, cls_w in candidates:
            if (white and whiten is None) or (window is not None and times is None):
                continue
            if cls_w and (not n_cls or classes_train is None or classes_val is None):
                continue
            keep = self._window(times, window)
            if not keep.any():
                continue
            ft, fv = (_features(b, keep, whiten if white else None) for b in (bt, bv))
            if cls_w:
                ft = torch.cat([ft, cls_w * F.one_hot(torch.as_tensor(classes_train).long(), n_cls).float()], 1)
                fv = torch.cat([fv, cls_w * F.one_hot(torch.as_tensor(classes_val).long(), n_cls).float()], 1)
            w, b, alpha = fit_ridge(ft, yt, fv, yv, alphas)
            err = ((fv.double() @ w.double().T + b.double() - yv.double()) ** 2).mean(0)
            n_bin_in = int(keep.sum()) * n_ch
            w_bins = _unfold(w[:, :n_bin_in], keep, whiten if white else None, n_ch)
            for j in torch.nonzero(err < best_err).flatten().tolist():
                best_err[j] = err[j]
                weight[j] = w_bins[j]
                offsets[j] = cls_w * w[j, n_bin_in:] if cls_w else 0.0
                bias[j] = b[j]
                chosen[ATTRIBUTE_NAMES[j]] = {"alpha": float(alpha[j]), "whitened": bool(white),
                                              "window_s": list(window) if window else None, "class_weight": cls_w}
        self.linear.weight.copy_(weight.flatten(1))
        self.linear.bias.copy_(bias)
        self.linear.requires_grad_(False)
        if self.class_offset is not None:
            self.class_offset.weight.copy_(offsets.T)
            self.class_offset.requires_grad_(False)
        return chosen

    def _window(self, times, window) -> torch.Tensor:
        """(n_bins,) bool: the bins whose mean time (seconds from onset, `times` per sample) lies in
        [window[0], window[1]); every bin for window None."""
        nb, bs = self.n_bins, self.config.bin_samples
        if window is None:
            return torch.ones(nb, dtype=torch.bool)
        bin_t = np.asarray(times)[: nb * bs].reshape(nb, bs).mean(1)
        return torch.from_numpy((bin_t >= window[0]) & (bin_t < window[1]))

    @torch.no_grad()
    def fit_colour(self, x_train: torch.Tensor, obj_train: torch.Tensor, x_val: torch.Tensor, obj_val: torch.Tensor,
                   times, windows=COLOUR_WINDOWS, strengths=(1e-3, 1e-2, 1e-1)) -> dict:
        """Fit the linear colour classifier (multinomial logistic regression, scikit-learn) on whitened bins and
        freeze it; the window and the inverse penalty C are chosen on the validation trials' accuracy. `obj_*`
        (N, 3) the object colours (their nearest prototype is the label). The colour rides on a component around
        150 ms that the trunk, trained on everything at once, read 0.67 of on the shipped model's validation
        split; this readout alone read 0.82 there. Returns the choice and its validation accuracy."""
        from sklearn.linear_model import LogisticRegression

        if self.colour_linear is None:
            raise ValueError("this attribute encoder was built without a linear colour readout")
        n_ch, nb = self.config.n_channels, self.n_bins
        y_tr, y_va = self.colour_labels(obj_train).numpy(), self.colour_labels(obj_val).numpy()
        if len(np.unique(y_tr)) < 2:  # one colour in training: nothing to tell apart (the trunk's head alone)
            self.colour_linear.requires_grad_(False)
            return {"skipped": "one colour prototype among the training trials"}
        bt, bv = self.binned(x_train).view(-1, n_ch, nb), self.binned(x_val).view(-1, n_ch, nb)
        whiten = noise_whitener(x_train, times)
        best: dict = {"val_acc": -1.0}
        for window in windows:
            keep = self._window(times, window)
            if not keep.any():
                continue
            ft, fv = (_features(b, keep, whiten).double().numpy() for b in (bt, bv))
            for c in strengths:
                clf = LogisticRegression(C=c, max_iter=500).fit(ft, y_tr)
                acc = float((clf.predict(fv) == y_va).mean())
                if acc > best["val_acc"]:
                    best = {"val_acc": acc, "C": c, "window_s": list(window) if window else None,
                            "whitened": whiten is not None, "clf": clf, "keep": keep}
        clf, keep = best.pop("clf"), best.pop("keep")
        w = torch.zeros(self.config.n_colours, n_ch, nb)
        b = torch.full((self.config.n_colours,), -30.0)  # a colour no training trial had: never chosen
        coef = _unfold(torch.as_tensor(clf.coef_, dtype=torch.float32), keep, whiten, n_ch)
        rows = torch.as_tensor(clf.classes_, dtype=torch.long)
        if len(rows) == 2:  # scikit-learn's binary case: one row of coefficients for class 1 against class 0
            coef = torch.cat([torch.zeros_like(coef), coef])
            intercept = torch.cat([torch.zeros(1), torch.as_tensor(clf.intercept_, dtype=torch.float32)])
        else:
            intercept = torch.as_tensor(clf.intercept_, dtype=torch.float32)
        for i, r in enumerate(rows.tolist()):
            w[r] = coef[i]
            b[r] = intercept[i]
        self.colour_linear.weight.copy_(w.flatten(1))
        self.colour_linear.bias.copy_(b)
        self.colour_linear.requires_grad_(False)
        return best


def _features(binned: torch.Tensor, keep: torch.Tensor, whiten: torch.Tensor | None) -> torch.Tensor:
    """(N, ch, bins) binned epochs -> (N, ch * kept bins): the `keep` bins, channels whitened when `whiten`."""
    f = binned[..., keep]
    if whiten is not None:
        f = torch.einsum("dc,ncb->ndb", whiten, f)
    return f.flatten(1)


def _unfold(coef: torch.Tensor, keep: torch.Tensor, whiten: torch.Tensor | None, n_ch: int) -> torch.Tensor:
    """(K, ch * kept bins) weights over _features -> (K, ch, all bins) weights over the raw bins, zero outside
    `keep`: the whitening folded in (w . (W x) = (W^T w) . x), so one linear layer over the raw bins computes it."""
    w = coef.view(len(coef), n_ch, int(keep.sum()))
    if whiten is not None:
        w = torch.einsum("kdb,dc->kcb", w, whiten)
    out = torch.zeros(len(coef), n_ch, len(keep))
    out[:, :, keep] = w
    return out


@torch.no_grad()
def noise_whitener(x: torch.Tensor, times, shrink: float = 1e-3, chunk: int = 512) -> torch.Tensor | None:
    """(ch, ch) inverse square root of the noise covariance, estimated from the pre-stimulus samples (times < 0)
    of the epochs x (N, ch, T), each epoch's baseline mean removed; None when there are fewer than
    MIN_BASELINE_SAMPLES of them. A little shrinkage towards the mean variance keeps directions the data does not
    span (a rank lost to an average reference) from being blown up."""
    pre = np.flatnonzero(np.asarray(times)[: x.shape[-1]] < 0)
    if len(pre) < MIN_BASELINE_SAMPLES:
        return None
    n_ch = x.shape[1]
    cov = torch.zeros(n_ch, n_ch, dtype=torch.float64)
    for s in range(0, len(x), chunk):
        b = x[s : s + chunk, :, pre].double()
        b = b - b.mean(-1, keepdim=True)
        cov += torch.einsum("nct,ndt->cd", b, b)
    cov /= len(x) * len(pre)
    cov = (1 - shrink) * cov + shrink * cov.diagonal().mean() * torch.eye(n_ch, dtype=cov.dtype)
    evals, evecs = torch.linalg.eigh(cov)
    return (evecs @ torch.diag(evals.clamp_min(evals.max() * 1e-12).rsqrt()) @ evecs.T).float()
