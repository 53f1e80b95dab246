"""The confound controls must catch a confound when there is one and pass genuine decoding.

Small simulated worlds: block designs whose EEG carries NO stimulus information, only something that differs
between recording blocks - electrode drift (the Li et al. (2020) situation), or alpha power and block-locked
mains, which baseline correction and a high-pass leave in place; and the default rapid design with real
evoked responses and no confound. The same controls must read the first as confounds and the last as genuine.
"""

from __future__ import annotations

import numpy as np
import pytest

from eegviz.data.synthetic import load_dataset, simulate_dataset
from eegviz.eval.controls import band_power_features, block_folds, chance_band, probe_features, run_controls, wilson
from eegviz.stream.preprocess import InputSpec, highpass, prepare_epochs


def _fewer_channels(ds, step: int = 4):
    """Every step-th channel: the probes' features shrink as much, their fits with them (the 128-channel
    fits were most of this file's minute); a confound is as much a per-block signature on 32 channels."""
    from dataclasses import replace

    return replace(ds, eeg=np.ascontiguousarray(ds.eeg[:, ::step]), ch_names=tuple(ds.ch_names[::step]))


def _spec(ds) -> InputSpec:
    return InputSpec(ch_names=ds.ch_names, sfreq=ds.sfreq, tmin=ds.tmin, tmax=ds.tmin + ds.eeg.shape[-1] / ds.sfreq)


@pytest.fixture(scope="module")
def drift_only(tmp_path_factory):
    p = simulate_dataset(tmp_path_factory.mktemp("drift"), subjects=2, n_per_class=10, design="block",
                         signal=0.0, drift_uv_per_s=30.0)
    return _fewer_channels(load_dataset(p))


@pytest.fixture(scope="module")
def alpha_and_mains_only(tmp_path_factory):
    from dataclasses import replace

    from eegviz.world.sim_config import DEMO

    cfg = replace(DEMO, block_alpha=1.0, block_line_uv=3.0)
    p = simulate_dataset(tmp_path_factory.mktemp("alpha"), subjects=2, n_per_class=10, design="block",
                         signal=0.0, config=cfg)
    return _fewer_channels(load_dataset(p), step=2)  # the mains' signature needs more channels than the drift's


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    return _fewer_channels(load_dataset(simulate_dataset(tmp_path_factory.mktemp("rapid"), subjects=2,
                                                         n_per_class=10)))


def test_block_drift_confound_is_exposed(drift_only):
    ds = drift_only
    # block design: one block per (subject, class)
    assert len(np.unique(ds.blocks)) == 2 * len(ds.classes)
    for b in np.unique(ds.blocks):
        assert len(np.unique(ds.labels[ds.blocks == b])) == 1
    r = run_controls(ds, _spec(ds), highpass_hz=1.0)
    raw, hp = r["variants"]["as_model"], r["variants"]["highpass_1hz"]
    # The naive image split "decodes" the drift far above chance although no stimulus information exists ...
    assert raw["image_split"]["above_chance"] and raw["image_split"]["top1"] > 0.5
    # ... and every control that takes the block away brings it back to chance.
    assert not raw["blocks_kept_apart"]["above_chance"]
    assert not raw["leave_one_subject_out"]["above_chance"]
    assert not hp["image_split"]["above_chance"]
    assert not raw["shuffled_labels"]["above_chance"]
    # crossed with the image split: only test images are scored (1 of 10 per class and subject), and trials
    # sharing a block and a class count once: 2 subjects x 40 class blocks
    n_test = len(ds.subset("test"))
    assert n_test == 80 and raw["leave_one_subject_out"]["crossed_with_image_split"]
    assert raw["leave_one_subject_out"]["n"] == n_test and raw["leave_one_subject_out"]["n_effective"] == 80
    assert raw["blocks_kept_apart"]["n"] == n_test
    assert raw["image_split"]["test_images_in_training"] == 0
    assert r["checks"] == {"shuffled_labels_at_chance": True, "test_images_unseen_in_training": True,
                           "generalises_across_subjects": False,
                           "survives_blocks_kept_apart": False, "survives_highpass": False}


def test_band_powers_see_what_bin_means_cannot():
    """Random-phase alpha has no mean waveform and 50 Hz cancels in a 20 ms bin: the bin means do not change,
    the band powers do - which is why the controls' probe reads both."""
    sf, n = 250.0, 175
    t = np.arange(n) / sf
    rng = np.random.default_rng(0)
    base = rng.standard_normal((200, 1, n))
    alpha = base + 3 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 2 * np.pi, (200, 1, 1)))
    mains = base + 3 * np.sin(2 * np.pi * 50 * t)
    bins = [probe_features(x, sf).mean(0) for x in (base, alpha, mains)]
    assert np.abs(bins[1] - bins[0]).max() < 0.3 and np.abs(bins[2] - bins[0]).max() < 1e-6
    bands = [band_power_features(x, sf).mean(0) for x in (base, alpha, mains)]  # theta alpha beta 50 60 Hz
    assert bands[1][1] - bands[0][1] > 1.5 and abs(bands[1][3] - bands[0][3]) < 0.3
    assert bands[2][3] - bands[0][3] > 1.5 and abs(bands[2][1] - bands[0][1]) < 0.3 and bands[2][4] < bands[2][3]
    assert band_power_features(base, 100.0).shape == (200, 3)  # the mains bands lie above a 100 Hz Nyquist


def test_block_alpha_and_mains_confound_is_exposed(alpha_and_mains_only):
    """No stimulus information, only per-block alpha power and block-locked mains (3 uV): the image split
    'decodes' them, a high-pass does not help (both live far above 1 Hz), and keeping blocks apart brings
    chance back. (Alpha alone is a one-number signature per block, one gain on one topography; a 40-way probe
    can hardly use it, so here the mains, a signature over every channel (64 here), carries the confound.)"""
    ds = alpha_and_mains_only
    r = run_controls(ds, _spec(ds), highpass_hz=1.0)
    raw, hp = r["variants"]["as_model"], r["variants"]["highpass_1hz"]
    assert raw["image_split"]["above_chance"] and raw["image_split"]["top1"] > 0.1
    assert hp["image_split"]["above_chance"] and r["checks"]["survives_highpass"]
    assert not raw["blocks_kept_apart"]["above_chance"]
    assert not raw["shuffled_labels"]["above_chance"]
    assert r["checks"]["survives_blocks_kept_apart"] is False and r["checks"]["generalises_across_subjects"] is False
    assert r["checks"]["shuffled_labels_at_chance"]


def test_genuine_decoding_passes_every_control(genuine):
    ds = genuine
    r = run_controls(ds, _spec(ds), highpass_hz=1.0)
    raw = r["variants"]["as_model"]
    assert raw["image_split"]["above_chance"]
    assert raw["leave_one_subject_out"]["above_chance"]
    assert set(raw["leave_one_subject_out"]["per_subject"]) == {"0", "1"}
    assert raw["blocks_kept_apart"]["folds"] == 5
    assert all(r["checks"].values()), r["checks"]


def test_single_block_per_class_and_subject_cannot_be_split():
    labels = np.repeat(np.arange(4), 5)
    folds, why = block_folds(labels + 100, labels)
    assert folds == [] and "confounded" in why
    blocks = np.tile(np.arange(5), 4)  # every block holds every class
    folds, why = block_folds(blocks, labels)
    assert why is None and len(folds) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(20))  # each trial tested exactly once
    for f in folds:
        assert len(np.unique(blocks[f])) == 1


def test_intervals():
    lo, hi = wilson(50, 100)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.19, abs=0.01)
    # a perfect (or null) score lies inside its own interval: 80 of 80 had an upper end of 0.9999999999999999
    for k, n in ((80, 80), (185, 185), (0, 80), (1, 1)):
        lo, hi = wilson(k, n)
        assert lo <= k / n <= hi and (hi == 1.0 if k == n else lo == 0.0)
    lo, hi = chance_band(1000, 0.1)
    assert lo < 0.1 < hi and hi < 0.12


def test_highpass_removes_linear_drift_and_keeps_fast_signal():
    sf, n = 250.0, 175
    t = np.arange(n) / sf
    ramp = 5.0 * t + 3.0
    fast = np.sin(2 * np.pi * 10 * t)
    out = highpass(np.stack([ramp, fast]), sf, 1.0)
    assert np.sqrt(np.mean((out[0] - out[0].mean()) ** 2)) < 0.02 * np.std(ramp)
    assert np.corrcoef(out[1], fast)[0, 1] > 0.99
    spec = InputSpec(ch_names=("a",), sfreq=sf, tmin=-0.1, tmax=0.6, highpass=1.0)
    assert InputSpec.from_dict(spec.to_dict()) == spec
    assert InputSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "highpass"}).highpass == 0.0
    assert prepare_epochs(ramp[None], spec).shape == (1, n)


def _repeated_images(blocks: bool = True):
    """2 subjects x 2 classes x 4 test images, each shown 4 times, every repetition in another of its subject's 8
    blocks (as `eegviz simulate --repeats` scatters them): 64 trials, 16 (subject, image), 32 (block, class).
    Plain fields only: effective_units reads labels, subjects, image ids and blocks."""
    from types import SimpleNamespace

    subj, cls, img, rep = (a.ravel() for a in np.meshgrid(np.arange(2), np.arange(2), np.arange(4), np.arange(4),
                                                          indexing="ij"))
    return SimpleNamespace(labels=cls, subjects=subj, image_ids=np.array([f"c{c}_{i}" for c, i in zip(cls, img)]),
                           blocks=subj * 8 + (rep + 2 * img) % 8 if blocks else None)


def test_effective_units_count_a_repeated_image_once():
    """Repetitions of one image share its exemplar response, so they are one unit however many blocks they
    fall in: the units are min((block, class), (subject, image)), not the 32 (block, class) pairs."""
    from eegviz.eval.controls import effective_units

    ds = _repeated_images()
    idx = np.arange(len(ds.labels))
    assert len({(b, c) for b, c in zip(ds.blocks, ds.labels)}) == 32
    assert effective_units(ds, idx) == 16
    assert effective_units(_repeated_images(blocks=False), idx) == 16  # no blocks: images, not 64 trials
    # one repetition of each image, one block per (subject, class): the (block, class) pairs bind (4, not 16)
    one = np.flatnonzero(np.arange(len(idx)) % 4 == 0)
    ds.blocks = ds.subjects * 2 + ds.labels
    assert effective_units(ds, one) == 4
    nothing = _repeated_images(blocks=False)
    nothing.image_ids = None
    assert effective_units(nothing, one) == len(one)


def test_controls_count_units_of_what_each_control_scores():
    """run_controls on a small noise world with repeated test images: every control's interval and chance band
    count (subject, image) units (32), not (block, class) pairs (64) or trials (128)."""
    from eegviz.data.dataset import EEGDataset

    rng = np.random.default_rng(0)
    n_cls, n_img, reps = 4, 10, 4  # per subject and class: 6 training images once, 4 test images 4 times
    rows = []
    for s in range(2):
        for c in range(n_cls):
            for i in range(n_img):
                for r in range(reps if i >= 6 else 1):
                    rows.append((s, c, f"c{c}_{i}", "test" if i >= 6 else "train", s * 8 + (r + 2 * i) % 8))
    subj, cls, ids, split, blocks = (np.array(a) for a in zip(*rows))
    ds = EEGDataset(eeg=rng.standard_normal((len(rows), 2, 50)).astype(np.float32) * 1e-5, labels=cls,
                    image_ids=ids, subjects=subj, split=split, ch_names=("a", "b"), sfreq=100.0, tmin=-0.1,
                    classes=[str(c) for c in range(n_cls)], captions={}, blocks=blocks)
    r = run_controls(ds, _spec(ds), highpass_hz=0.0)["variants"]["as_model"]
    n_test = 2 * n_cls * 4 * reps
    for key in ("image_split", "leave_one_subject_out", "blocks_kept_apart"):
        assert r[key]["n"] == n_test and r[key]["n_effective"] == 2 * n_cls * 4, (key, r[key])
        assert r[key]["chance_band95"] == list(chance_band(32, 0.25))


def test_test_images_among_the_training_images_fail_their_check(genuine):
    """The leak shuffled labels cannot see (a probe that memorised images passes them): a test trial whose image
    training trials show too. Counted on the dataset's own split (none), and on one that moves a test image's
    other trials into training."""
    from eegviz.eval.controls import _checks, images_shared

    ds = genuine
    train, test = ds.subset("train"), ds.subset("test")
    assert images_shared(ds, train, test) == 0
    leaked = np.concatenate([train, test[ds.image_ids[test] == ds.image_ids[test[0]]]])
    assert images_shared(ds, leaked, test) == 2  # one image, seen by both subjects
    res = {"shuffled_labels": {"within_chance_band": True, "above_chance": False},
           "image_split": {"test_images_in_training": 2},
           "leave_one_subject_out": {"skipped": ""}, "blocks_kept_apart": {"skipped": ""}}
    assert _checks(res, None)["test_images_unseen_in_training"] is False


def _noise_world(rows, n_cls=4):
    """An EEGDataset of noise from (subject, class, image id, split, block) rows."""
    from eegviz.data.dataset import EEGDataset

    subj, cls, ids, split, blocks = (np.array(a) for a in zip(*rows))
    eeg = np.random.default_rng(0).standard_normal((len(rows), 2, 50)).astype(np.float32) * 1e-5
    return EEGDataset(eeg=eeg, labels=cls, image_ids=ids, subjects=subj, split=split, ch_names=("a", "b"),
                      sfreq=100.0, tmin=-0.1, classes=[str(c) for c in range(n_cls)], captions={}, blocks=blocks)


def test_controls_without_two_training_classes_are_skipped_with_the_reason():
    """A probe needs two classes to learn: training trials of one class (a dataset cut to one class), or none (a
    test-only recording), ended eval in scikit-learn's ValueError or a ZeroDivisionError traceback, after the
    reconstructions had run. Now the controls say why they were skipped."""
    one = _noise_world([(s, 0, f"c0_{i}", "test" if i >= 6 else "train", s * 2 + i % 2)
                        for s in range(2) for i in range(8)])
    r = run_controls(one, _spec(one), highpass_hz=1.0)
    assert r == {"skipped": "the training split holds trials of one class only, and the controls' probes are fit "
                            "on training trials of at least two classes"}
    none = _noise_world([(0, c, f"c{c}_{i}", "test" if i >= 2 else "val", i % 2) for c in range(4) for i in range(4)])
    assert "holds no trials" in run_controls(none, _spec(none), highpass_hz=0.0)["skipped"]
    # test classes the training split lacks: a probe never names them, so those trials would score 0 by design
    part = _noise_world([(s, c, f"c{c}_{i}", "test" if i >= 6 else "train" if c < 2 else "val", s * 2 + i % 2)
                         for s in range(2) for c in range(4) for i in range(8)])
    assert run_controls(part, _spec(part), highpass_hz=0.0)["skipped"].startswith("2 test class(es) have no training")


def test_leave_one_subject_out_scores_the_subjects_that_have_test_trials():
    """A subject with no test trials has nothing to score: its fold made StandardScaler refuse 0 samples (a
    traceback) and per_subject would have read 0.0 for it. The other subject is scored, and named alone."""
    ds = _noise_world([(s, c, f"c{c}_{i}", "test" if (i >= 6 and s == 0) else "train", s * 2 + i % 2)
                       for s in range(2) for c in range(4) for i in range(8)])
    loso = run_controls(ds, _spec(ds), highpass_hz=0.0)["variants"]["as_model"]["leave_one_subject_out"]
    assert loso["n"] == 4 * 2 and list(loso["per_subject"]) == ["0"]
    # no subject with test trials and another subject's training trials of two classes: skipped, with the reason
    ds = _noise_world([(s, c if s == 1 else 0, f"s{s}c{c}_{i}", "test" if (i >= 6 and s == 1) else "train",
                        s * 2 + i % 2) for s in range(2) for c in range(4) for i in range(8)])
    loso = run_controls(ds, _spec(ds), highpass_hz=0.0)["variants"]["as_model"]["leave_one_subject_out"]
    assert "skipped" in loso


def test_a_probe_on_one_trial_per_class_fits_without_a_regression_warning():
    """One training trial per class (`eegviz sweep --images 3`) made scikit-learn warn that the labels "could
    represent a regression problem", on the user's terminal in the middle of a sweep. They are classes."""
    import warnings

    from eegviz.eval.controls import fit_probe

    f = np.random.default_rng(0).standard_normal((40, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict = fit_probe(f, np.arange(40), 40)
    assert (predict(f) == np.arange(40)).mean() > 0.5


def test_checks_of_surviving_decoding_are_moot_where_the_image_split_is_at_chance():
    """Nothing decodes on the image split (a block design with one training image per class): "survives the
    high-pass", "survives blocks kept apart" and "generalises across subjects" have nothing to survive and are
    None, not a "no" that reads as a confound found. The other two checks still answer."""
    from eegviz.eval.controls import _checks

    at_chance = {"top1": 0.025, "above_chance": False}
    res = {"shuffled_labels": {"within_chance_band": True, "above_chance": False},
           "image_split": {**at_chance, "test_images_in_training": 0},
           "leave_one_subject_out": at_chance, "blocks_kept_apart": at_chance}
    assert _checks(res, {"image_split": at_chance}) == {
        "shuffled_labels_at_chance": True, "test_images_unseen_in_training": True,
        "generalises_across_subjects": None, "survives_blocks_kept_apart": None, "survives_highpass": None}
    res["image_split"] = {"top1": 0.5, "above_chance": True, "test_images_in_training": 0}  # decodes: they answer
    assert set(_checks(res, {"image_split": at_chance}).values()) == {True, False}


def test_controls_png_says_which_control_was_not_run_and_shows_each_bar_against_its_band(tmp_path, monkeypatch):
    """controls.png on one subject left leave-one-subject-out's slot empty, which reads as a top-1 of 0; it now
    says "not run" with the reason. Each bar is drawn against the guesser's band of its own control (the shuffled
    labels' is wider: it counts classes), and the model's own decoder stands beside the probe's image split."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from eegviz.eval.controls import plot_controls

    def scored(top1, band):
        return {"top1": top1, "ci95": [top1 - 0.05, top1 + 0.05], "chance_band95": band}

    res = {"image_split": scored(0.65, [0.005, 0.049]), "shuffled_labels": scored(0.02, [0.0, 0.058]),
           "leave_one_subject_out": {"skipped": "one subject only"},
           "blocks_kept_apart": scored(0.55, [0.005, 0.049])}
    controls = {"chance": 0.025, "decoder_image_split_top1": 0.995,
                "variants": {"as_model": res, "highpass_1hz": res}}
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    plot_controls(controls, tmp_path / "controls.png")
    ax = figures[0].axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["not run: one subject only"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a guesser's 95% band" in legend and "high-pass 1 Hz" in legend
    assert "the model's decoder, image split (0.995)" in legend
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]  # (the error bars are lines)
    assert len(bands) == 6  # one per bar
    assert sorted({round(float(c.get_paths()[0].vertices[:, 1].max()), 3) for c in bands}) == [0.049, 0.058]
    assert (tmp_path / "controls.png").is_file()


def test_a_model_trained_with_a_high_pass_gets_the_variant_above_its_own_cutoff(tmp_path, caplog):
    """A model trained with --highpass 0.5 already filters "as_model"; the controls' high-pass variant was then
    left out without a word, whatever --controls-highpass asked for, and with it the survives_highpass check.
    Now a higher cutoff is run (refiltered at that cutoff), and one not higher is said to be skipped, with why."""
    from dataclasses import replace

    ds = load_dataset(simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3))
    spec = replace(_spec(ds), highpass=0.5)
    r = run_controls(ds, spec, highpass_hz=2.0)
    assert list(r["variants"]) == ["as_model", "highpass_2hz"] and "survives_highpass" in r["checks"]
    assert "highpass_variant" not in r
    r = run_controls(ds, spec, highpass_hz=0.5)
    assert list(r["variants"]) == ["as_model"] and "survives_highpass" not in r["checks"]
    assert r["highpass_variant"]["skipped"].startswith("the model already high-passes its input at 0.5 Hz")
    assert "no high-pass variant" in caplog.text
    assert "highpass_variant" not in run_controls(ds, spec, highpass_hz=0.0)  # none asked for


def test_a_fold_whose_probe_never_saw_a_class_does_not_score_that_class_as_misses():
    """Subject 0 saw classes 0 and 1 only, subject 1 all four: held out, subject 1's test trials of classes 2 and 3
    met a probe fit on subject 0 alone, which never names them, and scored 0 by design (the split-wide refusal,
    controls_skip_reason, cannot see a fold), so subject 1 scored at most 0.5 on a class signal its probe reads
    perfectly. Those trials are left out and counted, and the chance level is that of the classes each fold knows."""
    rows = [(s, c, f"s{s}c{c}_{i}", "test" if i >= 6 else "train", s * 2 + i % 2)
            for s in range(2) for c in (range(2) if s == 0 else range(4)) for i in range(8)]
    ds = _noise_world(rows)
    ds.eeg[:, 0, 20:] += (ds.labels[:, None] * 1e-4).astype(np.float32)  # every trial carries its class
    loso = run_controls(ds, _spec(ds), highpass_hz=0.0)["variants"]["as_model"]["leave_one_subject_out"]
    assert loso["unscorable_trials"] == 4 and loso["n"] == 4 + 4
    assert loso["per_subject"]["1"] == 1.0  # was 0.5 at best: half its test trials could not be named
    assert loso["chance"] == pytest.approx((4 * 0.25 + 4 * 0.5) / 8)  # subject 0's 4 against 4 classes, 1's 4 against 2
