"""The lean loop against StableDiffusionImg2ImgPipeline.__call__ on a tiny random pipeline: same weights, seed,
steps, strength and batch must give the same image (schedulers with and without per-step randomness, with and
without classifier-free guidance), and guidance must push away from the empty prompt's encoding, not zeros."""

import numpy as np
import pytest
import torch

from eegviz.errors import EegvizError
from eegviz.generators.diffusers_sd import DiffusersImg2ImgGenerator
from eegviz.generators.lean_img2img import num_inference_steps_for
from tiny_models import tiny_pipe, tiny_sd_folder


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from diffusers import StableDiffusionImg2ImgPipeline

    root = tiny_sd_folder(tmp_path_factory.mktemp("sd"))
    p = StableDiffusionImg2ImgPipeline.from_pretrained(root, safety_checker=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    return p


def _inputs(b=2, tokens=8):
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((b, 3, 32, 32)).astype(np.float32))
    cond = torch.from_numpy(rng.standard_normal((b, tokens, 32)).astype(np.float32))
    return image, cond


@pytest.mark.parametrize("family,steps,guidance", [("turbo", 1, 0.0), ("turbo", 2, 0.0), ("sd", 1, 3.0),
                                                   ("sd", 2, 3.0), ("lcm", 2, 0.0), ("turbo", 2, 2.5)])
def test_lean_loop_equals_pipeline_call(pipe, family, steps, guidance):
    gen = DiffusersImg2ImgGenerator(pipe=pipe, family=family, steps=steps, strength=0.6, guidance=guidance,
                                    size=32, device="cpu")
    image, cond = _inputs()
    n = num_inference_steps_for(steps, 0.6)
    calls = []
    hook = pipe.unet.register_forward_hook(lambda *a: calls.append(1))
    try:
        with torch.inference_mode():
            lean = gen.lean(image, cond, num_inference_steps=n, strength=0.6, guidance=guidance,
                            uncond=gen.uncond_embeds(cond.shape[1]) if guidance > 1 else None,
                            generator=torch.Generator().manual_seed(7))
        n_lean = len(calls)
        # a list of empty prompts: diffusers 0.42 mis-shapes a single "" beside a batch of prompt_embeds
        ref = pipe(prompt_embeds=cond, negative_prompt=[""] * 2 if guidance > 1 else None, image=image,
                   num_inference_steps=n, strength=0.6, guidance_scale=guidance, output_type="np",
                   generator=torch.Generator().manual_seed(7)).images
    finally:
        hook.remove()
    assert n_lean == steps  # cond and uncond share one batched UNet pass per step
    assert len(calls) == 2 * steps
    lean = lean.permute(0, 2, 3, 1).numpy()
    assert lean.shape == ref.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(lean, ref, atol=2e-5, rtol=0)
    assert np.abs(lean[0] - lean[1]).max() > 1e-3  # the batch is not one image twice


def test_generate_matches_pipeline_uint8(pipe):
    gen = DiffusersImg2ImgGenerator(pipe=pipe, family="sd", steps=2, strength=0.5, guidance=4.0, size=32,
                                    device="cpu")
    image, cond = _inputs(b=1, tokens=77)
    ref = pipe(prompt_embeds=cond, negative_prompt=[""], image=image, num_inference_steps=4, strength=0.5,
               guidance_scale=4.0, output_type="np", generator=torch.Generator().manual_seed(3)).images
    out = gen.generate(image.permute(0, 2, 3, 1).numpy(), cond.numpy(), seed=3)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - np.round(ref * 255).astype(int)).max() <= 1


def test_uncond_is_the_empty_prompt_encoding_not_zeros(pipe):
    gen = DiffusersImg2ImgGenerator(pipe=pipe, family="sd", steps=1, strength=0.5, guidance=3.0, size=32,
                                    device="cpu")
    ids = pipe.tokenizer("", padding="max_length", max_length=8, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        expect = pipe.text_encoder(ids)[0]
    got = gen.uncond_embeds(8)
    assert got.shape == (1, 8, 32) and got.abs().max() > 0.1
    torch.testing.assert_close(got, expect)
    assert gen.unet_passes_per_image == 2


def test_guidance_without_text_encoder_says_so():
    gen = DiffusersImg2ImgGenerator(pipe=tiny_pipe(), family="sd", steps=1, strength=0.5, guidance=3.0, size=32,
                                    device="cpu")
    with pytest.raises(EegvizError, match="no text encoder loaded"):
        gen.generate(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 8, 32), np.float32))


def test_uncond_of_other_length_runs_unbatched_and_exact(pipe):
    """Decoder states of 8 tokens against a 77-token negative: two UNet passes per step, same guidance maths."""
    neg = torch.randn(1, 77, 32, generator=torch.Generator().manual_seed(1))
    gen = DiffusersImg2ImgGenerator(pipe=pipe, family="sd", steps=1, strength=0.5, guidance=3.0, size=32,
                                    device="cpu", negative_embeds=neg)
    image, cond = _inputs(b=1)
    calls = []
    hook = pipe.unet.register_forward_hook(lambda m, a, kw, out: calls.append(kw["encoder_hidden_states"].shape[1]),
                                           with_kwargs=True)
    try:
        gen.generate(image.permute(0, 2, 3, 1).numpy(), cond.numpy())
    finally:
        hook.remove()
    assert calls == [8, 77]


@pytest.mark.parametrize("steps,strength", [(1, 0.5), (2, 0.6), (3, 0.6), (2, 0.3), (4, 1.0), (1, 0.05)])
def test_schedule_length_gives_exactly_steps(steps, strength):
    n = num_inference_steps_for(steps, strength)
    assert int(n * strength) == steps


def test_guidance_embedding_unet_equals_pipeline_call(pipe):
    """LCM-distilled UNets take the guidance scale as an embedding (time_cond_proj_dim): one pass, no CFG."""
    import copy

    from diffusers import UNet2DConditionModel

    lcm = copy.copy(pipe)
    torch.manual_seed(2)
    lcm.unet = UNet2DConditionModel.from_config({**pipe.unet.config, "time_cond_proj_dim": 16})
    gen = DiffusersImg2ImgGenerator(pipe=lcm, family="lcm", steps=2, strength=0.6, guidance=4.0, size=32,
                                    device="cpu")
    assert gen.unet_passes_per_image == 2
    image, cond = _inputs()
    n = num_inference_steps_for(2, 0.6)
    with torch.inference_mode():
        lean = gen.lean(image, cond, num_inference_steps=n, strength=0.6, guidance=4.0,
                        generator=torch.Generator().manual_seed(9))
        other_w = gen.lean(image, cond, num_inference_steps=n, strength=0.6, guidance=8.0,
                           generator=torch.Generator().manual_seed(9))
    ref = lcm(prompt_embeds=cond, image=image, num_inference_steps=n, strength=0.6, guidance_scale=4.0,
              output_type="np", generator=torch.Generator().manual_seed(9)).images
    np.testing.assert_allclose(lean.permute(0, 2, 3, 1).numpy(), ref, atol=2e-5, rtol=0)
    assert (lean - other_w).abs().max() > 1e-4  # the guidance embedding reaches the UNet


def test_graph_capture_gives_the_same_image_and_serves_batch_one_only(pipe):
    """capture=True: batch 1 runs through the Dynamo-recorded graphs and gives exactly the plain loop's image
    (and so diffusers' __call__'s); a batch of pending epochs runs the plain modules, never a second trace.
    compile=True takes the same place (batch 1 only: a session batching 2 epochs stalled a minute recompiling)."""
    plain = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                      device="cpu")
    captured = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                         device="cpu", capture=True)
    calls = []
    graphs = captured.lean._fast
    captured.lean._fast = tuple((lambda f: lambda *a, **k: (calls.append(1), f(*a, **k))[1])(f) for f in graphs)
    image, cond = _inputs(b=2)
    n = num_inference_steps_for(1, 0.6)

    def run(gen, b):
        with torch.inference_mode():
            return gen.lean(image[:b], cond[:b], num_inference_steps=n, strength=0.6,
                            generator=torch.Generator().manual_seed(3)).numpy()

    one = run(captured, 1)
    assert len(calls) == 3  # encode, UNet, decode: each through its graph
    assert np.array_equal(one, run(plain, 1))  # bit-identical, not merely close
    ref = pipe(prompt_embeds=cond[:1], image=image[:1], num_inference_steps=n, strength=0.6, guidance_scale=0.0,
               output_type="np", generator=torch.Generator().manual_seed(3)).images
    np.testing.assert_allclose(one.transpose(0, 2, 3, 1), ref, atol=2e-5, rtol=0)
    assert np.array_equal(run(captured, 2), run(plain, 2)) and len(calls) == 3  # batch 2: the plain modules
    compiled = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, size=32, device="cpu",
                                         capture=True, compile=True).lean  # compile wins; nothing runs here
    assert compiled._fast is not None and compiled._fast[0] is not graphs[0] and compiled.unet is pipe.unet


def test_warm_calls_skip_the_guards_and_new_shapes_still_get_them(pipe, monkeypatch):
    """A batch-1 call whose shapes have run before skips Dynamo's guard checks (about 6% of generate() for the
    embedded default) and gives the same image as the plain loop; a call with new shapes (here another token count)
    runs with the guards, so it is traced rather than run through a graph made for other shapes."""
    stances = []
    real = torch.compiler.set_stance
    monkeypatch.setattr(torch.compiler, "set_stance", lambda *a, **k: (stances.append(k), real(*a, **k))[1])
    plain = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                      device="cpu")
    captured = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                         device="cpu", capture=True)
    image, _ = _inputs(b=1)
    n = num_inference_steps_for(1, 0.6)

    def run(gen, tokens):
        with torch.inference_mode():
            return gen.lean(image, _inputs(b=1, tokens=tokens)[1], num_inference_steps=n, strength=0.6,
                            generator=torch.Generator().manual_seed(3)).numpy()

    first = run(captured, 8)
    assert stances == []  # a first call keeps the guards
    assert np.array_equal(run(captured, 8), first) and stances == [{"skip_guard_eval_unsafe": True}]
    other = run(captured, 5)  # new shapes: guards on again
    assert len(stances) == 1 and np.array_equal(other, run(plain, 5))
    assert np.array_equal(run(captured, 5), other) and np.array_equal(run(captured, 8), first)
    assert len(stances) == 3 and np.array_equal(first, run(plain, 8))


def test_warm_up_covers_the_latent_path_when_a_session_starts_from_latents(pipe):
    """--init latent: the warm-up traces the graphs that path runs too (the UNet sees latents that did not come
    through the VAE encoder), so a session's first image does not stall for seconds of tracing and drop markers."""
    from torch._dynamo.utils import counters

    gen = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                    device="cpu", capture=True, init="latent")
    gen.caption_space = "minilm"
    gen.ctx_dim = pipe.unet.config.cross_attention_dim
    gen.warmup()
    traced = sum(counters["stats"].values()), dict(counters["frames"])
    side = 32 // pipe.vae_scale_factor
    gen.generate(None, np.zeros((1, 16, gen.ctx_dim), np.float32),
                 latents=np.random.default_rng(0).standard_normal((1, pipe.vae.config.latent_channels, side, side))
                 .astype(np.float32))
    assert (sum(counters["stats"].values()), dict(counters["frames"])) == traced  # nothing traced anew


def _image(gen, seed=3, plain=False):
    """One batch-1 image of `gen` started from latents (the --init latent path: no VAE encoder to trace), through
    its captured graphs or (plain) its plain modules; the inputs made as generate() makes them, in inference mode."""
    rng = np.random.default_rng(0)
    fast = gen.lean._fast
    if plain:
        gen.lean._fast = None
    try:
        with torch.inference_mode():
            latents = torch.from_numpy(rng.standard_normal((1, 4, 16, 16)).astype(np.float32))
            cond = torch.from_numpy(rng.standard_normal((1, 16, 32)).astype(np.float32))
            return gen.lean(None, cond, num_inference_steps=num_inference_steps_for(1, 0.6), strength=0.6,
                            init_latents=latents, generator=torch.Generator().manual_seed(seed)).numpy()
    finally:
        gen.lean._fast = fast


def test_two_generators_and_two_thread_counts_in_one_process_each_draw_their_own_image(pipe):
    """A kiosk warmed its generator up outside the session, at torch's default thread count, and the Pipeline's own
    warm-up then ran at all cores but one (eegviz.threads): with the guards skipped for shapes that had run, Dynamo
    found no graph for that thread count and raised "Recompilation triggered with skip_guard_eval_unsafe stance" at
    every try. The thread count (Dynamo's global state) is part of what makes a call warm now: the first call at
    the new count runs with the guards, the next ones skip them again.
    Dynamo's graphs are cached per code object (the UNet's forward, the VAE's encode and decode), shared by every
    generator in the process, while each generator keeps its own record of which calls may skip the guards (a
    kiosk building one per session, the window's next session with another model): called in turn, at either
    count, each must draw with its own weights, never the other's. Every image equals that generator's plain
    modules' one at that thread count (its sums are split differently)."""
    from diffusers import StableDiffusionImg2ImgPipeline

    def generator(pipe):
        return DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                         device="cpu", capture=True)

    # the same architecture, other weights (in eval mode, as from_pretrained leaves a model: one graph for both)
    twin = StableDiffusionImg2ImgPipeline(**{**pipe.components,
                                             "unet": type(pipe.unet).from_config(pipe.unet.config).eval()})
    torch.manual_seed(5)
    with torch.no_grad():
        for p in twin.unet.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    a, b = generator(pipe), generator(twin)
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    try:
        want = {(g, n): (torch.set_num_threads(n), _image(g, plain=True))[1] for g in (a, b) for n in (other, before)}
        assert not np.array_equal(want[a, before], want[b, before])
        for g in (a, a, b, b, a, b):
            assert np.array_equal(_image(g), want[g, before])
        # the thread counts: through the VAE decoder's graph alone (the UNet's plain), whose trace at the other
        # count takes a second where the UNet's would take three
        for g in (a, b):
            g.lean._fast = (g.lean.unet, *g.lean._fast[1:])
        torch.set_num_threads(other)  # the session's count
        assert np.array_equal(_image(a), want[a, other])  # raised here
        assert [len(states) for states in a.lean._warm.values()] == [2]  # one shape, warm at both counts
        for g, n in [(a, other), (b, other), (a, other), (b, before), (a, before), (b, other)]:
            torch.set_num_threads(n)
            assert np.array_equal(_image(g), want[g, n])
    finally:
        torch.set_num_threads(before)


def test_a_call_that_finds_no_graph_with_the_guards_skipped_runs_again_with_them(pipe):
    """Should Dynamo find no graph for a call whose shapes ran in this state (its cache emptied by
    torch._dynamo.reset() anywhere in the process, tried by hand: the old code raised at every later call), the
    stance's error is not the session's: the call runs again with the guards from the random numbers it started
    with, and gives the image it would have given. Here the UNet's graph refuses the first call made with the guards skipped, after the
    noise was drawn from the call's generator."""
    gen = DiffusersImg2ImgGenerator(pipe=pipe, family="turbo", steps=1, strength=0.6, guidance=0.0, size=32,
                                    device="cpu", capture=True)
    want = _image(gen, plain=True)
    assert np.array_equal(_image(gen), want)
    unet, encode, decode = gen.lean._fast
    refused = []

    def refusing_unet(*a, **k):
        if torch._dynamo.eval_frame._is_skip_guard_eval_unsafe_stance() and not refused:  # the stance is on
            refused.append(1)
            raise RuntimeError("Recompilation triggered with skip_guard_eval_unsafe stance. This usually means ...")
        return unet(*a, **k)

    gen.lean._fast = (refusing_unet, encode, decode)
    assert np.array_equal(_image(gen), want) and refused == [1]
    assert np.array_equal(_image(gen), want)  # warm again
    with pytest.raises(RuntimeError, match="other"):  # any other error is the caller's, as before
        gen.lean._fast = (lambda *a, **k: (_ for _ in ()).throw(RuntimeError("other")), encode, decode)
        _image(gen)
