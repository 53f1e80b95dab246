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
