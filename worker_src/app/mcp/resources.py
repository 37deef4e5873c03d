"""Documents as MCP resources.

URI scheme: `edgestack://documents/<id>` where `<id>` is the document id as stored (its characters,
`[A-Za-z0-9._/-]`, need no escaping). The tenant is never in the URI: it is the caller's key scope,
so the same URI names another tenant's document for another key. `resources/list` pages by id
(`nextCursor` is opaque to clients).
"""

from __future__ import annotations

import base64
from typing import Any

from ..services import Services
from ..web.auth import Caller
from ..web.errors import ApiError
from .jsonrpc import INVALID_PARAMS, RESOURCE_NOT_FOUND, RequestId, RpcError
from .tools import is_text

URI_PREFIX = "edgestack://documents/"
URI_TEMPLATE = URI_PREFIX + "{id}"
PAGE = 100


def document_uri(doc_id: str) -> str:
    return URI_PREFIX + doc_id


def templates() -> dict[str, Any]:
    return {
        "resourceTemplates": [
            {
                "uriTemplate": URI_TEMPLATE,
                "name": "document",
                "title": "A document of this tenant",
                "description": "The original text (or bytes, base64) of a RAG document, by id.",
            }
        ]
    }


async def list_resources(
    services: Services, caller: Caller, cursor: Any, request_id: RequestId
) -> dict[str, Any]:
    from ..rag import catalog
    from ..rag.corpus import corpus_for
    from ..rag.ids import check_doc_id

    if cursor is not None:
        try:
            check_doc_id(cursor if isinstance(cursor, str) else "")
        except ApiError:
            raise RpcError(
                INVALID_PARAMS, "invalid params: cursor is not one this server returned", request_id
            ) from None
    corpus = corpus_for(services)
    records = await catalog.list_documents(corpus.catalog, caller.tenant, "", PAGE + 1, cursor)
    page = records[:PAGE]
    out: dict[str, Any] = {
        "resources": [
            {
                "uri": document_uri(r.doc_id),
                "name": r.doc_id,
                "title": r.title or r.doc_id,
                "mimeType": r.content_type,
                "size": r.bytes,
            }
            for r in page
        ]
    }
    if len(records) > PAGE:
        out["nextCursor"] = page[-1].doc_id
    return out


async def read_resource(
    services: Services, caller: Caller, uri: Any, request_id: RequestId
) -> dict[str, Any]:
    from ..rag.corpus import corpus_for
    from ..rag.ids import check_doc_id, object_key

    if not isinstance(uri, str) or not uri.startswith(URI_PREFIX):
        raise RpcError(
            INVALID_PARAMS, f"invalid params: uri must start with {URI_PREFIX}", request_id, {"field": "uri"}
        )
    doc_id = uri[len(URI_PREFIX) :]
    try:
        check_doc_id(doc_id)
    except ApiError as error:
        raise RpcError(
            INVALID_PARAMS, f"invalid params: uri: {error.message}", request_id, {"field": "uri"}
        ) from None
    corpus = corpus_for(services)
    stored = await corpus.bucket.get_object(object_key(caller.tenant, doc_id))
    if stored is None:
        raise RpcError(RESOURCE_NOT_FOUND, f"resource not found: {uri}", request_id, {"uri": uri})
    data, info = stored
    content: dict[str, Any] = {"uri": uri, "mimeType": info.content_type}
    if is_text(info.content_type):
        content["text"] = data.decode("utf-8", "replace")
    else:
        content["blob"] = base64.b64encode(data).decode("ascii")
    return {"contents": [content]}
