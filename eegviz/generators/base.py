"""The Generator protocol: saliency maps + text embeddings -> images, batched.

Implementations: DiffusersImg2ImgGenerator (the model folder's own diffusers pipeline as plugin "embedded", or
Stable Diffusion / SD-Turbo / LCM img2img as "diffusers"; one lean loop). Plugins register more under the
entry-point group eegviz.generators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from eegviz.errors import EegvizError


@runtime_checkable
class Generator(Protocol):
    name: str

    def warmup(self) -> None:
        """Run once at start so the first epoch is not slow (allocations, compilation)."""

    def generate(self, saliency: np.ndarray, embedding: np.ndarray, seed: int | Sequence[int] = 0) -> np.ndarray:
        """saliency (B, H, W, 3) float [0,1], embedding (B, tokens, dim) -> images (B, H', W', 3) uint8.

        seed: one int for the whole batch (evaluation: its batches are fixed, so it is reproducible), or, for a
        generator whose class sets `per_image_seeds = True` (DiffusersImg2ImgGenerator), one int per image: a
        session then passes each epoch's own index, so an epoch's image does not depend on which other epochs
        happened to share its batch (batches form when inference falls behind, which is timing, not data). Other
        generators (plugins written to `seed: int`) get the batch's first epoch's index, as before.

        A generator that can start from the decoder's latent branch sets the class attribute
        `accepts_latents = True` and also takes `latents=` (B, C, h, w) (DiffusersImg2ImgGenerator); its `init`
        attribute ("saliency" or "latent") says which start a session wants, and the pipeline passes latents
        only for "latent"."""


def to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def check_images(images, n: int, generator: object) -> np.ndarray:
    """A generator's output as the protocol promises it, (n, H, W, 3) uint8, or one line naming the generator
    (its `name`, else its class; a string is taken as the name).

    Checked on every batch a session generates: a plugin returning floats in [0, 1] (what many image models
    give) otherwise reached the PNG writer and the window as a PIL traceback from the inference thread, long after
    the cause."""
    name = generator if isinstance(generator, str) else getattr(generator, "name", type(generator).__name__)
    if not isinstance(images, np.ndarray):
        raise EegvizError(f"generator '{name}' returned {type(images).__name__}, not a numpy array of (N, H, W, 3) "
                          "uint8 images")
    if images.dtype != np.uint8:
        raise EegvizError(f"generator '{name}' returned {images.dtype} images; generate() must return uint8 "
                          "(0-255; eegviz.generators.base.to_uint8 converts [0, 1] floats)")
    if images.ndim != 4 or images.shape[0] != n or images.shape[-1] != 3 or min(images.shape[1:3]) < 1:
        raise EegvizError(f"generator '{name}' returned images shaped {images.shape} for {n} epochs; generate() "
                          f"must return ({n}, H, W, 3)")
    return images
