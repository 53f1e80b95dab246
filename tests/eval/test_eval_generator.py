"""`eegviz eval`'s generator: --steps, --strength and --init apply to the model's own (embedded) generator as they
do with --generator, are checked the same way before anything is written, and metrics.json records the sampling
used. (--init picks no row of the report: eval scores the saliency start and, where the model has a latent branch,
the latent start side by side; a model without one is refused --init latent, as a session refuses it.)"""

import json

import pytest

from eegviz.cli import main
from eegviz.errors import EegvizError
from eegviz.eval.report import eval_generator, evaluate
from eegviz.generators.options import GeneratorOptions
from tiny_models import tiny_embedded_folder, tiny_embedded_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The embedded layout at toy size; its sampling.json says steps 1, strength 0.6."""
    return tiny_embedded_folder(tmp_path_factory.mktemp("embedded"))


def _settings(gen):
    return gen.name, gen.steps, gen.strength, gen.init


def test_default_generator_takes_the_options_as_generator_embedded_does(folder):
    opts = GeneratorOptions(steps=3, strength=0.9, init="latent", device="cpu")
    assert _settings(eval_generator(folder, None, opts)) == ("embedded", 3, 0.9, "latent")
    assert _settings(eval_generator(folder, "embedded", opts)) == _settings(eval_generator(folder, None, opts))
    assert _settings(eval_generator(folder)) == ("embedded", 1, 0.6, "saliency")  # unset: the model's own
    assert eval_generator(folder / "unet") is None  # no pipeline: no default generator (reported as skipped)


@pytest.mark.parametrize("opts", [GeneratorOptions(steps=0), GeneratorOptions(strength=1.5)])
def test_default_generator_checks_the_options(folder, opts):
    with pytest.raises(EegvizError, match="steps >= 1 and 0 < strength <= 1"):
        eval_generator(folder, None, opts)


@pytest.fixture(scope="module")
def data_and_model(tmp_path_factory):
    """The smallest synthetic dataset with every split, and the shipped decoder with a toy embedded pipeline."""
    from eegviz.data.synthetic import simulate_dataset

    root = tmp_path_factory.mktemp("eval")
    data = simulate_dataset(root / "data", subjects=1, n_per_class=3, seed=2)  # images the shipped decoder never saw
    return data, tiny_embedded_model(root / "model")


def test_init_latent_without_a_latent_branch_is_refused_before_writing(data_and_model, tmp_path):
    data, model = data_and_model  # tiny_embedded_model has no latent_regressor/
    gen = eval_generator(model, None, GeneratorOptions(init="latent", device="cpu"))
    with pytest.raises(EegvizError, match="--init latent: this model has no latent branch"):
        evaluate(data, model, tmp_path / "ev", controls=False, generator=gen)
    assert not (tmp_path / "ev").exists()


# The command line: cmd_eval builds its generator with eval_generator whether or not --generator is given (it built
# one only for --generator, and evaluate's default ignored the options); metrics.json records what was used.
def test_eval_cli_applies_sampling_options_without_generator(data_and_model, tmp_path):
    data, model = data_and_model
    out = tmp_path / "ev"
    assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(out), "--no-controls",
                 "--steps", "2", "--strength", "0.9"]) == 0
    sampling = json.loads((out / "metrics.json").read_text())["sampling"]
    assert sampling == {"steps": 2, "strength": 0.9, "guidance": 1.0}


@pytest.mark.parametrize("opt, why", [(["--steps", "0", "--no-controls"], "--steps must be >= 1"),
                                      (["--init", "latent", "--no-controls"], "no latent branch"),
                                      # found after the reconstructions, it left them in --out (a rerun refused)
                                      (["--controls-highpass", "200"], "below the data's Nyquist frequency")])
def test_eval_cli_refuses_bad_sampling_without_generator_before_writing(data_and_model, tmp_path, capsys, opt, why):
    data, model = data_and_model
    out = tmp_path / "ev"
    assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(out)] + opt) == 2
    err = capsys.readouterr().err
    assert err.startswith("eegviz: ") and err.count("\n") == 1 and why in err
    assert not out.exists()


def test_a_generator_drawing_through_another_vae_leaves_the_latent_row_out_saying_why(data_and_model, tmp_path):
    """--generator diffusers --sd-model with another VAE (--init saliency, so nothing refused it): the "label+latent"
    row was drawn from the latent branch's latents through a VAE they do not belong to, and scored beside the other
    rows without a word (found by review). It is left out, and metrics.json says why; the model's own VAE keeps it."""
    import shutil

    from eegviz.data.synthetic import load_dataset
    from eegviz.train.latent_branch import fit_latent_branch

    data, model = data_and_model
    own = tmp_path / "model"
    shutil.copytree(model, own)
    fit_latent_branch(own, load_dataset(data), "toy")
    gen = eval_generator(own, None, GeneratorOptions(device="cpu"))
    gen.pipe.vae.config["scaling_factor"] = gen.pipe.vae.config.scaling_factor * 2  # another VAE's scale
    evaluate(data, own, tmp_path / "other", controls=False, generator=gen, refuse_seen=False)
    metrics = json.loads((tmp_path / "other" / "metrics.json").read_text())
    assert "through another VAE" in metrics["latent_branch"]["skipped"]
    assert "label+latent" not in json.dumps(metrics)
    evaluate(data, own, tmp_path / "own", controls=False, generator=eval_generator(own, None, GeneratorOptions(
        device="cpu")), refuse_seen=False)
    metrics = json.loads((tmp_path / "own" / "metrics.json").read_text())
    assert "latent_branch" not in metrics and "label+latent" in json.dumps(metrics)


def test_eval_help_says_init_picks_no_row(capsys):
    """eval's --init had the session's help, "what img2img starts from", while eval scores the saliency start and the
    latent start side by side whatever it says: `eval --init latent` read as the latent branch's figures were the
    saliency start's (the headline). Its help says what it does in eval; the sessions keep theirs."""
    for command in ("eval", "replay"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        said = " ".join(capsys.readouterr().out.split())
        if command == "eval":
            assert "it picks no row" in said and "(label+latent) side by side either way" in said, said
            assert "what img2img starts from" not in said
        else:
            assert "--init {saliency,latent} what img2img starts from: the GAN saliency map (default)" in said


def test_a_folder_whose_training_was_stopped_is_said_so_by_eval_and_sessions(data_and_model, tmp_path, caplog,
                                                                               monkeypatch):
    """`eegviz train` saves the decoder an hour before the generator: a run stopped between them left a folder that
    eval scored as a finished decoder without a word, and that a session told to draw with another folder's pipeline
    ("as in a decoder-only model folder"). Both say now that the run was stopped and --resume finishes it."""
    import logging
    import shutil

    from eegviz.generators import make_generator

    data, model = data_and_model
    stopped = tmp_path / "stopped"
    shutil.copytree(model, stopped)
    for name in ("model_index.json", "sampling.json", "training.json", "README.md"):  # as a stopped run leaves it
        (stopped / name).unlink(missing_ok=True)
    (stopped / "checkpoints").mkdir()
    (stopped / "checkpoints" / "run.json").write_text("{}")
    with pytest.raises(EegvizError) as err:
        make_generator("embedded", stopped, options=GeneratorOptions(device="cpu"))
    assert "run was stopped before it finished" in str(err.value) and "--resume" in str(err.value)
    assert "decoder-only" not in str(err.value)
    import eegviz.eval.report as report

    def scored(*a, **k):  # the checks after the line; the scoring itself is not this test's
        raise EegvizError("scoring starts")

    monkeypatch.setattr(report, "check_latent_start", scored)
    with caplog.at_level(logging.WARNING, logger="eegviz.eval.report"), pytest.raises(EegvizError, match="scoring"):
        evaluate(data, stopped, tmp_path / "ev", controls=False, reconstructions=False)
    assert "run was stopped before it finished" in caplog.text and "scores the decoder it had saved" in caplog.text
    from eegviz.modelio import interrupted_training

    (stopped / "training.json").write_text("{}")  # a run that ended keeps its checkpoints/: nothing to say
    assert interrupted_training(stopped) == "" and interrupted_training(tmp_path / "nothing") == ""
