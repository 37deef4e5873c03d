"""The MCP tools: each one a name, JSON Schemas, annotations and a handler that calls the same
in-process RAG and agents functions as the `/v1` routes (so tenant isolation, limits and usage
records are the same whichever door a client uses).

A handler returns a `ToolOutput` or raises `ApiError`; `server.py` turns the error into a tool
result with `isError: true` and the message (which names the field).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ..services import Services
from ..web.auth import Caller
from ..web.errors import ApiError

MAX_TEXT_CHARS = 100_000  # get_document: longer texts are cut (the full text is a resource read)
LIST_PAGE = 100
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")

DOC_ID = {"type": "string", "minLength": 1, "maxLength": 256, "description": "document id ([A-Za-z0-9._/-])"}
_HIT = {
    "type": "object",
    "properties": {
        "doc_id": {"type": "string"},
        "chunk": {"type": "integer"},
        "score": {"type": "number"},
        "title": {"type": "string"},
        "text": {"type": "string"},
    },
    "required": ["doc_id", "chunk", "score", "title", "text"],
}
_RECORD = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "string"},
        "chunks": {"type": "integer"},
        "sha256": {"type": "string"},
        "bytes": {"type": "integer"},
        "content_type": {"type": "string"},
        "updated_at": {"type": "string"},
        "metadata": {"type": "object"},
    },
    "required": ["id", "title", "status", "chunks", "content_type", "updated_at"],
}


class ToolOutput(NamedTuple):
    text: str  # the text content block
    structured: dict[str, Any] | None = None  # `structuredContent` (tools with an outputSchema)


Handler = Callable[[Services, Caller, dict[str, Any]], Awaitable[ToolOutput]]


class McpTool(NamedTuple):
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    read_only: bool
    destructive: bool
    writes_documents: bool  # only for keys with `documents: write`
    handler: Handler

    def listing(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive,
                "idempotentHint": self.read_only or self.name in ("put_document", "delete_document"),
                "openWorldHint": False,
            },
        }
        if self.output_schema is not None:
            out["outputSchema"] = self.output_schema
        return out


def _json_output(value: dict[str, Any]) -> ToolOutput:
    return ToolOutput(json.dumps(value, ensure_ascii=False), value)


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


# ---------------------------------------------------------------- RAG


async def _search(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..rag.corpus import corpus_for
    from ..rag.retrieval import check_search, search

    corpus = corpus_for(services)
    request = check_search(corpus, args.get("query"), args.get("top_k"), args.get("mode"), args.get("filter"))
    hits = await search(corpus, caller.tenant, request)
    return _json_output({"mode": request.mode, "results": [h.public() for h in hits]})


async def _ask(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..rag.answer import cited_text
    from ..rag.corpus import corpus_for
    from ..rag.query import answer_question
    from ..rag.retrieval import check_search

    corpus = corpus_for(services)
    request = check_search(
        corpus,
        args.get("question"),
        args.get("top_k"),
        args.get("mode"),
        args.get("filter"),
        field="question",
    )
    outcome = await answer_question(corpus, services, caller.principal, caller.tenant, request.query, request)
    payload = outcome.payload
    citations = [{"n": n, **c} for n, c in enumerate(payload["citations"], start=1)]
    structured = {"answer": payload["answer"], "citations": citations, "model": payload["model"]}
    return ToolOutput(cited_text(payload), structured)


def _not_found(doc_id: str) -> ApiError:
    return ApiError(404, "not_found", f"id: no document {doc_id!r}", param="id")


def is_text(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media.startswith(TEXT_TYPES[0]) or media in TEXT_TYPES[1:]


async def _get(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..rag import catalog
    from ..rag.corpus import corpus_for
    from ..rag.ids import check_doc_id, object_key

    corpus = corpus_for(services)
    doc_id = check_doc_id(args["id"])
    record = await catalog.get(corpus.catalog, caller.tenant, doc_id)
    if record is None:
        raise _not_found(doc_id)
    out = record.public()
    if is_text(record.content_type):
        stored = await corpus.bucket.get_object(object_key(caller.tenant, doc_id))
        if stored is not None:
            text = stored[0].decode("utf-8", "replace")
            out["text"], out["truncated"] = text[:MAX_TEXT_CHARS], len(text) > MAX_TEXT_CHARS
    return _json_output(out)


async def _list(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..rag import catalog
    from ..rag.corpus import corpus_for
    from ..rag.ids import check_doc_id

    corpus = corpus_for(services)
    cursor = args.get("cursor") or None
    if cursor is not None:
        try:
            check_doc_id(cursor)
        except ApiError:
            raise ApiError(
                400, "invalid_request", "cursor: is not a cursor this tool returned", param="cursor"
            ) from None
    limit = args.get("limit", LIST_PAGE)
    records = await catalog.list_documents(
        corpus.catalog, caller.tenant, args.get("prefix", ""), limit + 1, cursor
    )
    page = records[:limit]
    next_cursor = page[-1].doc_id if len(records) > limit else None
    return _json_output({"documents": [r.public() for r in page], "next_cursor": next_cursor})


def _require_write(caller: Caller) -> None:
    if not caller.may_write_documents:
        raise ApiError(
            403,
            "permission",
            "this key may not write documents (its documents permission is read)",
            param="documents",
        )


async def _put(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..rag.corpus import corpus_for
    from ..rag.ingest import put_document

    _require_write(caller)
    corpus = corpus_for(services)
    content_type = args.get("content_type", "text/plain")
    if not is_text(content_type):
        raise ApiError(
            400,
            "invalid_request",
            "content_type: must be a text type (text/*, JSON, XML)",
            param="content_type",
        )
    result = await put_document(
        corpus, caller.tenant, args["id"], args["content"].encode(), content_type, args.get("title", "")
    )
    return _json_output(result.public())


async def _delete(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..rag import catalog
    from ..rag.corpus import corpus_for
    from ..rag.ids import check_doc_id
    from ..rag.ingest import delete_document

    _require_write(caller)
    corpus = corpus_for(services)
    doc_id = check_doc_id(args["id"])
    if await catalog.get(corpus.catalog, caller.tenant, doc_id) is None:
        raise _not_found(doc_id)
    await delete_document(corpus, caller.tenant, doc_id)
    return _json_output({"id": doc_id, "deleted": True})


# ---------------------------------------------------------------- agents


async def _message_agent(services: Services, caller: Caller, args: dict[str, Any]) -> ToolOutput:
    from ..agents.config import agents_config
    from ..agents.routes import send_message

    config = agents_config(services.config)
    if config is None:
        raise ApiError(404, "not_found", "agents are not enabled on this stack")
    response = await send_message(services, config, caller, args["agent_id"], args["content"])
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if response.status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        raise ApiError(response.status, "upstream", message or f"the agent answered {response.status}")
    return ToolOutput(json.dumps(body, ensure_ascii=False), body)


# ---------------------------------------------------------------- the catalogue

_FILTER = {
    "type": "object",
    "description": "metadata filter on the stack's rag.filter_keys: {key: value} or {key: {$eq|$ne|$in|$nin: ...}}",
}
_SEARCH_OPTIONS = {
    "top_k": {
        "type": "integer",
        "minimum": 1,
        "maximum": 20,
        "description": "how many passages (default: the stack's rag.top_k)",
    },
    "mode": {
        "type": "string",
        "enum": ["hybrid", "vector", "keyword"],
        "description": "retrieval mode (default: the stack's rag.mode)",
    },
    "filter": _FILTER,
}
_CITATION = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, **_HIT["properties"]},  # type: ignore[dict-item]
    "required": ["n", "doc_id", "chunk", "title", "text"],
}

TOOLS: tuple[McpTool, ...] = (
    McpTool(
        "search_documents",
        "Search documents",
        "Search this tenant's documents (hybrid keyword + vector retrieval) and return the best passages.",
        _object(
            {"query": {"type": "string", "minLength": 1, "maxLength": 2000}, **_SEARCH_OPTIONS}, ["query"]
        ),
        {
            "type": "object",
            "properties": {"mode": {"type": "string"}, "results": {"type": "array", "items": _HIT}},
            "required": ["mode", "results"],
        },
        True,
        False,
        False,
        _search,
    ),
    McpTool(
        "ask_documents",
        "Ask the documents",
        "Answer a question from this tenant's documents; [n] in the answer cites citations[n-1].",
        _object(
            {"question": {"type": "string", "minLength": 1, "maxLength": 2000}, **_SEARCH_OPTIONS},
            ["question"],
        ),
        {
            "type": "object",
            "properties": {
                "answer": {"type": "string"},
                "citations": {"type": "array", "items": _CITATION},
                "model": {"type": "string"},
            },
            "required": ["answer", "citations", "model"],
        },
        True,
        False,
        False,
        _ask,
    ),
    McpTool(
        "get_document",
        "Get a document",
        "A document's catalogue record and, for text documents, its text.",
        _object({"id": DOC_ID}, ["id"]),
        {
            "type": "object",
            "properties": {
                **_RECORD["properties"],
                "text": {"type": "string"},
                "truncated": {"type": "boolean"},
            },  # type: ignore[dict-item]
            "required": _RECORD["required"],
        },
        True,
        False,
        False,
        _get,
    ),
    McpTool(
        "list_documents",
        "List documents",
        "List this tenant's documents by id; pass next_cursor back as cursor for the next page.",
        _object(
            {
                "prefix": {"type": "string", "maxLength": 256},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "cursor": {"type": "string", "maxLength": 256},
            },
            [],
        ),
        {
            "type": "object",
            "properties": {
                "documents": {"type": "array", "items": _RECORD},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["documents", "next_cursor"],
        },
        True,
        False,
        False,
        _list,
    ),
    McpTool(
        "put_document",
        "Put a document",
        "Create or replace a text document and index it (needs a key with documents: write).",
        _object(
            {
                "id": DOC_ID,
                "content": {"type": "string", "description": "the document's text"},
                "content_type": {
                    "type": "string",
                    "description": "text/plain (default), text/markdown, text/html, ...",
                },
                "title": {"type": "string", "maxLength": 512},
            },
            ["id", "content"],
        ),
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["ready", "indexing", "unchanged"]},
                "chunks": {"type": "integer"},
                "sha256": {"type": "string"},
            },
            "required": ["id", "status", "chunks", "sha256"],
        },
        False,
        True,
        True,
        _put,
    ),
    McpTool(
        "delete_document",
        "Delete a document",
        "Delete a document and its index entries (needs a key with documents: write).",
        _object({"id": DOC_ID}, ["id"]),
        {
            "type": "object",
            "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}},
            "required": ["id", "deleted"],
        },
        False,
        True,
        True,
        _delete,
    ),
    McpTool(
        "message_agent",
        "Message an agent",
        "Send a user message to an agent (by id) and return the turn: status, output, messages, pending approvals.",
        _object(
            {
                "agent_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "description": "[A-Za-z0-9._:-]",
                },
                "content": {"type": "string", "minLength": 1},
            },
            ["agent_id", "content"],
        ),
        {
            "type": "object",
            "properties": {
                "agent_id": {"type": "string"},
                "status": {"type": "string", "enum": ["completed", "awaiting_approval", "budget_exhausted"]},
                "output": {"type": ["string", "null"]},
                "messages": {"type": "array"},
                "pending_approvals": {"type": "array"},
            },
            "required": ["agent_id", "status", "output"],
        },
        False,
        False,
        False,
        _message_agent,
    ),
)
TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in TOOLS)
