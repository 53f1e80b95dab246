"""The reconstruction metrics on inputs whose answer is known by construction."""

import numpy as np
import pytest

from eegviz.eval.metrics import inception_score, nway_topk, pixcorr, ssim_np


def _confident(labels, n_classes, margin=30.0):
    logits = np.zeros((len(labels), n_classes))
    logits[np.arange(len(labels)), labels] = margin
    return logits


def test_inception_score_bounds():
    k = 8
    spread = _confident(np.arange(800) % k, k)  # confident and every class equally often: IS = k
    assert inception_score(spread)["one_split"] == pytest.approx(k, rel=1e-3)
    assert inception_score(spread)["mean"] == pytest.approx(k, rel=0.05)  # shuffled splits: near-balanced
    one_class = _confident(np.zeros(400, int), k)  # confident but no diversity: IS = 1
    assert inception_score(one_class)["mean"] == pytest.approx(1.0, abs=1e-6)
    unsure = np.zeros((400, k))  # diverse on average but never confident: IS = 1
    assert inception_score(unsure)["mean"] == pytest.approx(1.0, abs=1e-6)
    half = _confident(np.arange(800) % 2, k)  # two classes used: IS = 2
    assert inception_score(half)["mean"] == pytest.approx(2.0, rel=0.02)


def test_inception_score_splits_need_enough_images():
    logits = _confident(np.arange(120) % 4, 4)
    assert inception_score(logits)["splits"] == 2  # at least 50 images per part
    assert inception_score(logits[:30])["splits"] == 1
    assert inception_score(_confident(np.arange(1000) % 4, 4))["splits"] == 10


def test_nway_topk_perfect_random_and_full():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 40, 500)
    assert nway_topk(_confident(y, 40), y, 50, 1) == 1.0  # N capped at the number of classes
    noise = rng.standard_normal((500, 40))
    for n in (2, 5, 10):
        assert abs(nway_topk(noise, y, n, 1) - 1 / n) < 0.03  # chance is 1/N
    assert nway_topk(noise, y, 5, 5) == 1.0  # top-5 of 5 candidates always hits
    plain = float((noise.argmax(1) == y).mean())
    assert nway_topk(noise, y, 40, 1, trials=1) == pytest.approx(plain)


def test_nway_topk_ties_are_chance_and_nan_is_refused():
    y = np.arange(40) % 40
    flat = np.zeros((40, 40))  # a classifier that says nothing: every candidate tied
    assert nway_topk(flat, y, 40, 1, trials=1) == pytest.approx(1 / 40)
    assert nway_topk(flat, y, 10, 1) == pytest.approx(0.1) and nway_topk(flat, y, 10, 5) == pytest.approx(0.5)
    half = np.zeros((40, 40))
    half[np.arange(40), y] = 1.0
    half[np.arange(40), (y + 1) % 40] = 1.0  # the true class tied with one other at the top
    assert nway_topk(half, y, 40, 1, trials=1) == pytest.approx(0.5) and nway_topk(half, y, 40, 2, trials=1) == 1.0
    nan = _confident(y, 40)
    nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nway_topk(nan, y, 40, 1)


def test_ssim_and_pixcorr_on_known_pairs():
    rng = np.random.default_rng(1)
    a = rng.random((4, 32, 32, 3)).astype(np.float32)
    assert ssim_np(a, a) == pytest.approx(1.0, abs=1e-4)
    assert pixcorr(a, a) == pytest.approx(1.0, abs=1e-6)
    assert pixcorr(a, 1 - a) == pytest.approx(-1.0, abs=1e-6)
    assert ssim_np(a, rng.random(a.shape).astype(np.float32)) < 0.1


def test_inception_score_is_not_capped_by_class_ordered_trials():
    """Test trials come class-ordered; unshuffled splits of 50 would hold 5 of 40 classes each (IS <= 5)."""
    y = np.repeat(np.arange(40), 10)  # class-ordered, 400 trials
    r = inception_score(_confident(y, 40))
    assert r["splits"] == 8 and r["shuffled"]
    assert r["mean"] > 20  # shuffled splits see most classes; ordered ones gave exactly 5
    assert r["one_split"] == pytest.approx(40, rel=1e-3)
    assert inception_score(_confident(y, 40), seed=1)["mean"] != r["mean"]  # the shuffle is the seed's


def _stimuli(n_per_class=3):
    from eegviz.world.stimuli import COLORS, render_batch, stimulus_set

    specs = stimulus_set(n_per_class)
    images, masks = render_batch(specs, 32)
    return images, masks, [s.color_name for s in specs], COLORS, specs


def test_gaussian_ssim_and_flat_baselines():
    from eegviz.eval.metrics import flat_ssim_baselines, ssim_per_image

    images, _, _, _, specs = _stimuli()
    assert ssim_np(images, images) == pytest.approx(1.0, abs=1e-6)
    base = flat_ssim_baselines(images)
    flat_bg = np.broadcast_to(np.array([s.background for s in specs], np.float32)[:, None, None], images.shape)
    # a flat image of each stimulus's own background colour scores exactly the reported baseline
    assert ssim_np(flat_bg, images) == pytest.approx(base["background"], abs=1e-3)
    grey = np.full_like(images, images.mean())
    assert ssim_np(grey, images) == pytest.approx(base["mean_grey"], abs=1e-6)
    assert 0 < base["mean_grey"] < 1 and 0 < base["background"] < 0.9
    # the standard 11x11 sigma-1.5 window, the same one the saliency generator trains with
    from eegviz.decoders.saliency import ssim as training_ssim
    import torch

    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)
    assert float(training_ssim(t(flat_bg), t(images)).mean()) == pytest.approx(base["background"], abs=1e-4)
    with pytest.raises(ValueError, match="11 pixels"):
        ssim_per_image(images[:, :8, :8], images[:, :8, :8])


def test_object_region_metrics_pass_the_truth_and_fail_shuffled_or_shifted():
    from eegviz.eval.metrics import object_metrics

    images, masks, names, palette, _ = _stimuli()
    good = object_metrics(images, masks, names, palette)
    assert good["iou"] > 0.99 and good["centroid_r_x"] > 0.999 and good["centroid_r_y"] > 0.999
    assert good["centroid_err"] < 0.01 and good["colour_acc"] == 1.0 and good["colour_chance"] == 1 / 8
    perm = np.random.default_rng(0).permutation(len(images))
    bad = object_metrics(images[perm], masks, names, palette)
    assert bad["iou"] < 0.4 and abs(bad["centroid_r_x"]) < 0.3 and abs(bad["centroid_r_y"]) < 0.3
    assert bad["centroid_err"] > 0.1 and bad["colour_acc"] < 0.3
    shifted = object_metrics(np.roll(images, 8, axis=2), masks, names, palette)  # a quarter image right
    assert shifted["iou"] < 0.4 and shifted["centroid_err"] > 0.15 and shifted["colour_acc"] == 1.0
    flat = object_metrics(np.full_like(images, 0.5), masks, names, palette)  # nothing drawn: no object
    assert flat["iou"] == 0.0 and flat["empty_fraction"] == 1.0 and flat["colour_acc"] == 0.0
    assert np.isnan(flat["centroid_r_x"])  # a constant prediction has no correlation, not r = 0
    # an empty prediction has no centroid: scored at the image centre it beat a shuffled picture on error
    assert np.isnan(flat["centroid_err"]) and bad["centre_err"] == good["centre_err"] > 0.05


def test_a_class_only_guess_of_the_centroid_scores_zero_within_class():
    """Each shape's centroid sits off its box by a class-specific amount, so a guess from the class alone
    correlates with the true centroid pooled over classes; within class (class means removed) it scores 0,
    and the true pictures still score 1."""
    from eegviz.eval.metrics import object_trials, summarise_objects

    images, masks, names, palette, specs = _stimuli(8)
    classes = np.array([s.class_name for s in specs])
    truth = object_trials(images, masks, names, palette, classes)
    guess = dict(truth)
    guess["pred_centroid"] = truth["true_centroid"].copy()
    for c in np.unique(classes):  # each trial guessed at its class's mean centroid: no position information
        guess["pred_centroid"][classes == c] = truth["true_centroid"][classes == c].mean(0)
    g, t = summarise_objects(guess), summarise_objects(truth)
    assert max(g["centroid_r_x"], g["centroid_r_y"]) > 0.05
    assert np.isnan(g["centroid_r_x_within_class"]) and np.isnan(g["centroid_r_y_within_class"])  # constant
    assert t["centroid_r_x_within_class"] > 0.99 and t["centroid_r_y_within_class"] > 0.99


def test_an_object_toward_no_palette_colour_is_no_colour_not_the_first_one():
    """Darker than a dark background, an object leans toward none of the palette's colours; argmin over equal
    errors used to name the first ("red"), a free hit on every red stimulus."""
    from eegviz.eval.metrics import NO_COLOUR, nearest_colour
    from eegviz.world.stimuli import COLORS

    bg = np.full((3, 3), 0.2)  # a dark grey background, brighter than these objects but for blue
    obj = np.array([[0.0, 0.0, 0.0], [0.1, 0.15, 0.1], COLORS["blue"]], np.float64)
    assert nearest_colour(obj, bg, COLORS) == [NO_COLOUR, NO_COLOUR, "blue"]


def test_paired_bootstrap_difference():
    from eegviz.eval.metrics import object_trials, paired_bootstrap_diff

    images, masks, names, palette, _ = _stimuli(2)
    good = object_trials(images, masks, names, palette)
    perm = np.random.default_rng(0).permutation(len(images))
    bad = object_trials(images[perm], masks, names, palette)
    d = paired_bootstrap_diff(good, bad, n_resamples=200)
    assert d["iou"]["diff"] > 0.5 and d["iou"]["ci95"][0] > 0.4
    assert d["centroid_err"]["ci95"][1] < 0
    same = paired_bootstrap_diff(good, good, n_resamples=200)
    assert same["iou"]["diff"] == 0 and same["iou"]["ci95"] == [0.0, 0.0]


def test_resamples_scored_at_once_equal_summarise_objects_on_each_resamples_trials():
    """paired_bootstrap_diff scores its resamples as weights (how often each trial was drawn), many at once; each
    must equal summarise_objects on that resample's trials taken one by one, NaN where it is NaN: a class or a
    side constant on the drawn trials (a constant guess, a class drawn once), or under two located trials."""
    from eegviz.eval.metrics import WITHIN_KEYS, OBJECT_KEYS, object_trials, summarise_objects, weighted_summaries

    images, masks, names, palette, specs = _stimuli(2)
    rng = np.random.default_rng(0)
    noisy = np.clip(images + rng.normal(0, 0.3, images.shape), 0, 1)
    noisy[rng.random(len(images)) < 0.3] = 0.0  # blank predictions: left out of the where-metrics
    classes = np.array([s.class_idx for s in specs])
    t = object_trials(noisy, masks, names, palette, classes)
    centre = np.zeros_like(images)
    centre[:, 14:18, 14:18] = 1.0  # the same centroid every trial: its correlations are undefined
    guess = object_trials(centre, masks, names, palette, classes)
    n, checked_nan = len(images), 0
    for side in (t, guess):
        located = ~t["empty"]
        draws = [rng.integers(0, n, n) for _ in range(40)] + [np.array([0, 0, 1]), np.array([5] * n),
                                                             np.repeat(np.flatnonzero(classes < 3), 2)]
        w = np.zeros((len(draws), n))
        for r, idx in enumerate(draws):
            np.add.at(w[r], idx, 1.0)
        fast = weighted_summaries(side, w, located)
        for r, idx in enumerate(draws):
            slow = summarise_objects(side, idx, located[idx])
            for k in OBJECT_KEYS + WITHIN_KEYS:
                if np.isnan(slow[k]):
                    checked_nan += 1
                    assert np.isnan(fast[k][r]), (k, r)
                else:
                    assert fast[k][r] == pytest.approx(slow[k], rel=1e-9, abs=1e-12), (k, r)
    assert checked_nan > 10
    # one trial drawn n times is constant: no correlation (np.std of its copies is not 0, and corrcoef said 1.0)
    once = summarise_objects(t, np.full(n, 5), np.ones(n, bool))
    assert np.isnan(once["centroid_r_x"]) and np.isnan(once["centroid_r_y_within_class"])


def test_the_bootstrap_resamples_whole_units_not_repeats_of_one():
    """Repeats of an image share its stimulus and response: 8 copies of each trial, resampled one by one, give
    an interval about sqrt(8) times too narrow; grouped by image, the interval of the trials taken once."""
    from eegviz.eval.metrics import object_trials, paired_bootstrap_diff

    images, masks, names, palette, _ = _stimuli(1)
    rng = np.random.default_rng(0)
    noisy = np.clip(images + rng.normal(0, 0.25, images.shape), 0, 1)
    perm = rng.permutation(len(images))
    a, b = object_trials(noisy, masks, names, palette), object_trials(noisy[perm], masks, names, palette)
    rep = lambda t: {k: (np.repeat(v, 8, axis=0) if isinstance(v, np.ndarray) else v) for k, v in t.items()}
    width = lambda d: d["iou"]["ci95"][1] - d["iou"]["ci95"][0]
    once = paired_bootstrap_diff(a, b, n_resamples=300)
    by_trial = paired_bootstrap_diff(rep(a), rep(b), n_resamples=300)
    by_image = paired_bootstrap_diff(rep(a), rep(b), n_resamples=300, groups=np.repeat(np.arange(len(images)), 8))
    assert by_image["units"] == once["units"] == len(images) and by_trial["units"] == 8 * len(images)
    assert width(by_trial) < 0.6 * width(once)
    assert width(by_image) == pytest.approx(width(once), rel=0.25)
    tuples = np.stack([np.zeros(8 * len(images), int), np.repeat(np.arange(len(images)), 8)], 1)  # (subject, image)
    assert paired_bootstrap_diff(rep(a), rep(b), n_resamples=300, groups=tuples)["iou"] == by_image["iou"]
    one = paired_bootstrap_diff(rep(a), rep(b), n_resamples=50, groups=np.zeros(8 * len(images)))
    assert one["units"] == 1 and one["iou"]["ci95"] is None and one["iou"]["diff"] == by_image["iou"]["diff"]


def test_blanking_the_hard_trials_does_not_win_on_where():
    """Two predictions that both guess the image centre: one draws nothing where the object was far from the
    centre, the other blanks as many trials at random. Scored each on its own drawn trials, the first won on
    centroid error (its easy trials left); on the trials both drew, they tie, and the centre baseline is taken
    on the same trials as the error."""
    from eegviz.eval.metrics import object_trials, paired_bootstrap_diff, summarise_objects

    images, masks, names, palette, _ = _stimuli(4)
    size = images.shape[1]
    centre = np.zeros_like(images)
    centre[:, size // 2 - 3 : size // 2 + 3, size // 2 - 3 : size // 2 + 3] = 1.0  # a white square in the middle
    truth = object_trials(images, masks, names, palette)
    far = np.linalg.norm(truth["true_centroid"] - 0.5, axis=1)
    hard = far > np.median(far)
    blank_hard, blank_random = centre.copy(), centre.copy()
    blank_hard[hard] = 0.0
    blank_random[np.random.default_rng(0).permutation(hard)] = 0.0
    a, b = (object_trials(x, masks, names, palette) for x in (blank_hard, blank_random))
    sa = summarise_objects(a)
    assert sa["empty_fraction"] == pytest.approx(0.5, abs=0.01)
    assert sa["centroid_err"] == pytest.approx(sa["centre_err"], abs=0.02)  # the centre guess against itself
    d = paired_bootstrap_diff(a, b, n_resamples=200)
    assert d["centroid_err"]["diff"] == pytest.approx(0.0, abs=0.02)
    assert d["centroid_err"]["ci95"][0] <= 0 <= d["centroid_err"]["ci95"][1]
