"""Resumable stages: an interrupted run continued with resume ends exactly where an uninterrupted one does."""

import numpy as np
import pytest
import torch

from eegviz.train.checkpoint import Checkpoints
from eegviz.train.decoder import run_stage
from eegviz.train.dist import DistInfo


class Boom(RuntimeError):
    pass


def _train(folder, n=30, crash_at=None, resume=False, record=None):
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
    if record is not None:
        record.append(ck)
    run_stage("toy", n, step, modules={"net": net}, opts={"opt": opt}, checkpoints=ck, rng=rng, extra=extra,
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


def test_what_a_resume_took_is_recorded_and_carded(tmp_path):
    """training.json named the generator's loaded stages but not the decoder's: a decoder half of whose stages came
    from an interrupted run's checkpoints read as one trained in this run's minutes."""
    from eegviz.eval.model_card import _resumed

    with pytest.raises(Boom):
        _train(tmp_path, crash_at=17)
    seen = []
    _train(tmp_path, resume=True, record=seen)
    assert seen[0].resumed == {"toy": "continued from step 15 of 30"}
    _train(tmp_path, resume=True, record=seen)
    assert seen[1].resumed == {"toy": "loaded"}
    _train(tmp_path / "fresh", record=seen)
    assert seen[2].resumed == {}
    card = _resumed({"resumed": True, "decoder": {"resumed_stages": {"encoder": "loaded",
                                                                     "saliency_gan": "continued from step 500 of 3000"}}})
    assert "the decoder's stages encoder loaded, saliency_gan continued from step 500 of 3000" in card


def test_without_resume_checkpoints_are_ignored(tmp_path):
    _train(tmp_path)
    with pytest.raises(Boom):
        _train(tmp_path, crash_at=3)


class _RunsCode:
    """Unpickling this calls exec(): what a crafted checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def test_checkpoint_loads_with_weights_only(tmp_path, monkeypatch):
    """Resume reads checkpoints with weights_only=True, and the saved payload (optimiser, RNG state) fits it."""
    calls = []
    real = torch.load

    def spy(*a, **kw):
        calls.append(kw.get("weights_only"))
        return real(*a, **kw)

    monkeypatch.setattr(torch, "load", spy)
    with pytest.raises(Boom):
        _train(tmp_path, crash_at=12)
    _, extra = _train(tmp_path, resume=True)
    assert extra["seen"] == list(range(30))
    assert calls and all(c is True for c in calls)


def test_rng_state_round_trips_through_weights_only_load(tmp_path):
    """numpy generators whose state holds arrays (MT19937's key) survive a weights_only save/load too."""
    from eegviz.train.checkpoint import restore_rng, rng_state

    for bitgen in (np.random.PCG64(3), np.random.MT19937(3), np.random.Philox(3)):
        rng = np.random.Generator(bitgen)
        rng.standard_normal(5)
        torch.save(rng_state(rng), tmp_path / "rng.pt")
        expect = rng.standard_normal(4)
        state = torch.load(tmp_path / "rng.pt", weights_only=True)
        restore_rng(rng, state)
        np.testing.assert_array_equal(rng.standard_normal(4), expect)


@pytest.mark.parametrize("kind", ["partial", "done"])
def test_malicious_checkpoint_is_refused_not_run(tmp_path, kind):
    from eegviz.errors import EegvizError

    marker = tmp_path / "pwned"
    tmp_path.joinpath("ck").mkdir()
    torch.save({"step": 5, "x": _RunsCode(marker)}, tmp_path / "ck" / f"toy.{kind}.pt")
    with pytest.raises(EegvizError) as err:
        _train(tmp_path / "ck", resume=True)
    assert not marker.exists()
    msg = str(err.value)
    assert "\n" not in msg and "could run code" in msg and f"toy.{kind}.pt" in msg


def test_a_refused_checkpoint_of_another_pickle_protocol_is_the_one_line_alone(tmp_path):
    """torch warned 'Detected pickle protocol 4 in the checkpoint...' above eegviz's one-line refusal."""
    import warnings

    from eegviz.errors import EegvizError

    marker = tmp_path / "pwned"
    tmp_path.joinpath("ck").mkdir()
    torch.save({"step": 5, "x": _RunsCode(marker)}, tmp_path / "ck" / "toy.partial.pt", pickle_protocol=4)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(EegvizError, match="could run code"):
            _train(tmp_path / "ck", resume=True)
    assert not marker.exists() and [str(w.message) for w in seen if "pickle protocol" in str(w.message)] == []


def test_unreadable_checkpoint_is_one_line_error(tmp_path):
    from eegviz.errors import EegvizError

    tmp_path.joinpath("toy.partial.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(EegvizError) as err:
        _train(tmp_path, resume=True)
    assert "\n" not in str(err.value) and "could not be read" in str(err.value)


def _good_state(n_in=4):
    return torch.nn.Linear(n_in, 1).state_dict()


def _partial_edited(folder, change):
    """A real partial checkpoint of _train's stage, changed by `change(payload)`."""
    with pytest.raises(Boom):
        _train(folder, crash_at=12)
    payload = torch.load(folder / "toy.partial.pt", weights_only=True)
    change(payload)
    torch.save(payload, folder / "toy.partial.pt")


@pytest.mark.parametrize("kind, payload, why", [
    ("done", {"modules": {}, "extra": {}}, "it has no 'net', 'seen'"),
    ("done", [1, 2, 3], "it holds a list"),
    ("done", {"modules": {"net": {"w": torch.zeros(3)}}, "extra": {"seen": []}}, "Missing key(s)"),
    # a run on data of another channel count: the same keys, other shapes
    ("done", {"modules": {"net": _good_state(6)}, "extra": {"seen": []}}, "size mismatch"),
    # best weights kept beside the stage's networks, which it would load after the stage
    ("done", {"modules": {"net": _good_state()}, "extra": {"seen": [], "best": _good_state(6)}},
     "its 'best' weights fit none of the stage's networks"),
    ("partial", lambda p: p.pop("rng"), "KeyError: 'rng'"),
    ("partial", lambda p: p.update(step="12"), "its step '12' is not a count"),
    ("partial", lambda p: p["opts"].update(opt={"state": {}, "param_groups": []}), "ValueError"),
], ids=["empty", "list", "other_keys", "other_channels", "best_weights_of_other_shape", "no_rng", "step_a_string",
        "optimiser_of_other_groups"])
def test_a_checkpoint_that_does_not_fit_the_run_is_one_line_error(tmp_path, kind, payload, why):
    from eegviz.errors import EegvizError

    folder = tmp_path / "checkpoints"
    if kind == "done":
        folder.mkdir()
        torch.save(payload, folder / "toy.done.pt")
    else:
        _partial_edited(folder, payload)
    with pytest.raises(EegvizError) as err:
        _train(folder, resume=True)
    msg = str(err.value)
    assert "\n" not in msg and why in msg, msg
    assert f"checkpoint {folder / f'toy.{kind}.pt'} does not fit this run" in msg
    assert "a new --out" in msg and f"delete {folder}" in msg


def test_a_checkpoint_save_that_fails_keeps_the_previous_one_and_leaves_no_temporary(tmp_path, monkeypatch):
    """A full disk while saving a checkpoint: the previous checkpoint stays loadable and no .tmp is left beside it
    (it used to be, one per failed save, each as large as the checkpoint)."""
    ck = Checkpoints(tmp_path, resume=True, every=5)
    path = ck.path("toy", "partial")
    ck._save(path, {"step": 5})

    def disk_full(payload, f, *a, **k):
        open(f, "wb").write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError):
        ck._save(path, {"step": 10})
    monkeypatch.undo()
    assert ck.partial("toy") == {"step": 5}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
