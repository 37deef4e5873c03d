"""HTTP routes of RAG behind the `/v1` front door (`app/v1.py`): /v1/documents[/...] and /v1/rag/{search,query}.

The tenant is the caller's virtual-key scope (`public` for anonymous callers on a public stack);
writes need a key with `documents: write` (open on public stacks).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Caller, Principal
from ..web.errors import ApiError, bad_request
from ..web.request import json_body, method_not_allowed, reject_unknown_fields
from ..web.sse import SSE_HEADERS, encode_event
from . import catalog
from .answer import cited_text
from .corpus import Corpus, corpus_for
from .ids import check_doc_id, check_tenant, object_key, vector_id
from .ingest import delete_document, put_document
from .query import answer_question, stream_answer
from .retrieval import check_search, search
from .rewrite import rewrite_query

DOCUMENTS = "/v1/documents"
MAX_LIST_LIMIT = 1000
MAX_GET_IDS = 20  # Vectorize getByIds


async def handle_rag(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """Serve one RAG route; raises ApiError for anything but success."""
    principal, tenant = caller.principal, caller.tenant
    check_tenant(tenant)
    corpus = corpus_for(services)
    path, method = request.path.rstrip("/"), request.method
    if path == "/v1/rag/search":
        if method != "POST":
            raise method_not_allowed(path, "POST")
        body = json_body(request)
        reject_unknown_fields(body, {"query", "top_k", "mode", "filter", "rerank"})
        search_request = check_search(
            corpus,
            body.get("query"),
            body.get("top_k"),
            body.get("mode"),
            body.get("filter"),
            rerank=body.get("rerank"),
        )
        search_request = await rewrite_query(services, principal, corpus.config.rewrite_query, search_request)
        hits = await search(corpus, tenant, search_request)
        payload: dict[str, Any] = {"mode": search_request.mode, "data": [h.public() for h in hits]}
        if corpus.config.rewrite_query.enabled:
            payload["rewritten_query"] = search_request.query
        return HttpResponse.json(payload)
    if path == "/v1/rag/query":
        if method != "POST":
            raise method_not_allowed(path, "POST")
        return await _query(request, corpus, services, principal, tenant)
    if path == DOCUMENTS:
        if method not in ("GET", "HEAD"):
            raise method_not_allowed(path, "GET")
        return await _list(request, corpus, tenant)
    if not path.startswith(DOCUMENTS + "/"):
        raise ApiError(404, "not_found", f"no route for {method} {request.path}")
    doc_path = path[len(DOCUMENTS) + 1 :]
    if method in ("GET", "HEAD") and doc_path.endswith("/content"):
        return await _content(corpus, tenant, check_doc_id(doc_path.removesuffix("/content")))
    doc_id = check_doc_id(doc_path)
    if method in ("GET", "HEAD"):
        record = await catalog.get(corpus.catalog, tenant, doc_id)
        if record is None:
            raise ApiError(404, "not_found", f"no document {doc_id!r}", param="id")
        payload = record.public()
        if request.query.get("check") == "vectors":
            payload["vectors"] = await vectors_visible(corpus, record)
        return HttpResponse.json(payload)
    if method not in ("PUT", "DELETE"):
        raise method_not_allowed(f"{DOCUMENTS}/{{id}}", "GET", "PUT", "DELETE")
    if not caller.may_write_documents:
        raise ApiError(
            403,
            "permission",
            "this key may not write documents (its documents permission is read)",
            param="documents",
        )
    if method == "DELETE":
        await delete_document(corpus, tenant, doc_id)
        return HttpResponse.json({"id": doc_id, "deleted": True})
    result = await put_document(
        corpus,
        tenant,
        doc_id,
        request.body,
        request.header("content-type"),
        request.header("x-edgestack-title"),
    )
    return HttpResponse.json(result.public(), status=202 if result.status == "indexing" else 200)


async def vectors_visible(corpus: Corpus, record: catalog.DocumentRecord) -> dict[str, int]:
    """How many of the document's chunk vectors Vectorize already serves (`getByIds` sees only applied
    mutations): the first 19 chunks and the last, at most 20 ids per call."""
    numbers = sorted({*range(min(record.chunks, MAX_GET_IDS - 1)), record.chunks - 1} - {-1})
    ids = [vector_id(record.tenant, record.doc_id, n) for n in numbers]
    found = await corpus.index.get_by_ids(ids) if ids else []
    return {"checked": len(ids), "visible": len(found)}


async def _list(request: HttpRequest, corpus: Corpus, tenant: str) -> HttpResponse:
    query = request.query
    prefix = query.get("prefix", "")
    raw_limit = query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
        raise bad_request(f"query parameter limit must be an integer from 1 to {MAX_LIST_LIMIT}", "limit")
    limit = int(raw_limit)
    cursor = query.get("cursor") or None
    if cursor is not None:
        check_doc_id(cursor)
    records = await catalog.list_documents(corpus.catalog, tenant, prefix, limit + 1, cursor)
    page = records[:limit]
    next_cursor = page[-1].doc_id if len(records) > limit else None
    return HttpResponse.json({"data": [r.public() for r in page], "cursor": next_cursor})


async def _content(corpus: Corpus, tenant: str, doc_id: str) -> HttpResponse:
    # The catalogue first: R2 keys are only as separate as the tenants' prefixes are.
    if await catalog.get(corpus.catalog, tenant, doc_id) is None:
        raise ApiError(404, "not_found", f"no document {doc_id!r}", param="id")
    stored = await corpus.bucket.get_object(object_key(tenant, doc_id))
    if stored is None:
        raise ApiError(404, "not_found", f"no document {doc_id!r}", param="id")
    data, info = stored
    return HttpResponse(status=200, headers={"content-type": info.content_type}, body=data)


async def _query(
    request: HttpRequest, corpus: Corpus, services: Services, principal: Principal, tenant: str
) -> HttpResponse:
    body = json_body(request)
    reject_unknown_fields(body, {"question", "top_k", "mode", "filter", "stream", "rerank"})
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false", "stream")
    search_request = check_search(
        corpus,
        body.get("question"),
        body.get("top_k"),
        body.get("mode"),
        body.get("filter"),
        field="question",
        rerank=body.get("rerank"),
    )
    question = search_request.query
    if stream:
        cache, events = await stream_answer(corpus, services, principal, tenant, question, search_request)
        return HttpResponse(
            status=200, headers={**SSE_HEADERS, "x-edgestack-cache": cache}, stream=_sse(events)
        )
    outcome = await answer_question(corpus, services, principal, tenant, question, search_request)
    return HttpResponse.json(outcome.payload, headers={"x-edgestack-cache": outcome.cache})


async def _sse(events: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    async for name, data in events:
        yield encode_event(json.dumps(data, separators=(",", ":")), name)


# ---------------------------------------------------------------- rag.expose_as_model


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list", "messages")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts: keep the text ones
                content = " ".join(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
            if isinstance(content, str) and content.strip():
                return content
    raise bad_request(
        "RAG answers the last user message: 'messages' has no user message with text", "messages"
    )


async def handle_rag_chat(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """`POST /v1/chat/completions` for the `rag.expose_as_model` model, in OpenAI's shapes."""
    principal, tenant = caller.principal, caller.tenant
    corpus = corpus_for(services)
    body = json_body(request)
    model = corpus.config.expose_as_model or ""
    stream = body.get("stream") is True
    question = _last_user_text(body.get("messages"))
    search_request = check_search(corpus, question, None, None, None, field="messages")
    outcome = await answer_question(corpus, services, principal, tenant, search_request.query, search_request)
    content = cited_text(outcome.payload)
    citations = [
        {"n": n, "doc_id": c["doc_id"], "chunk": c["chunk"], "title": c["title"][:80]}
        for n, c in enumerate(outcome.payload["citations"], start=1)
    ]
    headers = {
        "x-edgestack-cache": outcome.cache,
        "x-edgestack-citations": json.dumps(citations, separators=(",", ":")),
    }
    completion = {
        "id": "chatcmpl-rag-" + hex(int(services.clock() * 1000))[2:],
        "object": "chat.completion",
        "created": int(services.clock()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    if not stream:
        return HttpResponse.json(completion, headers=headers)
    from ..gateway.internal import completion_stream  # on first use

    return HttpResponse(status=200, headers={**SSE_HEADERS, **headers}, stream=completion_stream(completion))
