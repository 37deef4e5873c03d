"""POST /v1/rag/query: retrieve, answer (extractive or through the gateway), cache in KV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from ..web.errors import ApiError
from . import catalog, faq
from .answer import NO_ANSWER, Answer, extractive_answer, prompt_messages
from .corpus import Corpus
from .retrieval import SearchHit, SearchRequest, search
from .rewrite import rewrite_query


class QueryOutcome(NamedTuple):
    payload: dict[str, Any]  # {answer, citations, model, cache}
    cache: str  # HIT, MISS (or BYPASS without a FAQ cache)


def _options(corpus: Corpus, request: SearchRequest) -> dict[str, Any]:
    config = corpus.config
    return {
        "mode": request.mode,
        "top_k": request.top_k,
        "rerank": request.rerank,
        "filter": [list(c) for c in request.where.clauses],
        "generation": config.generation,
        "alias": config.generation_alias,
        "rewrite": config.rewrite_query.alias if config.rewrite_query.enabled else None,
    }


async def _generate(
    services: Any, principal: Any, question: str, hits: list[SearchHit], alias: str
) -> Answer:
    from ..gateway.internal import InternalChatRequest, chat

    request = InternalChatRequest(model=alias, messages=prompt_messages(question, hits), temperature=0)
    try:
        result = await chat(services, principal, request)
    except ApiError as error:
        raise ApiError(
            502, "upstream", f"answer generation through gateway alias {alias!r} failed: {error.message}"
        ) from None
    if not result.content:
        raise ApiError(502, "upstream", f"answer generation through gateway alias {alias!r} returned no text")
    return Answer(result.content, tuple(hits), result.model or alias)


async def answer_question(
    corpus: Corpus, services: Any, principal: Any, tenant: str, question: str, request: SearchRequest
) -> QueryOutcome:
    """The answer with its citations; `[n]` in the answer is `citations[n - 1]`."""
    key = None
    if corpus.faq is not None:
        version = await catalog.corpus_version(corpus.catalog, tenant)
        key = faq.cache_key(tenant, question, version, _options(corpus, request))
        cached = await faq.lookup(corpus.faq, key)
        if cached is not None:
            return QueryOutcome({**cached, "cache": "HIT"}, "HIT")
    config = corpus.config
    request = await rewrite_query(services, principal, config.rewrite_query, request)
    hits = await search(corpus, tenant, request)
    if config.generation == "extractive" or not hits:
        answer = extractive_answer(question, hits) if hits else Answer(NO_ANSWER, (), "none")
    else:
        if config.generation_alias is None:
            raise ApiError(
                503, "misconfigured", "rag misconfigured: generation: llm needs rag.generation_alias"
            )
        answer = await _generate(services, principal, question, hits, config.generation_alias)
    status = "MISS" if key is not None else "BYPASS"
    payload = answer.public(status)
    if config.rewrite_query.enabled:
        payload["rewritten_query"] = request.query
    if key is not None and corpus.faq is not None:
        stored = {k: v for k, v in payload.items() if k != "cache"}
        corpus.wait_until(faq.store(corpus.faq, key, stored, config.faq_ttl_s))
    return QueryOutcome(payload, status)


async def stream_answer(
    corpus: Corpus, services: Any, principal: Any, tenant: str, question: str, request: SearchRequest
) -> tuple[str, AsyncIterator[tuple[str, dict[str, Any]]]]:
    """(cache status, SSE events): `citations`, then `delta`s of the answer, then `done`.

    LLM answers stream from the gateway as they are generated; extractive and cached answers are
    sent sentence by sentence."""
    config = corpus.config
    llm = config.generation == "llm" and config.generation_alias is not None
    if not llm or corpus.faq is not None:
        # With a FAQ cache, an LLM answer is generated in full (so it can be cached), then replayed.
        outcome = await answer_question(corpus, services, principal, tenant, question, request)
        return outcome.cache, _replay(outcome.payload)
    request = await rewrite_query(services, principal, config.rewrite_query, request)
    hits = await search(corpus, tenant, request)
    if not hits:
        return "BYPASS", _replay(Answer(NO_ANSWER, (), "none").public("BYPASS"))
    return "BYPASS", _stream_generation(services, principal, question, hits, config.generation_alias or "")


async def _replay(payload: dict[str, Any]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    yield "citations", {"citations": payload["citations"]}
    for piece in payload["answer"].split(" "):
        yield "delta", {"text": piece + " "}
    rewritten = {"rewritten_query": payload["rewritten_query"]} if "rewritten_query" in payload else {}
    yield "done", {"answer": payload["answer"], "model": payload["model"], "cache": payload["cache"], **rewritten}


async def _stream_generation(
    services: Any, principal: Any, question: str, hits: list[SearchHit], alias: str
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    from ..gateway.internal import ChatResult, InternalChatRequest, TextDelta, stream_chat

    answer = Answer("", tuple(hits), alias)
    yield "citations", {"citations": answer.public("BYPASS")["citations"]}
    request = InternalChatRequest(model=alias, messages=prompt_messages(question, hits), temperature=0)
    parts: list[str] = []
    try:
        async for item in stream_chat(services, principal, request):
            if isinstance(item, TextDelta):
                parts.append(item.text)
                yield "delta", {"text": item.text}
            elif isinstance(item, ChatResult):
                yield "done", {"answer": "".join(parts), "model": item.model or alias, "cache": "BYPASS"}
    except ApiError as error:
        yield (
            "error",
            {"message": f"answer generation through gateway alias {alias!r} failed: {error.message}"},
        )
