"""Results as curves: decoding accuracy against the number of averaged repetitions of a test image.

Why: one accuracy figure on single trials hides how much signal there is. Real EEG studies report their
headline numbers on averaged repetitions (THINGS-EEG2 averages 80 repetitions of each test image), and what a
live demo can show depends on how many times an image is seen. So for a dataset whose test images repeat,
`eegviz eval` reports top-1 for 1, 2, 4, 8, ... averaged repetitions: the repetitions of each (subject,
image) are shuffled (seeded) and cut into disjoint groups of k, each group's epochs are averaged and decoded
once. Groups never share a trial, so k = 8 on 8 repetitions scores one average per image.

The 95% Wilson intervals count averaged epochs (groups), which is honest for k at the image count and
optimistic for k = 1 (repetitions of one image share its exemplar response); n_images is given beside.
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
    rng = np.random.default_rng([seed, k])
    eeg, labels, n_images = [], [], 0
    for trials in repetition_counts(ds, idx).values():
        if len(trials) < k:
            continue
        n_images += 1
        order = rng.permutation(trials)
        for g in range(len(order) // k):
            eeg.append(ds.eeg[np.sort(order[g * k:(g + 1) * k])].mean(0))
            labels.append(int(ds.labels[order[0]]))
    if not eeg:
        return np.zeros((0,) + ds.eeg.shape[1:], np.float32), np.zeros(0, np.int64), 0
    return np.stack(eeg).astype(np.float32), np.array(labels), n_images


def repetition_curve(ds, idx: np.ndarray, predict, seed: int = 0, levels: list[int] | None = None) -> list[dict]:
    """[{repeats, top1, ci_low, ci_high, n, n_images}] for each level; `predict(eeg (N, ch, t) volts) ->
    labels`. Empty when no image in idx repeats (a curve of one point says nothing an accuracy does not)."""
    groups = repetition_counts(ds, idx)
    max_reps = max((len(v) for v in groups.values()), default=0)
    if max_reps < 2:
        return []
    out = []
    for k in levels or repetition_levels(max_reps):
        x, y, n_images = averaged_groups(ds, idx, k, seed)
        if not len(y):
            continue
        top1 = float((np.asarray(predict(x)) == y).mean())
        lo, hi = wilson(top1 * len(y), len(y))
        out.append({"repeats": int(k), "top1": top1, "ci_low": lo, "ci_high": hi, "n": int(len(y)),
                    "n_images": int(n_images)})
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
        curve = [{"repeats": 1, "top1": top1, "ci_low": lo, "ci_high": hi, "n": int(len(y)),
                  "n_images": int(len(set(map(str, ds.image_ids[test_idx]))))}]
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
