"""The lean loop against the plain diffusers call, on the same weights, steps, strength and batch, in one run.

What `speedup_vs_plain_pipeline` means: p50 of the generator's whole generate() (from the decoder's map size:
resize, lean loop, uint8) over p50 of `StableDiffusionImg2ImgPipeline.__call__` given the same init already
resized to the working size (the resize untimed) and the same
embeddings (and, with guidance, negative_prompt "" as a diffusers user would write it). The plain pipeline is a
copy of the generator's, back in the default memory format and never compiled: what a user loading the folder
with diffusers gets.

`plain_networks_only` is the floor under both: the plain pipeline's own VAE encode, UNet pass(es) and VAE decode
called back to back, nothing else. `overhead_free_bound` = plain call p50 / that floor is the most any loop that
only removes per-call work can gain with those kernels; the lean loop's faster kernels (channels_last, capture,
compile) are what may take it past that bound. It says whether a speedup target is a matter of overhead at all.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from eegviz.generators.lean_img2img import num_inference_steps_for
from eegviz.latency import percentiles


def _interleaved(fns, reps: int, sync=lambda: None) -> list[list[float]]:
    """Milliseconds of each function, `reps` rounds of one call each in turn; `sync` waits for the device (CUDA
    runs kernels asynchronously: without it a call that returns no host data would time its launches only)."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, times in zip(fns, out):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
    return out


def lean_vs_plain(gen, tokens: int, dim: int, reps: int = 20, batch: int = 1, map_side: int | None = None) -> dict:
    """Latencies of both paths at `batch` (the decoder's embedding shape: tokens x dim; its maps map_side px,
    default the working size) and their p50 ratio."""
    plain = copy.deepcopy(gen.pipe)
    plain.unet.to(memory_format=torch.contiguous_format)
    plain.vae.to(memory_format=torch.contiguous_format)
    rng = np.random.default_rng(0)
    side = map_side or gen.size
    sal = rng.random((batch, side, side, 3)).astype(np.float32)
    emb = rng.standard_normal((batch, tokens, dim)).astype(np.float32)
    with torch.inference_mode():
        init = gen.resize(sal).to(gen.dtype)  # the image the lean path starts from, resized outside the timing
    embeds = gen._embeds(emb)
    cfg = gen.lean.uses_cfg(gen.guidance)
    kwargs = dict(prompt_embeds=embeds, image=init, strength=gen.strength, guidance_scale=gen.guidance,
                  num_inference_steps=num_inference_steps_for(gen.steps, gen.strength), output_type="np",
                  negative_prompt=[""] * batch if cfg else None)
    if cfg and gen._negative is not None:  # the generator guides against given embeddings, not a prompt
        kwargs.update(negative_prompt=None, negative_prompt_embeds=gen.uncond_embeds(tokens).expand(batch, -1, -1))

    def call_plain():
        with torch.inference_mode():
            plain(**kwargs, generator=torch.Generator(gen.device).manual_seed(0))

    networks = _networks_only(plain, init, embeds, kwargs, gen.unet_passes_per_image, cfg)
    gen.generate(sal, emb)
    call_plain()  # warm both (allocator, lazy inits) before timing
    networks()
    # interleaved, one of each per round: on a shared VM the speed drifts over seconds, and timing each in its own
    # block would hand one of them a slow spell
    sync = torch.cuda.synchronize if str(gen.device).startswith("cuda") else (lambda: None)
    lean_t, plain_t, floor_t = _interleaved((lambda: gen.generate(sal, emb), call_plain, networks), reps, sync)
    lean_ms, plain_ms, floor_ms = percentiles(lean_t), percentiles(plain_t), percentiles(floor_t)
    return {"batch": batch, "reps": reps, "lean_generate": lean_ms, "plain_pipeline_call": plain_ms,
            "plain_networks_only": floor_ms, "overhead_free_bound": plain_ms["p50"] / floor_ms["p50"],
            "speedup": plain_ms["p50"] / lean_ms["p50"]}


def _networks_only(pipe, init: torch.Tensor, embeds: torch.Tensor, kwargs: dict, unet_passes: int, cfg: bool):
    """A function that runs `pipe`'s networks as one img2img call runs them and nothing else: the VAE encode of
    the init, the UNet once per step (cond and uncond batched together under guidance, as __call__ batches
    them) and the VAE decode."""
    steps = max(1, unet_passes // 2 if cfg else unet_passes)
    ctx = torch.cat([kwargs["negative_prompt_embeds"] if kwargs.get("negative_prompt_embeds") is not None
                     else torch.zeros_like(embeds), embeds]) if cfg else embeds
    t = torch.tensor(500)

    def run():
        with torch.inference_mode():
            lat = pipe.vae.encode(init * 2 - 1).latent_dist.mean
            for _ in range(steps):
                pipe.unet(torch.cat([lat, lat]) if cfg else lat, t, encoder_hidden_states=ctx, return_dict=False)
            pipe.vae.decode(lat, return_dict=False)

    return run
