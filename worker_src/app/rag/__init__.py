"""RAG at the edge: documents in R2, hybrid retrieval (Vectorize + D1 FTS5), cited answers.

Import is light on purpose: everything is imported on first use (see `search`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..services import Services
    from .retrieval import SearchHit

__all__ = ["search"]


async def search(
    services: Services,
    tenant: str,
    query: str,
    *,
    top_k: int | None = None,
    mode: str | None = None,
    filter: dict[str, Any] | None = None,
) -> list[SearchHit]:
    """The tenant's best chunks for `query` (in-process, e.g. the agents' `rag_search` tool).

    Raises `app.web.errors.ApiError` (status, kind, message, param) on bad input or when RAG is
    not configured on the stack.
    """
    from .corpus import corpus_for
    from .retrieval import check_search
    from .retrieval import search as run_search

    corpus = corpus_for(services)
    request = check_search(corpus, query, top_k, mode, filter)
    return await run_search(corpus, tenant, request)
