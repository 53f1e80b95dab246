"""Results as curves: decoding accuracy against the number of averaged repetitions of a test image.

Why: one accuracy figure on single trials hides how much signal there is. Real EEG studies report their
headline numbers on averaged repetitions (THINGS-EEG2 averages 80 repetitions of each test image), and what a
live demo can show depends on how many times an image is seen. So for a dataset whose test images repeat,
`eegviz eval` reports top-1 for 1, 2, 4, 8, ... averaged repetitions: the repetitions of each (subject,
image) are shuffled (seeded) and cut into disjoint groups of k, each group's epochs are averaged and decoded
once. Groups never share a trial, so k = 8 on 8 repetitions scores one average per image.

The 95% Wilson intervals count (subject, image) units, n_images, not averaged epochs: repetitions of one image
share its exemplar response, so counting each group would make the k = 1 interval too narrow; counting units
is conservative where repetitions are less than fully correlated. The
gain of k averaged repetitions over single trials (top-1 at k over top-1 at 1) gets its own interval: a
bootstrap over (subject, image), seeded, that resamples the same images for both levels, so it carries the
uncertainty of the single-trial figure as well as that of the averaged one, counted in images, not trials.
Averaging is done on raw epochs; the models' preprocessing (notch, high-pass, re-reference, baseline, scale)
is linear, so that equals averaging preprocessed epochs, which is what the live pipeline does.
"""

from __future__ import annotations

import numpy as np

from eegviz.eval.controls import wilson


def repetition_counts(ds, idx: np.ndarray) -> dict:
    """(subject, image id) -> the trial indices among idx, in dataset order."""
    groups: dict = {}
    for i in idx:
        groups.setdefault((int(ds.subjects[i]), str(ds.image_ids[i])), []).append(int(i))
    return groups


def repetition_levels(max_reps: int) -> list[int]:
    """1, 2, 4, ... up to max_reps, and max_reps itself when it is not a power of two."""
    ks, k = [], 1
    while k <= max_reps:
        ks.append(k)
        k *= 2
    if ks and ks[-1] != max_reps:
        ks.append(max_reps)
    return ks


def averaged_groups(ds, idx: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """(averaged epochs (G, ch, t), their labels, images that contributed) for groups of k repetitions."""
    x, y, _, n_images = _keyed_groups(ds, idx, k, seed)
    return x, y, n_images


def _keyed_groups(ds, idx: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list, int]:
    """averaged_groups, plus each group's (subject, image) key."""
    rng = np.random.default_rng([seed, k])
    eeg, labels, keys, n_images = [], [], [], 0
    for key, trials in repetition_counts(ds, idx).items():
        if len(trials) < k:
            continue
        n_images += 1
        order = rng.permutation(trials)
        for g in range(len(order) // k):
            eeg.append(ds.eeg[np.sort(order[g * k:(g + 1) * k])].mean(0))
            labels.append(int(ds.labels[order[0]]))
            keys.append(key)
    if not eeg:
        return np.zeros((0,) + ds.eeg.shape[1:], np.float32), np.zeros(0, np.int64), [], 0
    return np.stack(eeg).astype(np.float32), np.array(labels), keys, n_images


GAIN_RESAMPLES = 2000


def gain_interval(single: tuple[np.ndarray, list], averaged: tuple[np.ndarray, list], seed: int = 0,
                  n_resamples: int = GAIN_RESAMPLES) -> list[float | None]:
    """95% percentile bootstrap interval of top-1(averaged) / top-1(single) over (subject, image) keys.

    single, averaged: (per-group hit flags, per-group keys) of the two levels. Each resample draws keys with
    replacement and scores both levels on the same draw (an image without a group at a level adds nothing
    there). Resamples whose single-trial top-1 is 0 have no ratio; [None, None] when that is over 5% of them (the
    rule paired_bootstrap_diff follows for an undefined statistic). Dropping them instead kept only the draws that
    hold the few images with a single-trial hit: where those were one image (two of its three repetitions right,
    and its average right), every kept draw gave the same 1.5x and the interval read [1.5, 1.5], certainty drawn
    from one image, with over a third of the draws thrown away."""
    keys = sorted(set(single[1]) | set(averaged[1]))
    pos = {key: i for i, key in enumerate(keys)}

    def per_key(hits, ks):
        at = np.array([pos[key] for key in ks], dtype=np.int64)
        return (np.bincount(at, weights=np.asarray(hits, float), minlength=len(keys)),
                np.bincount(at, minlength=len(keys)).astype(float))

    (h1, n1), (hk, nk) = per_key(*single), per_key(*averaged)
    draw = np.random.default_rng([seed, 1729]).integers(0, len(keys), (n_resamples, len(keys)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (hk[draw].sum(1) / nk[draw].sum(1)) / (h1[draw].sum(1) / n1[draw].sum(1))
    ratio = ratio[np.isfinite(ratio)]
    if not len(ratio) or len(ratio) < 0.95 * n_resamples:
        return [None, None]
    lo, hi = np.percentile(ratio, [2.5, 97.5])
    return [float(lo), float(hi)]


def repetition_curve(ds, idx: np.ndarray, predict, seed: int = 0, levels: list[int] | None = None) -> list[dict]:
    """[{repeats, top1, ci_low, ci_high, n, n_images}] for each level (the Wilson interval over the n_images
    (subject, image) units); `predict(eeg (N, ch, t) volts) -> labels`. Every level after a first one of 1
    repetition adds gain_vs_single {ratio, ci95, over}: its top-1 over the single-trial one, with a bootstrap
    interval over images (gain_interval). Empty when no image in idx repeats (a curve of one point says nothing
    an accuracy does not)."""
    groups = repetition_counts(ds, idx)
    max_reps = max((len(v) for v in groups.values()), default=0)
    if max_reps < 2:
        return []
    out, scored = [], []
    for k in levels or repetition_levels(max_reps):
        x, y, keys, n_images = _keyed_groups(ds, idx, k, seed)
        if not len(y):
            continue
        hit = np.asarray(predict(x)) == y
        top1 = float(hit.mean())
        # the interval counts (subject, image) units, not groups: the groups of one unit (its repeats split k
        # at a time) share their stimulus and much of their response, so counted one by one they would narrow it
        lo, hi = wilson(top1 * n_images, n_images)
        out.append({"repeats": int(k), "top1": top1, "ci_low": lo, "ci_high": hi, "n": int(len(y)),
                    "n_images": int(n_images)})
        scored.append((hit, keys))
    if out and out[0]["repeats"] == 1 and out[0]["top1"] > 0:
        for row, level in zip(out[1:], scored[1:]):
            row["gain_vs_single"] = {"ratio": row["top1"] / out[0]["top1"],
                                     "ci95": gain_interval(scored[0], level, seed),
                                     "over": f"(subject, image), {GAIN_RESAMPLES} paired bootstrap resamples"}
    return out


def probe_curve(ds, spec, seed: int = 0) -> list[dict]:
    """The repetition curve of a linear probe (the controls' logistic regression, eegviz.eval.controls) fitted
    on the training split's single trials: the fast proxy for the decoder used to calibrate the simulator.

    It reads the 20 ms bin means only, not the controls' band powers: averaging repetitions lowers the power of
    everything not phase-locked to the stimulus by itself, so band powers of an average are out of the range
    the probe was fitted on, and the curve would measure that shift instead of the gain in evoked signal."""
    from eegviz.eval.controls import fit_probe, probe_features
    from eegviz.stream.preprocess import prepare_epochs

    def features(x):
        return probe_features(prepare_epochs(x, spec), spec.sfreq)

    train_idx, test_idx = ds.subset("train"), ds.subset("test")
    predict = fit_probe(features(ds.eeg[train_idx]), np.asarray(ds.labels)[train_idx], len(ds.classes))
    curve = repetition_curve(ds, test_idx, lambda x: predict(features(x)), seed)
    if not curve:  # no repetitions: the single-trial point alone
        y = np.asarray(ds.labels)[test_idx]
        top1 = float((predict(features(ds.eeg[test_idx])) == y).mean())
        lo, hi = wilson(top1 * len(y), len(y))
        # n_images as the repetition rows count it: (subject, image) units, here one per trial (it counted the
        # distinct image ids, half the units when two subjects saw the same images, beside an interval over all)
        curve = [{"repeats": 1, "top1": top1, "ci_low": lo, "ci_high": hi, "n": int(len(y)),
                  "n_images": len(repetition_counts(ds, test_idx))}]
    return curve


def spec_for(ds):
    """The InputSpec a model trained on ds would get by default (for probe-only studies, no model needed)."""
    from eegviz.stream.preprocess import InputSpec

    return InputSpec(ch_names=tuple(ds.ch_names), sfreq=ds.sfreq, tmin=ds.tmin,
                     tmax=ds.tmin + ds.eeg.shape[-1] / ds.sfreq)


def add_repetition_curve(metrics: dict, ds, test_idx: np.ndarray, predict) -> None:
    """eegviz eval's hook: metrics["curves"]["repetitions"] when the test images repeat, nothing otherwise;
    predict(eeg) -> labels is the model's class decoding (passed in: report.py imports this module)."""
    curve = repetition_curve(ds, test_idx, predict)
    if curve:
        metrics.setdefault("curves", {})["repetitions"] = curve
