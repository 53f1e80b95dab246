"""The default generator plugin on the embedded layout: a diffusers img2img pipeline folder (no text encoder)
plus sampling.json, loaded offline through the same DiffusersImg2ImgGenerator / lean loop as real SD."""

import json

import numpy as np
import pytest
from eegviz.errors import EegvizError
from eegviz.generators import make_generator
from eegviz.generators.diffusers_sd import DiffusersImg2ImgGenerator
from eegviz.generators.embedded import EmbeddedGenerator
from eegviz.generators.options import GeneratorOptions
from tiny_models import tiny_embedded_folder, tiny_embedded_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_embedded_folder(tmp_path_factory.mktemp("embedded"))


def _inputs(b=3, h=40):
    rng = np.random.default_rng(0)
    return (rng.random((b, h, h, 3)).astype(np.float32),
            rng.standard_normal((b, 16, 384)).astype(np.float32))  # MiniLM caption states


def test_folder_loads_offline_as_a_standard_pipeline(folder, monkeypatch):
    from diffusers import DiffusionPipeline, StableDiffusionImg2ImgPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionImg2ImgPipeline" and index["text_encoder"] == [None, None]
    # diffusers needs the non-optional null components named (eegviz's loader reads them from model_index.json)
    pipe = DiffusionPipeline.from_pretrained(folder, text_encoder=None, tokenizer=None)
    assert isinstance(pipe, StableDiffusionImg2ImgPipeline) and pipe.unet.config.cross_attention_dim == 384


def test_default_plugin_reads_folder_and_sampling(folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (folder / "sampling.json").write_text(json.dumps({"steps": 2, "strength": 0.7, "guidance": 1.0,
                                                      "text_encoder": "minilm", "image_size": 48}))
    try:
        gen = make_generator("embedded", folder, options=GeneratorOptions(device="cpu"))
    finally:
        (folder / "sampling.json").write_text(json.dumps({"steps": 1, "strength": 0.6, "guidance": 1.0,
                                                          "text_encoder": "minilm", "image_size": 32}))
    assert type(gen) is EmbeddedGenerator and isinstance(gen, DiffusersImg2ImgGenerator)
    assert (gen.steps, gen.strength, gen.guidance, gen.size, gen.caption_space) == (2, 0.7, 1.0, 48, "minilm")
    assert gen.family == "native" and type(gen.pipe.scheduler).__name__ == "LCMScheduler"  # its own scheduler
    assert gen.unet_passes_per_image == 2  # guidance baked in: no unconditional pass
    over = make_generator("embedded", folder, options=GeneratorOptions(steps=3, strength=0.9, size=32, device="cpu"))
    assert (over.steps, over.strength, over.size) == (3, 0.9, 32)


def test_generation_shapes_determinism_and_steps(folder):
    gen = make_generator("embedded", folder, options=GeneratorOptions(device="cpu"))
    sal, emb = _inputs()
    calls = []
    hook = gen.pipe.unet.register_forward_hook(lambda *a: calls.append(a[1][0].shape[0]))
    try:
        a = gen.generate(sal, emb, seed=4)
    finally:
        hook.remove()
    assert calls == [3]  # one batched pass for the 3 pending epochs, 1 step
    assert a.shape == (3, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, gen.generate(sal, emb, seed=4))
    assert np.abs(a.astype(int) - gen.generate(sal, emb, seed=5)).max() > 0
    # any saliency resolution is resized inside: 20 px in, 32 px out
    assert gen.generate(sal[:1, ::2, ::2], emb[:1]).shape == (1, 32, 32, 3)


def test_one_seed_per_image_gives_each_image_what_it_gets_alone(folder):
    """A session seeds each epoch's image with the epoch's own index: whether epochs 9 and 2 were generated in
    one batch with epoch 4 (inference fell behind) or alone must not change what is drawn for them."""
    gen = make_generator("embedded", folder, options=GeneratorOptions(device="cpu"))
    sal, emb = _inputs()
    batch = gen.generate(sal, emb, seed=[4, 9, 2]).astype(int)
    for i, s in enumerate([4, 9, 2]):
        alone = gen.generate(sal[i : i + 1], emb[i : i + 1], seed=[s])[0].astype(int)
        assert np.abs(batch[i] - alone).max() <= 1  # float rounding of a batched convolution only
    # one generator for the batch (what sessions used): its draws run across the batch, so even the first image
    # differs from that seed's batch-1 image
    one_seed = gen.generate(sal, emb, seed=4).astype(int)
    assert np.abs(one_seed[0] - batch[0]).max() > 8
    with pytest.raises(ValueError, match="2 seeds for a batch of 3"):
        gen.generate(sal, emb, seed=[1, 2])


def test_saliency_resized_batched_with_torch(folder):
    gen = make_generator("embedded", folder, options=GeneratorOptions(device="cpu"))
    sal = np.zeros((2, 20, 20, 3), np.float32)
    sal[0, :, :10] = 1.0
    sal[1, :, 10:] = 1.0
    x = gen.resize(sal)
    assert x.shape == (2, 3, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert x[0, :, :, :12].mean() > 0.9 and x[0, :, :, 20:].mean() < 0.1 and x[1, :, :, 20:].mean() > 0.9


def test_tiny_autoencoder_folder(tmp_path):
    gen = make_generator("embedded", tiny_embedded_folder(tmp_path, ctx_dim=64, vae="tiny"),
                         options=GeneratorOptions(device="cpu"))
    assert type(gen.pipe.vae).__name__ == "AutoencoderTiny"
    out = gen.generate(np.full((2, 16, 16, 3), 0.5, np.float32), np.zeros((2, 8, 64), np.float32))
    assert out.shape == (2, 32, 32, 3)


def test_corrupt_weights_in_the_folder_are_one_line_error(tmp_path):
    """A damaged file of a local folder is named as such, not as a download that could not happen."""
    root = tiny_embedded_folder(tmp_path, ctx_dim=32)
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(EegvizError, match="missing or corrupt") as err:
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))
    assert "\n" not in str(err.value) and "diffusion_pytorch_model.safetensors" in str(err.value)


def test_a_folder_without_model_index_is_refused(tmp_path):
    """The embedded plugin reads only pipeline folders: a model folder from before them (its generator in
    generator.json + generator.safetensors) gets one line saying what is missing."""
    (tmp_path / "generator.json").write_text(json.dumps({"steps": 6, "channels": [32, 64]}))
    with pytest.raises(EegvizError, match="model_index.json"):
        make_generator("embedded", tmp_path, options=GeneratorOptions(device="cpu"))


def test_a_decoder_only_folder_names_the_options_that_draw_it(tmp_path):
    """replay/live/demo with a `train --decoder-only` folder were told "pass --sd-model MODEL", which they then
    refuse without --generator diffusers; the line now gives both."""
    (tmp_path / "decoder.json").write_text("{}")
    with pytest.raises(EegvizError) as err:
        make_generator("embedded", tmp_path, options=GeneratorOptions(device="cpu"))
    assert "model_index.json" in str(err.value) and "--generator diffusers --sd-model MODEL" in str(err.value)


def test_folder_without_a_pipeline_is_one_line_error(tmp_path):
    with pytest.raises(EegvizError, match="holds no diffusers pipeline"):
        make_generator("diffusers", tmp_path, options=GeneratorOptions())


def test_bad_sampling_json_is_one_line_error(tmp_path):
    root = tiny_embedded_folder(tmp_path, ctx_dim=32)
    (root / "sampling.json").write_text(json.dumps({"steps": "two"}))
    with pytest.raises(EegvizError, match="steps"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))
    (root / "sampling.json").write_text(json.dumps({"steps": 0, "strength": 0.5}))
    with pytest.raises(EegvizError, match="steps >= 1"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))


def test_a_missing_weights_file_is_one_line_and_diffusers_stays_quiet(tmp_path, capfd):
    """diffusers logs its own error line before raising; the user gets eegviz's one line only, and diffusers'
    errors are shown again afterwards."""
    from diffusers.utils import logging as diffusers_logging

    root = tiny_embedded_folder(tmp_path, ctx_dim=32)
    (root / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(EegvizError, match="missing or corrupt"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))
    assert "An error occurred" not in capfd.readouterr().err
    assert diffusers_logging.get_verbosity() < diffusers_logging.CRITICAL  # silenced for the load only


def test_a_missing_sampling_json_is_named_only_in_an_eegviz_model_folder(tmp_path):
    """An eegviz model folder (decoder.json beside the pipeline) without its sampling.json is said to lack it,
    not refused for want of guidance's empty-prompt encoding; a plain pipeline folder is left to the defaults."""
    root = tiny_embedded_folder(tmp_path, ctx_dim=32)
    (root / "sampling.json").unlink()
    (root / "decoder.json").write_text("{}")
    with pytest.raises(EegvizError, match="has no sampling.json"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))
    (root / "decoder.json").unlink()
    gen = make_generator("embedded", root, options=GeneratorOptions(device="cpu", guidance=0.0))
    assert gen.steps == 1


def test_options_from_command_line():
    opts = GeneratorOptions.from_mapping({"sd_model": "m", "steps": None, "strength": 0.4})
    assert opts == GeneratorOptions(sd_model="m", strength=0.4)
    assert GeneratorOptions.from_mapping({}) == GeneratorOptions()


def test_eval_draws_with_the_model_folders_own_pipeline(tmp_path):
    """`eegviz eval` on a model folder that is a pipeline folder: the reconstructions come from it, no flags."""
    from eegviz.cli import main
    from eegviz.data.synthetic import simulate_dataset

    model = tiny_embedded_model(tmp_path / "model")
    data = simulate_dataset(tmp_path / "data", subjects=1, n_per_class=1, seed=2)  # unseen images
    assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(tmp_path / "ev"),
                 "--no-controls"]) == 0
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["generator"] == "embedded" and m["image_size"] == 32
    assert -1 <= m["embedding_cosine_shuffled"] <= 1  # the embedding cosine's control, another trial's caption
    assert m["sampling"] == {"steps": 1, "strength": 0.6, "guidance": 1.0}
    assert "label+saliency" in m["ablation"] and "reconstruction_40way_top1" in m["headline"]
    # every headline figure beside the control that could refute it (the IS stood alone, yet cannot tell trials
    # apart: the maps shuffled score about as high)
    head, shuffled = m["headline"], m["generation_controls"]["saliency_shuffled"]
    assert head["reconstruction_40way_top1_saliency_shuffled"] == shuffled["40way_top1"]
    assert head["reconstruction_is_saliency_shuffled"] == shuffled["is"]["mean"]
    assert head["is_true_stimuli"] == m["is_true_stimuli"]["mean"]
    assert head["reconstruction_iou"] == m["ablation"]["label+saliency"]["iou"]
    assert head["reconstruction_iou_saliency_shuffled"] == shuffled["iou"]
    assert head["saliency_iou_shuffled"] == m["saliency"]["shuffled_control"]["iou"]
    # (one image per class: no validation split to choose the constant guess on, so none is given, nor claimed)
    assert "constant_guess" not in m["saliency"] and "saliency_iou_constant_guess" not in head


def test_damaged_pipeline_config_is_one_line_error(tmp_path):
    """A unet/config.json that no longer fits its weights (diffusers raises RuntimeError: size mismatch), and a
    model_index.json that is JSON but not an object: each one line, not a traceback."""
    root = tiny_embedded_folder(tmp_path / "a", ctx_dim=32)
    cfg = json.loads((root / "unet" / "config.json").read_text())
    cfg["cross_attention_dim"] = 48
    (root / "unet" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(EegvizError, match="missing or corrupt"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))
    root = tiny_embedded_folder(tmp_path / "b", ctx_dim=32)
    (root / "model_index.json").write_text("[]")
    with pytest.raises(EegvizError, match="must hold a JSON object"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu"))


def test_more_steps_than_the_schedule_is_one_line_error(tmp_path):
    root = tiny_embedded_folder(tmp_path, ctx_dim=32)
    # (the tiny folder's LCMScheduler holds 50 steps, not its 1000 training timesteps: see test_diffusers_sd)
    with pytest.raises(EegvizError, match=r"--steps 600 at strength 0.5 is more steps than LCMScheduler's 50 "
                                          r"original_inference_steps allow \(at most 25\)"):
        make_generator("embedded", root, options=GeneratorOptions(device="cpu", steps=600, strength=0.5))


def test_shipped_folder_is_a_whole_standard_pipeline_that_draws_from_a_prompt(monkeypatch):
    """The shipped default loads with `DiffusionPipeline.from_pretrained(folder)` and nothing else, offline; its text
    encoder is the genuine MiniLM (the published weights' SHA-256) and the pipeline's own prompt path gives the
    caption states eegviz's decoder is trained on, so `pipe(prompt=...)` draws what eegviz's lean loop draws from
    those states. eegviz's generator leaves the text encoder unloaded (guidance is baked in)."""
    import hashlib

    import torch
    from diffusers import DiffusionPipeline
    from eegviz.decoders.text import MINILM_SHA256, MiniLMTextEncoder
    from eegviz.paths import default_model_dir
    from eegviz.train.pipeline_folder import num_inference_steps_for

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = default_model_dir()
    pipe = DiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    weights = (folder / "text_encoder" / "model.safetensors").read_bytes()
    assert hashlib.sha256(weights).hexdigest() == MINILM_SHA256
    captions = ["an image of a star", "a small red boat at the top left"]
    states = MiniLMTextEncoder().encode(captions)
    with torch.inference_mode():
        prompt_states, _ = pipe.encode_prompt(captions, "cpu", 1, False)
    np.testing.assert_allclose(prompt_states.numpy(), states, atol=1e-5)

    gen = make_generator("embedded", folder, options=GeneratorOptions(device="cpu"))
    assert gen.pipe.text_encoder is None and gen.pipe.tokenizer is None
    maps = np.random.default_rng(1).random((2, gen.size, gen.size, 3)).astype(np.float32)
    ours = gen.generate(maps, states, seed=[3, 4]).astype(int)
    for i, seed in enumerate([3, 4]):
        theirs = pipe(prompt=captions[i], image=torch.from_numpy(maps[i : i + 1]).permute(0, 3, 1, 2),
                      strength=gen.strength, num_inference_steps=num_inference_steps_for(gen.steps, gen.strength),
                      guidance_scale=1.0, generator=torch.Generator().manual_seed(seed), output_type="np").images[0]
        assert np.abs(np.round(theirs * 255).astype(int) - ours[i]).max() <= 1


def test_an_sd_model_given_to_the_embedded_generator_is_refused_not_dropped(tmp_path):
    """--sd-model is for the diffusers plugin; the embedded one built the model folder's own pipeline and dropped
    it without a word (found by review), so `--sd-model ~/sd-turbo` without `--generator diffusers` drew with
    another model than the one asked for."""
    with pytest.raises(EegvizError, match="--sd-model is read by the diffusers generator only"):
        EmbeddedGenerator.from_options(GeneratorOptions(sd_model="/somewhere/sd-turbo"), tmp_path)
