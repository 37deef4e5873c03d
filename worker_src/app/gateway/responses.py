"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the OpenAI Responses API over the chat pipeline.

A Responses request is translated to a chat-completions request (`responses_translate`) and goes
through `chat.run_pipeline` like any chat request: route, key permissions, quota, cache, candidate
order, dispatch with fallbacks, retries and breakers, and the usage record (`api = 'responses'`).
The OpenAI-shaped chat result (whatever the provider spoke) becomes a `response` object, or, when
streaming, Responses events (`responses_stream`).

`store`: when the gateway has a response store (`gateway.response_store`, D1), a response is stored
unless the request says `store: false`; `store: true` without a store is a 400 naming the missing
setting. `previous_response_id` continues a stored conversation of the same tenant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

from ..bindings import D1Database
from ..http import HttpRequest, HttpResponse
from ..web.auth import Caller
from ..web.errors import ApiError
from ..web.log import log_event
from ..web.request import json_body, method_not_allowed
from ..web.sse import SSE_HEADERS, SseDecoder, encode_event
from . import responses_store
from .chat import (
    ChatRequest,
    RequestContext,
    Served,
    admit,
    complete_json,
    finish_record,
    open_relay,
    run_pipeline,
    validate_chat_body,
)
from .providers import speaks_responses
from .responses_native import native_response, relay_native
from .responses_stream import ChatToResponsesStream, ResponsesEvent
from .responses_translate import (
    chat_body,
    completion_to_response,
    parse_responses_body,
    response_shell,
    upstream_responses_body,
)
from .streams import dumps, openai_completion_to_chunks
from .translate import JsonObject


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


def _store_db(ctx: RequestContext, wanted_by: str) -> D1Database:
    """The response store's D1 database, or a 400 naming what is missing."""
    policy = ctx.config.response_store
    if policy is None:
        raise _bad(
            f"'{wanted_by}' needs a response store: this gateway has none (set gateway.response_store.binding "
            "to a D1 binding)",
            wanted_by,
        )
    db = ctx.services.d1.get(policy.binding)
    if db is None:
        raise _bad(
            f"'{wanted_by}' needs the response store's D1 binding {policy.binding!r}, which is not bound",
            wanted_by,
        )
    return db


def _now(ctx: RequestContext) -> int:
    return int(ctx.services.clock())


async def serve_responses(
    request: HttpRequest, ctx: RequestContext, caller: Caller, response_id: str
) -> HttpResponse:
    try:
        admit(request, ctx, caller.principal)
        if not response_id:
            if request.method != "POST":
                raise method_not_allowed("/v1/responses", "POST")
            return await _create(request, ctx, caller)
        return await _by_id(request, ctx, caller, response_id)
    except ApiError as error:
        if not response_id:
            finish_record(ctx, error.status, error_kind=error.kind)
        return error.to_response("openai", ctx.headers)


async def _by_id(request: HttpRequest, ctx: RequestContext, caller: Caller, response_id: str) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        db = _store_db(ctx, "previous_response_id")
        stored = await responses_store.load(db, caller.tenant, response_id, _now(ctx))
        return HttpResponse.json(stored.response, headers=ctx.headers)
    if request.method == "DELETE":
        db = _store_db(ctx, "previous_response_id")
        if not await responses_store.delete(db, caller.tenant, response_id, _now(ctx)):
            raise responses_store.not_found(response_id)
        return HttpResponse.json(
            {"id": response_id, "object": "response.deleted", "deleted": True}, headers=ctx.headers
        )
    raise method_not_allowed("/v1/responses/{id}", "GET", "DELETE")


async def _create(request: HttpRequest, ctx: RequestContext, caller: Caller) -> HttpResponse:
    parsed = parse_responses_body(json_body(request))
    db: D1Database | None = None
    if parsed.store is True or parsed.previous_response_id:
        db = _store_db(ctx, "store" if parsed.store is True else "previous_response_id")
    elif parsed.store is None and ctx.config.response_store is not None:
        db = ctx.services.d1.get(ctx.config.response_store.binding)  # stored by default, as OpenAI does
    history: list[JsonObject] = []
    if parsed.previous_response_id:
        assert db is not None
        previous = await responses_store.load(db, caller.tenant, parsed.previous_response_id, _now(ctx))
        history = previous.conversation
    store = db is not None and parsed.store is not False
    chat = validate_chat_body("openai", chat_body(parsed, history))._replace(
        responses_body=upstream_responses_body(parsed, history)
    )
    served = await run_pipeline(ctx, chat, request.headers, request.body.decode("utf-8", "replace"))
    shell = response_shell(parsed, "resp_" + uuid.uuid4().hex, int(ctx.started), store)
    saver = _Saver(ctx, db if store else None, caller.tenant, history + parsed.input_items)
    native = served.success is not None and speaks_responses(served.success.provider)
    if parsed.stream:
        if native:
            events = relay_native(ctx, served, shell, saver.save)
        else:
            events = _stream(ctx, chat, served, ChatToResponsesStream(shell), saver)
        return HttpResponse(status=200, headers={**SSE_HEADERS, **ctx.headers}, stream=events)
    if native:
        response = native_response(ctx, served, shell)
    else:
        if served.cached is not None:
            completion = served.cached.response
        else:
            completion, _ = complete_json(ctx, chat, served)
        response = completion_to_response(completion, shell)
    await saver.save(response)
    return HttpResponse(
        status=200, headers={"content-type": "application/json", **ctx.headers}, body=dumps(response).encode()
    )


class _Saver:
    """Stores a finished response (when storing) with the conversation items that led to it."""

    def __init__(
        self, ctx: RequestContext, db: D1Database | None, tenant: str, history: list[JsonObject]
    ) -> None:
        self.ctx, self.db, self.tenant, self.history = ctx, db, tenant, history

    async def save(self, response: JsonObject) -> None:
        policy = self.ctx.config.response_store
        if self.db is None or policy is None:
            return
        stored = responses_store.StoredResponse(self.history, response)
        try:
            await responses_store.save(self.db, self.tenant, stored, _now(self.ctx), policy.ttl_s)
        except Exception as error:  # the answer stands; a follow-up will get a clear 404
            log_event("gateway", "response_store_failed", error=type(error).__name__, detail=str(error)[:200])


def _encode(events: list[ResponsesEvent]) -> bytes:
    return b"".join(encode_event(dumps(data), name) for name, data in events)


async def _stream(
    ctx: RequestContext,
    chat: ChatRequest,
    served: Served,
    translator: ChatToResponsesStream,
    saver: _Saver,
) -> AsyncIterator[bytes]:
    yield _encode(translator.start())
    if served.cached is not None:
        for chunk in openai_completion_to_chunks(served.cached.response, include_usage=True):
            yield _encode(translator.feed(chunk))
    else:
        _, chunks = open_relay(ctx, chat, served)
        decoder = SseDecoder()
        try:
            async for raw in chunks:
                out: list[ResponsesEvent] = []
                for event in decoder.feed(raw):
                    if event.data.strip() == "[DONE]":
                        continue
                    chunk = json.loads(event.data)
                    error = chunk.get("error")
                    if isinstance(error, dict):
                        yield _encode(out + translator.fail(str(error.get("message") or "upstream error")))
                        return
                    out.extend(translator.feed(chunk))
                if out:
                    yield _encode(out)
        finally:
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                await closer()  # the relay records usage however the stream ends
    yield _encode(translator.finish())
    if translator.response is not None:
        await saver.save(translator.response)
