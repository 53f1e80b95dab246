"""eegviz.train.decoder: class averaging (what an averaged training example is made of), choosing the encoder's
epoch when the validation classes were never trained on, and resuming a run killed between stages."""

from __future__ import annotations

import numpy as np
import pytest
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


# --- validation on classes never trained on (THINGS-EEG2's layout), and resuming between stages ---------------

def _class_data(n_classes=12, per_class=16, n_ch=8, n_t=40, snr=0.3, seed=0):
    """Epochs (already in model units) = a fixed random template per class + white noise."""
    g = np.random.default_rng(seed)
    templates = g.standard_normal((n_classes, n_ch, n_t))
    labels = np.repeat(np.arange(n_classes), per_class)
    x = snr * templates[labels] + g.standard_normal((len(labels), n_ch, n_t))
    return torch.from_numpy(x.astype(np.float32)), labels


def _encoder_stages(x, labels, split, epochs):
    from eegviz.data.dataset import EEGDataset
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.stream.preprocess import InputSpec
    from eegviz.train.checkpoint import Checkpoints
    from eegviz.train.decoder import _Stages
    from eegviz.train.dist import DistInfo

    n, n_ch, n_t = x.shape
    ch = tuple(f"C{i}" for i in range(n_ch))
    classes = [f"k{c}" for c in range(labels.max() + 1)]
    ds = EEGDataset(eeg=x.numpy(), labels=labels, image_ids=np.array([f"i{i}" for i in range(n)]),
                    subjects=np.zeros(n, int), split=np.asarray(split), ch_names=ch, sfreq=100.0, tmin=-0.1,
                    classes=classes, captions={})
    torch.manual_seed(0)
    spec = InputSpec(ch_names=ch, sfreq=100.0, tmin=-0.1, tmax=-0.1 + n_t / 100.0)
    dec = TwoBranchDecoder(spec, classes, feat_dim=16, n_tokens=2, text_dim=4, text_encoder="hash",
                           attribute_readout=2)
    return _Stages(ds, dec, x, ds.subset("train"), ds.subset("val"), np.random.default_rng(0), Checkpoints(None),
                   DistInfo(), epochs, 0.0, 0)


def _loo_accuracy(feat: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out nearest class mean by cosine, written out trial by trial (the reference for the test)."""
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)
    classes, hits = np.unique(labels), []
    for i in range(len(labels)):
        keep = np.arange(len(labels)) != i
        means = np.stack([feat[keep & (labels == c)].mean(0) for c in classes])
        hits.append(classes[np.argmax(unit(means) @ unit(feat[i]))] == labels[i])
    return float(np.mean(hits))


@pytest.fixture
def one_thread():
    """Tiny convolutions on 2 busy cores run ~50x faster on one thread than on two (same numbers)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_encoder_selects_its_epoch_zero_shot_when_validation_classes_were_never_trained_on(one_thread):
    """THINGS-EEG2 holds out whole concepts as validation: no training prototype exists for them. The epoch must
    still be chosen on a score that moves (leave-one-out among the validation trials), not the constant that
    argmax over NaN prototypes gave (the first epoch always kept), and decoding must not collapse to one class."""
    from eegviz.train.decoder import VAL_PROTOCOL_ZERO_SHOT, _train_encoder

    x, labels = _class_data()
    split = np.where(labels < 8, "train", "val")  # classes 8..11: validation only
    st = _encoder_stages(x, labels, split, epochs=5)
    enc, va = st.dec.encoder, st.val_idx
    per_epoch: list[tuple[float, dict]] = []
    run = st.stage

    def watched(name, n, step, modules, opts, extra, desc, every=None):
        def step_and_score(i):
            step(i)
            with torch.no_grad():
                f = enc.eval()(x[va]).numpy()
            per_epoch.append((_loo_accuracy(f, labels[va]), {k: v.clone() for k, v in enc.state_dict().items()}))
        run(name, n, step_and_score, modules, opts, extra, desc, every)

    st.stage = watched
    _train_encoder(st)
    accs = [a for a, _ in per_epoch]
    chosen = int(np.argmax(accs))
    assert len(set(accs)) > 1 and chosen > 0  # the score moves, and here a later epoch is the best (0.53 -> 0.62)
    assert st.metrics["val_class_protocol"] == VAL_PROTOCOL_ZERO_SHOT
    assert st.metrics["val_class_chance"] == 0.25
    assert st.metrics["val_class_acc"] == pytest.approx(accs[chosen], abs=1e-6) and accs[chosen] > 0.4
    for k, v in enc.state_dict().items():  # the epoch kept is the best one
        torch.testing.assert_close(v, per_epoch[chosen][1][k])
    # every trial decodes as its nearest trained class: validation trials spread over them, none unseen
    cls = st.dec.decoded_classes(x).numpy()
    assert set(cls.tolist()) <= set(range(8)) and len(set(cls[va].tolist())) > 1
    assert (cls[st.train_idx] == labels[st.train_idx]).mean() > 0.5
    assert torch.isfinite(st.dec.class_scores(enc(x[va]))).all()


def test_unseen_class_prototypes_never_win():
    """A class with no training trials has no prototype (a zero row, or NaN from older decoders): it must
    neither take every argmax (NaN) nor beat negative similarities (zero); scores stay a distribution."""
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.stream.preprocess import InputSpec
    from eegviz.train.decoder import class_prototypes, nway_accuracy

    feat = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    protos = class_prototypes(feat, np.array([0, 0, 1]), 4)  # classes 2 and 3 have no trials
    assert protos[2:].eq(0).all()
    with_nan = protos.clone()
    with_nan[2] = float("nan")  # the mean of no trials
    probe = torch.tensor([[1.0, 0.1], [0.1, 1.0], [-1.0, -1.0]])  # the third is negative to both prototypes
    spec = InputSpec(ch_names=("C0",), sfreq=100.0, tmin=-0.1, tmax=0.3)
    dec = TwoBranchDecoder(spec, ["a", "b", "c", "d"], feat_dim=2, n_tokens=2, text_dim=4, text_encoder="hash")
    for p in (protos, with_nan):
        assert nway_accuracy(probe, p, np.array([0, 1, 1])) == 1.0
        dec.prototypes = p
        s = dec.class_scores(probe)
        assert torch.isfinite(s).all() and s[:, 2:].eq(0).all() and s.argmax(1).tolist() == [0, 1, 1]
        torch.testing.assert_close(s.sum(1), torch.ones(3))


class _Killed(Exception):
    pass


def _two_stages(folder, resume=False, kill_in_b=None):
    """Two run_stage stages sharing one random stream, as train_decoder's do."""
    from eegviz.train.checkpoint import Checkpoints
    from eegviz.train.decoder import run_stage
    from eegviz.train.dist import DistInfo

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    a, b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    oa, ob = torch.optim.SGD(a.parameters(), 0.1), torch.optim.SGD(b.parameters(), 0.05)
    ck = Checkpoints(folder, resume=resume, every=250)

    def draw():
        return torch.from_numpy(rng.normal(size=(8, 3))).float() + 0.05 * torch.randn(8, 3)

    def step_a(i):
        oa.zero_grad()
        a(draw()).pow(2).mean().backward()
        oa.step()

    def step_b(i):
        if i == kill_in_b:
            raise _Killed
        x = draw()
        ob.zero_grad()
        (b(x)[:, 0] - x.sum(1)).pow(2).mean().backward()
        ob.step()

    kw = dict(checkpoints=ck, rng=rng, extra={}, info=DistInfo())
    run_stage("A", 20, step_a, modules={"a": a}, opts={"o": oa}, desc="A", **kw)
    run_stage("B", 40, step_b, modules={"b": b}, opts={"o": ob}, desc="B", **kw)
    return torch.cat([p.detach().flatten() for p in (*a.parameters(), *b.parameters())])


def test_run_killed_between_stages_resumes_to_the_uninterrupted_result(tmp_path):
    """Stage A finished, the run killed in B before B's first partial checkpoint: resuming loads A and must
    draw B's batches from where A left the random stream, not from a freshly seeded one."""
    ref = _two_stages(tmp_path / "ref")
    with pytest.raises(_Killed):
        _two_stages(tmp_path / "run", kill_in_b=10)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["A.done.pt"]
    torch.testing.assert_close(_two_stages(tmp_path / "run", resume=True), ref, rtol=0, atol=0)
    # a finished stage saved before its random state was (no "rng") still loads; B then runs from a fresh stream
    old = tmp_path / "old"
    with pytest.raises(_Killed):
        _two_stages(old, kill_in_b=0)
    payload = torch.load(old / "A.done.pt", weights_only=True)
    torch.save({k: v for k, v in payload.items() if k != "rng"}, old / "A.done.pt")
    resumed = _two_stages(old, resume=True)
    torch.testing.assert_close(resumed[:4], ref[:4], rtol=0, atol=0)  # A's weights, as saved


def test_resume_loads_the_fitted_attribute_readouts_instead_of_fitting_them_again(tmp_path, one_thread, monkeypatch):
    """The closed-form readouts took minutes on the shipped data and were fitted again on every --resume before
    their finished stage loaded over them. A resumed run now loads them, their validation choices (training.json)
    and their frozen state, and ends where the uninterrupted run did."""
    from eegviz.decoders.attributes import AttributeEncoder, N_ATTRIBUTES
    from eegviz.train.checkpoint import Checkpoints
    from eegviz.train.decoder import _train_attributes

    x, labels = _class_data()
    g = np.random.default_rng(1)
    attrs = torch.from_numpy(g.uniform(0.2, 0.8, (len(labels), N_ATTRIBUTES)).astype(np.float32))
    attrs[:, 4:7] = torch.from_numpy(g.choice([0.1, 0.9], size=(len(labels), 3)).astype(np.float32))
    split = np.where(np.arange(len(labels)) % 4 == 0, "val", "train")

    def run(resume):
        torch.manual_seed(0)
        st = _encoder_stages(x, labels, split, epochs=2)
        st.checkpoints = Checkpoints(tmp_path / "ck", resume=resume, every=1)
        pred = _train_attributes(st, attrs)
        frozen = {n for n, p in st.dec.attributes.named_parameters() if not p.requires_grad}
        return pred, st.metrics, frozen

    pred, metrics, frozen = run(resume=False)
    assert "colour_readout" in metrics and set(metrics["attribute_readouts"]) >= {"cx", "cy", "size"}
    assert {"linear.weight", "colour_linear.weight"} <= frozen

    def refit(*a, **k):
        raise AssertionError("fitted again on resume")

    monkeypatch.setattr(AttributeEncoder, "fit_linear", refit)
    monkeypatch.setattr(AttributeEncoder, "fit_colour", refit)
    (tmp_path / "ck" / "attributes.done.pt").unlink()  # killed in the attribute stage: it runs again, from the readouts
    pred2, metrics2, frozen2 = run(resume=True)
    torch.testing.assert_close(pred2, pred, rtol=0, atol=0)
    assert metrics2 == metrics and frozen2 == frozen


def test_the_saved_channel_names_are_stripped_as_sources_strip_theirs():
    """A dataset's "Fz " was saved as it stood; every live source strips its labels, so the live "Fz" was then
    "lacking (Fz )" (found by review)."""
    from types import SimpleNamespace

    from eegviz.train.decoder import decoder_spec

    ds = SimpleNamespace(ch_names=["Fz ", " Cz", "Pz"], sfreq=100.0, tmin=-0.1, eeg=np.zeros((2, 3, 50)))
    assert decoder_spec(ds, 0.0, 0.0, "").ch_names == ("Fz", "Cz", "Pz")


def test_a_stimulus_that_cannot_be_decoded_stops_training_before_the_first_stage(tmp_path, monkeypatch):
    """A JPEG cut short after its header passes the header check (check_stimulus_files) and failed only when the
    pixel branch loaded the stimuli, after the encoder had trained (an hour on THINGS-EEG2). They are now loaded
    before the first stage."""
    import io

    from PIL import Image

    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.errors import EegvizError
    from eegviz.train import decoder as decoder_module

    ds = load_dataset(simulate_dataset(tmp_path / "data", subjects=1, n_per_class=3))
    jpeg = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(jpeg, "JPEG")
    ds.image_paths = {}
    for k, i in enumerate(dict.fromkeys(map(str, ds.image_ids))):
        ds.image_paths[i] = tmp_path / f"{i}.jpg"
        ds.image_paths[i].write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2] if k == 5 else jpeg.getvalue())
    cut = list(ds.image_paths.values())[5]

    def encoder_stage(st):
        raise AssertionError("the encoder trained before the stimuli were read")

    monkeypatch.setattr(decoder_module, "_train_encoder", encoder_stage)
    with pytest.raises(EegvizError, match=f"^cannot read stimulus image {cut}: image file is truncated"):
        decoder_module.train_decoder(ds, epochs=1, gan_steps=1)
