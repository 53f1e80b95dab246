"""eegviz.train.decoder's class averaging: what an averaged training example is made of."""

from __future__ import annotations

import numpy as np
import torch

from eegviz.train.decoder import AVERAGE_SIZES, class_averages


def _toy():
    labels = np.repeat(np.arange(4), 10)
    x = torch.randn(len(labels), 3, 5)
    train = np.arange(0, 40, 1)[np.arange(40) % 10 < 8]  # 8 training epochs per class
    pools = {c: train[labels[train] == c] for c in range(4)}
    return labels, x, train, pools


def test_averages_are_same_class_means_that_include_the_epoch_itself():
    labels, x, train, pools = _toy()
    idx = train[:16]
    rng = np.random.default_rng(0)
    xb, members = class_averages(x, idx, labels, pools, 1.0, rng)
    for j, (i, m) in enumerate(zip(idx, members)):
        assert m[0] == i and len(set(m.tolist())) == len(m) and len(m) in AVERAGE_SIZES
        assert set(labels[m]) == {labels[i]} and set(m.tolist()) <= set(pools[labels[i]].tolist())
        torch.testing.assert_close(xb[j], x[m].mean(0))


def test_no_augmentation_is_the_batch_itself_and_draws_nothing():
    labels, x, train, pools = _toy()
    rng = np.random.default_rng(3)
    xb, members = class_averages(x, train[:8], labels, pools, 0.0, rng)
    torch.testing.assert_close(xb, x[train[:8]])
    assert [m.tolist() for m in members] == [[i] for i in train[:8]]
    assert rng.random() == np.random.default_rng(3).random()  # the training stream is untouched
