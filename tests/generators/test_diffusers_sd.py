"""The real diffusers path on a tiny randomly initialised SD pipeline built from config (no downloads)."""

import numpy as np
import pytest
import torch

from eegviz.errors import EegvizError
from eegviz.generators.diffusers_sd import DiffusersImg2ImgGenerator
from tiny_models import tiny_pipe


@pytest.fixture(scope="module")
def gen():
    return DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="turbo", steps=1, strength=0.5, size=32)


def _count_unet_calls(g, fn):
    calls = []
    h = g.pipe.unet.register_forward_hook(lambda *a: calls.append(1))
    try:
        fn()
    finally:
        h.remove()
    return len(calls)


def test_shapes_and_exact_step_counts(gen):
    sal = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    emb = np.random.default_rng(1).standard_normal((2, 8, 32)).astype(np.float32)
    for steps in (1, 2, 4):
        gen.steps = steps
        n = _count_unet_calls(gen, lambda: gen.generate(sal, emb))
        assert n == steps
    gen.steps = 1
    out = gen.generate(sal, emb)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8


def test_deterministic_with_seed_and_steered_by_saliency(gen):
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((1, 8, 32)).astype(np.float32)
    a = np.zeros((1, 16, 16, 3), np.float32)
    a[:, :, :8] = 1.0  # bright left half
    b = a[:, :, ::-1].copy()  # bright right half
    np.testing.assert_array_equal(gen.generate(a, emb, seed=3), gen.generate(a, emb, seed=3))

    seen = []
    hook = gen.pipe.unet.register_forward_hook(lambda m, args, kw=None: seen.append(args[0].detach().clone()))
    try:
        gen.generate(a, emb, seed=3)
        gen.generate(b, emb, seed=3)
    finally:
        hook.remove()
    # same seed, so the noise is identical: the UNet's input differs only by the encoded saliency maps
    diff_in = (seen[0] - seen[1]).flatten()
    enc = lambda x: gen.pipe.vae.encode(torch.from_numpy(x).permute(0, 3, 1, 2) * 2 - 1).latent_dist.mean
    with torch.no_grad():
        ia = torch.nn.functional.interpolate(torch.from_numpy(a).permute(0, 3, 1, 2), size=32, mode="bicubic")
        ib = torch.nn.functional.interpolate(torch.from_numpy(b).permute(0, 3, 1, 2), size=32, mode="bicubic")
        diff_lat = (enc(ia.clamp(0, 1).permute(0, 2, 3, 1).numpy()) - enc(ib.clamp(0, 1).permute(0, 2, 3, 1).numpy())).flatten()
    assert diff_in.abs().max() > 0
    assert float(torch.corrcoef(torch.stack([diff_in, diff_lat]))[0, 1]) > 0.5


def test_embedding_width_mismatch_is_a_clear_error(gen):
    # the way out is the command line's, not set_projection (Python), which the message used to name
    with pytest.raises(EegvizError, match=r"expects 32-d; train the decoder in that model's own text space "
                                          r"\(eegviz train --text-encoder clip:SD_MODEL\)"):
        gen.generate(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 8, 64), np.float32))
    gen.set_projection(torch.nn.Linear(64, 32))
    assert gen.generate(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 8, 64), np.float32)).shape[0] == 1
    gen.projection = None


def test_latent_start_is_declared_and_checked_at_construction():
    """The eval report and the pipeline read the class flag and the constructor's init, not ad-hoc attributes."""
    assert DiffusersImg2ImgGenerator.accepts_latents is True
    g = DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="turbo", init="latent", caption_space="minilm", size=32)
    assert (g.init, g.caption_space) == ("latent", "minilm")
    with pytest.raises(EegvizError, match="--init must be"):
        DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="turbo", init="noise")


def test_missing_model_offline_is_one_line_error(monkeypatch, tmp_path):
    """With HF_HUB_OFFLINE=1 an id not cached is said to be so, and why the Hub was not asked: it was "no network
    to fetch it", which sent a user whose network works to look for the wrong cause."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EegvizError, match=r"cannot load diffusers model 'stabilityai/sd-turbo-not-cached': .*not in "
                                          r"the HF cache \(HF_HUB_OFFLINE=1, so the Hub was not asked\)$") as err:
        DiffusersImg2ImgGenerator("stabilityai/sd-turbo-not-cached")
    assert "network" not in str(err.value) and "\n" not in str(err.value)


def test_missing_folder_is_said_to_be_missing_not_uncached(monkeypatch, tmp_path):
    """--sd-model /data/sd15 (a typo, a drive not mounted) was reported as a Hub id absent from the HF cache; a
    path that cannot be an id is a missing folder, and a file is not a pipeline folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for path in (tmp_path / "sd15", "./not-here/sd"):
        with pytest.raises(EegvizError, match="no such folder") as err:
            DiffusersImg2ImgGenerator(str(path))
        assert "cache" not in str(err.value)
    (tmp_path / "model_index.json").write_text("{}")
    with pytest.raises(EegvizError, match="it is a file, not a pipeline folder"):
        DiffusersImg2ImgGenerator(str(tmp_path / "model_index.json"))
    with pytest.raises(EegvizError, match="not in the HF cache"):  # an id-shaped name is still looked up as one
        DiffusersImg2ImgGenerator("stabilityai/sd-turbo-not-cached")


def test_default_size_is_the_models_native_resolution():
    g = DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="turbo", steps=1, strength=0.5)
    assert g.size == 16 * 2  # UNet sample size x VAE scale factor (SD-Turbo: 64 x 8 = 512)
    assert g.generate(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 4, 32), np.float32)).shape == (1, 32, 32, 3)


def test_local_sd_folder_through_make_generator_guides_against_the_empty_prompt(tmp_path, monkeypatch):
    """A real-SD-shaped folder (CLIP text encoder, no sampling.json): family sd, guidance 7.5, two passes/step."""
    from eegviz.generators import make_generator
    from eegviz.generators.options import GeneratorOptions
    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    gen = make_generator("diffusers", tmp_path, options=GeneratorOptions(sd_model=str(folder), steps=2,
                                                                        device="cpu"))
    assert (gen.family, gen.guidance, gen.unet_passes_per_image) == ("sd", 7.5, 4)
    assert type(gen.pipe.scheduler).__name__ == "DDIMScheduler"
    out = gen.generate(np.full((2, 16, 16, 3), 0.5, np.float32), np.zeros((2, 77, 32), np.float32))
    assert out.shape == (2, 32, 32, 3)
    assert gen.uncond_embeds(77).abs().max() > 0.1  # the text encoder's "" encoding, not zeros


@pytest.mark.parametrize("plant", ["library", "py_file"])
def test_a_folder_whose_components_could_run_code_is_refused_before_loading(tmp_path, monkeypatch, plant):
    """A component from any library but diffusers / transformers, or a `<component>/<library>.py` beside it (which
    diffusers releases before their trust_remote_code check imported), is refused before diffusers reads the
    folder; the planted code never runs."""
    import json

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    ran = tmp_path / "ran"
    code = f"open({str(ran)!r}, 'w').write('x')\n"
    if plant == "library":
        index = json.loads((folder / "model_index.json").read_text())
        index["unet"] = ["planted_lib", "UNet"]
        (folder / "model_index.json").write_text(json.dumps(index))
        (tmp_path / "planted_lib.py").write_text(code)
        monkeypatch.syspath_prepend(str(tmp_path))
    else:
        (folder / "unet" / "diffusers.py").write_text(code)
    with pytest.raises(EegvizError, match="planted_lib|may not carry Python code"):
        DiffusersImg2ImgGenerator(str(folder), steps=1, strength=0.5)
    assert not ran.exists()


@pytest.mark.parametrize("entry", [["pipeline_utils", "DiffusionPipeline"], ["diffusers", "StableDiffusionPipeline"],
                                   ["diffusers", "AutoencoderKL"]], ids=["pipeline_utils", "diffusers", "subfolder"])
def test_a_component_that_is_itself_a_pipeline_is_refused(tmp_path, entry):
    """diffusers would load such a component's subfolder as a whole pipeline, whose own model_index.json (and what
    it names) check_components never read. The third case names a model, but its subfolder is a pipeline folder."""
    from eegviz.generators.diffusers_sd import check_components

    (tmp_path / "vae").mkdir()
    if entry[1] == "AutoencoderKL":
        (tmp_path / "vae" / "model_index.json").write_text("{}")
    with pytest.raises(EegvizError, match="component 'vae' is itself a pipeline"):
        check_components(tmp_path, {"_class_name": "StableDiffusionImg2ImgPipeline", "vae": entry,
                                    "unet": ["diffusers", "UNet2DConditionModel"]})


def test_the_component_libraries_real_sd_folders_use_are_accepted(tmp_path):
    from eegviz.generators.diffusers_sd import check_components

    check_components(tmp_path, {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.6.0",
                                "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
                                "feature_extractor": ["transformers", "CLIPImageProcessor"],
                                "text_encoder": ["transformers", "CLIPTextModel"], "unet": ["diffusers", "UNet2DConditionModel"],
                                "image_encoder": [None, None]})


def _edit_json(path, **changes):
    import json

    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("size", [-64, 0, 100000])
def test_a_sampling_image_size_no_pipeline_draws_is_refused(tmp_path, size):
    """-64 failed deep in torch at the first image, 100000 asked for a 120 GB buffer: the file is named instead."""
    import json

    from eegviz.generators.diffusers_sd import read_sampling

    (tmp_path / "sampling.json").write_text(json.dumps({"steps": 1, "strength": 0.5, "image_size": size}))
    with pytest.raises(EegvizError, match=f"sampling.json: 'image_size' must be 8 to 2048 pixels, not {size}"):
        read_sampling(tmp_path)


@pytest.mark.parametrize("guidance", ["Infinity", "NaN", "-1", "1000"])
def test_a_sampling_guidance_no_sampler_uses_is_refused(tmp_path, guidance):
    """An infinite guidance drew all-black images, exit 0, every one counted as a reconstruction (found by review)."""
    from eegviz.generators.diffusers_sd import read_sampling

    (tmp_path / "sampling.json").write_text('{"steps": 1, "strength": 0.5, "guidance": %s}' % guidance)
    with pytest.raises(EegvizError, match="sampling.json: 'guidance' must be 0 to 50"):
        read_sampling(tmp_path)


@pytest.mark.parametrize("space", ["clipx", "clip:", "MiniLM"])
def test_a_sampling_caption_space_no_decoder_has_is_refused(tmp_path, space):
    """It was taken as it stood: anything but "minilm" warmed up at CLIP's 77 tokens, unseen by the model."""
    import json

    from eegviz.generators.diffusers_sd import read_sampling

    (tmp_path / "sampling.json").write_text(json.dumps({"steps": 1, "strength": 0.5, "text_encoder": space}))
    with pytest.raises(EegvizError, match=f"sampling.json: 'text_encoder' must be 'minilm', 'hash' or 'clip:MODEL', "
                                          f"not '{space}'"):
        read_sampling(tmp_path)
    (tmp_path / "sampling.json").write_text(json.dumps({"steps": 1, "strength": 0.5, "text_encoder": "clip:sd"}))
    assert read_sampling(tmp_path)["text_encoder"] == "clip:sd"


@pytest.mark.parametrize("scaling", [float("nan"), 0.0, -1.0])
def test_a_vae_scaling_factor_that_is_not_a_positive_number_is_refused(scaling):
    pipe = tiny_pipe()
    pipe.vae.register_to_config(scaling_factor=scaling)
    with pytest.raises(EegvizError, match="scaling_factor is .* not a positive number"):
        DiffusersImg2ImgGenerator(pipe=pipe, family="turbo")


def test_an_image_size_off_the_vae_grid_is_refused():
    """The VAE encodes size / scale-factor latents: 33 px at factor 2 would come back as a 32 px image."""
    with pytest.raises(EegvizError, match="image size 33 px: .* in multiples of 2"):
        DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="turbo", size=33)


@pytest.mark.parametrize("damage", ["schedule_of_zero_steps", "block_widths_a_string"])
def test_pipeline_config_values_no_component_can_be_built_with_are_one_line(tmp_path, monkeypatch, damage):
    """Values diffusers passes on unchecked fail wherever they are first used: num_train_timesteps 0 as an
    IndexError in the embedded default's zero-terminal-SNR DDIM scheduler, a string of UNet block widths as a
    TypeError inside torch. Each is the folder's one-line error."""
    from tiny_models import tiny_embedded_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tiny_embedded_folder(tmp_path / "m", ctx_dim=32)
    if damage == "schedule_of_zero_steps":
        _edit_json(root / "model_index.json", scheduler=["diffusers", "DDIMScheduler"])
        _edit_json(root / "scheduler" / "scheduler_config.json", _class_name="DDIMScheduler", num_train_timesteps=0,
                   rescale_betas_zero_snr=True)
    else:
        _edit_json(root / "unet" / "config.json", block_out_channels="ab")  # a width per block, as letters
    with pytest.raises(EegvizError, match="cannot load the diffusers pipeline in .*missing or corrupt") as err:
        DiffusersImg2ImgGenerator(str(root), family="native", device="cpu")
    assert "\n" not in str(err.value)


def test_a_helper_script_at_the_folders_root_is_left_alone(tmp_path, monkeypatch):
    """Hub folders may carry scripts beside model_index.json (an LCM folder ships its pipeline code as files);
    diffusers never imports a .py there unless `_class_name` or None.py names it, so the folder loads."""
    from tiny_models import tiny_embedded_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tiny_embedded_folder(tmp_path / "m", ctx_dim=32)
    ran = tmp_path / "ran"
    (root / "lcm_pipeline.py").write_text(f"open({str(ran)!r}, 'w').write('x')\n")
    gen = DiffusersImg2ImgGenerator(str(root), family="native", device="cpu")
    assert gen.pipe is not None and not ran.exists()


@pytest.mark.parametrize("plant", ["none_py", "custom_pipeline", "class_name_pair"])
def test_pipeline_code_at_the_folders_root_is_refused_before_loading(tmp_path, monkeypatch, plant):
    """A custom pipeline (`_class_name: [module, class]` with module.py at the root) or a None.py beside
    model_index.json: diffusers before its trust_remote_code check imported them; refused, whatever the release,
    before diffusers reads the folder, and the planted code never runs."""
    from tiny_models import tiny_embedded_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tiny_embedded_folder(tmp_path / "m", ctx_dim=32)
    ran = tmp_path / "ran"
    code = f"open({str(ran)!r}, 'w').write('x')\nfrom diffusers import StableDiffusionImg2ImgPipeline as EvilPipeline\n"
    if plant == "none_py":
        (root / "None.py").write_text(code)
    else:
        _edit_json(root / "model_index.json", _class_name=["evilpipe", "EvilPipeline"])
        if plant == "custom_pipeline":
            (root / "evilpipe.py").write_text(code)
    needle = r"None\.py: a model folder may not carry Python code" if plant == "none_py" else (
        "'_class_name' must name a diffusers pipeline class")
    with pytest.raises(EegvizError, match=needle):
        DiffusersImg2ImgGenerator(str(root), family="native", device="cpu")
    assert not ran.exists()


def _session_generator(folder, **opts):
    """A generator as a session builds it for `--generator diffusers --sd-model FOLDER` (no sampling.json).
    (The tests below that build one have no "turbo" or "lcm" in their names: pytest's tmp_path holds the name,
    and the old code read the family from the path.)"""
    from eegviz.generators import make_generator
    from eegviz.generators.options import GeneratorOptions

    return make_generator("diffusers", folder.parent, options=GeneratorOptions(sd_model=str(folder), device="cpu",
                                                                                 **opts))


def _guidance_embeddings_seen(gen):
    """The w values a generate() hands the UNet's guidance embedding (pipe.get_guidance_scale_embedding)."""
    seen, orig = [], gen.pipe.get_guidance_scale_embedding
    gen.pipe.get_guidance_scale_embedding = lambda w, *a, **k: seen.append(w.tolist()) or orig(w, *a, **k)
    try:
        gen.generate(np.full((1, 16, 16, 3), 0.5, np.float32), np.zeros((1, 77, 32), np.float32))
    finally:
        gen.pipe.get_guidance_scale_embedding = orig
    return seen


def test_the_family_is_read_from_the_folder_not_from_the_folders_path(tmp_path, monkeypatch):
    """The family (scheduler, guidance) came from "turbo" / "lcm" anywhere in the path: byte-identical plain SD
    files under runs/turbo_x/ ran Euler with no guidance, and under any other name DDIM with guidance 7.5 (found
    by review). Now the folder's own files decide, wherever it sits."""
    import shutil

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plain = tiny_sd_folder(tmp_path / "plain")
    for where in (tmp_path / "sd-turbo-runs" / "sd", tmp_path / "lcm-experiments" / "sd"):
        shutil.copytree(plain, where)
    for folder in (plain, tmp_path / "sd-turbo-runs" / "sd", tmp_path / "lcm-experiments" / "sd"):
        gen = _session_generator(folder, steps=1)
        assert (gen.family, gen.guidance, type(gen.pipe.scheduler).__name__) == ("sd", 7.5, "DDIMScheduler"), folder
        assert gen.unet_passes_per_image == 2


def test_a_one_step_distilled_folder_is_known_by_its_trailing_euler_scheduler_whatever_its_name(tmp_path, monkeypatch):
    """SD-Turbo ships EulerDiscreteScheduler with "trailing" timestep spacing (its one step starts at the last
    timestep); saved under a name without "turbo" it ran DDIM with guidance 7.5 and the text encoder loaded."""
    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "fast")
    _edit_json(folder / "scheduler" / "scheduler_config.json", timestep_spacing="trailing")
    gen = _session_generator(folder)
    assert (gen.family, gen.guidance, gen.unet_passes_per_image) == ("turbo", 0.0, 1)
    assert type(gen.pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    assert gen.pipe.scheduler.config.timestep_spacing == "trailing"
    assert gen.pipe.text_encoder is None  # no guidance: CLIP is not loaded


@pytest.mark.parametrize("scheduler", ["lcm", "euler"])
def test_a_consistency_unet_is_known_by_its_guidance_embedding_whatever_its_folder_is_called(tmp_path, monkeypatch,
                                                                                             scheduler):
    """An LCM UNet (time_cond_proj_dim) saved as distilled/ lost its LCMScheduler to DDIM and got classifier-free
    guidance 7.5 (found by review); its UNet says what it is, even beside another scheduler."""
    from tiny_models import tiny_lcm_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gen = _session_generator(tiny_lcm_folder(tmp_path / "distilled", scheduler=scheduler), steps=2)
    assert (gen.family, type(gen.pipe.scheduler).__name__) == ("lcm", "LCMScheduler")
    assert gen.unet_passes_per_image == 2  # the guidance is an embedding, not a second pass
    assert gen.pipe.text_encoder is None  # so no empty-prompt encoding is needed either


@pytest.fixture(scope="module")
def lcm_folder(tmp_path_factory):
    """A tiny LCM pipeline folder (tiny_lcm_folder), built once for the tests that only read it."""
    from tiny_models import tiny_lcm_folder

    return tiny_lcm_folder(tmp_path_factory.mktemp("lcm") / "m")


def test_a_consistency_model_runs_at_diffusers_default_guidance_not_at_w_minus_one(lcm_folder, monkeypatch):
    """The LCM family's guidance was 0, so the UNet's guidance embedding got w = guidance - 1 = -1, outside what
    LCMs are distilled on; diffusers' LatentConsistencyModel pipelines default to guidance_scale 8.5 (w = 7.5).
    A guidance the user gives still wins."""
    import inspect

    from diffusers import LatentConsistencyModelImg2ImgPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    default = inspect.signature(LatentConsistencyModelImg2ImgPipeline.__call__).parameters["guidance_scale"].default
    folder = lcm_folder
    gen = _session_generator(folder)
    assert gen.guidance == default == 8.5
    assert _guidance_embeddings_seen(gen) == [[default - 1]]
    assert _guidance_embeddings_seen(_session_generator(folder, guidance=2.0)) == [[1.0]]


def test_a_guidance_of_one_or_less_is_none_for_a_consistency_unet_too(lcm_folder, monkeypatch):
    """--help: "<= 1: none". An LCM UNet takes w = guidance - 1 as an embedding, and --guidance 0 (SD-Turbo's
    "none") fed it w = -1, outside the scales it is distilled on, without a word; now w = 0, the conditional
    prediction alone, the image guidance 1 draws."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = lcm_folder
    saliency, emb = np.full((1, 16, 16, 3), 0.5, np.float32), np.ones((1, 77, 32), np.float32)
    gen = _session_generator(folder, guidance=1.0)
    one = gen.generate(saliency, emb, seed=3)
    for guidance in (0.0, 0.5):
        gen.guidance = guidance  # (what --guidance sets; the pipeline is the same)
        assert _guidance_embeddings_seen(gen) == [[0.0]]
        np.testing.assert_array_equal(gen.generate(saliency, emb, seed=3), one)
    assert gen.unet_passes_per_image == 1


def test_a_text_encoder_bin_that_is_not_plain_tensors_is_one_line(tmp_path, monkeypatch):
    """An older SD folder's text_encoder/pytorch_model.bin holding a pickle torch's weights-only loader refuses:
    transformers lets the UnpicklingError through (diffusers wraps its own in an OSError), so a 25-line traceback
    came out (found by review). Now one line, as for a UNet .bin: a pickle is refused before anything reads it."""
    import pickle
    import warnings

    from safetensors.torch import load_file

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    te = folder / "text_encoder"
    weights = {k: v.numpy() for k, v in load_file(te / "model.safetensors").items()}
    (te / "model.safetensors").unlink()
    (te / "pytorch_model.bin").write_bytes(pickle.dumps(weights))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(EegvizError, match="text_encoder/ holds its weights only as a pickle") as err:
            _session_generator(folder)
    assert "\n" not in str(err.value)
    assert not [w for w in seen if "pickle protocol" in str(w.message)]  # torch's warning no longer leaks


@pytest.mark.parametrize("which", ["all", "unet"])
def test_a_folder_of_pickled_bin_weights_is_refused_before_anything_unpickles_them(tmp_path, monkeypatch, which):
    """save_pretrained(safe_serialization=False), as older SD downloads are, leaves diffusion_pytorch_model.bin:
    diffusers read it with torch.load (an unpickler) and the pipeline ran, its weights outside the digest that
    hashes .safetensors (found by review). Now one line naming the component, with torch.load never called; a
    folder with .safetensors beside a .bin reads the .safetensors."""
    import shutil

    from diffusers import StableDiffusionImg2ImgPipeline

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
    pipe.save_pretrained(tmp_path / "bin", safe_serialization=False)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.copy(tmp_path / "bin" / "unet" / "diffusion_pytorch_model.bin", folder / "unet")
    bad = tmp_path / "bin" if which == "all" else folder

    def no_unpickling(*a, **k):
        raise AssertionError("torch.load called on a pickle")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(EegvizError, match=r"unet/ holds its weights only as a pickle \(diffusion_pytorch_model.bin\), "
                                          "which eegviz never loads") as err:
        _session_generator(bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    shutil.copy(tmp_path / "bin" / "unet" / "diffusion_pytorch_model.bin", tmp_path / "sd2.bin")
    tiny_sd_folder(tmp_path / "both")
    shutil.copy(tmp_path / "sd2.bin", tmp_path / "both" / "unet" / "diffusion_pytorch_model.bin")
    assert _session_generator(tmp_path / "both").family == "sd"  # the .safetensors are read, the .bin left alone


def test_an_sdxl_folder_is_refused_at_load_not_at_warm_up(tmp_path, monkeypatch):
    """SDXL (and SDXL-Turbo) loaded as an SD img2img pipeline, dropping its second text encoder, then crashed in
    the first UNet call with a Dynamo traceback: its UNet needs the "text_time" conditioning eegviz never gives."""
    from tiny_models import tiny_sdxl_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sdxl_folder(tmp_path / "sdxl-like")
    with pytest.raises(EegvizError, match="SDXL pipelines are not supported .*StableDiffusionXLImg2ImgPipeline"):
        _session_generator(folder)
    # the UNet alone says it too (a folder whose model_index.json names the SD pipeline)
    _edit_json(folder / "model_index.json", _class_name="StableDiffusionImg2ImgPipeline")
    with pytest.raises(EegvizError, match="SDXL pipelines are not supported .*addition_embed_type 'text_time'"):
        _session_generator(folder)


def test_a_folder_of_fp16_variant_weights_only_loads(tmp_path, monkeypatch):
    """A folder saved with variant="fp16" (*.fp16.safetensors, how SD-Turbo and SD are often downloaded) was
    said to be "missing or corrupt; retrain or restore the folder". It loads, cast to the generator's dtype."""
    from diffusers import StableDiffusionImg2ImgPipeline

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    full = tiny_sd_folder(tmp_path / "full")
    StableDiffusionImg2ImgPipeline.from_pretrained(full, torch_dtype=torch.float16, safety_checker=None,
                                                   requires_safety_checker=False).save_pretrained(
        tmp_path / "half", variant="fp16")
    assert sorted(p.name for p in (tmp_path / "half" / "unet").iterdir()) == [
        "config.json", "diffusion_pytorch_model.fp16.safetensors"]
    gen = _session_generator(tmp_path / "half")
    assert gen.pipe.unet.dtype == gen.pipe.vae.dtype == gen.pipe.text_encoder.dtype == torch.float32
    ref = _session_generator(full)
    sal, emb = np.full((1, 16, 16, 3), 0.5, np.float32), np.zeros((1, 77, 32), np.float32)
    # the same weights, rounded to fp16 once: the same image up to that rounding
    assert np.abs(gen.generate(sal, emb).astype(int) - ref.generate(sal, emb).astype(int)).max() <= 8


def test_an_inpainting_unet_is_refused_at_load_not_at_the_first_image(tmp_path, monkeypatch):
    """An inpainting SD folder (UNet in_channels 9: latents, mask, masked image) loaded as img2img without a word
    and failed at warm-up with a torch traceback ("expected input ... to have 9 channels, but got 4")."""
    from diffusers import UNet2DConditionModel

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "inpainting")
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    UNet2DConditionModel.from_config({**unet.config, "in_channels": 9}).save_pretrained(folder / "unet")
    with pytest.raises(EegvizError, match="its UNet takes 9 input channels, not the VAE's 4 latent channels"):
        _session_generator(folder)


def test_more_steps_than_an_lcm_schedule_holds_is_refused_at_load(tmp_path, monkeypatch):
    """LCMScheduler picks its steps from 50 original_inference_steps: --steps 10 --strength 0.1 (a 100-step
    schedule) built and then failed at warm-up with diffusers' ValueError about `original_steps x strength`."""
    from tiny_models import tiny_lcm_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_lcm_folder(tmp_path / "consistency")
    with pytest.raises(EegvizError, match=r"--steps 10 at strength 0.1 is more steps than LCMScheduler's 50 "
                                          r"original_inference_steps allow \(at most 5\)"):
        _session_generator(folder, steps=10, strength=0.1)
    gen = _session_generator(folder, steps=5, strength=0.1)  # 50 steps: the most it holds, and it runs
    assert _count_unet_calls(gen, lambda: gen.generate(np.zeros((1, 16, 16, 3), np.float32),
                                                       np.zeros((1, 77, 32), np.float32))) == 5


@pytest.mark.parametrize("damage", [{"prediction_type": "x0"}, {"timestep_spacing": "uniform"}])
def test_a_scheduler_config_diffusers_builds_but_cannot_run_is_refused_at_load(tmp_path, monkeypatch, damage):
    """diffusers builds a scheduler from any prediction_type or timestep_spacing and raises only in set_timesteps
    or step(): such an edited scheduler_config.json failed at warm-up with a traceback."""
    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    _edit_json(folder / "scheduler" / "scheduler_config.json", **damage)
    with pytest.raises(EegvizError, match=r"sd: its scheduler \(DDIMScheduler\) cannot run \(ValueError: .*"
                                          r"\); fix scheduler/scheduler_config.json") as err:
        _session_generator(folder)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("what", ["empty", "unet", "decoder_only"])
def test_an_sd_model_folder_that_is_no_pipeline_is_said_to_be_none(tmp_path, monkeypatch, what):
    """--sd-model at an empty folder, at a pipeline's unet/ or at a decoder-only eegviz model: it was told that
    "a file in it is missing or corrupt; retrain or restore the folder", or that it lacked sampling.json."""
    from tiny_models import tiny_pipe

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / what
    folder.mkdir()
    if what == "unet":
        tiny_pipe().unet.save_pretrained(folder)
    if what == "decoder_only":
        (folder / "decoder.json").write_text("{}")
    with pytest.raises(EegvizError, match=r"^--sd-model .*: not a diffusers pipeline folder \(no model_index.json\); "
                                          r"give the folder save_pretrained wrote"):
        _session_generator(folder)


def test_a_folder_of_sharded_fp16_variant_weights_only_loads(tmp_path, monkeypatch):
    """Sharded fp16 weights are named diffusion_pytorch_model.fp16-00001-of-0000N.safetensors: not taken for the
    fp16 variant, such a folder was said to be "missing or corrupt; retrain or restore the folder"."""
    from diffusers import UNet2DConditionModel

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    for f in (folder / "unet").glob("diffusion_pytorch_model*"):
        f.unlink()
    unet.half().save_pretrained(folder / "unet", variant="fp16", max_shard_size="500KB")
    assert (folder / "unet" / "diffusion_pytorch_model.fp16-00001-of-00005.safetensors").is_file()
    assert _session_generator(folder).pipe.unet.dtype == torch.float32


def test_a_pipeline_of_another_family_or_with_a_component_folder_missing_is_said_so(tmp_path, monkeypatch):
    """An SD3 / FLUX-style folder (a transformer, no UNet) and a folder whose unet/ is missing were both "a file in
    it is missing or corrupt; retrain or restore the folder", the missing one named as the folder's root."""
    import json
    import shutil

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    shutil.rmtree(folder / "text_encoder")  # needed for guidance (SD's 7.5) only
    with pytest.raises(EegvizError, match=r"sd: model_index.json lists 'text_encoder' but the folder has no "
                                          r"text_encoder/"):
        _session_generator(folder)
    assert _session_generator(folder, guidance=1.0).pipe.text_encoder is None
    shutil.rmtree(folder / "unet")
    with pytest.raises(EegvizError, match=r"sd: model_index.json lists 'unet' but the folder has no unet/"):
        _session_generator(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index.pop("unet")
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusion3Pipeline",
                                                         "transformer": ["diffusers", "SD3Transformer2DModel"]}))
    with pytest.raises(EegvizError, match=r"sd: its model_index.json describes a StableDiffusion3Pipeline with no "
                                          r"UNet \(.*transformer\); eegviz runs SD 1.x / 2.x"):
        _session_generator(folder)


def test_a_cached_hub_id_of_fp16_variant_weights_only_loads(tmp_path, monkeypatch):
    """`from_pretrained(id, variant="fp16")`, as SD-Turbo's card downloads it, leaves only *.fp16.* weights in the
    HF cache; `--sd-model ID` then said the id was "not in the HF cache, and no network to fetch it"."""
    import shutil

    import huggingface_hub.constants
    from diffusers import StableDiffusionImg2ImgPipeline

    from tiny_models import tiny_sd_folder

    full = tiny_sd_folder(tmp_path / "full")
    snap = tmp_path / "hub" / "models--lab--tiny-sd" / "snapshots" / ("0" * 40)
    StableDiffusionImg2ImgPipeline.from_pretrained(full, safety_checker=None, requires_safety_checker=False
                                                   ).save_pretrained(snap, variant="fp16")
    shutil.copytree(full / "tokenizer", snap / "tokenizer", dirs_exist_ok=True)
    (tmp_path / "hub" / "models--lab--tiny-sd" / "refs").mkdir()
    (tmp_path / "hub" / "models--lab--tiny-sd" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not list(snap.glob("unet/diffusion_pytorch_model.safetensors"))
    from eegviz.generators import make_generator
    from eegviz.generators.options import GeneratorOptions

    monkeypatch.chdir(tmp_path)  # (no folder named lab/ here: "lab/tiny-sd" is the Hub id)
    gen = make_generator("diffusers", tmp_path, options=GeneratorOptions(sd_model="lab/tiny-sd", device="cpu"))
    assert gen.pipe.unet.dtype == torch.float32 and gen.family == "sd"


def test_a_cached_hub_id_whose_files_could_run_code_is_refused_as_a_folder_is(tmp_path, monkeypatch):
    """A Hub id's snapshot in the HF cache is a folder: its model_index.json naming a custom pipeline (code beside
    it) went unchecked, left to diffusers, whose older releases (allowed by the pyproject) import it; 0.42
    refuses, and eegviz then said the id was "not in the HF cache"."""
    import json
    import shutil

    import huggingface_hub.constants

    from eegviz.generators import make_generator
    from eegviz.generators.options import GeneratorOptions
    from tiny_models import tiny_sd_folder

    repo = tmp_path / "hub" / "models--lab--tiny-sd"
    snap = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_sd_folder(tmp_path / "sd"), snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    index = json.loads((snap / "model_index.json").read_text())
    (snap / "model_index.json").write_text(json.dumps({**index, "_class_name": ["evil", "EvilPipeline"]}))
    (snap / "evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w')\n")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EegvizError, match=r"'_class_name' must name a diffusers pipeline class"):
        make_generator("diffusers", tmp_path, options=GeneratorOptions(sd_model="lab/tiny-sd", device="cpu"))
    assert not (tmp_path / "ran").exists()


def test_a_strength_too_small_for_any_step_names_strength(tmp_path, monkeypatch):
    """--strength 0.0005 with a 1000-timestep schedule leaves not one step: it was "--steps 1 at strength 0.0005
    is more steps than the scheduler's 1000 timesteps allow (at most 0)"."""
    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EegvizError, match=r"^--strength 0.0005 leaves no denoising step of the scheduler's 1000 "
                                          r"timesteps: use --strength 0.001 or more$"):
        _session_generator(tiny_sd_folder(tmp_path / "sd"), strength=0.0005)


def test_sd_runs_ddim_without_clipping_its_latents_when_its_own_scheduler_does_not_say(tmp_path, monkeypatch):
    """A plain SD folder whose scheduler is not DDIM (Euler, DPM-Solver: no clip_sample in its config) got DDIM's
    default clip_sample True: the predicted clean latent clamped to [-1, 1], where SD's latents reach about +-4,
    with no warning (found by review). SD's DDIM does not clip; a config that sets it keeps its own value."""
    import json

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    assert "clip_sample" not in json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    gen = _session_generator(folder, steps=1)
    assert (gen.family, type(gen.pipe.scheduler).__name__) == ("sd", "DDIMScheduler")
    assert gen.pipe.scheduler.config.clip_sample is False
    from eegviz.generators.diffusers_sd import scheduler_for

    assert scheduler_for("sd", {**gen.pipe.scheduler.config, "clip_sample": True}).config.clip_sample is True


@pytest.mark.parametrize("how", ["left out", "null"])
def test_guidance_with_no_text_encoder_in_the_index_is_refused_at_load_with_the_way_out(tmp_path, monkeypatch, how):
    """A folder whose model_index.json has no text encoder (left out: diffusers' "Pipeline ... expected [...]" cut
    off mid-list, "retrain or restore the folder"; null: refused only at the first image) run with SD's guidance
    7.5. Now refused at load, naming --guidance 1; with it, the folder runs."""
    import json
    import shutil

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    shutil.rmtree(folder / "text_encoder")
    shutil.rmtree(folder / "tokenizer")
    index = json.loads((folder / "model_index.json").read_text())
    for name in ("text_encoder", "tokenizer"):
        if how == "null":
            index[name] = [None, None]
        else:
            index.pop(name)
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(EegvizError, match=r"sd: guidance 7.5 needs the empty prompt's encoding by the model's text "
                                          r"encoder, and its model_index.json names no 'text_encoder'; use "
                                          r"--guidance 1"):
        _session_generator(folder)
    assert _session_generator(folder, guidance=1.0).pipe.text_encoder is None


def test_a_missing_text_encoder_folder_names_guidance_1_as_the_way_out(tmp_path, monkeypatch):
    """text_encoder/ listed but gone: "restore the whole pipeline folder" alone, when --guidance 1 runs it as is."""
    import shutil

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    config = (folder / "tokenizer" / "tokenizer_config.json").read_text()
    shutil.rmtree(folder / "tokenizer")
    with pytest.raises(EegvizError, match=r"no tokenizer/ .*restore the whole pipeline folder \(or use --guidance 1, "
                                          r"which needs no text encoder\)"):
        _session_generator(folder)
    # tokenizer/ there but without its vocabulary (a download cut off after the small files): transformers built
    # a two-token tokenizer from it without a word, and guidance ran against the wrong "empty prompt"
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "tokenizer_config.json").write_text(config)
    with pytest.raises(EegvizError, match=r"sd: tokenizer/ holds no vocabulary \(tokenizer.json, vocab.json, .*"
                                          r"guidance 7.5 needs it to encode the empty prompt; restore the whole "
                                          r"pipeline folder \(or use --guidance 1"):
        _session_generator(folder)
    assert _session_generator(folder, guidance=1.0).pipe.tokenizer is None  # the way out it names


@pytest.mark.parametrize("name", ["v1-5-pruned-emaonly.safetensors", "sd-v1-4.ckpt"])
def test_a_single_file_checkpoint_is_told_how_to_become_a_pipeline_folder(tmp_path, monkeypatch, name):
    """--sd-model v1-5-pruned-emaonly.safetensors (SD as one file, as most sites share it) was told only "it is a
    file, not a pipeline folder", with no way on; it is now told the one diffusers call that makes the folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / name).write_bytes(b"\0" * 16)
    with pytest.raises(EegvizError, match=r"it is a file, not a pipeline folder \(the folder holding "
                                          r"model_index.json\); a single-file checkpoint is converted to one once "
                                          r"with diffusers: StableDiffusionImg2ImgPipeline.from_single_file\(FILE\)"
                                          r".save_pretrained\(DIR\), then --sd-model DIR$"):
        DiffusersImg2ImgGenerator(str(tmp_path / name))


def test_a_damaged_sd_folder_of_the_users_own_is_not_told_to_retrain(tmp_path, monkeypatch):
    """A user's SD folder (no sampling.json: eegviz never trained it) with a weights file gone was told "retrain
    or restore the folder"; it is told to fetch or save it again. eegviz's own folders still say retrain."""
    import shutil

    from tiny_models import tiny_embedded_folder, tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(EegvizError, match=r"missing or corrupt \(.*\); download or save_pretrained the pipeline "
                                          r"again$") as err:
        _session_generator(folder)
    assert "retrain or" not in str(err.value)
    own = tiny_embedded_folder(tmp_path / "own", ctx_dim=32)
    (own / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.rmtree(folder)
    with pytest.raises(EegvizError, match=r"missing or corrupt \(.*\); retrain or restore the folder$"):
        DiffusersImg2ImgGenerator(str(own), family="native", device="cpu")


def test_an_sd_1x_folder_without_its_safety_checker_or_feature_extractor_loads(tmp_path, monkeypatch):
    """SD 1.x's model_index.json lists a safety checker and its feature extractor (a CLIP image processor), which
    eegviz never runs. With feature_extractor/ absent (left out of a download or copy, like the 1.2 GB
    safety_checker/ beside it) the folder was refused as "missing or corrupt" in transformers' words, cut off."""
    import json

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    _edit_json(folder / "model_index.json", _class_name="StableDiffusionPipeline", requires_safety_checker=True,
               safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"],
               feature_extractor=["transformers", "CLIPImageProcessor"])
    assert json.loads((folder / "model_index.json").read_text())["feature_extractor"][0] == "transformers"
    gen = _session_generator(folder, guidance=1.0)
    assert gen.pipe.feature_extractor is None and gen.pipe.safety_checker is None
    out = gen.generate(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 8, 32), np.float32))
    assert out.shape == (1, 32, 32, 3)


def test_a_missing_folder_under_a_local_folder_is_not_looked_up_on_the_hub(tmp_path, monkeypatch):
    """`--sd-model models/sd15` (a typo; models/ is here) has the shape of a Hub id, and was asked of the HF cache
    and, online, the Hub, then said to be "not in the HF cache"; --model has read such a name as a folder all
    along. It is now a missing folder, said before diffusers is asked for anything."""
    from diffusers import StableDiffusionImg2ImgPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    asked = []

    def from_pretrained(cls, *args, **kwargs):
        asked.append(args)
        raise OSError("not here")

    monkeypatch.setattr(StableDiffusionImg2ImgPipeline, "from_pretrained", classmethod(from_pretrained))
    with pytest.raises(EegvizError, match=r"'models/sd15': no such folder \(and not a Hugging Face model id") as err:
        DiffusersImg2ImgGenerator("models/sd15")
    assert "cache" not in str(err.value) and not asked


def test_a_unet_file_lacking_its_models_tensors_is_refused_not_run_from_random_values(tmp_path, monkeypatch):
    """An original-layout checkpoint renamed to unet/diffusion_pytorch_model.safetensors (every key prefixed
    model.diffusion_model.), or a file missing a few tensors: diffusers started what it lacked from random values
    with a warning eegviz silences, and the pipeline drew black images without a word. An old VAE's attention
    names (query/key/value/proj_attn), which diffusers renames as it loads, still load."""
    from safetensors.torch import load_file, save_file

    from tiny_models import tiny_sd_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_sd_folder(tmp_path / "sd")
    unet_file = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights = load_file(unet_file)
    for damaged, lacking in (({f"model.diffusion_model.{k}": v for k, v in weights.items()}, len(weights)),
                             ({k: v for k, v in weights.items() if not k.startswith("conv_out.")}, 2)):
        save_file(damaged, unet_file)
        with pytest.raises(EegvizError, match=rf"sd: unet/ weights lack {lacking} of the {len(weights)} tensors its "
                                              r"UNet2DConditionModel has \(conv_.*random values") as err:
            _session_generator(folder, guidance=1.0)
        assert "\n" not in str(err.value)
    save_file(weights, unet_file)
    vae_file = folder / "vae" / "diffusion_pytorch_model.safetensors"
    old_names = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."}

    def old(key):
        for new, was in old_names.items():
            key = key.replace(new, was) if "mid_block.attentions" in key else key
        return key

    vae = load_file(vae_file)
    save_file({old(k): v for k, v in vae.items()}, vae_file)
    assert any(".query." in k for k in load_file(vae_file))
    assert _session_generator(folder, guidance=1.0).family == "sd"
