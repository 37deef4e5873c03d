"""Retrieval: vector top-k, keyword top-k, and both fused with reciprocal rank fusion (k = 60)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple, TypeVar

from ..web.errors import bad_request
from . import keyword, vectors
from .config import MAX_TOP_K, MODES, Mode
from .corpus import Corpus
from .embedding import embed_texts
from .filters import Filter, parse_filter

RRF_K = 60  # Cormack, Clarke & Buettcher (2009)
MAX_QUERY_CHARS = 2000
K = TypeVar("K", bound=Hashable)


class SearchHit(NamedTuple):
    doc_id: str
    chunk: int
    score: float
    title: str
    text: str

    def public(self) -> dict[str, Any]:
        return self._asdict()


class SearchRequest(NamedTuple):
    query: str
    top_k: int
    mode: Mode
    where: Filter


def rrf_fuse(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Items by sum over rankings of 1 / (k + rank), rank from 1; ties keep first-seen order."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def check_search(
    corpus: Corpus, query: Any, top_k: Any, mode: Any, raw_filter: Any, *, field: str = "query"
) -> SearchRequest:
    if not isinstance(query, str) or not query.strip():
        raise bad_request(f"'{field}' must be a non-empty string", field)
    if len(query) > MAX_QUERY_CHARS:
        raise bad_request(f"'{field}' must be at most {MAX_QUERY_CHARS} characters", field)
    if top_k is None:
        top_k = corpus.config.top_k
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise bad_request(f"'top_k' must be an integer from 1 to {MAX_TOP_K}", "top_k")
    mode = corpus.config.mode if mode is None else mode
    if mode not in MODES:
        raise bad_request(f"'mode' must be one of {', '.join(MODES)}", "mode")
    return SearchRequest(query.strip(), top_k, mode, parse_filter(raw_filter, corpus.config.filter_keys))


async def _vector_hits(
    corpus: Corpus, tenant: str, request: SearchRequest, k: int
) -> list[vectors.VectorHit]:
    [embedding] = await embed_texts(corpus.ai, corpus.config.embedding_model, [request.query], corpus.sleep)
    return await vectors.query(corpus.index, tenant, embedding, k, request.where)


async def search(corpus: Corpus, tenant: str, request: SearchRequest) -> list[SearchHit]:
    """The top `request.top_k` chunks of the tenant's documents for the query."""
    candidates = (
        request.top_k
        if request.mode != "hybrid"
        else min(vectors.MAX_TOP_K_WITH_METADATA, max(2 * request.top_k, 10))
    )
    vector_hits: list[vectors.VectorHit] = []
    keyword_hits: list[keyword.KeywordHit] = []
    if request.mode == "vector":
        vector_hits = await _vector_hits(corpus, tenant, request, candidates)
    elif request.mode == "keyword":
        keyword_hits = await keyword.search(corpus.keywords, tenant, request.query, candidates, request.where)
    else:
        vector_hits, keyword_hits = await asyncio.gather(
            _vector_hits(corpus, tenant, request, candidates),
            keyword.search(corpus.keywords, tenant, request.query, candidates, request.where),
        )
    rows = {(h.doc_id, h.chunk): h for h in keyword_hits}
    missing = [(h.doc_id, h.chunk) for h in vector_hits if (h.doc_id, h.chunk) not in rows]
    if missing:
        rows.update(await keyword.chunk_rows(corpus.keywords, tenant, missing))
    # A vector whose row is gone belongs to a deleted or shortened document that Vectorize has not
    # caught up with yet (its mutations are asynchronous): it is dropped here.
    vector_keys = [(h.doc_id, h.chunk) for h in vector_hits if (h.doc_id, h.chunk) in rows]
    if request.mode == "vector":
        scores = {(h.doc_id, h.chunk): h.score for h in vector_hits}
        ranked = [(key, scores[key]) for key in vector_keys]
    elif request.mode == "keyword":
        ranked = [((h.doc_id, h.chunk), h.score) for h in keyword_hits]
    else:
        ranked = rrf_fuse([vector_keys, [(h.doc_id, h.chunk) for h in keyword_hits]])
    out = []
    for key, score in ranked[: request.top_k]:
        row = rows[key]
        out.append(SearchHit(row.doc_id, row.chunk, round(score, 6), row.title, row.text))
    return out
