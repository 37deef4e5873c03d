"""Embeddings through the Workers AI binding, in batches within the bge models' limits (used by RAG
and by the gateway's `POST /v1/embeddings`).

Workers AI's bge embedding models (https://developers.cloudflare.com/workers-ai/models/bge-small-en-v1.5/,
`bge-base-en-v1.5`, `bge-large-en-v1.5`) take `{"text": [str, ...]}` with at most 100 texts per call
and at most 512 tokens per text, and answer `{"shape": [n, d], "data": [[float, ...], ...]}`. Longer
texts are truncated by the model without an error (RAG's `rag.embedding.embed_texts` refuses them
before they are sent).

Failures are retried as `workers_ai.call_retrying` says.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..bindings import Sleep, WorkersAi
from .errors import ApiError
from .workers_ai import call_retrying, result_field

MAX_TEXTS_PER_CALL = 100
# Output dimensions of the Workers AI embedding models (Cloudflare's model catalog); the Worker's copy
# of infra/spec/apps.py EMBEDDING_DIMENSIONS (the Worker cannot import infra).
WORKERS_AI_EMBEDDING_DIMENSIONS: dict[str, int] = {
    "@cf/baai/bge-small-en-v1.5": 384,
    "@cf/baai/bge-base-en-v1.5": 768,
    "@cf/baai/bge-large-en-v1.5": 1024,
}

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


async def embed_batches(
    ai: WorkersAi | None, model: str, texts: Sequence[str], sleep: Sleep, dimensions: int | None = None
) -> list[list[float]]:
    """One vector per text, in order; calls of at most 100 texts."""
    if ai is None:
        raise ApiError(
            503, "misconfigured", f"embedding with {model} needs the Workers AI binding (bindings.ai)"
        )
    vectors: list[list[float]] = []
    for start in range(0, len(texts), MAX_TEXTS_PER_CALL):
        batch = list(texts[start : start + MAX_TEXTS_PER_CALL])
        vectors.extend(await _run(ai, model, batch, sleep))
    if dimensions is not None and any(len(v) != dimensions for v in vectors):
        raise EmbeddingError(f"{model} returned vectors that are not {dimensions}-dimensional")
    return vectors
