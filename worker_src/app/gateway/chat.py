"""POST /v1/chat/completions and POST /v1/messages: validate, admit, cache, route, respond, record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..bindings import D1Database, KvNamespace, UpstreamError, close_stream
from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Principal, require_model
from ..web.errors import Api, ApiError, bad_request
from ..web.log import log_event
from ..web.request import json_body
from ..web.sse import DONE, SSE_HEADERS, encode_event
from . import budgets, cache
from .config import Candidate, GatewayConfig, Price, Route, RouteKind
from .dispatch import CallSpec, Dispatcher, Success, breaker_key
from .quotas import add_usage_statement, check_quota
from .relay import StreamRelay
from .state import IsolateState
from .strategies import (
    order_cheapest,
    order_fallback,
    order_fastest,
    order_weighted,
    request_random,
    stand_ins_last,
)
from .streams import anthropic_message_to_events, dumps, openai_completion_to_chunks
from .tokens import TokenUsage, cost_usd, estimate_completion_tokens, estimate_prompt_tokens, produced_usage
from .translate import JsonObject, anthropic_response_to_openai, openai_response_to_anthropic
from .usage import UsageRecord, clip_body, insert_statement


class ChatRequest(NamedTuple):
    api: Api
    body: JsonObject
    alias: str
    stream: bool
    include_usage: bool
    # A Responses API request's own body: sent as is to `kind: openai` providers (`/responses`);
    # every other provider gets `body`, the chat-completions translation.
    responses_body: JsonObject | None = None


@dataclass
class RequestContext:
    services: Services
    config: GatewayConfig
    state: IsolateState
    api: Api
    request_id: str
    started: float
    record: UsageRecord
    principal: Principal | None = None
    headers: dict[str, str] = field(default_factory=dict)  # x-edgestack-* for the response
    budget_holds: tuple[budgets.Hold, ...] = ()  # settled by finish_record

    @property
    def usage_db(self) -> D1Database | None:
        name = self.config.usage_binding
        return self.services.d1.get(name) if name else None

    @property
    def cache_kv(self) -> KvNamespace | None:
        name = self.config.cache_binding
        return self.services.kv.get(name) if name else None

    def elapsed_ms(self) -> int:
        return max(0, int((self.services.clock() - self.started) * 1000))


# ---------------------------------------------------------------- request validation


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_chat_request(api: Api, request: HttpRequest) -> ChatRequest:
    return validate_chat_body(api, json_body(request))


def validate_chat_body(api: Api, body: JsonObject) -> ChatRequest:
    """Check a chat request body (HTTP or in-process) and read what the pipeline needs from it."""
    model = body.get("model")
    if model is None:
        raise bad_request("missing required parameter: 'model'", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("'model' must be a non-empty string", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list", "messages")
    if not all(isinstance(m, dict) for m in messages):
        raise bad_request("every entry of 'messages' must be an object", "messages")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false", "stream")
    for name in ("temperature", "top_p"):
        if body.get(name) is not None and not _is_number(body[name]):
            raise bad_request(f"'{name}' must be a number", name)
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise bad_request(f"'{name}' must be a positive integer", name)
    if api == "anthropic" and body.get("max_tokens") is None:
        raise bad_request("missing required parameter: 'max_tokens'", "max_tokens", "missing_required_parameter")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object", "stream_options")
    include_usage = bool(api == "openai" and options and options.get("include_usage") is True)
    return ChatRequest(api=api, body=body, alias=model, stream=stream, include_usage=include_usage)


# ---------------------------------------------------------------- background writes


async def _run_batch(db: D1Database, statements: list[tuple[str, tuple[object, ...]]], what: str) -> None:
    try:
        await db.batch(statements)
    except Exception as error:  # a lost record must never break a response
        log_event(
            "gateway", "usage_write_failed", what=what, error=type(error).__name__, detail=str(error)[:200]
        )


def finish_record(
    ctx: RequestContext,
    status: int,
    *,
    error_kind: str | None = None,
    usage: TokenUsage | None = None,
    cost: float = 0.0,
    quota_tokens: int = 0,
) -> None:
    record = ctx.record
    record.status = status
    record.error_type = error_kind
    record.latency_ms = ctx.elapsed_ms()
    if usage is not None:
        record.input_tokens = usage.prompt_tokens
        record.output_tokens = usage.completion_tokens
        record.cached_tokens = usage.cached_tokens
        record.cost_usd = cost
    if ctx.budget_holds:
        holds, ctx.budget_holds = ctx.budget_holds, ()
        ctx.services.wait_until(budgets.settle(ctx.services, ctx.config, holds, record.cost_usd or 0.0))
    db = ctx.usage_db
    if db is None:
        return
    statements = [insert_statement(record)]
    key = ctx.principal.key if ctx.principal else None
    if key is not None and key.has_quota and quota_tokens > 0:
        statements.append(add_usage_statement(key, ctx.started, 0, quota_tokens))
    ctx.services.wait_until(_run_batch(db, statements, "usage"))


# ---------------------------------------------------------------- the pipeline


def order_candidates(
    route: Route, config: GatewayConfig, chat: ChatRequest, ctx: RequestContext
) -> list[Candidate]:
    return stand_ins_last(_strategy_order(route, config, chat, ctx), config.providers)


def _strategy_order(
    route: Route, config: GatewayConfig, chat: ChatRequest, ctx: RequestContext
) -> list[Candidate]:
    if route.strategy == "cheapest":
        return order_cheapest(
            route, config.providers, estimate_prompt_tokens(chat.body), estimate_completion_tokens(chat.body)
        )
    if route.strategy == "fastest":
        return order_fastest(route, ctx.state.latency.estimate_ms)
    if route.strategy == "weighted":
        return order_weighted(route, request_random(ctx.request_id))
    return order_fallback(route)


async def serve_chat(
    api: Api, request: HttpRequest, ctx: RequestContext, principal: Principal
) -> HttpResponse:
    """One HTTP chat request from an authorized caller; any error is recorded and answered."""
    try:
        return await _serve_chat(api, request, ctx, principal)
    except ApiError as error:
        return refuse(ctx, error)


def refuse(ctx: RequestContext, error: ApiError) -> HttpResponse:
    """Record a chat request that ends in `error` (rejected ones too) and answer it."""
    finish_record(ctx, error.status, error_kind=error.kind)
    return error.to_response(ctx.api, ctx.headers)


def admit(request: HttpRequest, ctx: RequestContext, principal: Principal) -> None:
    """What every model endpoint checks first: the caller (`ctx.principal`), then the body size."""
    config = ctx.config
    ctx.principal = principal
    ctx.record.key_id = principal.key_id
    if len(request.body) > config.max_body_bytes:
        raise ApiError(
            413,
            "request_too_large",
            f"request body is {len(request.body)} bytes; the limit is {config.max_body_bytes}",
            code="request_too_large",
        )


async def _serve_chat(
    api: Api, request: HttpRequest, ctx: RequestContext, principal: Principal
) -> HttpResponse:
    admit(request, ctx, principal)
    chat = parse_chat_request(api, request)
    served = await run_pipeline(ctx, chat, request.headers, request.body.decode("utf-8", "replace"))
    if served.cached is not None:
        return _cached_response(ctx, chat, served.cached)
    assert served.success is not None
    if chat.stream:
        _, chunks = open_relay(ctx, chat, served)
        return HttpResponse(status=200, headers={**SSE_HEADERS, **ctx.headers}, stream=chunks)
    _, body = complete_json(ctx, chat, served)
    return HttpResponse(status=200, headers={"content-type": "application/json", **ctx.headers}, body=body)


class Served(NamedTuple):
    """What the pipeline produced: a cache hit, or a successful upstream call still to be read."""

    route: Route
    decision: cache.CacheDecision
    cached: cache.CachedResponse | None = None
    success: Success | None = None


async def run_pipeline(
    ctx: RequestContext, chat: ChatRequest, headers: Mapping[str, str], request_text: str
) -> Served:
    """Route lookup, model permission, quota, cache lookup, candidate order, dispatch.

    Shared by the HTTP endpoints and in-process callers (`internal.py`); `ctx.principal` is set.
    Raises `ApiError`; the caller records it with `finish_record`.
    """
    config, services, principal = ctx.config, ctx.services, ctx.principal
    assert principal is not None
    ctx.record.alias = chat.alias
    ctx.record.stream = int(chat.stream)
    route = find_route(config, principal, chat.alias, "chat")
    await admit_quota(ctx)
    if config.log_bodies:
        ctx.record.request_body = clip_body(request_text)

    decision = cache.decide(
        route.cache, ctx.cache_kv is not None, chat.api, principal.scope, chat.alias, chat.body, headers
    )
    ctx.record.cache_status = decision.status
    ctx.headers["x-edgestack-cache"] = decision.status
    if decision.status == "MISS" and decision.key is not None and ctx.cache_kv is not None:
        cached = await cache.lookup(ctx.cache_kv, decision.key, chat.api)
        if cached is not None:
            _record_cached(ctx, chat, cached)
            return Served(route, decision, cached=cached)

    if route.strategy == "fastest":  # other isolates' latency summary, for candidates not measured here
        await ctx.state.latency.refresh_shared(
            ctx.cache_kv, [c.key for c in route.candidates], services.clock()
        )
    order = order_candidates(route, config, chat, ctx)
    ctx.budget_holds = await budgets.reserve(services, config, principal, order, chat.body, ctx.request_id)
    ctx.headers.update(budgets.remaining_header(ctx.budget_holds))
    dispatcher = Dispatcher(services, config, ctx.state.breakers, ctx.state.latency)
    call = CallSpec(
        api=chat.api,
        body=chat.body,
        stream=chat.stream,
        alias=chat.alias,
        headers=headers,
        request_id=ctx.request_id,
        responses_body=chat.responses_body,
    )
    success = await dispatcher.run(route, order, call)
    ctx.record.provider = success.candidate.provider
    ctx.record.model = success.candidate.model
    ctx.record.attempts = success.attempts
    ctx.headers.update(
        {
            "x-edgestack-provider": success.candidate.provider,
            "x-edgestack-model": success.candidate.model,
            "x-edgestack-attempts": str(success.attempts),
        }
    )
    return Served(route, decision, success=success)


def find_route(config: GatewayConfig, principal: Principal, alias: str, kind: RouteKind) -> Route:
    """The alias's route, if the key may use it and it serves `kind` (chat or embeddings)."""
    route = config.routes.get(alias)
    if route is None:
        known = ", ".join(
            sorted(
                a
                for a, r in config.routes.items()
                if r.kind == kind and (principal.key is None or principal.key.allows(a))
            )
        )
        raise ApiError(
            404,
            "not_found",
            f"model {alias!r} is not configured (available: {known or 'none'})",
            param="model",
            code="model_not_found",
        )
    require_model(principal, alias)
    if route.kind != kind:
        endpoint = "POST /v1/embeddings" if route.kind == "embeddings" else "a chat endpoint"
        raise ApiError(
            400,
            "invalid_request",
            f"model {alias!r} is an {route.kind} route and cannot serve {kind} requests; use {endpoint}",
            param="model",
            code="wrong_model_kind",
        )
    return route


async def admit_quota(ctx: RequestContext) -> None:
    key = ctx.principal.key if ctx.principal else None
    db = ctx.usage_db
    if key is None or not key.has_quota or db is None:
        return
    await check_quota(db, key, ctx.started)
    ctx.services.wait_until(_run_batch(db, [add_usage_statement(key, ctx.started, 1, 0)], "quota"))


def price_of(ctx: RequestContext, candidate: Candidate) -> Price | None:
    provider = ctx.config.providers.get(candidate.provider)
    return provider.prices.get(candidate.model) if provider else None


def _client_response(api: Api, success: Success, created: int) -> tuple[JsonObject, bytes, TokenUsage]:
    """The upstream's JSON in the client's API shape (passthrough bytes when the APIs match)."""
    parsed = success.parsed or {}
    if success.provider.api == "openai":
        usage = TokenUsage.from_openai(parsed.get("usage"))
        if api == "openai":
            return parsed, success.body, usage
        converted = openai_response_to_anthropic(parsed)
    else:
        usage = TokenUsage.from_anthropic(parsed.get("usage"))
        if api == "anthropic":
            return parsed, success.body, usage
        converted = anthropic_response_to_openai(parsed, created)
    return converted, dumps(converted).encode(), usage


def complete_json(ctx: RequestContext, chat: ChatRequest, served: Served) -> tuple[JsonObject, bytes]:
    """A non-streaming success: the response (client shape) and its bytes; caches and records it."""
    success, decision = served.success, served.decision
    assert success is not None
    response, body, usage = _client_response(chat.api, success, int(ctx.started))
    if decision.status == "MISS" and decision.key is not None and ctx.cache_kv is not None:
        entry = cache.CachedResponse(chat.api, success.candidate.provider, success.candidate.model, response)
        ctx.services.wait_until(cache.store(ctx.cache_kv, decision.key, decision.ttl_s, entry))
    if ctx.config.log_bodies:
        ctx.record.response_body = clip_body(body.decode("utf-8", "replace"))
    ctx.record.ttfb_ms = ctx.elapsed_ms()
    finish_record(
        ctx,
        200,
        usage=usage,
        cost=cost_usd(usage, price_of(ctx, success.candidate)),
        quota_tokens=usage.total_tokens,
    )
    return response, body


def _record_cached(ctx: RequestContext, chat: ChatRequest, cached: cache.CachedResponse) -> None:
    ctx.record.cache_status = "HIT"
    ctx.record.provider, ctx.record.model = cached.provider, cached.model
    ctx.headers.update(
        {
            "x-edgestack-cache": "HIT",
            "x-edgestack-provider": cached.provider,
            "x-edgestack-model": cached.model,
            "x-edgestack-attempts": "0",
        }
    )
    response = cached.response
    if chat.api == "openai":
        usage = TokenUsage.from_openai(response.get("usage"))
    else:
        usage = TokenUsage.from_anthropic(response.get("usage"))
    # A hit costs nothing upstream: the record keeps the tokens for reporting, at zero cost.
    finish_record(ctx, 200, usage=usage, cost=0.0, quota_tokens=0)


def _cached_response(ctx: RequestContext, chat: ChatRequest, cached: cache.CachedResponse) -> HttpResponse:
    response = cached.response
    if not chat.stream:
        return HttpResponse(
            status=200,
            headers={"content-type": "application/json", **ctx.headers},
            body=dumps(response).encode(),
        )
    if chat.api == "openai":
        payload = (
            b"".join(
                encode_event(dumps(chunk))
                for chunk in openai_completion_to_chunks(response, chat.include_usage)
            )
            + DONE
        )
    else:
        payload = b"".join(
            encode_event(dumps(data), name) for name, data in anthropic_message_to_events(response)
        )
    return HttpResponse(status=200, headers={**SSE_HEADERS, **ctx.headers}, stream=_once(payload))


async def _once(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


def open_relay(
    ctx: RequestContext,
    chat: ChatRequest,
    served: Served,
    on_chunk: Callable[[JsonObject], None] | None = None,
) -> tuple[StreamRelay, AsyncIterator[bytes]]:
    """A streaming success: the relay and the client's SSE bytes; records usage when the stream ends.
    `on_chunk` gets each client chunk as it is relayed (see `StreamRelay`)."""
    assert served.success is not None
    relay = StreamRelay(chat.api, served.success.provider.api, chat.include_usage, int(ctx.started), on_chunk)
    ctx.record.ttfb_ms = ctx.elapsed_ms()
    return relay, _relay(ctx, chat, served, relay)


async def _relay(
    ctx: RequestContext, chat: ChatRequest, served: Served, relay: StreamRelay
) -> AsyncIterator[bytes]:
    """Pass the upstream stream through as it arrives; record usage when it ends (however it ends)."""
    success = served.success
    assert success is not None and success.stream is not None and success.decoder is not None
    upstream, decoder = success.stream, success.decoder
    status, error_kind = 200, None
    try:
        out = b"".join(relay.process(event) for event in success.first_events)
        if out:
            yield out
        while not relay.upstream_done and not relay.errored:
            try:
                chunk = await upstream.__anext__()
            except StopAsyncIteration:
                tail = b"".join(relay.process(event) for event in decoder.flush())
                if tail:
                    yield tail
                break
            out = b"".join(relay.process(event) for event in decoder.feed(chunk))
            if out:
                yield out
        closing = relay.finish()
        if closing:
            yield closing
        if relay.errored:
            status, error_kind = 502, "upstream"
    except UpstreamError as error:
        status, error_kind = 502, "upstream"
        log_event(
            "gateway",
            "stream_interrupted",
            request_id=ctx.request_id,
            candidate=success.candidate.key,
            error=str(error)[:200],
        )
        yield relay.error("the upstream connection was lost during the stream")
    except (GeneratorExit, asyncio.CancelledError):
        status, error_kind = 499, "client_closed"  # the client went away
        raise
    except Exception as error:  # a gateway bug: end the stream with an error event, not a hang
        status, error_kind = 500, "internal"
        log_event(
            "gateway",
            "stream_failed",
            request_id=ctx.request_id,
            error=type(error).__name__,
            detail=str(error)[:200],
        )
        yield relay.error("internal gateway error during the stream")
    finally:
        await close_stream(upstream)
        _finish_stream(ctx, chat, served, relay, status, error_kind)


def _finish_stream(
    ctx: RequestContext,
    chat: ChatRequest,
    served: Served,
    relay: StreamRelay,
    status: int,
    error_kind: str | None,
) -> None:
    route, success, decision = served.route, served.success, served.decision
    assert success is not None
    if status == 502:
        ctx.state.breakers.record_failure(
            breaker_key(route.alias, success.candidate), route.breaker, ctx.services.clock()
        )
    usage = relay.usage
    complete = relay.complete and status == 200
    if not complete:  # a stream cut short still costs what the provider produced
        usage = produced_usage(usage, chat.body, relay.result())
    if complete and decision.status == "MISS" and decision.key is not None and ctx.cache_kv is not None:
        entry = cache.CachedResponse(
            chat.api, success.candidate.provider, success.candidate.model, relay.result()
        )
        ctx.services.wait_until(cache.store(ctx.cache_kv, decision.key, decision.ttl_s, entry))
    if ctx.config.log_bodies:
        ctx.record.response_body = clip_body(dumps(relay.result()))
    finish_record(
        ctx,
        status,
        error_kind=error_kind,
        usage=usage,
        cost=cost_usd(usage, price_of(ctx, success.candidate)),
        quota_tokens=usage.total_tokens,
    )
