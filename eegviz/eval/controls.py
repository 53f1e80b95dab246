"""Confound controls: is what the decoder reads really the response to the stimulus?

A careful reviewer of EEG-to-image work asks (Li et al., IEEE TPAMI 2020, on the block-design EEG-ImageNet
data): would the same accuracy appear if the EEG carried no stimulus information, only *when* it was recorded?
Each control answers one version of that question by refitting a decoder under a different split or label
assignment and scoring it on trials it never saw:

- image split: the dataset's own split (by image); the reference figure. It holds only if no test image is
  also a training image (a probe that memorised images would pass for one that generalises, and the shuffled
  labels below cannot see that), so `test_images_in_training` counts the test trials whose image is among
  the training trials' images, and the check `test_images_unseen_in_training` wants 0.
- shuffled labels: training labels permuted (SHUFFLES times, pooled). Must sit at chance; above chance means
  the labels leak into the features or the scoring. It is a sanity check of the pipeline, at chance by
  construction otherwise. Its interval counts classes, not trials: where the EEG carries the class strongly,
  a probe fit on permuted labels still sorts test trials by their true class and hands each class one
  (random) label, so its hits come a whole class at a time; on the demo world one permutation scored 0.052
  against a trial-counted band ending at 0.043, which is what 40 units, not 351, make likely.
- leave one subject out: train on the other subjects, test on the held-out one (needs >= 2 subjects).
- blocks kept apart: cross-validation over recording blocks, so no test trial shares a block with a training
  trial. Both are crossed with the image split (train on training images, test on test images only): when
  every subject saw every image, a split by subject or block alone would test on images the probe was fit
  on, and exemplar memory would pass for generalisation. In a block design (one class per block) this is
  where slow-drift "decoding" collapses; when every class lives in a single block per subject and there is
  one subject, no such split exists and it says so. In both, a fold's test trials of a class its training trials
  lack are left out and counted (unscorable_trials), not scored as misses: a probe never names a class it was not
  fit on; the chance level is then that of the classes each fold's probe knows.
- each of the above again after a high-pass (the same filter `eegviz train --highpass` bakes into a model).

Refitting the full two-branch decoder for every control would take hours on 2 cores, so the controls refit a
linear probe instead: multinomial logistic regression (scikit-learn) on the model's preprocessed epochs
averaged in 20 ms bins, plus each channel's log power in five bands (theta, alpha, beta and 2 Hz around 50
and 60 Hz mains) and its phase-locked 50 / 60 Hz component. That keeps the question the same (is there class
information that survives the split?) and is the classic analysis in this literature; the shipped decoder's
own accuracy on the image split is reported next to it. The bin means alone are blind to two confounds a
nonlinear decoder reads easily: random-phase alpha whose power differs between recording blocks (vigilance)
has no mean waveform, and mains at 50 Hz cancels exactly in a 20 ms bin. A control whose probe cannot see a
confound cannot catch it. Every figure carries a 95% Wilson interval (statsmodels) and the chance level's 95%
binomial band (scipy).

Those intervals count independent units, not trials, when the dataset knows its blocks: trials that share a
block and a class can share a confound (one drift, one electrode state), so a probe tends to get all of them
right or all wrong together. With 20 trials per (block, class), a drift-only block design gave 3 of 80 blocks
right by luck, which as 0.037 over 1600 "independent" trials looked above chance. Repetitions of one test
image (`eegviz simulate --repeats`, THINGS-EEG2's test set) are the other shared cause: they share the image's
exemplar response, so a probe tends to get them right or wrong together, yet they land in different blocks.
So n_effective = min(distinct (block, class) pairs, distinct (subject, image) pairs) among the scored trials:
each grouping alone is a ceiling on the independent units, whichever binds. (Where a dataset has no blocks,
the (subject, image) count alone; with repeats 8 that is an eighth of the trials, not all of them.) Not the
stricter count of groups sharing neither (connected components of both groupings together): once repetitions
are spread over mixed-class blocks, one image's repeats link the blocks its class shares with the class's
other images, and the components fall to about one per (subject, class) - 80 for the realistic model's 400
test images - which treats two different images of one class in one subject as a single draw even where
nothing but the block they are scattered over is shared.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from tqdm import tqdm

from eegviz.stream.preprocess import InputSpec, prepare_epochs

log = logging.getLogger(__name__)

BIN_S = 0.02
N_FOLDS = 5
SHUFFLES = 3  # label permutations pooled by the shuffled-label control


def probe_features(x: np.ndarray, sfreq: float, bin_s: float = BIN_S) -> np.ndarray:
    """(N, ch, t) preprocessed epochs -> (N, ch * bins) time-binned means."""
    w = max(1, int(round(bin_s * sfreq)))
    n_bins = x.shape[-1] // w
    return x[..., : n_bins * w].reshape(*x.shape[:-1], n_bins, w).mean(-1).reshape(len(x), -1)


# (name, low Hz, high Hz): the band powers the controls' probe reads beside the evoked response
# (mains: 2 Hz either side of 50 and of 60 Hz; a wider band would drown the one line in broadband EEG)
BANDS_HZ = (("theta", 4.0, 8.0), ("alpha", 8.0, 13.0), ("beta", 13.0, 30.0), ("mains50", 48.0, 52.0),
            ("mains60", 58.0, 62.0))


def band_power_features(x: np.ndarray, sfreq: float, bands=BANDS_HZ) -> np.ndarray:
    """(N, ch, t) epochs -> (N, ch * bands) log mean power per band (Hann periodogram, scipy); a band above
    Nyquist is left out, so a 100 Hz dataset gets three bands."""
    from scipy.signal import periodogram

    freqs, power = periodogram(x, fs=sfreq, window="hann", detrend="constant", axis=-1)
    cols = [power[..., (freqs >= lo) & (freqs < hi)].mean(-1) for _, lo, hi in bands if hi <= sfreq / 2]
    p = np.stack(cols, -1)
    return np.log(p + 1e-6 * float(np.median(p)) + 1e-30).reshape(len(x), -1).astype(np.float32)


def mains_phase_features(x: np.ndarray, sfreq: float, lines_hz=(50.0, 60.0)) -> np.ndarray:
    """(N, ch, t) epochs -> (N, ch * 2 * lines) cosine and sine projections at 50 and 60 Hz (those below
    Nyquist): the phase-locked part of the mains. Interference whose phase is fixed within a recording block is
    a waveform, so a linear probe should see it, but a 20 ms bin mean is exactly zero for 50 Hz; its power
    alone (band_power_features) is a chi-square variable too noisy per trial to carry it."""
    t = np.arange(x.shape[-1]) / sfreq
    freqs = [f for f in lines_hz if f < sfreq / 2]
    if not freqs:
        return np.zeros((len(x), 0), np.float32)
    basis = np.concatenate([np.stack([np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t)]) for f in freqs])
    basis *= 2.0 / len(t)
    return ((x - x.mean(-1, keepdims=True)) @ basis.T).reshape(len(x), -1).astype(np.float32)


def control_features(x: np.ndarray, sfreq: float) -> np.ndarray:
    """What the controls' probe reads from preprocessed epochs: bin means, band powers and the phase-locked
    mains, side by side."""
    return np.concatenate([probe_features(x, sfreq), band_power_features(x, sfreq),
                           mains_phase_features(x, sfreq)], axis=1)


def _features(eeg: np.ndarray, spec: InputSpec, chunk: int = 512) -> np.ndarray:
    """Control features for all trials, preprocessed in chunks (a full EEG-ImageNet in float64 is ~5 GB)."""
    return np.concatenate([control_features(prepare_epochs(eeg[i:i + chunk], spec), spec.sfreq)
                           for i in range(0, len(eeg), chunk)])


def fit_probe(f: np.ndarray, y: np.ndarray, n_classes: int, weight_decay: float = 1e-2, max_iter: int = 500):
    """Multinomial logistic regression (L2, LBFGS) on z-scored features; returns predict(features) -> labels.

    scikit-learn's StandardScaler + LogisticRegression (lbfgs, multinomial for multi-class). Its objective is
    C * sum(cross-entropy) + ||W||^2 / 2, so C = 1 / (weight_decay * n) is the mean cross-entropy plus
    weight_decay * ||W||^2 / 2 that the probe has always used (intercept unpenalised in both). lbfgs from zero
    weights is deterministic. n_classes is kept for the callers' sake: classes absent from a training fold are
    never predicted, as before (their bias would have stayed lowest).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y, dtype=np.int64)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0 / (weight_decay * len(y)), solver="lbfgs",
                                                               max_iter=max_iter))
    with warnings.catch_warnings():
        # A probe stopped short of the optimum is still a probe; the controls compare like with like.
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        # Few training trials per class (`eegviz sweep --images 3`: one training image of each of 40 classes)
        # make scikit-learn guess that the integer labels "could represent a regression problem"; they are
        # classes, and the warning reached the user's terminal as two lines of noise mid-run.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%",
                                category=UserWarning)
        model.fit(np.asarray(f, dtype=np.float64), y)
    return model.predict


def wilson(k: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n (statsmodels); (0, 1) when there is nothing to count.

    The interval always holds k / n; statsmodels' floating point put a perfect score just outside its own
    interval (80 of 80: upper end 0.9999999999999999, below the 1.0 beside it in metrics.json), so the ends
    are widened to k / n where rounding left it out."""
    if n == 0:
        return (0.0, 1.0)
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    p = min(1.0, max(0.0, k / n))
    return (max(0.0, min(float(lo), p)), min(1.0, max(float(hi), p)))


def chance_band(n: int, chance: float, alpha: float = 0.05) -> tuple[float, float]:
    """Central (1 - alpha) range of the accuracy a guesser at `chance` gets on n trials (exact binomial)."""
    from scipy.stats import binom

    lo, hi = binom.ppf([alpha / 2, 1 - alpha / 2], n, chance)
    return (float(lo) / n, float(hi) / n)


def _score(correct: int, n: int, chance: float, n_eff: int | None = None, **extra) -> dict:
    """Accuracy over trials; interval and chance band over n_eff independent units (see module docstring)."""
    n_eff = n if n_eff is None else max(1, min(n_eff, n))
    acc = correct / n if n else float("nan")
    lo, hi = chance_band(n_eff, chance)
    return {"top1": acc, "n": n, "n_effective": n_eff, "ci95": list(wilson(acc * n_eff, n_eff)),
            "chance": chance, "chance_band95": [lo, hi], "above_chance": bool(n and acc > hi),
            "within_chance_band": bool(n and lo <= acc <= hi), **extra}


def images_shared(ds, train_idx: np.ndarray, test_idx: np.ndarray) -> int:
    """How many test trials show an image that training trials show too (the leak shuffled labels cannot see)."""
    seen = set(map(str, np.asarray(ds.image_ids)[train_idx]))
    return int(sum(str(i) in seen for i in np.asarray(ds.image_ids)[test_idx]))


def subject_image_units(ds, idx: np.ndarray) -> np.ndarray:
    """Each trial's (subject, image) unit as one key "subject|image id": repeats of an image to one subject share
    the stimulus and much of the response, so they are one independent unit, not several (effective_units;
    eval.report's bootstrap intervals resample these)."""
    idx = np.asarray(idx, dtype=np.int64)
    subjects = np.asarray(ds.subjects)[idx] if getattr(ds, "subjects", None) is not None else np.zeros(len(idx))
    return np.array([f"{int(s)}|{i}" for s, i in zip(subjects, np.asarray(ds.image_ids)[idx])])


def effective_units(ds, idx: np.ndarray) -> int:
    """Independent units among trials idx (module docstring): min(distinct (block, class), distinct (subject,
    image)); either count alone where the dataset lacks the other's fields; the trial count where it has none."""
    idx = np.asarray(idx, dtype=np.int64)
    counts = [len(idx)]
    if getattr(ds, "blocks", None) is not None:
        counts.append(len({(int(b), int(c)) for b, c in zip(np.asarray(ds.blocks)[idx], np.asarray(ds.labels)[idx])}))
    if getattr(ds, "image_ids", None) is not None:
        counts.append(len(set(subject_image_units(ds, idx))))
    return min(counts)


def block_folds(blocks: np.ndarray, labels: np.ndarray, n_folds: int = N_FOLDS,
                seed: int = 0) -> tuple[list[np.ndarray], str | None]:
    """Assign whole blocks to folds. Returns (test index arrays, reason when no block-apart split exists).

    The folds are scikit-learn's StratifiedGroupKFold with blocks as groups (no block in two folds, class
    proportions kept as even as whole blocks allow). What stays hand-written is the refusal: no library knows
    that when every class lives in one block, any block-apart split tests each class with none of it in
    training, so the "control" would measure nothing.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    blocks, labels = np.asarray(blocks), np.asarray(labels)
    ub = np.unique(blocks)
    if len(ub) < 2:
        return [], "all trials are in one recording block"
    classes = np.unique(labels).tolist()
    blocks_of_class = {c: np.unique(blocks[labels == c]) for c in classes}
    if all(len(v) == 1 for v in blocks_of_class.values()):
        return [], (f"every class was recorded in a single block ({len(classes)} classes, {len(ub)} blocks): "
                    "class and recording time are confounded and no split keeps blocks apart with the class "
                    "in training; judge decoding by the high-pass and leave-one-subject-out controls")
    k = min(n_folds, len(ub))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # "least populated class has < k members"
        folds = [test for _, test in cv.split(np.zeros(len(labels)), labels, groups=blocks)]
    return [np.sort(f) for f in folds if len(f)], None


def controls_skip_reason(ds) -> str | None:
    """Why no control can be run on ds, or None: every probe is fit on training-split trials, and a classifier
    needs two classes to tell apart (scikit-learn refuses one, with a traceback that came after the whole
    evaluation had run), and can name only the classes it was fit on."""
    labels = np.asarray(ds.labels)
    trained = np.unique(labels[ds.subset("train")])
    if len(trained) < 2:
        return (f"the training split holds {'no trials' if not len(trained) else 'trials of one class only'}, and "
                "the controls' probes are fit on training trials of at least two classes")
    missing = np.setdiff1d(np.unique(labels[ds.subset("test")]), trained)
    if len(missing):  # a probe never predicts a class it was not fit on: those trials would score 0 by design
        return (f"{len(missing)} test class(es) have no training trials, and the controls' probes, fit on the "
                "training split, cannot name them")
    return None


def _fittable(train_labels: np.ndarray, test: np.ndarray) -> bool:
    """A probe can be fit and scored: two classes or more to learn, one trial or more to score."""
    return len(test) > 0 and len(np.unique(train_labels)) >= 2


def _known_classes(y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, int]:
    """A fold's test trials whose class the fold's training trials hold, and how many were left out.

    A probe never names a class it was not fit on (controls_skip_reason refuses a whole split for it), so in a fold
    whose training trials lack a class - the held-out subject saw classes the others did not, whole blocks of a
    class in the test fold - that class's test trials scored 0 by design, and leave one subject out read as no
    generalisation. They are left out of the score and counted ("unscorable_trials")."""
    known = np.isin(y[test], y[train])
    return test[known], int((~known).sum())


def _fold_chance(fits, chance: float, n_trained: int) -> float:
    """The chance level of a control scored over several folds, where a fold's probe was fit on fewer of the
    classes than the image split's (n_trained): a guesser among its fold's classes, the image split's chance scaled
    up by how many fewer it knows, averaged over the scored trials; `chance` itself, exactly, wherever every fold
    trained on every class the training split holds."""
    per = [(len(te), chance * n_trained / len(np.unique(lab))) for _, lab, te in fits]
    if all(len(np.unique(lab)) == n_trained for _, lab, _ in fits):
        return chance
    return float(sum(n * c for n, c in per) / sum(n for n, _ in per))


def run_controls(ds, spec: InputSpec, highpass_hz: float = 1.0, seed: int = 0,
                 decoder_top1: float | None = None) -> dict:
    """All controls, each without and with an extra high-pass; JSON-ready dict ({"skipped": why} where
    controls_skip_reason gives a reason)."""
    why = controls_skip_reason(ds)
    if why:
        return {"skipped": why}
    chance = 1.0 / len(ds.classes)
    y = np.asarray(ds.labels)
    variants = {"as_model": spec}
    # a model trained with --highpass already filters "as_model": the variant refilters at the higher cutoff
    # (--controls-highpass 2 on a 0.5 Hz model), and where it is not higher it would test nothing, which is said
    # (it was left out without a word, and with it the survives_highpass check)
    highpass_skipped = None
    if highpass_hz > spec.highpass:
        variants[f"highpass_{highpass_hz:g}hz"] = replace(spec, highpass=highpass_hz)
    elif highpass_hz > 0:
        highpass_skipped = (f"the model already high-passes its input at {spec.highpass:g} Hz (eegviz train "
                            f"--highpass), so a {highpass_hz:g} Hz high-pass changes nothing; pass a higher "
                            "--controls-highpass")
        log.warning("controls: no high-pass variant: %s", highpass_skipped)
    rng = np.random.default_rng(seed)
    out: dict = {"probe": f"multinomial logistic regression on {BIN_S * 1e3:g} ms bin means, log band powers "
                          f"({', '.join(b[0] for b in BANDS_HZ)}) and phase-locked 50/60 Hz, L2", "chance": chance,
                 "decoder_image_split_top1": decoder_top1, "variants": {}}
    if highpass_skipped:
        out["highpass_variant"] = {"skipped": highpass_skipped}
    for name, sp in tqdm(variants.items(), desc="confound controls", unit="variant", disable=None, leave=False):
        out["variants"][name] = _variant_controls(ds, _features(ds.eeg, sp), y, rng, seed)
        res = out["variants"][name]
        log.info("controls (%s): %s", name, ", ".join(
            f"{k} {v['top1']:.3f}" for k, v in res.items() if "top1" in v))
    hp = [v for k, v in out["variants"].items() if k != "as_model"]
    out["checks"] = _checks(out["variants"]["as_model"], hp[0] if hp else None)
    return out


def _fit_predict(f: np.ndarray, train: np.ndarray, labels: np.ndarray, test: np.ndarray, n_classes: int) -> np.ndarray:
    return fit_probe(f[train], labels, n_classes)(f[test])


def _predict_all(f: np.ndarray, fits: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_classes: int) -> list:
    """Test predictions of one probe per (train indices, training labels, test indices), fitted side by side.

    Why processes: a variant's 7-11 fits are independent, and each spends half its time in L-BFGS-B's own
    single-threaded step, so on 2 cores two at once halve the controls' minute (threads gain a fifth). lbfgs
    starts from zero weights, so the predictions are the same as fitted one after another; joblib hands the
    features to the workers as a memory map, not a copy per fit."""
    from joblib import Parallel, delayed

    n_jobs = max(1, min(len(fits), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else os.cpu_count() or 1))
    return Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(f, tr, lab, te, n_classes) for tr, lab, te in fits)


def _variant_controls(ds, f: np.ndarray, y: np.ndarray, rng: np.random.Generator, seed: int) -> dict:
    """The controls of one preprocessing variant (features f, one row per trial): which probes to fit, then
    their scores."""
    n_classes = len(ds.classes)
    chance = 1.0 / n_classes
    train_idx, test_idx = ds.subset("train"), ds.subset("test")
    n_eff = effective_units(ds, test_idx)
    in_train, in_test = ds.split == "train", ds.split == "test"
    subjects = np.unique(ds.subjects)
    # every probe this variant fits, by control: (train indices, training labels, test indices)
    fits = {"image_split": [(train_idx, y[train_idx], test_idx)],
            "shuffled_labels": [(train_idx, rng.permutation(y[train_idx]), test_idx) for _ in range(SHUFFLES)]}
    res: dict = {}
    if len(subjects) >= 2:
        # crossed with the image split: the held-out subject's TEST images, a probe fit on the other subjects'
        # TRAINING images, so neither a subject nor an image is shared (exemplar leakage)
        # a subject without test trials has nothing to score, and the others' training trials may hold one
        # class: both folds are left out (sklearn refused them with a traceback), the scored subjects named
        loso, loso_unscorable = [], 0
        for s in subjects:
            train = np.flatnonzero((ds.subjects != s) & in_train)
            test, unknown = _known_classes(y, train, np.flatnonzero((ds.subjects == s) & in_test))
            if _fittable(y[train], test):
                loso.append((s, (train, y[train], test)))
                loso_unscorable += unknown
        if loso:
            fits["leave_one_subject_out"] = [fit for _, fit in loso]
        else:
            res["leave_one_subject_out"] = {"skipped": "no subject has test trials and, among the other subjects, "
                                                       "training trials of two classes or more"}
    else:
        res["leave_one_subject_out"] = {"skipped": "one subject only"}
    folds = []
    if ds.blocks is None:
        res["blocks_kept_apart"] = {"skipped": "the dataset format carries no block/run information"}
    else:
        folds, why = block_folds(np.asarray(ds.blocks), y, seed=seed)
        if why:
            res["blocks_kept_apart"] = {"skipped": why}
        else:
            # crossed with the image split too: each fold's test-image trials, a probe fit on the training
            # images recorded in the other blocks
            blocks_fits, blocks_unscorable = [], 0
            for fold in folds:
                train = np.setdiff1d(train_idx, fold)
                test, unknown = _known_classes(y, train, np.intersect1d(fold, test_idx))
                if _fittable(y[train], test):
                    blocks_fits.append((train, y[train], test))
                    blocks_unscorable += unknown
            if blocks_fits:
                fits["blocks_kept_apart"] = blocks_fits
            else:
                res["blocks_kept_apart"] = {"skipped": "no fold of whole blocks holds test trials with training "
                                                       "trials of two classes or more outside it"}
    flat = [fit for group in fits.values() for fit in group]
    preds, hits = iter(_predict_all(f, flat, n_classes)), {}
    for key, group in fits.items():
        hits[key] = [int((next(preds) == y[te]).sum()) for _, _, te in group]
    n_trained = len(np.unique(y[train_idx]))  # the classes the image split's probe knows
    res["image_split"] = _score(hits["image_split"][0], len(test_idx), chance, n_eff,
                                test_images_in_training=images_shared(ds, train_idx, test_idx))
    units = min(n_eff, len(np.unique(y[test_idx]))) * SHUFFLES  # hits come a class at a time (docstring)
    res["shuffled_labels"] = _score(sum(hits["shuffled_labels"]), SHUFFLES * len(test_idx), chance, units,
                                    shuffles=SHUFFLES)
    if "leave_one_subject_out" in fits:
        n = [len(te) for _, _, te in fits["leave_one_subject_out"]]
        per = {str(int(s)): k / m for (s, _), k, m in zip(loso, hits["leave_one_subject_out"], n)}
        scored = np.concatenate([te for _, _, te in fits["leave_one_subject_out"]])
        res["leave_one_subject_out"] = _score(sum(hits["leave_one_subject_out"]), sum(n),
                                              _fold_chance(fits["leave_one_subject_out"], chance, n_trained),
                                              effective_units(ds, scored),
                                              per_subject=per, crossed_with_image_split=True,
                                              **({"unscorable_trials": loso_unscorable} if loso_unscorable else {}))
    if "blocks_kept_apart" in fits:
        scored = np.concatenate([te for _, _, te in fits["blocks_kept_apart"]])
        res["blocks_kept_apart"] = _score(sum(hits["blocks_kept_apart"]), len(scored),
                                          _fold_chance(fits["blocks_kept_apart"], chance, n_trained),
                                          effective_units(ds, scored),
                                          folds=len(folds), blocks=int(len(np.unique(ds.blocks))),
                                          crossed_with_image_split=True,
                                          **({"unscorable_trials": blocks_unscorable} if blocks_unscorable else {}))
    order = ("image_split", "shuffled_labels", "leave_one_subject_out", "blocks_kept_apart")
    return {k: res[k] for k in order}


def _checks(res: dict, res_hp: dict | None) -> dict:
    """The pass/fail reading of the controls a reviewer would apply.

    The three that ask whether decoding survives a harder split (subjects, blocks, high-pass) are None where the
    probe's own image split is not above chance: there is no decoding to survive, and a "no" read as a confound
    found (a block design simulated with one training image per class, at chance everywhere, was reported as
    failing the high-pass)."""
    c = {"shuffled_labels_at_chance": res["shuffled_labels"]["within_chance_band"]
         or not res["shuffled_labels"]["above_chance"],
         "test_images_unseen_in_training": res["image_split"].get("test_images_in_training") == 0}
    decodes = res["image_split"].get("above_chance", True)
    loso = res["leave_one_subject_out"]
    if "top1" in loso:
        c["generalises_across_subjects"] = loso["above_chance"] if decodes else None
    blk = res["blocks_kept_apart"]
    if "top1" in blk:
        # Decoding that collapses when blocks are kept apart was reading the block, not the stimulus.
        c["survives_blocks_kept_apart"] = ((blk["above_chance"] and blk["top1"] >= 0.5 * res["image_split"]["top1"])
                                           if decodes else None)
    if res_hp is not None:
        # Slow drift is what a high-pass removes; stimulus responses live well above 1 Hz.
        hp = res_hp["image_split"]
        c["survives_highpass"] = (hp["above_chance"] and hp["top1"] >= 0.5 * res["image_split"]["top1"]
                                  if decodes else None)
    return c


def _variant_label(name: str) -> str:
    """A preprocessing variant's legend entry: "highpass_1hz" -> "high-pass 1 Hz", "as_model" -> "as the model"."""
    if name.startswith("highpass_") and name.endswith("hz"):
        return f"high-pass {name[len('highpass_'):-2]} Hz"
    return "as the model" if name == "as_model" else name.replace("_", " ")


def plot_controls(controls: dict, path) -> None:
    """controls.png: each control's probe top-1 with its 95% interval, beside the chance line and, over each bar,
    the 95% band a guesser reaches on that control's units; the model's own decoder on the image split beside
    the probe's.

    A control that was not run says so in its place, with the reason: its slot was left empty, which reads as a
    top-1 of 0 (leave one subject out on one subject). The bands differ by control (the shuffled labels count
    classes, not trials), and whether a figure lies inside its band is what each check reads, so a bar is shown
    against its own band, not only against the chance line."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["image_split", "shuffled_labels", "leave_one_subject_out", "blocks_kept_apart"]
    variants = list(controls["variants"])
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    width = 0.8 / len(variants)
    band_drawn = False
    skipped: dict[int, dict[str, list[float]]] = {}  # control -> reason -> bar positions
    for vi, v in enumerate(variants):
        res = controls["variants"][v]
        xs, ys, err = [], [], [[], []]
        for i, n in enumerate(names):
            r, x = res.get(n, {}), i + vi * width
            if "top1" in r:
                xs.append(x)
                ys.append(r["top1"])
                err[0].append(max(0.0, r["top1"] - r["ci95"][0]))
                err[1].append(max(0.0, r["ci95"][1] - r["top1"]))
                lo, hi = r.get("chance_band95") or (None, None)
                if lo is not None and hi is not None:
                    ax.fill_between([x - width / 2, x + width / 2], lo, max(hi, lo + 0.004), color="0.35",
                                    alpha=0.45, lw=0, zorder=3, label=None if band_drawn else "a guesser's 95% band")
                    band_drawn = True
            elif "skipped" in r:
                skipped.setdefault(i, {}).setdefault(str(r["skipped"]), []).append(x)
        ax.bar(xs, ys, width, yerr=err, capsize=3, label=_variant_label(v), zorder=2)
    for i, reasons in skipped.items():
        for why, xs in reasons.items():
            at = float(np.mean(xs)) if len(reasons) == 1 else xs[0]
            wrap = 40 if len(reasons) == 1 and len(xs) == len(variants) else 18
            text = "\n".join(textwrap.wrap(f"not run: {why}", wrap, max_lines=5, placeholder=" ..."))
            ax.text(at, 0.04, text, ha="center", va="bottom", fontsize=7, color="0.3", zorder=4)
    ax.axhline(controls["chance"], color="k", ls="--", lw=1, label="chance", zorder=1)
    decoder = controls.get("decoder_image_split_top1")
    if isinstance(decoder, (int, float)) and np.isfinite(decoder):
        ax.plot([width * (len(variants) - 1) / 2], [decoder], marker="D", color="k", ls="none", zorder=5,
                label=f"the model's decoder, image split ({decoder:.3f})")
    ax.set_xticks([i + width * (len(variants) - 1) / 2 for i in range(len(names))])
    ax.set_xticklabels([textwrap.fill(n.replace("_", " "), 12) for n in names])
    ax.set_xlim(-0.5, len(names) - 0.5 + width * (len(variants) - 1))
    ax.set_ylabel("top-1 (bars: the probe, 95% CI)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Confound controls (linear probe refit per control)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
