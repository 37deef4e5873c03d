"""Retrieval: vector top-k, keyword top-k, both fused (fusion.py), a relevance floor, then reranking."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from ..web.errors import bad_request
from . import keyword, vectors
from .config import MAX_TOP_K, MODES, Mode, Rerank
from .corpus import Corpus
from .embedding import embed_texts
from .filters import Filter, parse_filter
from .fusion import fuse
from .rerank import rerank

MAX_QUERY_CHARS = 2000


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
    rerank: bool = False  # rerank with rag.rerank's model (default: rag.rerank.enabled)


def check_search(
    corpus: Corpus,
    query: Any,
    top_k: Any,
    mode: Any,
    raw_filter: Any,
    *,
    field: str = "query",
    rerank: Any = None,
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
    rerank_config = corpus.config.rerank
    rerank = rerank_config.enabled if rerank is None else rerank
    if not isinstance(rerank, bool):
        raise bad_request("'rerank' must be true or false", "rerank")
    if rerank and top_k > rerank_config.top_n:
        raise bad_request(
            f"'top_k' ({top_k}) must be at most rag.rerank.top_n ({rerank_config.top_n}), the candidates reranked",
            "top_k",
        )
    where = parse_filter(raw_filter, corpus.config.filter_keys)
    return SearchRequest(query.strip(), top_k, mode, where, rerank)


async def _vector_hits(
    corpus: Corpus, tenant: str, request: SearchRequest, k: int
) -> list[vectors.VectorHit]:
    [embedding] = await embed_texts(corpus.ai, corpus.config.embedding_model, [request.query], corpus.sleep)
    return await vectors.query(corpus.index, tenant, embedding, k, request.where)


def candidate_count(request: SearchRequest, rerank: Rerank | None) -> int:
    """How many hits each mode retrieves: top_k alone; more to fuse in hybrid; top_n to rerank."""
    count = request.top_k if request.mode != "hybrid" else max(2 * request.top_k, 10)
    if rerank is not None:
        count = max(count, rerank.top_n)
    return min(vectors.MAX_TOP_K_WITH_METADATA, count)


async def search(corpus: Corpus, tenant: str, request: SearchRequest) -> list[SearchHit]:
    """The top `request.top_k` chunks of the tenant's documents for the query: retrieved, fused
    (hybrid), cut at the mode's `rag.min_score`, then reranked when `rag.rerank` is enabled."""
    config = corpus.config
    rerank_config = config.rerank if request.rerank else None
    candidates = candidate_count(request, rerank_config)
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
    vector_ranked = [((h.doc_id, h.chunk), h.score) for h in vector_hits if (h.doc_id, h.chunk) in rows]
    keyword_ranked = [((h.doc_id, h.chunk), h.score) for h in keyword_hits]
    if request.mode == "vector":
        ranked = vector_ranked
    elif request.mode == "keyword":
        ranked = keyword_ranked
    else:
        ranked = fuse(vector_ranked, keyword_ranked, config.fusion)
    floor = config.min_score.floor(request.mode)
    if floor is not None:
        ranked = [(key, score) for key, score in ranked if score >= floor]
    if rerank_config is not None:
        pool = ranked[: rerank_config.top_n]
        texts = [_rerank_text(rows[key]) for key, _ in pool]
        order = await rerank(corpus.ai, rerank_config.model, request.query, texts, request.top_k, corpus.sleep)
        ranked = [(pool[index][0], score) for index, score in order]
    out = []
    for key, score in ranked[: request.top_k]:
        row = rows[key]
        out.append(SearchHit(row.doc_id, row.chunk, round(score, 6), row.title, row.text))
    return out


def _rerank_text(row: keyword.KeywordHit) -> str:
    return f"{row.title}\n\n{row.text}" if row.title else row.text
