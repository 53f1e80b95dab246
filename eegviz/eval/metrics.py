"""Reconstruction metrics as NeuroImagen reports them, the pixel ones, and object-region ones that can fail.

N-way top-k: classify the reconstruction; it is a hit if, among the true class and N-1 random other classes,
the true class is in the classifier's top k. With N equal to the number of classes this is plain top-k.

Inception Score: exp(E_x KL(p(y|x) || p(y))) over the classifier's softmax; high when each image is classified
confidently and the set covers many classes. It is the paper's IS only when the classifier is Inception-v3.
The trials are shuffled (seeded) before they are cut into splits: test trials come class-ordered, and a split of
50 class-ordered trials holds only a handful of classes, which caps IS near that handful whatever the images.

SSIM: the standard Gaussian-window SSIM (11x11, sigma 1.5, K = 0.01/0.03, data range 1; pytorch-msssim), the
window papers report. On stimuli that are mostly background a flat image of the background colour already
scores high, so `flat_ssim_baselines` gives the figure any reconstruction has to beat.

Object-region metrics (synthetic stimuli, whose silhouette and colour are known): the predicted object is the
set of pixels far from the image's own background colour (median of its border pixels); scored against the
stimulus silhouette by IoU, by the centroid (Pearson r across trials of x and of y, and mean distance, in image
fractions), and by colour (the named colour whose line from the background passes nearest to the predicted
object's mean colour, against the stimulus's colour name; chance 1 / palette size).
"""

from __future__ import annotations

import numpy as np

from eegviz.data.images import background_colour, object_mask


def topk_hit(greater, ties, k: int):
    """Top-k hit of a true candidate that `greater` others outscore and `ties` others equal, with ties broken
    at random: its expected value, so an uninformative (constant) score sits at chance instead of winning
    every tie. Works elementwise on arrays."""
    return np.clip((k - np.asarray(greater)) / (np.asarray(ties) + 1.0), 0.0, 1.0)


def nway_topk(logits: np.ndarray, labels: np.ndarray, n_way: int, k: int = 1, trials: int = 20, seed: int = 0) -> float:
    """N-way top-k: the true class against n_way - 1 random other classes, `trials` draws per row. Ties count
    as random tie-breaks (topk_hit); non-finite logits are refused (a NaN compares false with everything and
    would otherwise rank first)."""
    logits = np.asarray(logits)
    if not np.all(np.isfinite(logits)):
        raise ValueError("classifier logits hold NaN or inf")
    rng = np.random.default_rng(seed)
    n_classes = logits.shape[1]
    n_way = min(n_way, n_classes)
    hits = []
    for _ in range(trials):
        for row, y in zip(logits, labels):
            others = rng.choice(np.delete(np.arange(n_classes), y), n_way - 1, replace=False)
            hits.append(topk_hit((row[others] > row[y]).sum(), (row[others] == row[y]).sum(), k))
    return float(np.mean(hits))


def ssim_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image Gaussian-window SSIM (11x11, sigma 1.5, data range 1) of (N, H, W, 3) images in [0, 1]."""
    import torch
    from pytorch_msssim import ssim

    ta = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(0, 3, 1, 2)
    tb = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)).permute(0, 3, 1, 2)
    if min(ta.shape[-2:]) < 11:
        raise ValueError(f"SSIM with an 11x11 window needs images of at least 11 pixels, got {tuple(ta.shape[-2:])}")
    with torch.no_grad():
        return ssim(ta, tb, data_range=1.0, size_average=False, win_size=11, win_sigma=1.5).numpy().astype(np.float64)


def ssim_np(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Gaussian-window SSIM between two batches of (N, H, W, 3) images in [0, 1]."""
    return float(ssim_per_image(a, b).mean())


def flat_ssim_baselines(stimuli: np.ndarray) -> dict:
    """SSIM of flat images against the stimuli (N, H, W, 3): each stimulus's own background colour, and
    one grey at the stimuli's mean intensity. A reconstruction's SSIM means something only above these."""
    flat_bg = np.broadcast_to(background_colour(stimuli)[:, None, None, :], stimuli.shape)
    grey = np.full_like(stimuli, float(stimuli.mean()))
    return {"background": ssim_np(flat_bg, stimuli), "mean_grey": ssim_np(grey, stimuli)}


def pixcorr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-image Pearson correlation of flattened pixels."""
    fa = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    fb = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    num = (fa * fb).sum(1)
    den = np.sqrt((fa**2).sum(1) * (fb**2).sum(1)) + 1e-12
    return float(np.mean(num / den))


def inception_score(logits: np.ndarray, splits: int = 10, seed: int = 0) -> dict:
    """IS over (N, classes) logits, as the mean and std over `splits` disjoint parts of a seeded shuffle of the
    trials (fewer parts when there are under 50 images per part, since p(y) from a handful of images is noise).
    `one_split`: IS over all trials at once."""
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)

    def score(part: np.ndarray) -> float:
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1)
        return float(np.exp(kl.mean()))

    splits = max(1, min(splits, len(p) // 50))
    shuffled = p[np.random.default_rng(seed).permutation(len(p))]
    scores = [score(part) for part in np.array_split(shuffled, splits)]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "splits": splits, "shuffled": True,
            "one_split": score(p)}


# ------------------------------------------------------------------------------------- object-region metrics
def centroids(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) masks (bool or soft) -> centroid x and y in image fractions (0 = left/top, 1 = right/bottom);
    the image centre for an empty mask, and a boolean array saying which were empty."""
    m = masks.astype(np.float64)
    n, h, w = m.shape
    total = m.sum((1, 2))
    empty = total <= 0
    xs = (np.arange(w) + 0.5) / w
    ys = (np.arange(h) + 0.5) / h
    safe = np.where(empty, 1.0, total)
    cx = np.where(empty, 0.5, (m.sum(1) * xs).sum(1) / safe)
    cy = np.where(empty, 0.5, (m.sum(2) * ys).sum(1) / safe)
    return np.stack([cx, cy], 1), empty


NO_COLOUR = "none"  # nearest_colour's name for an object that leans toward no palette colour (always a miss)


def nearest_colour(obj: np.ndarray, bg: np.ndarray, palette: dict[str, tuple]) -> list[str]:
    """For each (obj colour, background colour) pair, the palette name c whose segment bg -> c passes nearest
    to obj (contrast-invariant: a faint red is bg + t (red - bg), t < 1). NO_COLOUR where the object leans
    toward none of them (every t clipped to 0: e.g. darker than the background, which no palette colour is):
    there every segment is equally near, and argmin's first name would score a free hit on that colour."""
    names = list(palette)
    cols = np.asarray([palette[k] for k in names], np.float64)  # (K, 3)
    d = cols[None] - bg[:, None]  # (N, K, 3)
    v = (obj - bg)[:, None]  # (N, 1, 3)
    t = np.clip((v * d).sum(-1) / ((d * d).sum(-1) + 1e-12), 0.0, 1.0)
    err = np.linalg.norm(v - t[..., None] * d, axis=-1)
    best = err.argmin(1)
    return [names[k] if t[i, k] > 0 else NO_COLOUR for i, k in enumerate(best)]


def object_trials(pred: np.ndarray, true_masks: np.ndarray, colour_names, palette: dict[str, tuple],
                  classes=None) -> dict:
    """Per-trial object-region scores of predicted images (N, H, W, 3) in [0, 1] against the true soft
    silhouettes (N, H, W) and colour names: iou, predicted/true centroids, colour hit, empty prediction.
    `classes` (N,): the trials' true classes, for the within-class centroid correlation (summarise_objects)."""
    pm = object_mask(pred)
    tm = true_masks > 0.5
    inter = (pm & tm).sum((1, 2))
    union = (pm | tm).sum((1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    pc, empty = centroids(pm)
    tc, _ = centroids(tm)
    bg = background_colour(pred)
    counts = pm.sum((1, 2))[:, None]
    obj = np.where(counts > 0, (pred * pm[..., None]).sum((1, 2)) / np.maximum(counts, 1), bg)
    hit = np.array([a == b for a, b in zip(nearest_colour(obj, bg, palette), colour_names)]) & ~empty
    return {"iou": iou.astype(np.float64), "pred_centroid": pc, "true_centroid": tc, "colour_hit": hit,
            "empty": empty, "n_colours": len(palette), "classes": None if classes is None else np.asarray(classes)}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    # undefined: a constant prediction carries no position information. Constant means every value equal
    # (np.ptp): np.std of 80 copies of 0.5015 is not 0 (its mean rounds), and corrcoef then said 1.0
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _within(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """values less their class's mean: what is left once the class is known.

    The same numbers, bit for bit, as subtracting each class's out[classes == c].mean() in a loop over the classes
    (sums by bincount, which adds in order from zero as numpy's sum does below 8 values; a class of 8 or more is
    summed by numpy, pairwise), except that a class whose values are all equal leaves exact zeros even where its
    mean rounded: residuals that are all zero are what _pearson calls constant (NaN), as a class that says
    nothing beyond itself should be."""
    _, group = np.unique(classes, return_inverse=True)
    group = np.asarray(group).ravel()
    out = values.astype(np.float64)
    sizes = np.bincount(group)
    sums = np.bincount(group, weights=out)
    for g in np.flatnonzero(sizes >= 8).tolist():
        sums[g] = np.add.reduce(out[group == g])
    resid = out - (sums / sizes)[group]
    # a class whose values are all equal leaves exact zeros, whatever its mean rounded to (_pearson's "constant")
    lo, hi = np.full(len(sizes), np.inf), np.full(len(sizes), -np.inf)
    np.minimum.at(lo, group, out)
    np.maximum.at(hi, group, out)
    resid[(lo == hi)[group]] = 0.0
    return resid


def summarise_objects(t: dict, idx: np.ndarray | None = None, located: np.ndarray | None = None) -> dict:
    """Object-region summary of object_trials() output, over trials `idx` (all when None).

    The where-metrics (centroid correlations and error, and the always-the-centre baseline centre_err) are taken
    over the trials in `located` (a boolean mask over idx; default: those whose prediction has an object). An
    empty prediction has no centroid: placed at the image centre it made a blank image a better guess than a
    shuffled one, and it moved the correlations wherever blanks were chosen by position. empty_fraction says
    how many were left out (a model that blanks its hard trials shows there, not in these). The centroid's
    pooled correlation counts the class too (each shape's centroid sits off its box by a class-specific
    amount), so with the trials' classes it is also given within class (class means removed from both):
    where-decoding beyond what the class alone gives."""
    idx = np.arange(len(t["iou"])) if idx is None else np.asarray(idx)
    empty = t["empty"][idx]
    on = ~empty if located is None else np.asarray(located, bool)
    pc, tc = t["pred_centroid"][idx][on], t["true_centroid"][idx][on]
    out = {"iou": float(t["iou"][idx].mean()),
           "centroid_r_x": _pearson(pc[:, 0], tc[:, 0]), "centroid_r_y": _pearson(pc[:, 1], tc[:, 1]),
           "centroid_err": float(np.linalg.norm(pc - tc, axis=1).mean()) if len(pc) else float("nan"),
           "centre_err": float(np.linalg.norm(tc - 0.5, axis=1).mean()) if len(tc) else float("nan"),
           "colour_acc": float(t["colour_hit"][idx].mean()), "colour_chance": 1.0 / t["n_colours"],
           "empty_fraction": float(empty.mean())}
    if t.get("classes") is not None:
        cls = t["classes"][idx][on]
        for axis, name in ((0, "x"), (1, "y")):
            out[f"centroid_r_{name}_within_class"] = _pearson(_within(pc[:, axis], cls), _within(tc[:, axis], cls))
    return out


def object_metrics(pred: np.ndarray, true_masks: np.ndarray, colour_names, palette: dict[str, tuple],
                   classes=None) -> dict:
    return summarise_objects(object_trials(pred, true_masks, colour_names, palette, classes))


OBJECT_KEYS = ("iou", "centroid_r_x", "centroid_r_y", "centroid_err", "colour_acc")
WITHIN_KEYS = ("centroid_r_x_within_class", "centroid_r_y_within_class")


def _class_layout(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What _weighted_pearson needs of the trials' classes, worked out once per call of weighted_summaries (it was
    redone for each of its four within-class centrings): each trial's class index, a one-hot (N, K) to sum weights
    by class, and the trials in class order with where each class starts (for its min and max)."""
    _, groups = np.unique(classes, return_inverse=True)
    groups = np.asarray(groups).ravel()
    onehot = np.zeros((len(groups), int(groups.max()) + 1 if len(groups) else 0))
    onehot[np.arange(len(groups)), groups] = 1.0
    order = np.argsort(groups, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(groups[order]) != 0])
    return groups, onehot, order, starts


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray, layout=None) -> np.ndarray:
    """Per row of weights w (R, N): the Pearson correlation of x and y (N,) over the trials weighted so (a trial of
    weight 2 counted twice); with a _class_layout, of x and y less their weighted class means (_within).
    NaN where _pearson's is: under 2 weighted trials, or x or y constant on the trials weighted (tested exactly,
    by min == max, so a constant never passes for a variable through rounding)."""
    m = w.sum(1)
    on = w > 0

    def centred(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if layout is None:
            lo = np.where(on, v, np.inf).min(1)
            hi = np.where(on, v, -np.inf).max(1)
            mean = (w @ v) / np.maximum(m, 1e-300)
            return v[None, :] - mean[:, None], lo == hi
        groups, onehot, order, starts = layout
        sizes = w @ onehot
        means = ((w * v) @ onehot) / np.maximum(sizes, 1e-300)
        resid = v[None, :] - means[:, groups]
        # residuals are constant (all zero) exactly where every class is constant on its weighted trials
        lo = np.minimum.reduceat(np.where(on, v, np.inf)[:, order], starts, axis=1)
        hi = np.maximum.reduceat(np.where(on, v, -np.inf)[:, order], starts, axis=1)
        return resid, ((lo == hi) | ~np.isfinite(lo)).all(1)

    xc, x_const = centred(np.asarray(x, np.float64))
    yc, y_const = centred(np.asarray(y, np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (w * xc * yc).sum(1) / np.sqrt((w * xc * xc).sum(1) * (w * yc * yc).sum(1))
    r = np.clip(r, -1.0, 1.0)  # as np.corrcoef clips
    r[(m < 2) | x_const | y_const] = np.nan
    return r


def weighted_summaries(t: dict, w: np.ndarray, located: np.ndarray) -> dict:
    """summarise_objects' OBJECT_KEYS and WITHIN_KEYS for many resamples at once: row r of w (R, N) says how often
    each trial is in resample r (a paired bootstrap's draws); the where-metrics are taken over the trials in
    `located` (N,) bool. The same numbers as summarise_objects on each resample's trials, to rounding."""
    total = w.sum(1)
    wl = w * np.asarray(located, bool)[None, :]
    m = wl.sum(1)
    pc, tc = t["pred_centroid"].astype(np.float64), t["true_centroid"].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"iou": (w @ t["iou"].astype(np.float64)) / total,
               "colour_acc": (w @ t["colour_hit"].astype(np.float64)) / total,
               "centroid_err": np.where(m > 0, (wl @ np.linalg.norm(pc - tc, axis=1)) / m, np.nan),
               "centroid_r_x": _weighted_pearson(pc[:, 0], tc[:, 0], wl),
               "centroid_r_y": _weighted_pearson(pc[:, 1], tc[:, 1], wl)}
    if t.get("classes") is not None:
        layout = _class_layout(t["classes"])
        for axis, name in ((0, "x"), (1, "y")):
            out[f"centroid_r_{name}_within_class"] = _weighted_pearson(pc[:, axis], tc[:, axis], wl, layout)
    return out


def paired_bootstrap_diff(a: dict, b: dict, n_resamples: int = 1000, seed: int = 0, groups=None) -> dict:
    """{metric: {diff, ci95}} of summarise_objects(a) - summarise_objects(b) over the same trials, with a paired
    percentile bootstrap interval (a and b resampled together), and "units": how many units were resampled.

    The where-metrics of both sides are taken over the trials where both predictions have an object: on each
    side's own non-empty trials, a side that blanks its hard trials would win the comparison by drawing less.
    `groups` (N,) or (N, k): the independent unit of each trial, e.g. its (subject, image). Trials of one unit
    share their stimulus and much of their response (repeats of an image), so resampling trials one by one
    would treat them as independent and narrow the interval; with groups, whole units are resampled. None:
    each trial is its own unit. An interval is None where it is undefined: under 2 units, or a statistic
    undefined (NaN) in over 5% of the resamples (a constant prediction has no correlation)."""
    n = len(a["iou"])
    if groups is None:
        inverse = np.arange(n)
    else:
        g = np.asarray(groups)
        g = g.reshape(n, -1)
        _, inverse = np.unique(g, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
    n_units = int(inverse.max()) + 1 if n else 0
    both = ~a["empty"] & ~b["empty"]

    def diffs(idx: np.ndarray) -> dict:
        sa, sb = summarise_objects(a, idx, both[idx]), summarise_objects(b, idx, both[idx])
        return {k: sa[k] - sb[k] for k in sa if k in OBJECT_KEYS + WITHIN_KEYS and k in sb}

    full = diffs(np.arange(n))
    rng = np.random.default_rng(seed)
    draws: dict = {k: [] for k in full}
    if n_units >= 2:
        # each resample as a count per trial (how often its unit was drawn): the same draws as concatenating the
        # drawn units' trials, scored for many resamples at once (a loop of summarise_objects calls was most of an
        # evaluation's time)
        step = max(1, min(n_resamples, 2_000_000 // max(n, 1)))
        for start in range(0, n_resamples, step):
            counts = np.stack([np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)
                               for _ in range(min(step, n_resamples - start))])
            w = counts[:, inverse].astype(np.float64)
            wa, wb = weighted_summaries(a, w, both), weighted_summaries(b, w, both)
            for k in draws:
                draws[k].append(wa[k] - wb[k])
    draws = {k: np.concatenate(v) if v else np.zeros(0) for k, v in draws.items()}
    out: dict = {"units": n_units}
    for key, diff in full.items():
        if not np.isfinite(diff):
            out[key] = {"diff": None, "ci95": None}
            continue
        vals = draws[key]
        finite = vals[np.isfinite(vals)]
        ok = len(vals) and len(finite) >= 0.95 * len(vals)
        ci = [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))] if ok else None
        out[key] = {"diff": float(diff), "ci95": ci}
    return out


def json_safe(obj):
    """NaN/inf -> None recursively, so metrics.json stays valid JSON."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
