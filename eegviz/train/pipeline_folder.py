"""The trained generator as a standard diffusers pipeline folder, and the few-step img2img it is sampled with.

Layout (what eegviz's run-time generator and `DiffusionPipeline.from_pretrained(folder)` both read):

    MODEL_DIR/model_index.json   StableDiffusionImg2ImgPipeline; safety_checker and feature_extractor null
    MODEL_DIR/vae/ unet/ scheduler/   AutoencoderKL, UNet2DConditionModel, DDIMScheduler (v-prediction,
                                 zero terminal SNR, "trailing" spacing), safetensors
    MODEL_DIR/text_encoder/ tokenizer/   the caption space the UNet was trained in: the genuine
                                 all-MiniLM-L6-v2 (BertModel, its published model.safetensors byte for byte)
                                 and its tokenizer padding to 16 tokens, with the attention mask, so the
                                 pipeline's own prompt encoding is exactly eegviz.decoders.text.MiniLMTextEncoder
                                 and `pipe(prompt="a red star at the top", image=...)` draws as eegviz does.
                                 eegviz itself passes prompt_embeds (the caption states the decoder predicts) and
                                 does not load these when guidance is baked in. A folder trained in another
                                 caption space (the tests' hash space) leaves both null; diffusers then needs
                                 them named: from_pretrained(MODEL_DIR, text_encoder=None, tokenizer=None)
    MODEL_DIR/sampling.json      {"steps", "strength", "guidance": 1.0 (baked in), "text_encoder": the caption
                                 space trained in ("minilm"; "hash" for tiny test models),
                                 "image_size", "timesteps" (the UNet's timesteps those steps and strength give,
                                 for information), "caption": ...}

`img2img` here is the same computation as StableDiffusionImg2ImgPipeline.__call__ without its per-call
preprocessing (a test checks they agree): the same random draws from the same generator, in the same order.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch

SAMPLING = "sampling.json"


def build_pipeline(vae, unet, scheduler):
    from diffusers import StableDiffusionImg2ImgPipeline

    pipe = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=scheduler,
                                          safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def num_inference_steps_for(steps: int, strength: float) -> int:
    """diffusers runs int(n * strength) of n scheduled steps: the smallest n that gives exactly `steps`."""
    n = math.ceil(steps / strength - 1e-9)
    return n if int(n * strength) >= steps else n + 1


def img2img_timesteps(scheduler, steps: int, strength: float) -> list[int]:
    n = num_inference_steps_for(steps, strength)
    scheduler.set_timesteps(n)
    t_start = max(n - min(int(n * strength), n), 0)
    return [int(t) for t in scheduler.timesteps[t_start:]]


@torch.no_grad()
def img2img(vae, unet, scheduler, image: torch.Tensor, embeds: torch.Tensor, *, steps: int, strength: float,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """image (B, 3, H, W) in [0, 1], embeds (B, tokens, dim) -> images (B, 3, H, W) in [0, 1]; guidance baked in
    (one UNet pass per step)."""
    from diffusers.utils.torch_utils import randn_tensor

    ts = torch.tensor(img2img_timesteps(scheduler, steps, strength))
    z = vae.encode(image * 2 - 1).latent_dist.sample(generator) * vae.config.scaling_factor
    noise = randn_tensor(z.shape, generator=generator, device=z.device, dtype=z.dtype)
    z = scheduler.add_noise(z, noise, ts[:1].repeat(len(z)))
    for t in ts:
        out = unet(scheduler.scale_model_input(z, t), t, encoder_hidden_states=embeds).sample
        z = scheduler.step(out, t, z).prev_sample
    return (vae.decode(z / vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)


def save_pipeline(folder: Path, vae, unet, scheduler, sampling: dict) -> Path:
    """Write the pipeline folder (next to whatever else MODEL_DIR holds) and its sampling.json; a UNet trained in
    the MiniLM caption space gets that text encoder beside it (add_text_encoder)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    build_pipeline(vae, unet, scheduler).save_pretrained(folder, safe_serialization=True)
    full = {"steps": int(sampling["steps"]), "strength": float(sampling["strength"]), "guidance": 1.0,
            "text_encoder": "minilm", "image_size": 64, **sampling}
    full["timesteps"] = img2img_timesteps(scheduler, full["steps"], full["strength"])
    (folder / SAMPLING).write_text(json.dumps(full, indent=1))
    from eegviz.decoders.text import MiniLMTextEncoder

    if full["text_encoder"] == "minilm" and unet.config.cross_attention_dim == MiniLMTextEncoder.dim:
        add_text_encoder(folder)
    return folder


def add_text_encoder(folder: Path) -> None:
    """Put the MiniLM text encoder and tokenizer into a saved pipeline folder and name them in model_index.json,
    so `DiffusionPipeline.from_pretrained(folder)` needs no arguments and encodes prompts in the caption space
    the UNet was trained in.

    The encoder's config asks for the attention mask (`use_attention_mask`, which diffusers' encode_prompt reads)
    and the tokenizer pads to MiniLMTextEncoder.n_tokens, the two ways the pipeline's prompt path would otherwise
    differ from eegviz's. The weights are copied byte for byte from the installed, hash-checked package, so
    anyone can check them against the published SHA-256."""
    from eegviz.model_sources import quiet_hf_libraries

    quiet_hf_libraries()
    from transformers import BertConfig, BertTokenizerFast

    from eegviz.decoders.text import MiniLMTextEncoder, minilm_folder

    folder, source = Path(folder), minilm_folder()
    config = BertConfig.from_pretrained(source, local_files_only=True)
    config.use_attention_mask = True
    config.architectures = ["BertModel"]
    config.save_pretrained(folder / "text_encoder")
    shutil.copyfile(source / "model.safetensors", folder / "text_encoder" / "model.safetensors")
    BertTokenizerFast.from_pretrained(source, local_files_only=True, model_max_length=MiniLMTextEncoder.n_tokens
                                      ).save_pretrained(folder / "tokenizer")
    tok_config = folder / "tokenizer" / "tokenizer_config.json"  # not how it was loaded here, but what it is
    tok = {k: v for k, v in json.loads(tok_config.read_text()).items() if k not in ("is_local", "local_files_only")}
    tok_config.write_text(json.dumps(tok, indent=2, sort_keys=True) + "\n")
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["text_encoder"], index["tokenizer"] = ["transformers", "BertModel"], ["transformers", "BertTokenizerFast"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def load_components(folder: Path):
    """(vae, unet, scheduler) of a saved folder, offline, through diffusers' own loader."""
    from diffusers import DiffusionPipeline

    from eegviz.generators.diffusers_sd import null_components

    pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True,
                                             **{**null_components(folder), "text_encoder": None, "tokenizer": None})
    return pipe.vae.eval(), pipe.unet.eval(), pipe.scheduler
