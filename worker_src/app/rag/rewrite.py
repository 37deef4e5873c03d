"""Query rewriting (`rag.rewrite_query`): the question is rewritten through a gateway alias before
retrieval, as the caller's principal (routing, fallbacks, the response cache, quotas and usage apply).

The rewritten query is used for retrieval only; answers are still written for the question as asked.
"""

from __future__ import annotations

from typing import Any

from ..web.errors import ApiError
from .config import RewriteQuery
from .retrieval import MAX_QUERY_CHARS, SearchRequest

DEFAULT_PROMPT = (
    "Rewrite the user's question as one search query for a document index. Keep names, numbers, "
    "error codes and technical terms exactly; add a few likely synonyms; drop greetings and filler. "
    "Answer with the query alone, on one line."
)


async def rewrite_query(
    services: Any, principal: Any, rewrite: RewriteQuery, request: SearchRequest
) -> SearchRequest:
    """`request` with its query rewritten, or unchanged when rewriting is off."""
    if not rewrite.enabled or rewrite.alias is None:
        return request
    from ..gateway.internal import InternalChatRequest, chat

    messages = [
        {"role": "system", "content": rewrite.prompt or DEFAULT_PROMPT},
        {"role": "user", "content": request.query},
    ]
    chat_request = InternalChatRequest(model=rewrite.alias, messages=messages, temperature=0)
    try:
        result = await chat(services, principal, chat_request)
    except ApiError as error:
        raise ApiError(
            502, "upstream", f"query rewriting through gateway alias {rewrite.alias!r} failed: {error.message}"
        ) from None
    rewritten = " ".join((result.content or "").split())[:MAX_QUERY_CHARS]
    if not rewritten:
        raise ApiError(502, "upstream", f"query rewriting through gateway alias {rewrite.alias!r} returned no text")
    return request._replace(query=rewritten)
