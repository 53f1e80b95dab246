"""Tiny, randomly initialised stand-ins for the real models users bring, built from config objects (no
downloads): a Stable Diffusion img2img pipeline, its CLIP text encoder + tokenizer in the folder layout SD ships,
and a transformers image classifier. Shared by the tests that exercise those real code paths."""

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import torch

_BUILT: dict = {}  # what a folder builder made once in this process, copied for every later call


def _copy_of(key, build, root):
    """root as build(folder) leaves a folder: built once per process into a private folder, copied after that
    (~0.5 s of model building and saving per call, a copy ~0.03 s). Each caller gets its own copy to change."""
    if key not in _BUILT:
        master = Path(tempfile.mkdtemp(prefix=f"eegviz-tiny-{key}-"))
        atexit.register(shutil.rmtree, master, True)
        build(master / "folder")
        _BUILT[key] = master / "folder"
    shutil.copytree(_BUILT[key], root, dirs_exist_ok=True)
    return root


def tiny_pipe(text_encoder=None, tokenizer=None):
    """SD img2img at toy size: 16x16 latents, VAE scale 2 (native 32 px), cross-attention width 32."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8)
    sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                   steps_offset=1)  # what SD pipelines expect (else a deprecation per build)
    return StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                          scheduler=sched, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)


def tiny_sd_text_folder(root, hidden=32):
    """A diffusers-style folder with text_encoder/ and tokenizer/ as SD ships them, at toy size."""
    return _copy_of(f"sd-text-{hidden}", lambda folder: _build_sd_text_folder(folder, hidden), root)


def _build_sd_text_folder(root, hidden):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for t in letters + [c + "</w>" for c in letters]:
        vocab[t] = len(vocab)
    tok_dir = root / "tokenizer"
    tok_dir.mkdir(parents=True)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=77)
    tok.save_pretrained(tok_dir)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1)
    CLIPTextModel(cfg).save_pretrained(root / "text_encoder")
    return root


def tiny_sd_folder(root):
    """A complete local SD folder (unet, vae, scheduler, text encoder, tokenizer) as from_pretrained reads it."""
    return _copy_of("sd", _build_sd_folder, root)


def _build_sd_folder(root):
    from transformers import CLIPTextModel, CLIPTokenizer

    tiny_sd_text_folder(root)
    pipe = tiny_pipe(CLIPTextModel.from_pretrained(root / "text_encoder"),
                     CLIPTokenizer.from_pretrained(root / "tokenizer"))
    pipe.save_pretrained(root)
    return root


def tiny_image_classifier(root, classes):
    """A transformers ResNet image classifier with a 32 px preprocessor, labelled `classes`."""
    from transformers import ResNetConfig, ResNetForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=len(classes),
                       id2label=dict(enumerate(classes)), label2id={c: i for i, c in enumerate(classes)})
    ResNetForImageClassification(cfg).save_pretrained(root)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root)
    return root


def tiny_embedded_pipe(ctx_dim=384, vae="kl"):
    """The embedded default's pipeline at toy size, in memory: no text encoder, an LCM scheduler with "trailing"
    spacing, 32 px images, UNet cross-attention `ctx_dim` (the decoder's caption-state width)."""
    from diffusers import AutoencoderTiny, LCMScheduler, StableDiffusionImg2ImgPipeline

    pipe = tiny_pipe()
    unet_cfg = {**pipe.unet.config, "cross_attention_dim": ctx_dim}
    torch.manual_seed(1)
    unet = type(pipe.unet).from_config(unet_cfg)
    if vae == "tiny":
        pipe_vae = AutoencoderTiny(encoder_block_out_channels=(16, 16), decoder_block_out_channels=(16, 16),
                                   num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), upsampling_scaling_factor=2)
    else:
        pipe_vae = pipe.vae
    sched = LCMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing",
                         steps_offset=1)
    return StableDiffusionImg2ImgPipeline(vae=pipe_vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=sched,
                                          safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def tiny_embedded_generator(ctx_dim=384, size=32, steps=1, strength=0.6):
    """An EmbeddedGenerator over tiny_embedded_pipe, built in memory (no folder round trip) on the CPU, with its
    own scheduler and no guidance, as a trained model folder's sampling.json would set it."""
    from eegviz.generators.embedded import EmbeddedGenerator

    return EmbeddedGenerator(pipe=tiny_embedded_pipe(ctx_dim), steps=steps, strength=strength, guidance=1.0,
                             family="native", size=size, device="cpu")


def tiny_embedded_folder(root, ctx_dim=384, vae="kl", sampling=None):
    """tiny_embedded_pipe saved as the embedded default's layout: a diffusers img2img pipeline folder with no text
    encoder (model_index.json, vae/, unet/, scheduler/) and sampling.json."""
    tiny_embedded_pipe(ctx_dim, vae).save_pretrained(root)
    cfg = {"steps": 1, "strength": 0.6, "guidance": 1.0, "text_encoder": "minilm", "image_size": 32, **(sampling or {})}
    (root / "sampling.json").write_text(json.dumps(cfg))
    return root


def tiny_embedded_model(root, sampling=None):
    """A whole eegviz model folder: the shipped decoder's files and a tiny pipeline (replacing the shipped one) whose
    UNet attends over that decoder's caption states."""
    import shutil

    from eegviz.paths import default_model_dir

    from eegviz.decoders.two_branch import PARTS

    root.mkdir(parents=True, exist_ok=True)
    for f in default_model_dir().iterdir():
        if f.is_file():
            shutil.copy(f, root / f.name)
    for folder in [f for f, _cls in PARTS.values()] + ["stimulus_classifier"]:  # component folders
        shutil.copytree(default_model_dir() / folder, root / folder)
    text_dim = json.loads((root / "decoder.json").read_text())["hparams"]["text_dim"]
    return tiny_embedded_folder(root, ctx_dim=text_dim, sampling=sampling)


def tiny_lcm_folder(root, scheduler="lcm"):
    """tiny_sd_folder with an LCM-distilled UNet (time_cond_proj_dim: the guidance is an input embedding) and,
    unless scheduler is "euler", the LCMScheduler LCM folders ship."""
    from diffusers import LCMScheduler
    from transformers import CLIPTextModel, CLIPTokenizer

    tiny_sd_text_folder(root)
    pipe = tiny_pipe(CLIPTextModel.from_pretrained(root / "text_encoder"),
                     CLIPTokenizer.from_pretrained(root / "tokenizer"))
    torch.manual_seed(2)
    pipe.unet = type(pipe.unet).from_config(pipe.unet.config, time_cond_proj_dim=16)  # (a dict would drop it)
    if scheduler == "lcm":
        pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    pipe.save_pretrained(root)
    return root


def tiny_sdxl_folder(root):
    """An SDXL img2img pipeline folder at toy size: two text encoders and a UNet with "text_time" added
    conditioning (image sizes and the pooled text embedding), as SDXL and SDXL-Turbo ship it."""
    from diffusers import (AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionXLImg2ImgPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    tiny_sd_text_folder(root)
    te = CLIPTextModel.from_pretrained(root / "text_encoder")
    tok = CLIPTokenizer.from_pretrained(root / "tokenizer")
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(**{**te.config.to_dict(), "projection_dim": 32}))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, down_block_types=("DownBlock2D",
        "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=64,
        attention_head_dim=8, norm_num_groups=8, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8)
    vae = AutoencoderKL(block_out_channels=(16, 16), latent_channels=4, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=8)
    sched = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            steps_offset=1, timestep_spacing="trailing")
    StableDiffusionXLImg2ImgPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok,
                                     unet=unet, scheduler=sched).save_pretrained(root)
    return root
