"""Diffusers img2img: the embedded default's pipeline folder and SD1.x / SD2.x / SD-Turbo / LCM, one code path.

NeuroImagen's generation step: the saliency map is resized (batched, torch) and encoded, noised to `strength`
and denoised conditioned on the decoder's predicted embedding (passed as encoder states, no text encoder run)
by the lean loop (eegviz.generators.lean_img2img). `steps` is the number of UNet steps that really run.

Where the pipeline comes from: `--sd-model` (a Hub id or a folder), else the eegviz model folder itself, whose
root is a diffusers pipeline folder (model_index.json, vae/, unet/, scheduler/) plus sampling.json with the
settings it was trained and tuned for ({"steps", "strength", "guidance", "text_encoder", "image_size"}). A
folder with sampling.json keeps its own scheduler; other pipelines get the scheduler and guidance of their family,
read from their own files (family_of: the UNet's guidance embedding, the scheduler's class and spacing), never
from where the folder sits or what it is called, so the same files draw the same way wherever they are.

Classifier-free guidance (guidance > 1, real SD) guides against the text encoder's encoding of the empty
prompt, as diffusers does for `negative_prompt=""`, computed once per token count; a pipeline loaded without a
text encoder cannot make it, and says so instead of guessing zeros.
"""

from __future__ import annotations

import json
import logging
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from eegviz.checks import read_at_most
from eegviz.devices import resolved_device
from eegviz.errors import EegvizError
from eegviz.generators.base import to_uint8
from eegviz.generators.lean_img2img import LeanImg2Img, num_inference_steps_for
from eegviz.modelio import MODEL_JSON_MAX_BYTES

SAMPLING = "sampling.json"
SAMPLING_FIELDS = {"steps": int, "strength": float, "guidance": float, "text_encoder": str, "image_size": int}
# the image sizes a pipeline is run at, in pixels: SD draws 512-1024, the embedded default 64; a size outside this
# is an edited file (-64 fails deep in torch, 100000 asks for a 120 GB buffer), not a resolution anyone runs
IMAGE_SIZES = (8, 2048)
# classifier-free guidance scales in use run from 1 (none) to about 15; an infinite or NaN one (an edited file)
# drew all-black images with nothing but a numpy cast warning (found by review)
MAX_GUIDANCE = 50.0
# what a broken local pipeline folder raises in from_pretrained: diffusers builds each component from its config
# as written, so a wrong value fails wherever it is first used (a string of block widths as a TypeError in torch,
# num_train_timesteps 0 as an IndexError in the scheduler). pickle.UnpicklingError: torch's weights-only refusal of a
# .bin that holds more than tensors, which transformers (a text encoder) lets through where diffusers wraps it in an
# OSError; nothing in the pickle runs either way
LOAD_ERRORS = (OSError, ValueError, RuntimeError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError,
               pickle.UnpicklingError)
# the guidance an SD pipeline runs at when nothing says otherwise (classifier-free guidance, diffusers' default)
SD_GUIDANCE = 7.5
# an LCM-distilled UNet (time_cond_proj_dim) takes w = guidance - 1 as an input embedding, distilled over guidance
# scales well above 1: diffusers' LatentConsistencyModel(Img2Img)Pipeline default, guidance_scale 8.5 (w 7.5). The
# LCM family used to run at guidance 0, which fed it w = -1, a value it never saw (found by review)
LCM_GUIDANCE = 8.5

log = logging.getLogger(__name__)


def resize_maps(maps: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, H, W) saliency maps in [0, 1] at any H -> (B, 3, size, size): the img2img start image, by one batched
    bicubic interpolation clamped back into [0, 1]. eegviz eval scores the maps themselves through it too."""
    if maps.shape[-2:] != (size, size):
        maps = torch.nn.functional.interpolate(maps, size=(size, size), mode="bicubic", align_corners=False)
    return maps.clamp(0, 1)


def scheduler_for(family: str, config):
    """The scheduler of `family` built from a pipeline's own scheduler config (its betas, prediction type).

    SD's DDIM does not clip its predicted clean latent (clip_sample False, as SD 2.x's DDIM config and diffusers'
    warning for it say): DDIMScheduler's default, clip_sample True, clamps it to [-1, 1], where SD's scaled
    latents reach about +-4. Built from a config that does not say (Euler, DPM-Solver, UniPC, most fine-tunes
    ship these), SD ran clipped, with no warning, since diffusers warns only when a pipeline is built with it
    (found by review). A config that sets clip_sample keeps its own."""
    from diffusers import DDIMScheduler, EulerDiscreteScheduler, LCMScheduler

    if family == "turbo":
        return EulerDiscreteScheduler.from_config(config, timestep_spacing="trailing")
    if family == "lcm":
        return LCMScheduler.from_config(config)
    return DDIMScheduler.from_config(config, **({} if "clip_sample" in config else {"clip_sample": False}))


def is_hub_id(name: str) -> bool:
    """Whether `name` could be a Hugging Face model id ("owner/name"); an absolute path, ./x or a/b/c cannot, so a
    missing folder named so is said to be missing, not to be absent from the HF cache. Nor can "models/sd15" where
    models/ is a folder here (as --model reads it): a typo of a local folder, which went to the Hub (found by
    review)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    parts = Path(str(name)).parts
    if len(parts) > 1 and Path(parts[0]).is_dir() and not Path(str(name)).exists():
        return False
    try:
        validate_repo_id(str(name))
    except HFValidationError:
        return False
    return True


def guess_family(name: str) -> str:
    """The family a Hub id's repo name suggests ("turbo", "lcm", else "sd"): only for an id whose own files cannot
    be read here (not cached, offline), whose load then fails anyway. Never for a path: a folder's parents say
    nothing about its files (runs/turbo_x/sd once ran plain SD files as SD-Turbo; found by review)."""
    m = name.rsplit("/", 1)[-1].lower()
    return "turbo" if "turbo" in m else "lcm" if "lcm" in m else "sd"


# schedulers SD-Turbo-style distilled pipelines ship: Euler with "trailing" timestep spacing, so that their one or
# few steps start at the last timestep (SD-Turbo: EulerDiscreteScheduler; SDXL-Turbo: the ancestral one)
TURBO_SCHEDULERS = ("EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler")


def family_of(scheduler: dict | None, unet: dict | None) -> tuple[str, str] | None:
    """(family, why) from a pipeline's own configs (scheduler/scheduler_config.json, unet/config.json), None when
    neither is there. An LCM-distilled UNet (time_cond_proj_dim) is an LCM whatever scheduler sits beside it; an
    LCMScheduler is one too (an LCM-LoRA fused into SD); Euler with trailing spacing is SD-Turbo's; the rest is SD.
    DDIM with trailing spacing is not taken for turbo: zero-terminal-SNR SD models (and eegviz's own) use it."""
    if unet is None and scheduler is None:
        return None
    proj = (unet or {}).get("time_cond_proj_dim")
    if proj is not None:
        return "lcm", f"its UNet takes the guidance as an embedding (time_cond_proj_dim {proj})"
    cls = (scheduler or {}).get("_class_name")
    spacing = (scheduler or {}).get("timestep_spacing")
    if cls == "LCMScheduler":
        return "lcm", "its scheduler is LCMScheduler"
    if cls in TURBO_SCHEDULERS and spacing == "trailing":
        return "turbo", f"its scheduler is {cls} with trailing timestep spacing (SD-Turbo's)"
    return "sd", f"its scheduler is {cls or 'not named'}" + (f" ({spacing} spacing)" if spacing else "")


def read_model_json(model: str | Path, name: str) -> dict | None:
    """The JSON object `name` ("unet/config.json") of a local pipeline folder or, for a Hub id, from the HF cache
    (the Hub only when online, as from_pretrained would fetch it anyway); None when it is not there or not a JSON
    object: loading the pipeline then says what is wrong with the folder, in one line."""
    from eegviz.model_sources import local_files_only

    path = Path(model) / name
    if not Path(model).is_dir():
        try:
            from huggingface_hub import hf_hub_download

            sub, _, file = name.rpartition("/")
            path = Path(hf_hub_download(str(model), file, subfolder=sub or None,
                                        local_files_only=local_files_only(model)))
        except Exception:  # noqa: BLE001 - not cached, no network, not an id: nothing to read here
            return None
    if not path.is_file():
        return None
    try:
        cfg = json.loads(read_at_most(path, MODEL_JSON_MAX_BYTES, str(path), "a model config").decode("utf-8"))
    except (OSError, ValueError, EegvizError):  # ValueError: JSON and UTF-8 decoding errors
        return None
    return cfg if isinstance(cfg, dict) else None


def check_not_sdxl(model: str, pipeline: object, unet: dict | None) -> None:
    """Refuse an SDXL or SDXL-Turbo pipeline in one line. StableDiffusionImg2ImgPipeline.from_pretrained loads one
    without a word (dropping text_encoder_2 and tokenizer_2), and its UNet then fails at the first image: its
    "text_time" added conditioning (the image sizes and the pooled text embedding) is something eegviz's loop never
    supplies (found by review: a Dynamo traceback at warm-up)."""
    sdxl_class = isinstance(pipeline, str) and "StableDiffusionXL" in pipeline
    text_time = (unet or {}).get("addition_embed_type") == "text_time"
    if sdxl_class or text_time:
        why = "; ".join([f"model_index.json _class_name {pipeline}"] * sdxl_class +
                        ["UNet addition_embed_type 'text_time'"] * text_time)
        raise EegvizError(f"{model}: SDXL pipelines are not supported ({why}: its UNet needs image-size and pooled "
                          "text conditioning eegviz does not supply); use an SD 1.x / 2.x, SD-Turbo or LCM pipeline")


# the files a tokenizer folder reads its vocabulary from: the fast tokenizer's, CLIP's BPE (with merges.txt), BERT's
# WordPiece, SentencePiece's; a folder with none of them is loaded as an empty tokenizer
TOKENIZER_VOCABULARIES = ("tokenizer.json", "vocab.json", "vocab.txt", "spiece.model")


def check_layout(model: str, index: dict | None, text_encoder: bool, guidance: float = SD_GUIDANCE) -> None:
    """Refuse, in words, a local pipeline folder with no UNet in its model_index.json (SD3, FLUX, PixArt: a
    transformer of another family) or without a unet/, vae/ or scheduler/ folder it lists, or text_encoder/ and
    tokenizer/ (or its vocabulary) where guidance needs them (`text_encoder`): an incomplete download or copy. Both
    used to be "a file in it is missing or corrupt; retrain or restore the folder", the missing one named as the
    folder's root (found by review). A folder whose index has no text encoder at all (left out or null) where `guidance` needs
    one is told so with the way out (--guidance 1): it used to be diffusers' "Pipeline ... expected [...]" cut
    off mid-list, or, for a null one, a refusal at the first image rather than at load (found by review)."""
    if index is None or not Path(model).is_dir():
        return
    if "unet" not in index:
        names = ", ".join(k for k in index if not k.startswith("_"))
        raise EegvizError(f"{model}: its model_index.json describes a {index.get('_class_name') or 'pipeline'} with "
                          f"no UNet ({names}); eegviz runs SD 1.x / 2.x, SD-Turbo and LCM pipelines")
    for name in ("text_encoder", "tokenizer") * text_encoder:
        entry = index.get(name)
        if not (isinstance(entry, list) and entry and entry[0] is not None):
            raise EegvizError(f"{model}: guidance {guidance:g} needs the empty prompt's encoding by the model's text "
                              f"encoder, and its model_index.json names no '{name}'; use --guidance 1 (no "
                              "classifier-free guidance) or a pipeline folder with text_encoder/ and tokenizer/")
    for name in ("unet", "vae", "scheduler") + ("text_encoder", "tokenizer") * text_encoder:
        entry = index.get(name)
        if isinstance(entry, list) and entry and entry[0] is not None and not (Path(model) / name).is_dir():
            no_guidance = " (or use --guidance 1, which needs no text encoder)" * (name in ("text_encoder",
                                                                                              "tokenizer"))
            raise EegvizError(f"{model}: model_index.json lists '{name}' but the folder has no {name}/ (an "
                              f"incomplete download or copy); restore the whole pipeline folder{no_guidance}")
    tokenizer = Path(model) / "tokenizer"
    if text_encoder and tokenizer.is_dir() and not any((tokenizer / f).is_file() for f in TOKENIZER_VOCABULARIES):
        # transformers builds a tokenizer from such a folder without a word: a vocabulary of two tokens, which
        # turns the empty prompt into ids the text encoder reads as other words, and guidance pushed away from
        # that (found by review)
        raise EegvizError(f"{model}: tokenizer/ holds no vocabulary ({', '.join(TOKENIZER_VOCABULARIES)}: an "
                          f"incomplete download or copy), and guidance {guidance:g} needs it to encode the empty "
                          "prompt; restore the whole pipeline folder (or use --guidance 1, which needs no text "
                          "encoder)")


def cached_snapshot(model: str) -> Path | None:
    """The HF cache's snapshot folder of Hub id `model` (never the network), None when it is not cached."""
    if not is_hub_id(model):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or not an id the cache can hold): nothing to look at
        return None


def only_fp16_variant(model: str | Path) -> bool:
    """Whether a local folder's weights are fp16 variant files only (`diffusion_pytorch_model.fp16.safetensors`,
    `model.fp16.safetensors`: what `save_pretrained(variant="fp16")` and a download of the fp16 variant leave) in
    some component, which from_pretrained reads only when told variant="fp16" (without it: "no file named
    diffusion_pytorch_model.bin", which eegviz used to report as a missing or corrupt folder). A Hub id is looked
    up in its HF cache snapshot: `from_pretrained(id, variant="fp16")`, the way SD-Turbo's card downloads it,
    leaves only those files there, and such an id was said to be "not in the HF cache" (found by review)."""
    folder = Path(model)
    if not folder.is_dir():
        folder = cached_snapshot(str(model))
        if folder is None:
            return False
    for sub in (p for p in folder.iterdir() if p.is_dir()):
        weights = [f.name for f in sub.iterdir() if f.name.endswith((".safetensors", ".bin", ".index.json"))]
        # (sharded weights name the variant before the shard number: diffusion_pytorch_model.fp16-00001-of-00002)
        fp16 = [w for w in weights if ".fp16." in w or ".fp16-" in w]
        if fp16 and len(fp16) == len(weights):
            return True
    return False


# what a component's weights are saved as when they are a pickle (torch.save, the original repos' .ckpt): never read
PICKLE_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_no_pickle_weights(model: str | Path, skip: Sequence[str] = ()) -> None:
    """Refuse, in one line, a local folder (or a Hub id's HF cache snapshot) in which a component that will load
    (every non-null one of model_index.json but `skip`) has its weights only as a pickle (pytorch_model.bin,
    diffusion_pytorch_model.bin: what save_pretrained(safe_serialization=False) and older SD downloads leave).
    diffusers read those with torch.load, so a pickle ran through torch's unpickler (whose allow-list has had
    holes), and the weights were outside model_digest, which hashes .safetensors only: no checkpoint eegviz
    loads may be a pickle (its own components are read with use_safetensors=True, eegviz.component). Such a folder
    loaded without a word; from_pretrained is now told use_safetensors=True too, and this says why and what to do
    before it fails on the first missing .safetensors."""
    folder = Path(model) if Path(model).is_dir() else cached_snapshot(str(model))
    index = read_model_json(folder, "model_index.json") if folder is not None else None
    for name, entry in (index or {}).items():
        if name.startswith("_") or name in skip or not (isinstance(entry, list) and entry and entry[0] is not None):
            continue
        sub = folder / name
        files = [f.name for f in sub.iterdir() if f.is_file()] if sub.is_dir() else []
        pickles = sorted(f for f in files if f.lower().endswith(PICKLE_WEIGHTS))
        if pickles and not any(f.endswith(".safetensors") for f in files):
            raise EegvizError(f"{model}: {name}/ holds its weights only as a pickle ({pickles[0]}), which eegviz "
                              "never loads (unpickling can run code); use the pipeline's .safetensors files, or "
                              "re-save a pipeline you trust with diffusers' save_pretrained (safetensors by default)")


def check_weights_cover(model: str | Path, pipe, fp16_variant: bool) -> None:
    """Refuse, in one line, a pipeline whose UNet or VAE weights file lacks tensors its model has (a file of
    another model or layout under the right name: an original-layout checkpoint renamed to
    unet/diffusion_pytorch_model.safetensors, another component's file). diffusers loads such a file with a log
    warning only (silenced here, as all of its loading chatter is) and starts every tensor it lacks from random
    values: the pipeline drew black or noise images without a word (found by review). The file's tensor names are
    read from the safetensors headers and mapped by the model's own load-time renames (an old VAE's attention
    names) before they are compared. Only local folders and a Hub id's HF cache snapshot are looked at."""
    from safetensors import safe_open

    folder = Path(model) if Path(model).is_dir() else cached_snapshot(str(model))
    if folder is None:
        return
    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        files = [f for f in sorted((folder / name).glob("*.safetensors"))
                 if (".fp16." in f.name or ".fp16-" in f.name) == fp16_variant]
        if module is None or not files or not hasattr(module, "state_dict"):
            continue
        keys: dict = {}
        try:
            for f in files:
                with safe_open(str(f), "pt") as fh:
                    keys.update(dict.fromkeys(fh.keys()))
        except Exception:  # noqa: BLE001 - an unreadable header failed the load already; nothing to compare
            continue
        fix = getattr(module, "_fix_state_dict_keys_on_load", None)
        if callable(fix):
            fix(keys)
        missing = sorted(set(module.state_dict()) - set(keys))
        if missing:
            total = len(module.state_dict())
            raise EegvizError(f"{model}: {name}/ weights lack {len(missing)} of the {total} tensors its "
                              f"{type(module).__name__} has ({', '.join(missing[:2])}{', ...' * (len(missing) > 2)}), "
                              "which would start from random values; the file is not this model's (a checkpoint of "
                              "another layout under its name?): download or save_pretrained the pipeline again")


# the libraries a pipeline folder's components may come from: diffusers itself (and its pipelines' own modules,
# such as "stable_diffusion" for SD's safety checker), transformers, or none (a null component)
COMPONENT_LIBRARIES = {"diffusers", "transformers"}


def null_components(model: str | Path) -> dict:
    """{name: None} for the components a local folder's model_index.json leaves null (a folder trained in a
    caption space with no text encoder, such as the tests' hash space). diffusers 0.42 loads a null only for a pipeline's optional components, which text_encoder and
    tokenizer are not for StableDiffusionImg2ImgPipeline: they must be passed as None explicitly.

    The index is checked first (check_components), so every load of a local folder, eegviz's own or a user's SD,
    goes through that check; so does a Hub id's snapshot in the HF cache, which is a folder too (it was left to
    diffusers, whose releases before the trust_remote_code check, allowed by the pyproject, import its code)."""
    folder = Path(model) if Path(model).is_dir() else cached_snapshot(str(model))
    index = folder / "model_index.json" if folder is not None else None
    if index is None or not index.is_file():
        return {}
    try:
        entries = json.loads(index.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise EegvizError(f"{index} is not valid JSON") from None
    if not isinstance(entries, dict):
        raise EegvizError(f"{index} must hold a JSON object (component name -> [library, class])")
    check_components(folder, entries)
    return {k: None for k, v in entries.items() if isinstance(v, list) and v and v[0] is None}


def check_components(folder: Path, entries: dict) -> None:
    """Refuse a folder whose components could run code of its own when diffusers loads it.

    diffusers imports the library each component names and, in releases before its trust_remote_code check, ran
    a `<component>/<library>.py` found in the folder; the pyproject's lower bound still allows those. So only
    diffusers and transformers classes (or null) are accepted, and no such .py file may sit beside them, whatever
    diffusers release is installed. The same releases import a custom pipeline from the folder's root: a
    `_class_name` of [module, class] (module.py beside model_index.json), or a .py named after a null custom
    pipeline (None.py); so `_class_name` must be a plain class name and no None.py may sit at the root. Other
    .py files there are never imported (some hub folders carry helper scripts) and are left alone."""
    from diffusers import pipelines

    if (folder / "None.py").exists():
        raise EegvizError(f"{folder / 'None.py'}: a model folder may not carry Python code that diffusers would "
                          "import as the pipeline's own; remove it, or use a folder from a source you trust")
    pipeline = entries.get("_class_name")
    if pipeline is not None and not isinstance(pipeline, str):
        raise EegvizError(f"{folder / 'model_index.json'}: '_class_name' must name a diffusers pipeline class, not "
                          f"{pipeline!r} (a [module, class] pair is a custom pipeline: code from the model folder)")
    for name, value in entries.items():
        if name.startswith("_") or not (isinstance(value, list) and len(value) == 2):
            continue
        library = value[0]
        if library is None:
            continue
        if not isinstance(library, str) or not (library in COMPONENT_LIBRARIES or
                                                (library.isidentifier() and hasattr(pipelines, library))):
            raise EegvizError(f"{folder / 'model_index.json'}: component '{name}' comes from library {library!r}; "
                              f"only diffusers and transformers components are loaded (no code from a model folder)")
        if (folder / name / f"{library}.py").exists():
            raise EegvizError(f"{folder / name / (library + '.py')}: a model folder's component may not carry "
                              f"Python code (diffusers would import it)")
        if _is_pipeline(library, value[1]) or (folder / name / "model_index.json").exists():
            # a pipeline as a component: diffusers loads that subfolder as a whole pipeline of its own, whose
            # model_index.json this check never read (found by review)
            raise EegvizError(f"{folder / 'model_index.json'}: component '{name}' is itself a pipeline "
                              f"({value[1]!r}); an img2img pipeline's components are models, schedulers, "
                              "tokenizers and processors")


def _is_pipeline(library: str, cls: object) -> bool:
    """Whether (library, cls) of a model_index.json entry names a diffusers pipeline class."""
    import diffusers
    from diffusers import pipelines

    module = diffusers if library == "diffusers" else getattr(pipelines, library, None)
    found = getattr(module, cls, None) if module is not None and isinstance(cls, str) else None
    return isinstance(found, type) and issubclass(found, diffusers.DiffusionPipeline)


# what a single-file SD checkpoint (A1111 / CivitAI / the original repos' v1-5-pruned-emaonly.safetensors) ends in
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


def single_file_hint(path: str | Path) -> str:
    """The way from a single-file checkpoint given as --sd-model to the folder eegviz reads, or "" for any other
    file. Such a file was told only that it is not a pipeline folder, which leaves a user who downloaded SD as one
    file nowhere to go (found by review); eegviz does not convert it itself (that needs the model's configs,
    fetched from the Hub)."""
    if not str(path).lower().endswith(SINGLE_FILE_SUFFIXES):
        return ""
    return ("; a single-file checkpoint is converted to one once with diffusers: StableDiffusionImg2ImgPipeline."
            "from_single_file(FILE).save_pretrained(DIR), then --sd-model DIR")


def caption_width_error(have: int, want: int) -> str:
    """What a decoder whose caption states are `have` wide (MiniLM 384, SD 1.x CLIP 768) is told before a UNet
    attending over `want`-wide ones (SD 2.x 1024). It used to end "or set a projection", which is Python, not an
    option; the way out on the command line is training the decoder in that model's own text space."""
    return (f"decoder embeddings are {have}-d but the SD model expects {want}-d; train the decoder in that model's "
            "own text space (eegviz train --text-encoder clip:SD_MODEL) or use the SD model it was trained for")


def read_sampling(folder: str | Path) -> dict:
    """The folder's sampling.json (checked), or {} when it has none (a model id or a plain SD folder)."""
    from eegviz.modelio import read_config

    if not (Path(folder) / SAMPLING).is_file():
        return {}
    sampling = read_config(Path(folder), SAMPLING, {}, SAMPLING_FIELDS)
    guidance = sampling.get("guidance")
    if guidance is not None and not 0 <= guidance <= MAX_GUIDANCE:  # NaN fails both comparisons
        raise EegvizError(f"{Path(folder) / SAMPLING}: 'guidance' must be 0 to {MAX_GUIDANCE:g}, not {guidance}; "
                          "the model folder is damaged, retrain or restore it")
    space = sampling.get("text_encoder")  # the decoder caption space; it sets the token count warm-up runs at
    if space is not None:
        from eegviz.decoders.text import check_text_encoder_spec

        try:
            check_text_encoder_spec(space)
        except EegvizError:
            raise EegvizError(f"{Path(folder) / SAMPLING}: 'text_encoder' must be 'minilm', 'hash' or 'clip:MODEL', "
                              f"not {space!r}; the model folder is damaged, retrain or restore it") from None
    size = sampling.get("image_size")
    if size is not None and not IMAGE_SIZES[0] <= size <= IMAGE_SIZES[1]:
        raise EegvizError(f"{Path(folder) / SAMPLING}: 'image_size' must be {IMAGE_SIZES[0]} to {IMAGE_SIZES[1]} "
                          f"pixels, not {size}; the model folder is damaged, retrain or restore it")
    return sampling


class DiffusersImg2ImgGenerator:
    name = "diffusers"
    accepts_latents = True  # generate() takes latents= (the decoder's latent branch); see base.Generator
    per_image_seeds = True  # generate() takes one seed per image; see base.Generator

    def __init__(self, model: str | None = None, *, pipe=None, steps: int = 1, strength: float = 0.5,
                 guidance: float | None = None, family: str | None = None, size: int | None = None,
                 tiny_vae: str | None = None, dtype: torch.dtype | None = None, device: str | None = None,
                 compile: bool = False, capture: bool = False, negative_embeds: torch.Tensor | None = None,
                 caption_space: str | None = None, init: str = "saliency"):
        """family: "sd" / "turbo" / "lcm" swap in that family's scheduler; "native" keeps the pipeline's own;
        None: read from the pipeline's own configs (family_of), a Hub id's name only where they cannot be read.
        guidance: default 7.5 for "sd", 8.5 (diffusers' LCM default) for a UNet with a guidance embedding, none
        for the other distilled ones. negative_embeds: what guidance pushes
        away from, instead of the empty prompt's encoding (e.g. for timing a pipeline without a text encoder).
        caption_space: the decoder caption space the model was trained on ("minilm"), if known. init: what
        img2img starts from in a session, "saliency" or "latent" (the pipeline reads it)."""
        if init not in ("saliency", "latent"):
            raise EegvizError(f"--init must be 'saliency' or 'latent', not '{init}'")
        if int(steps) < 1 or not 0 < float(strength) <= 1:
            raise EegvizError(f"img2img needs steps >= 1 and 0 < strength <= 1, not steps {steps}, strength {strength}")
        self.device = resolved_device(device)
        self.dtype = dtype or (torch.float16 if self.device == "cuda" else torch.float32)
        if pipe is None:
            if not model:
                raise EegvizError("the diffusers generator needs --sd-model (a model id or a local folder)")
            if not Path(model).exists() and not is_hub_id(str(model)):
                # said before any config is read or the pipeline loaded: neither may ask the Hub for a local path
                raise EegvizError(f"cannot load diffusers model '{model}': no such folder (and not a Hugging Face "
                                  "model id either)")
            # what the pipeline is, from its own files, before its weights load: whether it can run at all, its
            # family, and so its guidance, which decides whether the text encoder is needed
            index, unet_cfg = read_model_json(model, "model_index.json"), read_model_json(model, "unet/config.json")
            scheduler_cfg = read_model_json(model, "scheduler/scheduler_config.json")
            pipeline = (index or {}).get("_class_name")
        else:
            unet_cfg = dict(pipe.unet.config)
            scheduler_cfg = {**pipe.scheduler.config, "_class_name": type(pipe.scheduler).__name__}
            pipeline = type(pipe).__name__
        check_not_sdxl(model or "the pipeline", pipeline, unet_cfg)
        found = family_of(scheduler_cfg, unet_cfg) if family is None else (family, "the family was given")
        if found is None:  # a Hub id neither cached nor reachable: its load below says so
            found = (guess_family(str(model or "")), "from the model id's name")
        self.family, self.family_reason = found
        embedded_guidance = (unet_cfg or {}).get("time_cond_proj_dim") is not None  # LCM: guidance is a UNet input
        if guidance is None:
            guidance = LCM_GUIDANCE if embedded_guidance else SD_GUIDANCE if self.family == "sd" else 0.0
        if pipe is None:
            # the text encoder serves only the empty prompt of classifier-free guidance (eegviz passes caption
            # states): without guidance, or with it as an LCM's embedding, it is not loaded (SD's CLIP: 0.5-1.4 GB)
            text_encoder = guidance > 1 and not embedded_guidance and negative_embeds is None
            check_layout(model, index, text_encoder, guidance)
            pipe = self._load(model, tiny_vae, text_encoder=text_encoder)
        if self.family != "native":
            pipe.scheduler = scheduler_for(self.family, pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device, self.dtype)
        # an inpainting (9 channels: latents + mask + masked image), depth-to-image (5) or InstructPix2Pix (8) UNet
        # loads as an img2img pipeline without a word, then fails at the first image with a torch traceback: img2img
        # hands it the VAE's latents only (found by review)
        unet_in, latent_ch = self.pipe.unet.config.in_channels, self.pipe.vae.config.latent_channels
        if unet_in != latent_ch:
            raise EegvizError(f"{model or 'the pipeline'}: its UNet takes {unet_in} input channels, not the VAE's "
                              f"{latent_ch} latent channels (an inpainting, depth or instruct-pix2pix UNet needs "
                              "inputs img2img does not give); use an SD 1.x / 2.x, SD-Turbo or LCM pipeline")
        schedule = int(self.pipe.scheduler.config.num_train_timesteps)
        what = f"the scheduler's {schedule} timesteps"
        # LCMScheduler draws its steps from a coarser schedule of original_inference_steps (50 as LCMs ship) and
        # refuses a longer one: a ValueError at the first image, in diffusers' arguments (found by review)
        original = self.pipe.scheduler.config.get("original_inference_steps")
        if type(self.pipe.scheduler).__name__ == "LCMScheduler" and original and int(original) < schedule:
            schedule, what = int(original), f"LCMScheduler's {int(original)} original_inference_steps"
        if int(schedule * float(strength)) < 1:
            # no step count fits: the old message ended "(at most 0)", naming --steps for a --strength problem
            raise EegvizError(f"--strength {strength:g} leaves no denoising step of {what}: use --strength "
                              f"{1 / schedule:g} or more")
        if num_inference_steps_for(int(steps), float(strength)) > schedule:
            raise EegvizError(f"--steps {steps} at strength {strength:g} is more steps than {what} "
                              f"allow (at most {int(schedule * float(strength))})")
        scaling = self.pipe.vae.config.scaling_factor
        if not isinstance(scaling, (int, float)) or not 0 < scaling < 1e3:  # NaN fails the comparison too
            raise EegvizError(f"the VAE's scaling_factor is {scaling!r} (vae/config.json of {model or 'the pipeline'}),"
                              " not a positive number: the pipeline folder is damaged, retrain or restore it")
        self.lean = LeanImg2Img(self.pipe, compile=compile, capture=capture)
        self._check_scheduler_runs(model, num_inference_steps_for(int(steps), float(strength)), float(strength))
        # default: the model's native resolution (SD-Turbo 512, SD 2.1 768), which it was trained to draw
        self.size = size or int(self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor)
        factor = self.pipe.vae_scale_factor  # the VAE works on size / factor latents: other sizes come back resized
        if not IMAGE_SIZES[0] <= self.size <= IMAGE_SIZES[1] or self.size % factor:
            raise EegvizError(f"image size {self.size} px: this pipeline draws {IMAGE_SIZES[0]} to {IMAGE_SIZES[1]} px "
                              f"in multiples of {factor} (its VAE's scale factor); fix 'image_size' in {SAMPLING} "
                              "or the UNet's sample_size")
        self.steps, self.strength, self.guidance = steps, strength, guidance
        if model:  # at debug: eval's INFO lines are its stdout, whose last part is the headline JSON
            log.debug("%s: %s family, since %s: %s, guidance %g", model, self.family, self.family_reason,
                     type(self.pipe.scheduler).__name__, guidance)
        self.ctx_dim = self.pipe.unet.config.cross_attention_dim
        self.projection: torch.nn.Linear | None = None
        self.caption_space, self.init = caption_space, init
        self._negative = negative_embeds
        self._uncond: dict[int, torch.Tensor] = {}

    def _check_scheduler_runs(self, model: str | None, num_inference_steps: int, strength: float) -> None:
        """One dry scheduler step on a 2x2 zero latent. diffusers builds a scheduler from any config, but one it
        cannot run (a prediction_type or timestep_spacing it does not know: an edited file) failed at the first
        image with diffusers' ValueError and a traceback (found by review). Every run sets the timesteps again."""
        sched = self.pipe.scheduler
        try:
            with torch.inference_mode():
                t = self.lean.timesteps(num_inference_steps, strength, "cpu")[0]
                x = torch.zeros(1, 1, 2, 2)
                # (a generator of its own: a stochastic scheduler would otherwise draw from torch's global one)
                rng = {"generator": torch.Generator().manual_seed(0)} if self.lean._step_generator else {}
                sched.step(sched.scale_model_input(x, t), t, x, **rng, return_dict=False)
        except LOAD_ERRORS as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise EegvizError(f"{model or 'the pipeline'}: its scheduler ({type(sched).__name__}) cannot run "
                              f"({type(exc).__name__}: {first}); fix scheduler/scheduler_config.json or restore "
                              "the folder") from None

    @classmethod
    def from_options(cls, opts, model_dir: Path) -> DiffusersImg2ImgGenerator:
        """--sd-model when given, else the pipeline in the eegviz model folder; unset options from the folder's
        sampling.json, else this class's defaults."""
        return cls.from_folder(opts.sd_model or model_dir, opts)

    @classmethod
    def from_folder(cls, model: str | Path, opts) -> DiffusersImg2ImgGenerator:
        sampling = read_sampling(model) if Path(model).is_dir() else {}
        if not sampling and not opts.sd_model and not (Path(model) / "model_index.json").is_file():
            raise EegvizError(f"{model} holds no diffusers pipeline (model_index.json missing); pass --sd-model "
                              "MODEL or use a model folder with one")
        if opts.sd_model and Path(model).is_dir() and not (Path(model) / "model_index.json").is_file():
            # a folder that is no pipeline at all (empty, a pipeline's unet/, a decoder-only eegviz model such as
            # models/synthetic-realistic) was said to have "a file missing or corrupt; retrain or restore" or to
            # lack sampling.json (found by review)
            raise EegvizError(f"--sd-model {model}: not a diffusers pipeline folder (no model_index.json); give the "
                              "folder save_pretrained wrote (model_index.json, unet/, vae/, scheduler/, ...) or a "
                              "Hugging Face model id")
        if not sampling and (Path(model) / "decoder.json").is_file():  # an eegviz model folder, not an SD one
            raise EegvizError(f"{model} has no {SAMPLING} (the steps, strength and guidance its generator was "
                              "distilled for); restore it from the model's origin or retrain")
        pick = lambda k, default: getattr(opts, k) if getattr(opts, k) is not None else sampling.get(k, default)  # noqa: E731
        gen = cls(str(model), steps=pick("steps", 1), strength=pick("strength", 0.5),
                  guidance=opts.guidance if opts.guidance is not None else sampling.get("guidance"),
                  family="native" if sampling else None, size=opts.size or sampling.get("image_size"),
                  device=opts.device, compile=opts.compile, capture=opts.capture,
                  caption_space=sampling.get("text_encoder"),
                  init=opts.init)
        return gen

    def _load(self, model: str, tiny_vae: str | None, text_encoder: bool = True):
        """The pipeline, offline where the model is local; text_encoder False leaves text encoder and tokenizer
        unloaded."""
        from eegviz.model_sources import local_files_only, quiet_hf_libraries

        quiet_hf_libraries()
        from diffusers import AutoencoderTiny, StableDiffusionImg2ImgPipeline
        from diffusers.utils import logging as diffusers_logging

        # while loading, critical only: "accelerate not found" is not the user's problem, and a missing or broken
        # file is said below in one line (diffusers would log its own error line first)
        verbosity = diffusers_logging.get_verbosity()
        diffusers_logging.set_verbosity(diffusers_logging.CRITICAL)
        try:
            with warnings.catch_warnings():
                # torch_dtype works on every supported diffusers (>= 0.30); newer ones warn it was renamed dtype
                warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                # the safety checker and its feature extractor (the image processor that only feeds it) are never
                # run: a folder without feature_extractor/ (SD 1.x lists it) was refused as missing a file, in
                # transformers' words cut off mid-sentence (found by review)
                absent = {**null_components(model), "safety_checker": None, "feature_extractor": None}
                if not text_encoder:
                    absent.update(text_encoder=None, tokenizer=None)
                check_no_pickle_weights(model, skip=list(absent))
                # a folder of fp16 variant files only is read as such, cast to self.dtype like any weights
                variant = {"variant": "fp16"} if only_fp16_variant(model) else {}
                pipe = StableDiffusionImg2ImgPipeline.from_pretrained(
                    model, torch_dtype=self.dtype, **absent, **variant, requires_safety_checker=False,
                    use_safetensors=True, local_files_only=local_files_only(model))
                check_weights_cover(model, pipe, bool(variant))
                if tiny_vae:
                    pipe.vae = AutoencoderTiny.from_pretrained(tiny_vae, torch_dtype=self.dtype, use_safetensors=True,
                                                               local_files_only=local_files_only(tiny_vae))
        except LOAD_ERRORS as exc:  # RuntimeError: weights that do not fit their config
            if Path(model).is_dir():  # nothing to fetch: a file of the folder itself is missing or unreadable
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                # "retrain" only for a folder eegviz trained (sampling.json): a user's SD download or
                # save_pretrained folder is restored, not retrained (it was told to retrain; found by review)
                fix = ("retrain or restore the folder" if (Path(model) / SAMPLING).is_file() else
                       "download or save_pretrained the pipeline again")
                raise EegvizError(f"cannot load the diffusers pipeline in {model}: a file in it is missing or corrupt "
                                  f"({type(exc).__name__}: {first}); {fix}") from None
            if Path(model).exists():
                raise EegvizError(f"cannot load diffusers model '{model}': it is a file, not a pipeline folder "
                                  f"(the folder holding model_index.json){single_file_hint(model)}") from None
            if not is_hub_id(model):  # a path that names nothing: no cache or network could have helped
                raise EegvizError(f"cannot load diffusers model '{model}': no such folder (and not a Hugging Face "
                                  f"model id either)") from None
            from eegviz.model_sources import hub_offline

            if hub_offline():  # the user's setting, not the network: "no network" sent them to check their cable
                raise EegvizError(f"cannot load diffusers model '{model}': no folder of that name here, and not in "
                                  "the HF cache (HF_HUB_OFFLINE=1, so the Hub was not asked)") from None
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise EegvizError(f"cannot load diffusers model '{model}': no folder of that name here, not in the HF "
                              f"cache, and the Hub did not give it ({type(exc).__name__}: {first})") from None
        finally:
            diffusers_logging.set_verbosity(verbosity)
        return pipe

    @property
    def unet_passes_per_image(self) -> int:
        """UNet evaluations per image: one per step, two when classifier-free guidance runs."""
        return self.steps * (2 if self.lean.uses_cfg(self.guidance) else 1)

    def set_projection(self, proj: torch.nn.Linear) -> None:
        """A learned map from the decoder's embedding width to the UNet's cross-attention width."""
        self.projection = proj.to(self.device, self.dtype)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w): the latents generate(latents=...) starts from, the VAE's at this image size (the decoder's
        latent branch must predict this shape: eegviz.pipeline.check_latent_start)."""
        side = self.size // self.pipe.vae_scale_factor
        return int(self.pipe.vae.config.latent_channels), side, side

    def warmup(self) -> None:
        """One image at the shapes that will come (a compiled UNet recompiles for other token counts): MiniLM
        caption states are 16 tokens, a decoder trained on an SD model's own CLIP space gives 77."""
        tokens = 16 if self.caption_space == "minilm" else 77
        emb = np.zeros((1, tokens, self.ctx_dim), np.float32)
        if self.init == "latent":  # the path a session will run: its graphs differ (no VAE encode)
            self.generate(None, emb, latents=np.zeros((1, *self.latent_shape), np.float32))
        else:
            self.generate(np.zeros((1, 32, 32, 3), np.float32), emb)

    def _embeds(self, embedding: np.ndarray) -> torch.Tensor:
        e = torch.as_tensor(embedding, dtype=self.dtype, device=self.device)
        if e.shape[-1] != self.ctx_dim:
            if self.projection is None:
                raise EegvizError(caption_width_error(e.shape[-1], self.ctx_dim))
            e = self.projection(e)
        return e

    def uncond_embeds(self, tokens: int) -> torch.Tensor:
        """(1, tokens, D): the text encoder's encoding of the empty prompt padded to `tokens`, exactly what
        diffusers builds for negative_prompt="" beside prompt_embeds of that length; cached."""
        if self._negative is not None:
            return self._negative.to(self.device, self.dtype)
        if tokens not in self._uncond:
            if self.pipe.text_encoder is None or self.pipe.tokenizer is None:
                raise EegvizError(f"guidance {self.guidance:g} needs the empty prompt's embedding from the model's "
                                  "text encoder, and this pipeline has no text encoder loaded; use guidance <= 1 "
                                  "(a distilled model) or a model with text_encoder/ and tokenizer/")
            probe = torch.zeros(1, tokens, self.ctx_dim, dtype=self.dtype, device=self.device)
            with torch.inference_mode():
                _, neg = self.pipe.encode_prompt(None, self.device, 1, True, negative_prompt="", prompt_embeds=probe)
            self._uncond[tokens] = neg
        return self._uncond[tokens]

    def resize(self, saliency: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) [0, 1] at any H -> (B, 3, size, size) on the device, one batched interpolation."""
        return resize_maps(torch.as_tensor(saliency, dtype=torch.float32, device=self.device).permute(0, 3, 1, 2),
                           self.size)

    def _generators(self, seed: int | Sequence[int], b: int) -> torch.Generator | list[torch.Generator]:
        """One torch.Generator for an int; one per image for a sequence. diffusers' randn_tensor then draws each
        image's latent sample and noise from its own generator, the same numbers it would draw for that image
        alone, so a batch gives each image what a batch-1 call with its seed gives (up to float rounding)."""
        if isinstance(seed, (int, np.integer)):
            return torch.Generator(self.device).manual_seed(int(seed))
        seeds = [int(s) for s in seed]
        if len(seeds) != b:
            raise ValueError(f"{len(seeds)} seeds for a batch of {b} images")
        gens = [torch.Generator(self.device).manual_seed(s) for s in seeds]
        return gens[0] if b == 1 else gens

    def generate(self, saliency: np.ndarray, embedding: np.ndarray, seed: int | Sequence[int] = 0,
                 latents: np.ndarray | None = None) -> np.ndarray:
        """latents (B, C, h, w): start from these (the decoder's latent branch) instead of the saliency map.
        seed: one for the batch, or one per image (see eegviz.generators.base.Generator.generate)."""
        with torch.inference_mode():
            embeds = self._embeds(embedding)
            uncond = self.uncond_embeds(embeds.shape[1]) if self.lean.uses_cfg(self.guidance) else None
            init = None if latents is None else torch.as_tensor(latents, dtype=self.dtype, device=self.device)
            img = self.lean(None if init is not None else self.resize(saliency), embeds,
                            num_inference_steps=num_inference_steps_for(self.steps, self.strength),
                            strength=self.strength, guidance=self.guidance, uncond=uncond,
                            generator=self._generators(seed, len(embeds)), init_latents=init)
        return to_uint8(img.permute(0, 2, 3, 1).float().cpu().numpy())
