"""eegviz.train.latent_branch: fit the second pixel branch into a model folder and start img2img from it."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import tiny_embedded_model

from eegviz.data.synthetic import load_dataset, simulate_dataset
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.errors import EegvizError
from eegviz.generators.embedded import EmbeddedGenerator
from eegviz.generators.options import GeneratorOptions
from eegviz.stream.preprocess import prepare_epochs
from eegviz.train.latent_branch import fit_latent_branch, main


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("latent")
    model = tiny_embedded_model(root / "m")
    # the decoder's own record, standing for images the toy data does not show
    (model / "seen_images.json").write_text('{"train": ["decoder_image"], "val": ["decoder_choice"]}')
    ds = load_dataset(simulate_dataset(root / "d", subjects=1, n_per_class=3))
    return model, ds, fit_latent_branch(model, ds, "toy")


def test_fit_writes_the_branch_and_the_decoder_loads_it(fitted):
    model, ds, info = fitted
    assert (model / "latent_regressor" / "config.json").is_file() and (model / "latent_branch.json").is_file()
    assert info["train_trials"] == len(ds.subset("train")) and np.isfinite(info["val_r2"])
    dec = TwoBranchDecoder.load(model)
    out = dec.forward(prepare_epochs(ds.eeg[:3], dec.spec))
    assert out["latent"].shape == (3, *info["latent_shape"])
    assert "latent" not in dec.forward(prepare_epochs(ds.eeg[:3], dec.spec), latent=False)  # skipped when unused
    assert dec.latent is not None


def test_img2img_starts_from_the_latents_without_encoding(fitted, monkeypatch):
    model, ds, _ = fitted
    dec = TwoBranchDecoder.load(model)
    out = dec.forward(prepare_epochs(ds.eeg[:2], dec.spec))
    gen = EmbeddedGenerator.from_options(GeneratorOptions(init="latent"), model)
    assert gen.init == "latent"
    from_saliency = gen.generate(out["saliency"], out["embedding"])
    monkeypatch.setattr(gen.lean.vae, "encode", lambda *a, **k: (_ for _ in ()).throw(AssertionError("encoded")))
    a = gen.generate(out["saliency"], out["embedding"], latents=out["latent"])
    b = gen.generate(out["saliency"], out["embedding"], latents=out["latent"])
    other = gen.generate(out["saliency"], out["embedding"], latents=out["latent"][::-1].copy())
    assert a.shape == from_saliency.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, other) and not np.array_equal(a, from_saliency)


def test_init_latent_needs_a_model_with_the_branch(tmp_path):
    from eegviz.pipeline import Pipeline

    model = tiny_embedded_model(tmp_path / "m")
    gen = EmbeddedGenerator.from_options(GeneratorOptions(init="latent"), model)
    with pytest.raises(EegvizError, match="no latent branch"):
        Pipeline(source=None, decoder=TwoBranchDecoder.load(model), generator=gen, sinks=[])
    (model / "model_index.json").unlink()
    assert main(["--model", str(model), "--data", str(tmp_path / "nowhere")]) == 2


def test_fitting_again_keeps_the_regressor_it_replaces(fitted):
    model, ds, first = fitted
    before = (model / "latent_regressor" / "diffusion_pytorch_model.safetensors").read_bytes()
    info = fit_latent_branch(model, ds, "again")
    kept = model / info["replaced_kept_as"]
    assert kept.name.startswith("latent_regressor.previous-")
    assert (kept / "diffusion_pytorch_model.safetensors").read_bytes() == before
    assert info["replaced_record"]["data"] == "toy" and info["data"] == "again"
    assert TwoBranchDecoder.load(model).latent is not None


def test_the_refit_adds_its_images_to_the_models_seen_record(fitted, tmp_path):
    """Refitting the branch on other data taught the model those images; eval must refuse them as test images too
    (eegviz.data.seen_images), so the record grows; the decoder's own images stay in it."""
    from eegviz.data.seen_images import add_seen_images, read_seen_images

    model, ds, _ = fitted
    seen = read_seen_images(model)
    ids = np.asarray(ds.image_ids).astype(str)
    decoder_own = {"train": {"decoder_image"}, "val": {"decoder_choice"}}
    for role in ("train", "val"):  # exactly the union: the toy data's test images are not added
        assert seen[role] == decoder_own[role] | set(ids[ds.subset(role)])
    assert add_seen_images(tmp_path, ds) is False and not (tmp_path / "seen_images.json").exists()


def test_the_refit_takes_the_dataset_options_of_eegviz_train(tmp_path, monkeypatch):
    """As the saliency refit: an XDF-session dataset needs its --images-dir, which this tool did not take."""
    import eegviz.data.loaders as loaders

    seen = {}

    def opened(path, **opts):
        seen.update(opts)
        raise EegvizError("stopped here")

    monkeypatch.setattr(loaders, "open_dataset", opened)
    assert main(["--model", str(tmp_path), "--data", str(tmp_path), "--images-dir", str(tmp_path),
                 "--markers", "eegviz-presenter", "--splits", "s.pth"]) == 2
    assert seen == {"images_dir": str(tmp_path), "marker_stream": "eegviz-presenter", "splits": "s.pth"}


def test_a_pipeline_whose_vae_is_not_the_one_the_branch_was_fitted_to_is_refused(fitted):
    """--init latent with --sd-model: a VAE of the same latent shape (another pipeline's, a retrained one) passed the
    shape check, and img2img started from latents of another autoencoder, at another scale, without a word (found by
    review). Its weights or scaling factor differing from the model folder's vae/ are refused in one line; the
    folder's own pipeline, in any dtype, is taken."""
    import torch

    from eegviz.pipeline import Pipeline

    model, _, _ = fitted
    dec = TwoBranchDecoder.load(model)
    gen = EmbeddedGenerator.from_options(GeneratorOptions(init="latent"), model)
    assert Pipeline(source=None, decoder=dec, generator=gen, sinks=[])._from_latents
    gen.pipe.vae.config["scaling_factor"] = gen.pipe.vae.config.scaling_factor * 2  # another scale
    with pytest.raises(EegvizError, match=r"--init latent: this model's latent branch predicts latents of the VAE "
                                          r"in .*vae; the generator's pipeline draws through another VAE") as err:
        Pipeline(source=None, decoder=dec, generator=gen, sinks=[])
    assert "\n" not in str(err.value)
    gen = EmbeddedGenerator.from_options(GeneratorOptions(init="latent"), model)
    with torch.no_grad():
        next(gen.pipe.vae.parameters()).add_(0.01)  # the same shape, other weights
    with pytest.raises(EegvizError, match="draws through another VAE"):
        Pipeline(source=None, decoder=dec, generator=gen, sinks=[])
    gen = EmbeddedGenerator.from_options(GeneratorOptions(init="saliency"), model)
    gen.pipe.vae.config["scaling_factor"] = 9.0  # nothing is checked where the branch is not used
    assert not Pipeline(source=None, decoder=dec, generator=gen, sinks=[])._from_latents


def test_bench_times_the_latent_start(fitted, tmp_path, monkeypatch, capsys):
    """`eegviz bench` had no --init: the latent branch's epoch -> image latency could not be measured. It now
    decodes with the branch and starts img2img from its latents, as a session with --init latent does; a model
    without the branch is refused before the warm-up."""
    import json

    from eegviz.cli import main

    model, _, _ = fitted
    started = []
    generate = EmbeddedGenerator.generate
    monkeypatch.setattr(EmbeddedGenerator, "generate",
                        lambda self, *a, **k: started.append(k.get("latents") is not None) or generate(self, *a, **k))
    out = tmp_path / "bench.json"
    assert main(["bench", "--n", "6", "--no-capture", "--model", str(model), "--init", "latent",
                 "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["init"] == "latent" and r["latency_ms"]["epoch_to_image"]["n"] == 6
    assert started.count(True) >= 6  # every timed epoch (and the throughput batches) started from latents
    capsys.readouterr()
    bare = tiny_embedded_model(tmp_path / "bare")
    assert main(["bench", "--n", "6", "--model", str(bare), "--init", "latent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no latent branch" in err


def test_data_not_laid_out_as_the_decoder_is_refused_before_the_fit(fitted, tmp_path):
    """The refit read any dataset as the decoder's epochs: another channel count ended in a RuntimeError traceback
    from the ridge fit, and the same channels in another order were fitted without a word (the live decoder's
    epochs then meet weights learnt on other channels). Refused in one line, the regressor left as it was."""
    import dataclasses

    model, ds, _ = fitted
    before = (model / "latent_regressor" / "diffusion_pytorch_model.safetensors").read_bytes()
    fewer = dataclasses.replace(ds, eeg=ds.eeg[:, :16], ch_names=ds.ch_names[:16])
    with pytest.raises(EegvizError, match=r"^the latent branch cannot be fitted on this data: the dataset's epochs "
                                          r"\(16 ch, .* differ from the model's \(128 ch"):
        fit_latent_branch(model, fewer, "fewer")
    reordered = dataclasses.replace(ds, eeg=ds.eeg[:, ::-1], ch_names=ds.ch_names[::-1])
    with pytest.raises(EegvizError, match="the same channels in another order"):
        fit_latent_branch(model, reordered, "reordered")
    later = dataclasses.replace(ds, tmin=ds.tmin - 0.2)
    with pytest.raises(EegvizError, match="differ from the model's"):
        fit_latent_branch(model, later, "later")
    assert (model / "latent_regressor" / "diffusion_pytorch_model.safetensors").read_bytes() == before


def test_init_latent_on_a_decoder_only_folder_does_not_send_the_user_to_a_fit_that_refuses_it(tmp_path):
    """--init latent with a decoder-only folder (models/synthetic-realistic, drawing with --sd-model) was told to fit
    a branch with `python -m eegviz.train.latent_branch`, which refuses a folder without its own pipeline: the line
    says now that such a folder cannot take one, and names --init saliency."""
    from types import SimpleNamespace

    from eegviz.pipeline import check_latent_start

    model = tiny_embedded_model(tmp_path / "m")
    wants_latents = SimpleNamespace(init="latent")
    with pytest.raises(EegvizError, match="fit one with `python -m eegviz.train.latent_branch"):
        check_latent_start(wants_latents, TwoBranchDecoder.load(model))  # its own pipeline: the fit takes it
    (model / "model_index.json").unlink()  # decoder-only
    with pytest.raises(EegvizError) as err:
        check_latent_start(wants_latents, TwoBranchDecoder.load(model))
    assert "cannot take one" in str(err.value) and "use --init saliency" in str(err.value)
    assert "latent_branch --model" not in str(err.value)
    assert main(["--model", str(model), "--data", str(tmp_path / "nowhere")]) == 2  # the fit it is not sent to
