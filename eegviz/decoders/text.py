"""Caption -> text embedding, the sample-level target space.

Real users take SD's CLIP text encoder (77 x 768/1024). Offline, the embedded world uses `HashTextEncoder`:
each word maps to a fixed pseudo-random unit vector (seeded by a CRC of the word, identical on every machine),
tokens are padded to a fixed length, so a caption becomes a (tokens, dim) matrix just like CLIP's output. The
embedded generator is trained in this space, which makes it "the generator's own conditioning space".
"""

from __future__ import annotations

import re
import zlib
from typing import Protocol

import numpy as np

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
