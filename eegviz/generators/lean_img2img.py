"""A lean few-step img2img loop over a diffusers pipeline's own components (VAE, UNet, scheduler).

Why not `StableDiffusionImg2ImgPipeline.__call__`: per call it validates inputs, runs the image processor
(PIL/numpy/tensor dispatch, resizing), re-encodes or re-checks prompts, builds a progress bar and callback
machinery and postprocesses to numpy. At 1-2 steps on a small model that overhead is a large share of the time.
Here the caller hands over a batch of init images already at the working size in [0, 1], the conditioning states
and, for guidance, the unconditional states computed once; what is left is exactly the arithmetic of __call__:

  encode the init with the VAE (a latent *sample*, drawn from `generator` first, as __call__ does), scale it,
  draw the noise with randn_tensor from the same generator, add it at the strength's first timestep with the
  scheduler, then per step: scale_model_input, UNet (cond and uncond batched together when guidance is on),
  guidance, scheduler.step (with the same generator, so stochastic schedulers draw the same numbers), and
  decode. Same weights, seed, steps, strength and batch give the same image as __call__
  (tests/generators/test_lean_img2img.py).

The UNet and VAE are put in channels_last (faster convolutions on CPU and GPU); graph capture (`capture`, below in
__init__; sessions and the bench turn it on) runs batch 1 through Dynamo-recorded graphs of the same kernels, with
identical outputs; torch.compile is optional, for batch 1 too: the
UNet whole, and the VAE's encode and decode (graph breaks allowed: they return diffusers' output objects). On
CUDA it compiles in "max-autotune" (CUDA graphs: a few-step loop is launch-bound); on CPU in inductor's default
mode, which is what benchmarks/cpu-2core.json's "compiled" section measures (generate() p50 22.7 -> 16.2 ms at
batch 1; the UNet alone about 8 ms compiled, the VAE's encode 2 and decode 3.5); max-autotune's kernel search
was never timed on CPU.
"""

from __future__ import annotations

import inspect
import math

import torch


def num_inference_steps_for(steps: int, strength: float) -> int:
    """diffusers runs int(num_inference_steps * strength) of num_inference_steps: the smallest schedule length
    that makes that exactly `steps` UNet steps."""
    n = math.ceil(steps / strength - 1e-9)
    return n if int(n * strength) >= steps else n + 1  # int() exactly as diffusers computes it


class LeanImg2Img:
    """img2img with `pipe`'s vae, unet and scheduler (shared, not copied); see the module docstring."""

    def __init__(self, pipe, compile: bool = False, channels_last: bool = True, capture: bool = False):
        from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import retrieve_latents
        from diffusers.utils.torch_utils import randn_tensor

        self.pipe, self.vae, self.scheduler = pipe, pipe.vae, pipe.scheduler
        self.unet = pipe.unet
        self._retrieve_latents, self._randn = retrieve_latents, randn_tensor
        if channels_last:
            self.unet.to(memory_format=torch.channels_last)
            self.vae.to(memory_format=torch.channels_last)
        self._encode, self._decode = self.vae.encode, self.vae.decode
        # Batch 1, the live path, may run faster versions of the three networks; a batch of pending epochs
        # (throughput, when inference is behind) always runs the plain modules, because a new batch size would
        # make either kind trace again in the middle of a session: seconds for capture, a minute for compile.
        self._fast = None
        if compile:
            # torch.compile (inductor on CPU; on CUDA "max-autotune", whose CUDA graphs suit a launch-bound
            # few-step loop): the UNet whole, the VAE's two halves too (at 64 px and one UNet pass they are about
            # half of generate())
            mode = "max-autotune" if self.unet.device.type == "cuda" else "default"
            self._fast = (torch.compile(self.unet, mode=mode, fullgraph=True),
                          torch.compile(self.vae.encode, mode=mode), torch.compile(self.vae.decode, mode=mode))
        elif capture:
            # Graph capture: TorchDynamo records each network once as a flat graph of the same aten calls and
            # runs it with its eager backend - no code generation, no C++ compiler, bit-identical outputs. What
            # it removes is the Python between the kernels (module calls, hooks, diffusers' per-call branching),
            # about 7% of generate() for the embedded default on CPU.
            self._fast = (torch.compile(self.unet, backend="eager", fullgraph=True),
                          torch.compile(self.vae.encode, backend="eager"),
                          torch.compile(self.vae.decode, backend="eager"))
        # Which calls may skip Dynamo's guard checks (every parameter's and input's dtype, shape, device, ... before
        # each graph: about 1.5 ms a generate() here, 6% of it): {input shapes (one tuple per call: see _shapes):
        # the global states they ran in}. A call whose shapes have run, in a global state they ran in, can only
        # select the graphs that call ran (batch 1, fixed size, dtype and device, inference mode), so it skips them
        # (torch.compiler.set_stance's skip_guard_eval_unsafe); any other call runs with the guards, tracing if need
        # be, and is recorded. See _may_skip_guards for why the global state is part of it and another generator
        # in the same process is not. The stance is process-wide, not per thread: this holds because a process runs
        # one session's generator at a time (eegviz.app.session runs sessions one after another); two generators
        # called at once from two threads would need a lock around these calls.
        self._warm: dict[tuple, list] = {}
        self.scaling = float(self.vae.config.scaling_factor)
        self.time_cond_dim = pipe.unet.config.time_cond_proj_dim  # LCM-distilled UNets take the guidance as input
        accepted = set(inspect.signature(self.scheduler.step).parameters)
        self._step_eta = "eta" in accepted
        self._step_generator = "generator" in accepted

    def uses_cfg(self, guidance: float) -> bool:
        """Whether `guidance` costs a second (unconditional) UNet pass per step, as __call__ decides it."""
        return guidance > 1 and self.time_cond_dim is None

    def timesteps(self, num_inference_steps: int, strength: float, device) -> torch.Tensor:
        """The schedule's tail that img2img at `strength` runs (and the scheduler told where it begins)."""
        sched = self.scheduler
        sched.set_timesteps(num_inference_steps, device=device)
        init = min(int(num_inference_steps * strength), num_inference_steps)
        t_start = max(num_inference_steps - init, 0) * sched.order
        if hasattr(sched, "set_begin_index"):
            sched.set_begin_index(t_start)
        return sched.timesteps[t_start:]

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor | None, cond: torch.Tensor, *, num_inference_steps: int, strength: float,
                 guidance: float = 1.0, uncond: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, init_latents: torch.Tensor | None = None) -> torch.Tensor:
        """image (B, 3, H, W) in [0, 1]; cond (B, T, D); uncond (B or 1, T', D) when uses_cfg(guidance).
        init_latents (B, C, h, w), already scaled, instead of an image: img2img starts from them and the VAE
        encoder is skipped (the latent pixel branch, eegviz.decoders.latent).
        Returns (B, 3, H, W) in [0, 1] (float, on the UNet's device)."""
        fast = self._fast is not None and cond.shape[0] == 1
        if not fast:
            return self._run(image, cond, num_inference_steps, strength, guidance, uncond, generator, init_latents,
                             (self.unet, self._encode, self._decode))
        shapes = _shapes(image, cond, uncond, init_latents, self.uses_cfg(guidance))
        args = (image, cond, num_inference_steps, strength, guidance, uncond, generator, init_latents, self._fast)
        if self._may_skip_guards(shapes):
            rng = _rng_state(generator)
            try:
                with torch.compiler.set_stance("default", skip_guard_eval_unsafe=True):
                    return self._run(*args)
            except RuntimeError as e:
                if not str(e).startswith(SKIPPED_GUARDS_MISSED):
                    raise
                # No graph there for this call although its shapes ran in this state (Dynamo's cache emptied by
                # torch._dynamo.reset() anywhere in the process: it raised at every later call): not the session's
                # failure. The call runs again with the guards from the random numbers it started with, so its
                # image is the one it would have been.
                _set_rng_state(generator, rng)
                self._warm.pop(shapes, None)
        out = self._run(*args)
        self._warm.setdefault(shapes, []).append(_global_state())
        return out

    def _may_skip_guards(self, shapes: tuple) -> bool:
        """Whether a fast call with these input shapes may run without Dynamo's guard checks: a call with them ran
        through the graphs before, in the same global state.

        The global state is Dynamo's own record of it (the GlobalStateGuard its graphs are guarded on: grad and
        inference mode, autocast, default dtype, deterministic algorithms, torch's thread count...), compared in
        0.3 us. With the shapes alone deciding, a generator warmed up at one thread count and called later at
        another found no graph for that state, and with the guards skipped Dynamo does not trace one: it raised
        "Recompilation triggered with skip_guard_eval_unsafe stance" at every call. A kiosk that warmed its
        generator up outside the session (at torch's default, all cores) and then ran the session's own warm-up in
        the Pipeline (all cores but one, eegviz.threads) never showed its stream. Now the first call at the new
        thread count runs with the guards (traced once, seconds) and the calls after it skip them again.

        Other generators in the same process need nothing here, though Dynamo's cache is per code object (the
        UNet's forward, the VAE's encode and decode) and so shared by every LeanImg2Img: a graph reads the weights
        from the module it is handed at each call, so two models of one architecture share one graph and each gets
        its own weights' image; another architecture's first call runs with the guards and adds its own graphs,
        and what told them apart then (every tensor's shape, and any guard that failed) is what Dynamo still checks
        with the rest skipped, so each call selects its own graph (tests/generators/test_lean_img2img.py alternates
        two generators and compares each with its plain modules; by hand, two whose UNets differ only in their
        number of attention heads). A process-wide "last caller" token would make each switch between them pay
        the guards once for nothing."""
        return any(state.check() for state in self._warm.get(shapes, ()))

    def _run(self, image, cond, num_inference_steps, strength, guidance, uncond, generator, init_latents, networks):
        """__call__'s arithmetic with the given (unet, vae encode, vae decode)."""
        unet, encode, decode = networks
        device, dtype = cond.device, cond.dtype
        b = cond.shape[0]
        cfg = self.uses_cfg(guidance)
        if cfg and uncond is None:
            raise ValueError("classifier-free guidance needs the unconditional embeddings")
        ts = self.timesteps(num_inference_steps, strength, device)
        if init_latents is not None:
            latents = init_latents.to(device, dtype)
        else:
            x = (image.to(device) * 2 - 1).to(dtype)  # normalised before the cast, as the image processor does
            x = x.contiguous(memory_format=torch.channels_last)
            latents = self.scaling * self._retrieve_latents(encode(x), generator=generator)
        noise = self._randn(latents.shape, generator=generator, device=device, dtype=dtype)
        latents = self.scheduler.add_noise(latents, noise, ts[:1].repeat(b))
        step_kwargs = {**({"eta": 0.0} if self._step_eta else {}),
                       **({"generator": generator} if self._step_generator else {})}
        time_cond = None
        if self.time_cond_dim is not None:
            # w = guidance - 1 as __call__ computes it, with guidance <= 1 meaning none (w 0, the conditional
            # prediction alone) as it does for every other UNet: --guidance 0, SD-Turbo's "none", gave an LCM
            # w = -1, outside the scales it is distilled on, with no word (found by review)
            w = torch.tensor(max(float(guidance), 1.0) - 1).repeat(b)
            time_cond = self.pipe.get_guidance_scale_embedding(w, embedding_dim=self.time_cond_dim).to(device, dtype)
        batched = cfg and uncond.shape[1:] == cond.shape[1:]
        ctx = torch.cat([uncond.expand(b, -1, -1), cond]) if batched else cond
        for t in ts:
            if batched:
                inp = self.scheduler.scale_model_input(torch.cat([latents, latents]), t)
                pred_u, pred_c = unet(inp, t, encoder_hidden_states=ctx, return_dict=False)[0].chunk(2)
            else:
                inp = self.scheduler.scale_model_input(latents, t)
                pred_c = unet(inp, t, encoder_hidden_states=ctx, timestep_cond=time_cond, return_dict=False)[0]
                if cfg:  # token counts differ: the unconditional pass on its own (exact, just not batched)
                    pred_u = unet(inp, t, encoder_hidden_states=uncond.expand(b, -1, -1), return_dict=False)[0]
            pred = pred_u + guidance * (pred_c - pred_u) if cfg else pred_c
            latents = self.scheduler.step(pred, t, latents, **step_kwargs, return_dict=False)[0]
        img = decode(latents / self.scaling, return_dict=False, generator=generator)[0]
        return (img / 2 + 0.5).clamp(0, 1)


# How Dynamo's error begins when a call with its guards skipped finds no graph it may run (torch 2.13)
SKIPPED_GUARDS_MISSED = "Recompilation triggered with skip_guard_eval_unsafe stance"


def _global_state():
    """Dynamo's snapshot of the global state its graphs depend on; .check() says whether it still holds."""
    from torch._C._dynamo.guards import GlobalStateGuard  # private, as torch==2.13.0 (pinned) has it

    return GlobalStateGuard()


def _rng_state(generator) -> list[torch.Tensor]:
    """The states a call's random numbers start from: its generator's (or each one's, for a list of them as
    diffusers takes), or torch's default one's."""
    if generator is None:
        return [torch.random.get_rng_state()]
    return [g.get_state() for g in (generator if isinstance(generator, (list, tuple)) else [generator])]


def _set_rng_state(generator, states: list[torch.Tensor]) -> None:
    if generator is None:
        torch.random.set_rng_state(states[0])
        return
    for g, state in zip(generator if isinstance(generator, (list, tuple)) else [generator], states):
        g.set_state(state)


def _shapes(image, cond, uncond, init_latents, cfg: bool) -> tuple:
    """Everything that decides which graphs a fast (batch 1) call runs: the shapes, dtypes and devices of what the
    networks are handed, and whether guidance adds an unconditional pass."""
    def sig(x):
        return None if x is None else (tuple(x.shape), x.dtype, x.device.type)
    return sig(image), sig(cond), sig(uncond), sig(init_latents), cfg
