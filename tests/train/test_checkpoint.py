"""Resumable stages: an interrupted run continued with resume ends exactly where an uninterrupted one does."""

import numpy as np
import pytest
import torch

from eegviz.train.checkpoint import Checkpoints
from eegviz.train.decoder import run_stage
from eegviz.train.dist import DistInfo


class Boom(RuntimeError):
    pass


def _train(folder, n=30, crash_at=None, resume=False):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    extra = {"seen": []}
    w_true = torch.tensor([[1.0, -2.0, 0.5, 3.0]])

    def step(i):
        if crash_at is not None and i == crash_at:
            raise Boom
        x = torch.from_numpy(rng.standard_normal((8, 4)).astype(np.float32)) + 0.1 * torch.randn(8, 4)
        loss = ((net(x) - x @ w_true.T) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        extra["seen"].append(i)

    ck = Checkpoints(folder, resume=resume, every=5)
    run_stage("toy", n, step, modules={"net": net}, opts={"opt": opt}, ck=ck, rng=rng, extra=extra,
              info=DistInfo(), desc="toy")
    return net, extra


def test_interrupted_then_resumed_matches_uninterrupted(tmp_path):
    ref, ref_extra = _train(tmp_path / "a")
    with pytest.raises(Boom):
        _train(tmp_path / "b", crash_at=17)
    assert (tmp_path / "b" / "toy.partial.pt").exists()
    net, extra = _train(tmp_path / "b", resume=True)
    # steps 0..14 came from the checkpoint at 15; 15, 16 were redone after the crash; nothing ran twice in the end
    assert extra["seen"] == list(range(30)) == ref_extra["seen"]
    for a, b in zip(ref.parameters(), net.parameters()):
        torch.testing.assert_close(a, b)
    assert (tmp_path / "b" / "toy.done.pt").exists() and not (tmp_path / "b" / "toy.partial.pt").exists()


def test_finished_stage_is_loaded_not_rerun(tmp_path):
    ref, _ = _train(tmp_path)
    net, extra = _train(tmp_path, resume=True, crash_at=0)  # would raise if any step ran
    assert extra["seen"] == list(range(30))
    for a, b in zip(ref.parameters(), net.parameters()):
        torch.testing.assert_close(a, b)


def test_without_resume_checkpoints_are_ignored(tmp_path):
    _train(tmp_path)
    with pytest.raises(Boom):
        _train(tmp_path, crash_at=3)
