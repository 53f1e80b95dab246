"""LEGACY: the old embedded default, in-house few-step pixel diffusion at 32x32 (TinyUNet + its own DDIM loop).

Kept loadable (plugin "legacy-pixel") only while models/synthetic-default still ships a generator.json +
generator.safetensors of this kind; the new default is a diffusers pipeline folder run by
DiffusersImg2ImgGenerator. Delete this module, tiny_unet.py and their glue once the default is swapped.

NeuroImagen's generation step in miniature. The network predicts the clean image x0 (not the noise), which is
what makes 1-4 DDIM steps usable: img2img noises the saliency map to level `strength` and walks back to t=0 in
`steps` deterministic DDIM jumps, conditioned on the predicted caption embedding. Classifier-free guidance
(`guidance` > 1, one extra unconditional UNet pass per step) pushes the output towards what the caption names:
the saliency map says where and what colour, the caption says what shape.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from eegviz.errors import EegvizError, one_line
from eegviz.generators.base import to_uint8
from eegviz.generators.tiny_unet import TinyUNet
from eegviz.modelio import load_module, read_config, save_module, write_config


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """Cosine noise schedule (Nichol & Dhariwal), t in [0, 1]."""
    return torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2


def noise_to(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    ab = alpha_bar(t)[:, None, None, None]
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


class LegacyPixelGenerator:
    name = "legacy-pixel"

    DEFAULTS = {"steps": 2, "strength": 0.6, "guidance": 1.0}

    def __init__(self, model_dir: Path | None = None, steps: int | None = None, strength: float | None = None,
                 guidance: float | None = None, out_size: int = 128, unet: TinyUNet | None = None):
        """Sampling settings left as None come from the model's generator.json (what it was tuned with)."""
        from eegviz.paths import default_model_dir

        cfg = dict(self.DEFAULTS)
        if unet is None:
            model_dir = Path(model_dir or default_model_dir())
            saved = read_config(model_dir, "generator.json", {"channels": [int], "ctx_dim": int, "emb_dim": int},
                                {"steps": int, "strength": float, "guidance": float})
            try:
                unet = TinyUNet(tuple(saved["channels"]), saved["ctx_dim"], saved["emb_dim"])
            except (ValueError, TypeError, RuntimeError, IndexError, ZeroDivisionError) as e:
                raise EegvizError(f"{model_dir / 'generator.json'} describes a generator that cannot be built "
                                  f"({one_line(e, 160)})") from None
            load_module(unet, model_dir / "generator.safetensors")
            cfg.update({k: saved[k] for k in self.DEFAULTS if k in saved})
        self.steps = int(steps if steps is not None else cfg["steps"])
        self.strength = float(strength if strength is not None else cfg["strength"])
        self.guidance = float(guidance if guidance is not None else cfg["guidance"])
        self.out_size = out_size
        self.unet = unet.eval()

    @classmethod
    def from_options(cls, opts, model_dir: Path) -> LegacyPixelGenerator:
        """Sampling settings the options leave unset come from the folder's generator.json."""
        return cls(model_dir, steps=opts.steps, strength=opts.strength, guidance=opts.guidance,
                   out_size=opts.size or 128)

    @property
    def unet_passes_per_image(self) -> int:
        return self.steps * (1 if self.guidance == 1.0 else 2)

    def save(self, model_dir: Path, extra: dict | None = None) -> None:
        write_config(model_dir, {"kind": "embedded", "channels": list(self.unet.channels), "ctx_dim": self.unet.ctx_dim,
                                 "emb_dim": self.unet.emb_dim, "steps": self.steps, "strength": self.strength,
                                 "guidance": self.guidance, **(extra or {})}, "generator.json")
        save_module(self.unet, Path(model_dir) / "generator.safetensors")

    def warmup(self) -> None:
        size = 32
        self.generate(np.zeros((1, size, size, 3), np.float32), np.zeros((1, 8, self.unet.ctx_dim), np.float32))

    def predict_x0(self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        if self.guidance == 1.0:
            return self.unet(x, t, ctx)
        both = self.unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([ctx, torch.zeros_like(ctx)]))
        cond, uncond = both.chunk(2)
        return uncond + self.guidance * (cond - uncond)

    @torch.inference_mode()
    def sample(self, init: torch.Tensor, ctx: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """img2img from init (B,3,H,W) in [-1,1]: noise to `strength`, then `steps` DDIM jumps to t=0."""
        gen = torch.Generator().manual_seed(seed)
        b = init.shape[0]
        ts = torch.linspace(self.strength, 0.0, self.steps + 1)
        x = noise_to(init, ts[0].repeat(b), torch.randn(init.shape, generator=gen))
        for t_now, t_next in zip(ts[:-1], ts[1:]):
            x0 = self.predict_x0(x, t_now.repeat(b), ctx).clamp(-1, 1)
            ab_now, ab_next = alpha_bar(t_now), alpha_bar(t_next)
            eps = (x - ab_now.sqrt() * x0) / (1 - ab_now).sqrt().clamp_min(1e-4)
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps if t_next > 0 else x0
        return x

    def generate(self, saliency: np.ndarray, embedding: np.ndarray, seed: int = 0) -> np.ndarray:
        init = torch.as_tensor(saliency, dtype=torch.float32).permute(0, 3, 1, 2) * 2 - 1
        ctx = torch.as_tensor(embedding, dtype=torch.float32)
        img = self.sample(init, ctx, seed)
        if self.out_size and self.out_size != img.shape[-1]:
            img = torch.nn.functional.interpolate(img, size=self.out_size, mode="bicubic", align_corners=False)
        return to_uint8((img.permute(0, 2, 3, 1).numpy() + 1) / 2)
