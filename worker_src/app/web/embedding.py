"""Embeddings through the Workers AI binding, in batches within the bge models' limits (used by RAG
and by the gateway's `POST /v1/embeddings`).

Workers AI's bge embedding models (https://developers.cloudflare.com/workers-ai/models/bge-small-en-v1.5/,
`bge-base-en-v1.5`, `bge-large-en-v1.5`) take `{"text": [str, ...]}` with at most 100 texts per call
and at most 512 tokens per text, and answer `{"shape": [n, d], "data": [[float, ...], ...]}`. Longer
texts are truncated by the model without an error (RAG's `rag.embedding.embed_texts` refuses them
before they are sent).

Failures that may pass (rate limits, capacity, 5xx, timeouts) are retried with exponential backoff;
input errors (Workers AI codes 5xxx such as 5006 "schema", 5007 "no such model") are not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..bindings import Sleep, WorkersAi
from .errors import ApiError

MAX_TEXTS_PER_CALL = 100
# Output dimensions of the Workers AI embedding models (Cloudflare's model catalog); the Worker's copy
# of infra/spec/apps.py EMBEDDING_DIMENSIONS (the Worker cannot import infra).
WORKERS_AI_EMBEDDING_DIMENSIONS: dict[str, int] = {
    "@cf/baai/bge-small-en-v1.5": 384,
    "@cf/baai/bge-base-en-v1.5": 768,
    "@cf/baai/bge-large-en-v1.5": 1024,
}
MAX_ATTEMPTS = 4
BASE_DELAY_S = 0.25
_RETRYABLE = re.compile(
    r"\b(429|5\d\d|3040|3043|3007)\b|capacity|rate.?limit|temporar|timed? ?out|internal server error",
    re.IGNORECASE,
)
_INPUT_ERROR = re.compile(r"\b500[0-9]:")  # Workers AI 5xxx codes are input errors ("5006: Error: ...")


class EmbeddingError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(502, "upstream", f"embedding failed: {message}")


def is_retryable(error: BaseException) -> bool:
    text = str(error)
    return bool(_RETRYABLE.search(text)) and not _INPUT_ERROR.search(text)


async def _run_with_retries(ai: WorkersAi, model: str, texts: list[str], sleep: Sleep) -> list[list[float]]:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            result = await ai.run(model, {"text": texts})
        except Exception as error:
            if attempt == MAX_ATTEMPTS or not is_retryable(error):
                raise EmbeddingError(f"{model}: {str(error)[:300]}") from None
            await sleep(BASE_DELAY_S * 2 ** (attempt - 1))
            continue
        data = result.get("data") if isinstance(result, dict) else None
        if not isinstance(data, list) or len(data) != len(texts):
            raise EmbeddingError(
                f"{model} answered {len(data) if isinstance(data, list) else 'no'} "
                f"vectors for {len(texts)} texts"
            )
        return [[float(x) for x in vector] for vector in data]
    raise AssertionError("unreachable")


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
        vectors.extend(await _run_with_retries(ai, model, batch, sleep))
    if dimensions is not None and any(len(v) != dimensions for v in vectors):
        raise EmbeddingError(f"{model} returned vectors that are not {dimensions}-dimensional")
    return vectors
