"""Results as curves (eegviz.eval.curves) and the presets' strength, measured with the controls' probe."""

import numpy as np
import pytest

from eegviz.data.synthetic import load_dataset, simulate_dataset
from eegviz.eval.curves import averaged_groups, probe_curve, repetition_curve, repetition_levels, spec_for
from eegviz.world.sim_config import make_config


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    """The realistic preset's variability at a small size (1 subject, 20 images per class, each test image 8
    times) and -12 dB: strong enough that 16 training images per class show the curve's shape."""
    path = tmp_path_factory.mktemp("realistic")
    cfg = make_config("realistic", class_snr_db=-12.0)
    return load_dataset(simulate_dataset(path, subjects=1, n_per_class=20, config=cfg))


def test_levels_and_groups_are_disjoint_averages(realistic):
    assert repetition_levels(8) == [1, 2, 4, 8] and repetition_levels(6) == [1, 2, 4, 6]
    te = realistic.subset("test")
    x, y, n_images = averaged_groups(realistic, te, 8)
    assert n_images == 80 and len(y) == 80  # 2 test images per class x 40 classes, one average each
    x3, y3, _ = averaged_groups(realistic, te, 3)
    assert len(y3) == 80 * 2  # 8 // 3 disjoint groups per image
    # a group of k is the mean of k trials of one image
    first = [i for i in te if realistic.image_ids[i] == realistic.image_ids[te[0]]]
    np.testing.assert_allclose(averaged_groups(realistic, np.array(first), 8)[0][0],
                               realistic.eeg[first].mean(0), rtol=1e-5, atol=1e-12)


def test_repetition_curve_scores_what_predict_returns(realistic):
    te = realistic.subset("test")
    truth = lambda x: np.array([realistic.labels[te][0]] * len(x))  # a constant guess
    curve = repetition_curve(realistic, te, truth)
    assert [p["repeats"] for p in curve] == [1, 2, 4, 8]
    assert all(abs(p["top1"] - 1 / 40) < 1e-9 and p["ci_low"] <= p["top1"] <= p["ci_high"] for p in curve)
    assert repetition_curve(realistic, realistic.subset("train"), truth) == []  # nothing repeats
    # every level's interval counts the 80 (subject, image) units, not its 640 / 320 / 160 / 80 groups: the
    # groups of one image share its stimulus, so the single-trial level's interval is as wide as the 8-average's
    from eegviz.eval.controls import wilson

    assert [p["n"] for p in curve] == [640, 320, 160, 80] and {p["n_images"] for p in curve} == {80}
    for p in curve:
        assert [p["ci_low"], p["ci_high"]] == pytest.approx(list(wilson(p["top1"] * 80, 80)))


def test_averaging_repetitions_raises_accuracy(realistic):
    curve = {p["repeats"]: p for p in probe_curve(realistic, spec_for(realistic))}
    assert curve[1]["top1"] <= curve[2]["top1"] <= curve[8]["top1"]  # monotone-ish: the ends and one middle
    assert curve[8]["top1"] >= 2 * curve[1]["top1"], curve


def test_realistic_preset_sits_in_its_band(tmp_path):
    """Single trials a little above chance (1/40), in real EEG's range; at this small size (16 training images
    per class) the probe sits lower than at the preset's calibration size (README)."""
    cfg = make_config("realistic", repeats=1)
    ds = load_dataset(simulate_dataset(tmp_path / "r", subjects=1, n_per_class=20, config=cfg))
    assert 0.03 <= probe_curve(ds, spec_for(ds))[0]["top1"] <= 0.20


def test_demo_preset_is_far_easier(tmp_path):
    ds = load_dataset(simulate_dataset(tmp_path / "demo", subjects=1, n_per_class=10))
    assert probe_curve(ds, spec_for(ds))[0]["top1"] > 0.25  # the realistic preset's band ends at 0.20


def test_shipped_realistic_decoder_sharpens_with_averaged_repetitions(tmp_path):
    """models/synthetic-realistic on its own world's held-out test images (subject 0 of its dataset: the same
    seed re-simulated, test split only): single trials a few times chance, in real EEG's range, and clearly
    better with 8 averaged repetitions (its card: 0.212 -> 0.435 over both subjects). An encoder trained on single
    trials alone gains 1.45x on this world (README), so the ratio is what this checks."""
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.eval.report import decode_eeg
    from eegviz.paths import realistic_model_dir

    dec = TwoBranchDecoder.load(realistic_model_dir())
    ds = load_dataset(simulate_dataset(tmp_path / "r", subjects=1, n_per_class=50, config=make_config("realistic")))
    curve = {p["repeats"]: p for p in repetition_curve(ds, ds.subset("test"),
                                                       lambda x: decode_eeg(x, dec)["scores"].argmax(1))}
    assert 0.10 <= curve[1]["top1"] <= 0.30, curve[1]
    assert curve[8]["top1"] >= 1.6 * curve[1]["top1"], curve


def _repeating_world(n_img: int = 30, reps: int = 4):
    """One subject, n_img images of 3 classes shown reps times; channel 0 carries a per-image strength plus
    noise, channel 1 the label (kept by averaging), so a threshold on channel 0 is a decoder."""
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    img = np.repeat(np.arange(n_img), reps)
    labels = img % 3
    strength = rng.normal(0, 1, n_img)[img] + rng.normal(0, 1.5, len(img))
    eeg = np.stack([strength, labels.astype(float)], 1)[:, :, None].repeat(2, 2).astype(np.float32)
    return SimpleNamespace(eeg=eeg, labels=labels, subjects=np.zeros(len(img), int),
                           image_ids=np.array([f"i{i}" for i in img]))


def test_gain_over_single_trials_has_a_bootstrap_interval_over_images():
    from eegviz.eval.curves import gain_interval

    ds = _repeating_world()
    predict = lambda x: np.where(x[:, 0, 0] > 0, np.rint(x[:, 1, 0]).astype(int), -1)
    curve = repetition_curve(ds, np.arange(len(ds.labels)), predict, seed=3)
    assert [p["repeats"] for p in curve] == [1, 2, 4] and "gain_vs_single" not in curve[0]
    for p in curve[1:]:
        g = p["gain_vs_single"]
        assert g["ratio"] == pytest.approx(p["top1"] / curve[0]["top1"])
        assert g["ci95"][0] < g["ratio"] < g["ci95"][1]
    assert repetition_curve(ds, np.arange(len(ds.labels)), predict, seed=3) == curve  # seeded
    # the same images resampled for both levels: where every image scores alike at each level, every resample
    # gives the one ratio (0.5 of single trials, all of the averages: 2x) and the interval is that point
    keys = [("s", i) for i in range(10)]
    single = (np.tile([True, False], 10), [k for k in keys for _ in range(2)])
    assert gain_interval(single, (np.ones(10, bool), keys)) == [pytest.approx(2.0)] * 2
    assert gain_interval((np.zeros(20, bool), single[1]), (np.ones(10, bool), keys)) == [None, None]


def test_gain_has_no_interval_when_its_single_trial_hits_are_one_image():
    """40 images, 3 repetitions each: the only single-trial hits are two repetitions of one image, whose average
    is the only hit at 2 repetitions. A resample without that image (about a third of them) has no ratio; the
    rest all give 1.5x, and the interval read [1.5, 1.5]. Undefined in over 5% of the resamples: no interval."""
    from eegviz.eval.curves import gain_interval

    keys = [("s", i) for i in range(40)]
    single = (np.array([i == 0 and r < 2 for i in range(40) for r in range(3)]), [k for k in keys for _ in range(3)])
    averaged = (np.arange(40) == 0, keys)
    assert gain_interval(single, averaged) == [None, None]
    # hits spread over every image: every resample has a ratio, and the interval stands
    spread = (np.array([r == 0 for _ in range(40) for r in range(3)]), single[1])
    lo, hi = gain_interval(spread, averaged)
    assert lo is not None and lo <= hi


def test_probe_curve_without_repetitions_counts_subject_image_units(tmp_path):
    """No test image repeats: the single-trial point's n_images is its (subject, image) units, as every row with
    repetitions counts them, and as its interval does (one per trial). It counted distinct image ids: 40 for the
    80 units of two subjects who saw the same test images."""
    ds = load_dataset(simulate_dataset(tmp_path, subjects=2, n_per_class=3))
    (point,) = probe_curve(ds, spec_for(ds))
    assert point["repeats"] == 1 and point["n"] == point["n_images"] == 80
