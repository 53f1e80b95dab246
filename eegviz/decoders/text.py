"""Caption -> text embedding, the sample-level target space.

Pluggable, chosen by a spec string stored with the decoder (`eegviz train --text-encoder SPEC`):
- "hash" (default, offline): each word maps to a fixed pseudo-random unit vector (seeded by a CRC of the word,
  identical on every machine), tokens padded to a fixed length, so a caption becomes a (tokens, dim) matrix
  just like CLIP's output. The embedded generator is trained in this space ("its own conditioning space").
- "clip:MODEL" (real users): the CLIP text encoder of a Stable Diffusion model (an id in the HF cache or a
  local diffusers folder, its text_encoder/ and tokenizer/ subfolders; a bare CLIP folder works too). Its last
  hidden state, 77 x 768 (SD 1.x) or 77 x 1024 (SD 2.x / Turbo), is exactly what that UNet cross-attends to,
  so the semantic branch regresses straight into the pipeline's conditioning space and no projection is needed.
"""

from __future__ import annotations

import re
import zlib
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


class ClipTextEncoder:
    """An SD model's CLIP text encoder: captions -> (77, hidden) last hidden states, as the UNet sees them."""

    name = "clip"

    def __init__(self, model: str, batch: int = 64):
        from eegviz.hub import local_files_only, quiet_hf_libraries

        quiet_hf_libraries()
        from transformers import CLIPTextModel, CLIPTokenizer

        root = Path(model)
        nested = (not root.is_dir()) or (root / "text_encoder").is_dir()  # a diffusers pipeline folder or hub id
        opts = {"local_files_only": local_files_only(model)}
        try:
            self.tokenizer = CLIPTokenizer.from_pretrained(model, subfolder="tokenizer" if nested else "", **opts)
            self.model = CLIPTextModel.from_pretrained(model, subfolder="text_encoder" if nested else "", **opts)
        except (OSError, ValueError) as exc:
            raise EegvizError(f"cannot load a CLIP text encoder from '{model}': not a local folder with "
                              f"text_encoder/ and tokenizer/ nor in the HF cache ({type(exc).__name__})") from None
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


def make_text_encoder(spec: str = "hash", n_tokens: int = 8, dim: int = 64) -> TextEncoder:
    """The encoder a spec names: "hash" (n_tokens x dim) or "clip:MODEL" (its own 77 x hidden)."""
    if spec == "hash":
        return HashTextEncoder(n_tokens, dim)
    if spec.startswith("clip:") and len(spec) > 5:
        return ClipTextEncoder(spec[5:])
    raise EegvizError(f"unknown text encoder '{spec}'; use 'hash' or 'clip:MODEL' (an SD model id or folder)")
