"""Stable Diffusion img2img through diffusers: SD1.x / SD2.x / SD-Turbo / LCM, 1-4 steps.

NeuroImagen's generation step for real users: the saliency map is resized and encoded, noised to `strength`
and denoised conditioned on the decoder's predicted embedding (passed as prompt_embeds, no text encoder run).
diffusers runs int(num_inference_steps * strength) steps, so num_inference_steps is chosen as
ceil(steps / strength): exactly `steps` UNet calls happen, never zero.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from eegviz.errors import EegvizError
from eegviz.generators.base import to_uint8


def scheduler_for(family: str, config):
    from diffusers import DDIMScheduler, EulerDiscreteScheduler, LCMScheduler

    if family == "turbo":
        return EulerDiscreteScheduler.from_config(config, timestep_spacing="trailing")
    if family == "lcm":
        return LCMScheduler.from_config(config)
    return DDIMScheduler.from_config(config)


def guess_family(model: str) -> str:
    m = model.lower()
    return "turbo" if "turbo" in m else "lcm" if "lcm" in m else "sd"


class DiffusersImg2ImgGenerator:
    name = "diffusers"

    def __init__(self, model: str | None = None, *, pipe=None, steps: int = 1, strength: float = 0.5,
                 family: str | None = None, size: int | None = None, tiny_vae: str | None = None,
                 dtype: torch.dtype | None = None, device: str | None = None, compile: bool = False):
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = dtype or (torch.float16 if self.device == "cuda" else torch.float32)
        if pipe is None:
            if not model:
                raise EegvizError("the diffusers generator needs --sd-model (a model id or a local folder)")
            pipe = self._load(model, tiny_vae)
        self.family = family or guess_family(model or "")
        pipe.scheduler = scheduler_for(self.family, pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device, self.dtype)
        self.pipe.unet.to(memory_format=torch.channels_last)
        if compile:
            self.pipe.unet = torch.compile(self.pipe.unet, mode="max-autotune", fullgraph=True)
        # default: the model's native resolution (SD-Turbo 512, SD 2.1 768), which it was trained to draw
        self.size = size or int(self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor)
        self.steps, self.strength = steps, strength
        self.guidance = 0.0 if self.family in ("turbo", "lcm") else 7.5
        self.ctx_dim = self.pipe.unet.config.cross_attention_dim
        self.projection: torch.nn.Linear | None = None

    @classmethod
    def from_cli(cls, args) -> DiffusersImg2ImgGenerator:
        strength = getattr(args, "strength", None)
        return cls(args.sd_model, steps=args.steps, **({"strength": strength} if strength else {}))

    def _load(self, model: str, tiny_vae: str | None):
        from eegviz.hub import local_files_only, quiet_hf_libraries

        quiet_hf_libraries()
        from diffusers import AutoencoderTiny, StableDiffusionImg2ImgPipeline
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.set_verbosity_error()  # e.g. "accelerate not found", not the user's problem
        try:
            with warnings.catch_warnings():
                # torch_dtype works on every supported diffusers (>= 0.30); newer ones warn it was renamed dtype
                warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                pipe = StableDiffusionImg2ImgPipeline.from_pretrained(
                    model, torch_dtype=self.dtype, safety_checker=None, requires_safety_checker=False,
                    local_files_only=local_files_only(model))
                if tiny_vae:
                    pipe.vae = AutoencoderTiny.from_pretrained(tiny_vae, torch_dtype=self.dtype,
                                                               local_files_only=local_files_only(tiny_vae))
        except (OSError, ValueError) as exc:
            raise EegvizError(f"cannot load diffusers model '{model}': not in the local folder or HF cache and "
                              f"no network to fetch it ({type(exc).__name__})") from None
        return pipe

    def set_projection(self, proj: torch.nn.Linear) -> None:
        """A learned map from the decoder's embedding width to the UNet's cross-attention width."""
        self.projection = proj.to(self.device, self.dtype)

    def warmup(self) -> None:
        self.generate(np.zeros((1, 32, 32, 3), np.float32), np.zeros((1, 8, self.ctx_dim), np.float32))

    def _embeds(self, embedding: np.ndarray) -> torch.Tensor:
        e = torch.as_tensor(embedding, dtype=self.dtype, device=self.device)
        if e.shape[-1] != self.ctx_dim:
            if self.projection is None:
                raise EegvizError(f"decoder embeddings are {e.shape[-1]}-d but the SD model expects {self.ctx_dim}-d; "
                                  "train the semantic branch on this model's text encoder or set a projection")
            e = self.projection(e)
        return e

    @torch.inference_mode()
    def generate(self, saliency: np.ndarray, embedding: np.ndarray, seed: int = 0) -> np.ndarray:
        init = torch.as_tensor(saliency, dtype=torch.float32).permute(0, 3, 1, 2)
        init = torch.nn.functional.interpolate(init, size=(self.size, self.size), mode="bicubic",
                                               align_corners=False).clamp(0, 1)
        embeds = self._embeds(embedding)
        kwargs = {}
        if self.guidance > 1:
            kwargs["negative_prompt_embeds"] = torch.zeros_like(embeds)
        out = self.pipe(
            prompt_embeds=embeds, image=init.to(self.device, self.dtype),
            num_inference_steps=math.ceil(self.steps / self.strength), strength=self.strength,
            guidance_scale=self.guidance, output_type="np",
            generator=torch.Generator(self.device).manual_seed(seed), **kwargs,
        ).images
        return to_uint8(np.asarray(out))
