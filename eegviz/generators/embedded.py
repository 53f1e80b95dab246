"""The default generator plugin ("embedded"): the diffusers pipeline folder that is the eegviz model folder.

It is DiffusersImg2ImgGenerator (the same class and lean loop as real SD / SD-Turbo / LCM), reading the model
folder's pipeline and its sampling.json; only the name differs, so results say which model drew them. The model
folder layout: model_index.json (StableDiffusionImg2ImgPipeline; safety_checker / feature_extractor null),
vae/, unet/ (cross-attention width = the decoder's caption states), scheduler/, text_encoder/ + tokenizer/ (the
caption space, MiniLM; null in folders trained in the tests' hash space; not loaded here while guidance is baked
in), sampling.json (eegviz.train.pipeline_folder).
"""

from __future__ import annotations

from pathlib import Path

from eegviz.errors import EegvizError
from eegviz.generators.diffusers_sd import DiffusersImg2ImgGenerator

# said wherever --sd-model reaches a generator that does not read it (the command line checks it first)
SD_MODEL_NOT_READ = ("--sd-model is read by the diffusers generator only: add --generator diffusers (the embedded "
                     "generator draws with the model folder's own pipeline)")


class EmbeddedGenerator(DiffusersImg2ImgGenerator):
    name = "embedded"

    @classmethod
    def from_options(cls, opts, model_dir: Path):
        """The model folder's own pipeline. --sd-model is for the "diffusers" plugin: given here it is refused,
        not dropped (a user who named an SD model would get the model folder's pipeline without a word)."""
        if opts.sd_model:
            raise EegvizError(SD_MODEL_NOT_READ)
        return cls.from_folder(Path(model_dir), opts)
