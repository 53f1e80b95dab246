"""THINGS-EEG2's own protocol: when the test concepts have no training trials (zero-shot), eval averages each
test image's repetitions and retrieves its concept among the test concepts' caption embeddings; it never
scores against class prototypes of unseen concepts (they do not exist, and argmax of NaN picks class 0)."""

import numpy as np
import pytest

from eegviz.data.things_eeg2 import load_things_eeg2
from eegviz.decoders.text import HashTextEncoder
from eegviz.eval.report import zero_shot_retrieval, zero_shot_split
from eegviz.stream.preprocess import InputSpec

CH = ["Pz", "P3", "P7", "O1", "Oz", "O2", "P4", "P8", "P1", "P5", "PO7", "PO3", "POz", "PO4", "PO8", "P2", "P6"]
TIMES = np.round(np.arange(-20, 80) / 100.0, 2)
N_TEST = 12


def _things_like(tmp_path, n_train_concepts=5, reps=6, noise=1.5):
    """A small THINGS-EEG2 release: train concepts x 10 images x 4 reps, N_TEST unseen test concepts x 1 image
    x `reps` reps. Each test image's EEG carries its concept's index as a level on channel 0, buried in noise
    that only averaging over repetitions removes."""
    rng = np.random.default_rng(0)
    root = tmp_path / "things"
    d = root / "sub-01"
    d.mkdir(parents=True)
    train = rng.normal(0, 1, (n_train_concepts * 10, 4, 17, 100))
    test = rng.normal(0, noise, (N_TEST, reps, 17, 100))
    test[:, :, 0, 20:] += np.arange(N_TEST)[:, None, None]
    for part, data in (("training", train), ("test", test)):
        np.save(d / f"preprocessed_eeg_{part}.npy", {"preprocessed_eeg_data": data, "ch_names": CH, "times": TIMES})
    train_c = [f"{k + 1:05d}_thing{k}" for k in range(n_train_concepts)]
    test_c = [f"{k + 1:05d}_{w}" for k, w in enumerate(["zebra", "yak", "kite", "lamp", "harp", "wok", "fig", "owl",
                                                        "mop", "urn", "bee", "elk"])]
    np.save(root / "image_metadata.npy", {
        "train_img_concepts": [c for c in train_c for _ in range(10)],
        "train_img_files": [f"{c[6:]}_{k:02d}b.jpg" for c in train_c for k in range(10)],
        "test_img_concepts": test_c, "test_img_files": [f"{c[6:]}_01s.jpg" for c in test_c]})
    return load_things_eeg2(root)


class _Reader:
    """A stand-in decoder: reads the concept index off channel 0 and answers with that test concept's caption
    embedding (`good`), or always with the first test concept's (`collapsed`, what NaN prototypes gave), or
    with zeros (`flat`)."""

    def __init__(self, ds, text, mode="good"):
        self.spec = InputSpec(ch_names=ds.ch_names, sfreq=ds.sfreq, tmin=ds.tmin, tmax=ds.tmin + 1.0,
                              baseline=(-0.2, 0.0), scale=1e6)
        te = ds.subset("test")
        self.concepts = np.unique(ds.labels[te])
        self.emb = text.encode([f"an image of a {ds.classes[c]}" for c in self.concepts])
        self.mode = mode
        self.calls = []

    def forward(self, x):
        self.calls.append(len(x))
        level = np.asarray(x)[:, 0, 20:].mean(1)
        k = np.clip(np.round(level), 0, len(self.concepts) - 1).astype(int)
        if self.mode == "collapsed":
            k = np.zeros_like(k)
        n = len(x)
        emb = np.zeros((n, *self.emb.shape[1:])) if self.mode == "flat" else self.emb[k]
        return {"scores": np.zeros((n, 1)), "saliency": np.zeros((n, 32, 32, 3)), "embedding": emb}


def test_zero_shot_split_is_detected(tmp_path):
    ds = _things_like(tmp_path)
    assert zero_shot_split(ds)
    from eegviz.data.synthetic import load_dataset, simulate_dataset

    synth = load_dataset(simulate_dataset(tmp_path / "synth", subjects=1, n_per_class=3))
    assert not zero_shot_split(synth)  # same classes in train and test: class decoding applies


def test_zero_shot_retrieval_averages_repetitions_and_can_fail(tmp_path):
    ds = _things_like(tmp_path)
    te = ds.subset("test")
    assert len(te) == N_TEST * 6
    text = HashTextEncoder(8, 64)
    good = _Reader(ds, text)
    r = zero_shot_retrieval(ds, good, te, text)
    assert sum(good.calls) == N_TEST  # one averaged trial per test image, not one per repetition
    assert r["n_concepts"] == N_TEST and r["n_images"] == N_TEST and r["trials_averaged"] == 6
    assert r["top1"] == 1.0 and r[f"{N_TEST}way_top1"] == 1.0 and r["top5"] == 1.0
    assert r["chance_top1"] == pytest.approx(1 / N_TEST) and r["chance_top5"] == pytest.approx(5 / N_TEST)
    # single trials (noise sd 1.5 on levels 1 apart) could not do this: averaging is what the protocol needs
    from eegviz.eval.report import decode_eeg

    single = decode_eeg(ds.eeg[te], good)["embedding"]
    hit = [np.array_equal(e, good.emb[np.searchsorted(good.concepts, c)]) for e, c in zip(single, ds.labels[te])]
    assert np.mean(hit) < 0.9
    bad = zero_shot_retrieval(ds, _Reader(ds, text, "collapsed"), te, text)
    assert bad["top1"] == pytest.approx(1 / N_TEST)  # everything on one concept: exactly chance
    assert bad["top5"] <= 5 / N_TEST + 1e-9
    # an all-zero embedding ties every concept (cosine 0): random tie-breaks, chance, not a win of every tie
    flat = zero_shot_retrieval(ds, _Reader(ds, text, "flat"), te, text)
    assert flat["top1"] == pytest.approx(1 / N_TEST) and flat["top5"] == pytest.approx(5 / N_TEST)


def test_zero_shot_figures_stand_beside_an_interval_and_a_guessers_band(tmp_path):
    """The retrieval figures had the chance level alone beside them (the class top-1 has its Wilson interval and a
    guesser's band): over 12 retrievals, a perfect reader lies above the band, a collapsed one (exactly chance)
    inside it, each interval holding its own figure."""
    ds = _things_like(tmp_path)
    te = ds.subset("test")
    text = HashTextEncoder(8, 64)
    for mode, above in (("good", True), ("collapsed", False)):
        r = zero_shot_retrieval(ds, _Reader(ds, text, mode), te, text)
        for name in ("top1", "top5"):
            lo, hi = r[f"{name}_ci95"]
            band = r[f"{name}_chance_band95"]
            assert lo <= r[name] <= hi and band[0] <= r[f"chance_{name}"] <= band[1]
        assert (r["top1"] > r["top1_chance_band95"][1]) is above


def test_evaluate_switches_to_retrieval_on_a_zero_shot_split(tmp_path, monkeypatch, caplog):
    """evaluate() on THINGS-like data: no class top-1 from prototypes of unseen concepts, the retrieval
    figures instead, and the refit controls skipped with the reason (their classes are not the test ones).
    A model that learnt from another subject is said to be scored across people: THINGS-EEG2's test images are
    every subject's, so a model of subject 2 scored on subject 1 passed as a test without a word."""
    import json
    import logging

    import torch

    from eegviz.data import loaders
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.eval.report import evaluate

    ds = _things_like(tmp_path)
    monkeypatch.setattr(loaders, "open_dataset", lambda *a, **k: ds)
    spec = InputSpec(ch_names=ds.ch_names, sfreq=ds.sfreq, tmin=ds.tmin, tmax=ds.tmin + 1.0, baseline=(-0.2, 0.0))
    dec = TwoBranchDecoder(spec, ds.classes)
    dec.prototypes = torch.full_like(dec.prototypes, float("nan"))  # what mean-of-no-trials gives
    dec.save(tmp_path / "model")
    (tmp_path / "model" / "seen_images.json").write_text(json.dumps({"train": ["thing0_00b"], "val": [],
                                                                      "subjects": [2]}))
    with caplog.at_level(logging.WARNING):
        m = evaluate(tmp_path / "things", tmp_path / "model", tmp_path / "report")
    assert m["test_subjects_not_trained_on"] == [1]
    assert (f"{N_TEST * 6} of this dataset's {N_TEST * 6} test trials are of subject(s) 1, whom the model never "
            "learnt from (it learnt from subject(s) 2: ") in caplog.text
    assert "--subjects 2 scores only those" in caplog.text
    assert "eeg_class_top1" not in m and "eeg_class_top1_shuffled_labels" not in m
    z = m["zero_shot"]
    assert z["n_concepts"] == N_TEST and z["n_images"] == N_TEST and 0 <= z["top1"] <= z["top5"] <= 1
    assert m["headline"]["zero_shot_top1"] == z["top1"] and "skipped" in m["controls"]
    assert m["headline"]["ci95"] == z["top1_ci95"] and m["headline"]["chance_band95"] == z["top1_chance_band95"]
    assert "skipped" in m["reconstruction"]  # THINGS stimuli were not given
