"""Embeddings through the Workers AI binding, in batches within the bge models' limits.

Workers AI's bge embedding models (https://developers.cloudflare.com/workers-ai/models/bge-small-en-v1.5/,
`bge-base-en-v1.5`, `bge-large-en-v1.5`) take `{"text": [str, ...]}` with at most 100 texts per call
and at most 512 tokens per text, and answer `{"shape": [n, d], "data": [[float, ...], ...]}`. Longer
texts are truncated by the model without an error, so `chunking.chunk_document` keeps every chunk's
`token_estimate` under 500 and `embed_texts` refuses a text over the limit instead of sending it.

Failures are retried as `workers_ai.call_retrying` says.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..bindings import Sleep, WorkersAi
from ..web.errors import ApiError
from .chunking import MAX_EMBED_TOKENS, token_estimate
from .workers_ai import call_retrying, result_field

MAX_TEXTS_PER_CALL = 100


class EmbeddingError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(502, "upstream", f"embedding failed: {message}")


async def _run(ai: WorkersAi, model: str, texts: list[str], sleep: Sleep) -> list[list[float]]:
    result = await call_retrying(
        lambda: ai.run(model, {"text": texts}), sleep, lambda message: EmbeddingError(f"{model}: {message}")
    )
    data = result_field(result, "data")
    if not isinstance(data, list) or len(data) != len(texts):
        raise EmbeddingError(
            f"{model} answered {len(data) if isinstance(data, list) else 'no'} vectors for {len(texts)} texts"
        )
    return [[float(x) for x in vector] for vector in data]


async def embed_texts(
    ai: WorkersAi | None, model: str, texts: Sequence[str], sleep: Sleep, dimensions: int | None = None
) -> list[list[float]]:
    """One vector per text, in order; calls of at most 100 texts."""
    if ai is None:
        raise ApiError(503, "misconfigured", "rag needs the Workers AI binding (bindings.ai) to embed")
    for text in texts:
        if token_estimate(text) > MAX_EMBED_TOKENS + 12:
            raise ApiError(
                400, "invalid_request", f"a text of ~{token_estimate(text)} tokens exceeds {model}'s 512"
            )
    vectors: list[list[float]] = []
    for start in range(0, len(texts), MAX_TEXTS_PER_CALL):
        batch = list(texts[start : start + MAX_TEXTS_PER_CALL])
        vectors.extend(await _run(ai, model, batch, sleep))
    if dimensions is not None and any(len(v) != dimensions for v in vectors):
        raise EmbeddingError(f"{model} returned vectors that are not {dimensions}-dimensional")
    return vectors
