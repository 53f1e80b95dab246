"""The one typed options object every generator plugin is built from (with the model folder), so that the
command line, the window and the benchmark build generators the same way, and no plugin gets a special case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class GeneratorOptions:
    """What a user may choose about generation. None means "the model's own setting" (its sampling.json, or the
    plugin's default), so a command-line default can never silently override what a model was tuned with."""

    sd_model: str | None = None  # a diffusers model id or folder; None: the pipeline in the eegviz model folder
    steps: int | None = None  # UNet denoising steps (each is one pass, two with classifier-free guidance)
    strength: float | None = None  # img2img strength: how far into the noise schedule the saliency map is sent
    guidance: float | None = None  # classifier-free guidance scale; <= 1: none (one UNet pass per step)
    size: int | None = None  # working/output resolution in pixels
    device: str | None = None  # "cpu", "cuda", ...; None: CUDA when present
    compile: bool = False  # torch.compile the UNet and VAE (inductor: a minute's first call, faster afterwards)
    # batch 1 through graphs Dynamo records once (eegviz.generators.lean_img2img): identical images, ~7% faster on
    # CPU, ~5 s at warm-up. Off here, so a script or test that builds a generator pays no trace; the command
    # line's sessions and bench turn it on (--no-capture turns it off).
    capture: bool = False
    init: str = "saliency"  # img2img starts from the saliency map, or ("latent") the decoder's latent branch

    @classmethod
    def from_mapping(cls, opts: Mapping[str, object]) -> GeneratorOptions:
        """The options from {option dest: value} (the parsed command line as a dict; a missing key is left to
        the model)."""
        def get(key: str):
            return opts.get(key)

        return cls(sd_model=get("sd_model"), steps=get("steps"), strength=get("strength"), guidance=get("guidance"),
                   size=get("size"), device=get("gen_device"), compile=bool(get("compile")),
                   capture=bool(get("capture")), init=str(get("init") or "saliency"))
