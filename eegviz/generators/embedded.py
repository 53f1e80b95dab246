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
from eegviz.modelio import interrupted_training
from eegviz.generators.diffusers_sd import SAMPLING, DiffusersImg2ImgGenerator

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
        if not has_pipeline(Path(model_dir)):
            stopped = interrupted_training(Path(model_dir))
            if stopped:
                raise EegvizError(f"{model_dir} holds no diffusers pipeline (model_index.json missing): {stopped}")
            raise EegvizError(f"{model_dir} holds no diffusers pipeline (model_index.json missing, as in a "
                              "decoder-only model folder); draw with another folder's: add --generator diffusers "
                              "--sd-model MODEL")
        return cls.from_folder(Path(model_dir), opts)


def has_pipeline(model_dir: Path) -> bool:
    """Whether the embedded generator can read model_dir. A decoder-only folder (train --decoder-only,
    models/synthetic-realistic) cannot, and the line from_folder gives then said "pass --sd-model MODEL", which
    replay, live, demo and eval refuse without --generator diffusers (SD_MODEL_NOT_READ): each caller names its
    own way out (bench takes --sd-model alone)."""
    return (model_dir / "model_index.json").is_file() or (model_dir / SAMPLING).is_file()
