"""`eegviz train --notch/--reference`: the choice reaches the InputSpec and is saved with the model."""

import numpy as np

from eegviz.cli import main


def test_cli_threads_notch_and_reference(monkeypatch, tmp_path):
    import eegviz.train.run as run

    seen = {}
    monkeypatch.setattr(run, "train_all", lambda *a, **kw: seen.update(kw))
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--notch", "50",
                 "--reference", "average"]) == 0
    assert seen["notch"] == 50.0 and seen["reference"] == "average"
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 0
    assert seen["notch"] == 0.0 and seen["reference"] == ""  # defaults: as before


def test_trained_model_keeps_notch_and_reference(tmp_path):
    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.stream.preprocess import Preprocessor
    from eegviz.train.decoder import train_decoder

    # 3 images per class, the fewest with every split: what is checked is the spec a trained model keeps
    ds = load_dataset(simulate_dataset(tmp_path / "data", subjects=1, n_per_class=3))
    dec, _ = train_decoder(ds, epochs=1, gan_steps=1, notch=50.0, reference="A1,B1")
    dec.save(tmp_path / "model")
    spec = TwoBranchDecoder.load(tmp_path / "model").spec
    assert (spec.notch, spec.reference, spec.montage) == (50.0, "A1,B1", "biosemi128")
    # the live path uses the same spec: a 50 Hz hum common to all channels is gone
    pre = Preprocessor(spec, spec.ch_names, spec.sfreq)
    t = np.arange(spec.n_times) / spec.sfreq
    hum = np.tile(2e-5 * np.sin(2 * np.pi * 50 * t), (len(spec.ch_names), 1))
    assert np.abs(pre(hum)).max() < 1e-3


def test_progress_lines_pass_on_rank_zero_only():
    import logging

    from eegviz.train.dist import DistInfo, MainRankOnly, main_rank_logging

    rec = lambda level: logging.LogRecord("eegviz.train.decoder", level, __file__, 0, "m", None, None)
    assert MainRankOnly(DistInfo(0, 2)).filter(rec(logging.INFO))
    assert not MainRankOnly(DistInfo(1, 2)).filter(rec(logging.INFO))
    assert MainRankOnly(DistInfo(1, 2)).filter(rec(logging.WARNING))  # a failing rank still says so
    lg = logging.getLogger("eegviz.train.decoder")
    with main_rank_logging(DistInfo(1, 2)):
        assert len(lg.filters) == 1
    assert not lg.filters


def test_the_training_loggers_are_named_after_modules_that_exist():
    """The embedded generator's stages logged on "eegviz.train.generator", a module deleted long ago (a reader or a
    logging config looking for it found nothing). Every logger a run filters by rank is a module's name now, and
    each generator stage logs on one of them, so its progress lines stay on rank 0."""
    import importlib
    import importlib.util

    from eegviz.train.dist import TRAINING_LOGGERS

    assert [n for n in TRAINING_LOGGERS if importlib.util.find_spec(n) is None] == []
    for stage in ("diffusers_gen", "autoencoder", "diffusion", "distill", "loop"):
        assert importlib.import_module(f"eegviz.train.{stage}").log.name == "eegviz.train.diffusers_gen"
