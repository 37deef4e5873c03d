"""RAG's embeddings: `web.embedding.embed_batches` (Workers AI, batches of 100, retries), after
refusing a text over the bge models' 512 tokens, which the model would truncate without an error
(`chunking.chunk_document` keeps every chunk's `token_estimate` under 500)."""

from __future__ import annotations

from collections.abc import Sequence

from ..bindings import Sleep, WorkersAi
from ..web.embedding import embed_batches
from ..web.errors import ApiError
from .chunking import MAX_EMBED_TOKENS, token_estimate


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
    return await embed_batches(ai, model, texts, sleep, dimensions)
