"""Reranking of retrieved chunks with a cross-encoder through the Workers AI binding.

Workers AI `@cf/baai/bge-reranker-base`
(https://developers.cloudflare.com/workers-ai/models/bge-reranker-base/; `Ai_Cf_Baai_Bge_Reranker_Base_Input`
and `_Output` in @cloudflare/workers-types) takes `{"query": str, "contexts": [{"text": str}, ...],
"top_k"?: int}` and answers `{"response": [{"id": int, "score": float}, ...]}`, where `id` is the
index of the context in the request and the list starts with the best score.

Locally, `edgestack dev`'s AI binding serves the same model name through the embedding sidecar
(docs/local-bindings.md says with what).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..bindings import Sleep, WorkersAi
from ..web.errors import ApiError
from ..web.workers_ai import call_retrying, result_field


class RerankError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(502, "upstream", f"reranking failed: {message}")


def _scores(model: str, result: Any, count: int) -> dict[int, float]:
    response = result_field(result, "response")
    if not isinstance(response, list):
        raise RerankError(f"{model} answered without a response list")
    scores: dict[int, float] = {}
    for item in response:
        index = result_field(item, "id")
        score = result_field(item, "score")
        valid_index = isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count
        if not valid_index or not isinstance(score, int | float) or isinstance(score, bool):
            raise RerankError(f"{model} answered an item that is not {{id < {count}, score}}: {item!r:.200}")
        scores[index] = float(score)
    return scores


async def rerank(
    ai: WorkersAi | None, model: str, query: str, texts: Sequence[str], top_k: int, sleep: Sleep
) -> list[tuple[int, float]]:
    """(index into `texts`, score) of the best `top_k` texts for the query, best first."""
    if ai is None:
        raise ApiError(503, "misconfigured", "rag.rerank needs the Workers AI binding (bindings.ai)")
    if not texts:
        return []
    inputs = {"query": query, "contexts": [{"text": text} for text in texts], "top_k": min(top_k, len(texts))}
    result = await call_retrying(lambda: ai.run(model, inputs), sleep, lambda m: RerankError(f"{model}: {m}"))
    scores = _scores(model, result, len(texts))
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
    return ranked[:top_k]
