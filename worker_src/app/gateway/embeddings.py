"""POST /v1/embeddings (OpenAI format: https://platform.openai.com/docs/api-reference/embeddings).

`model` is either
- a Workers AI embedding model by its `@cf/...` name, run through the AI binding in calls of at most
  100 texts (`web.embedding.embed_batches`, shared with RAG: batching and retries; locally the runtime's
  embedding sidecar or hashing floor), or
- a route alias of `kind: embeddings`, whose candidates (openai / openai-compatible providers'
  embedding models, or workers-ai ones) are dispatched like chat: fallbacks, retries, breakers.

Either way the key's model permissions and daily quota apply and one usage record is written
(`api = 'embeddings'`, cost from the provider's `prices`); route aliases also use the route's cache.
Vectors go back as floats or, with `encoding_format: "base64"` (the OpenAI SDK's default), as
base64 of little-endian float32, as OpenAI sends them.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..bindings import UpstreamError
from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Caller, require_model
from ..web.embedding import WORKERS_AI_EMBEDDING_DIMENSIONS, embed_batches
from ..web.errors import ApiError
from ..web.request import json_body
from . import budgets, cache
from .chat import (
    ChatRequest,
    RequestContext,
    admit,
    admit_quota,
    find_route,
    finish_record,
    order_candidates,
)
from .config import Candidate
from .dispatch import CallSpec, Dispatcher
from .tokens import CHARS_PER_TOKEN, TokenUsage, cost_usd
from .translate import JsonObject, dumps

ACCEPTED_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})
MAX_INPUTS = 2048  # OpenAI's limit per request
WORKERS_AI_PROVIDER = "workers-ai"  # the provider name recorded for `@cf/...` models called directly


def _bad(message: str, param: str, code: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param, code=code)


class EmbeddingsRequest(NamedTuple):
    model: str
    texts: list[str]
    encoding: str  # float | base64
    dimensions: int | None


def parse_embeddings_body(body: JsonObject) -> EmbeddingsRequest:
    unknown = sorted(set(body) - ACCEPTED_FIELDS)
    if unknown:
        raise _bad(f"'{unknown[0]}' is not a parameter of /v1/embeddings", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' must be a non-empty string", "model")
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list):
        if not raw:
            raise _bad("'input' must not be an empty list", "input")
        if not all(isinstance(text, str) for text in raw):
            raise _bad(
                "'input' must be a string or a list of strings (token arrays are not supported)", "input"
            )
        texts = list(raw)
    else:
        raise _bad("'input' must be a string or a list of strings", "input")
    if len(texts) > MAX_INPUTS:
        raise _bad(f"'input' holds {len(texts)} texts; the limit is {MAX_INPUTS}", "input")
    for index, text in enumerate(texts):
        if not text:
            raise _bad(f"input[{index}] must not be empty", f"input[{index}]")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad(f"'encoding_format' must be float or base64; got {encoding!r}", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise _bad("'dimensions' must be a positive integer", "dimensions")
    return EmbeddingsRequest(model=model, texts=texts, encoding=str(encoding), dimensions=dimensions)


def estimate_tokens(texts: list[str]) -> int:
    return sum(max(1, len(text) // CHARS_PER_TOKEN) for text in texts)


def embeddings_list(model: str, vectors: list[list[float]], prompt_tokens: int) -> JsonObject:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


async def workers_ai_embeddings(
    services: Services, model: str, texts: list[str], dimensions: int | None
) -> JsonObject:
    """Vectors from a Workers AI embedding model, in OpenAI's list shape (tokens estimated)."""

    native = WORKERS_AI_EMBEDDING_DIMENSIONS.get(model)
    if native is None:
        known = ", ".join(sorted(WORKERS_AI_EMBEDDING_DIMENSIONS))
        raise _bad(
            f"model {model!r} is not a Workers AI embedding model (known: {known})",
            "model",
            "wrong_model_kind",
        )
    if dimensions is not None and dimensions != native:
        raise _bad(
            f"'dimensions': {model} produces {native}-dimensional vectors and cannot shorten them",
            "dimensions",
        )
    try:
        vectors = await embed_batches(services.ai, model, texts, services.sleep)
    except ApiError as error:
        if error.status < 500:
            raise _bad(error.message, "input") from None
        raise UpstreamError(error.message) from None
    return embeddings_list(model, vectors, estimate_tokens(texts))


def _encode(vectors: list[list[float]], encoding: str) -> list[Any]:
    if encoding == "float":
        return list(vectors)
    return [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]


def _vectors(result: Mapping[str, Any], count: int, where: str) -> list[list[float]]:
    data = result.get("data")
    if not isinstance(data, list) or len(data) != count:
        raise ApiError(
            502,
            "upstream",
            f"{where} answered {len(data) if isinstance(data, list) else 'no'} embeddings for {count} inputs",
        )
    ordered = sorted(data, key=lambda item: int(item.get("index", 0)) if isinstance(item, dict) else 0)
    vectors = []
    for item in ordered:
        vector = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(vector, list):
            raise ApiError(502, "upstream", f"{where} answered an embedding that is not a list of floats")
        vectors.append([float(x) for x in vector])
    return vectors


async def serve_embeddings(request: HttpRequest, ctx: RequestContext, caller: Caller) -> HttpResponse:
    try:
        admit(request, ctx, caller.principal)
        return await _serve(request, ctx)
    except ApiError as error:
        finish_record(ctx, error.status, error_kind=error.kind)
        return error.to_response("openai", ctx.headers)


async def _serve(request: HttpRequest, ctx: RequestContext) -> HttpResponse:
    parsed = parse_embeddings_body(json_body(request))
    ctx.record.alias = parsed.model
    if parsed.model.startswith("@cf/"):
        result, candidate = (
            await _workers_ai_direct(ctx, parsed),
            Candidate(WORKERS_AI_PROVIDER, parsed.model, 1),
        )
    else:
        result, candidate = await _routed(ctx, parsed, request.headers)
    vectors = _vectors(result, len(parsed.texts), candidate.key)
    usage = TokenUsage.from_openai(result.get("usage"))
    if usage.prompt_tokens == 0:
        usage = TokenUsage(prompt_tokens=estimate_tokens(parsed.texts))
    ctx.record.provider, ctx.record.model = candidate.provider, candidate.model
    ctx.headers.update({"x-edgestack-provider": candidate.provider, "x-edgestack-model": candidate.model})
    provider = ctx.config.providers.get(candidate.provider)
    price = provider.prices.get(candidate.model) if provider else None
    cost = 0.0 if ctx.record.cache_status == "HIT" else cost_usd(usage, price)
    quota_tokens = 0 if ctx.record.cache_status == "HIT" else usage.total_tokens
    finish_record(ctx, 200, usage=usage, cost=cost, quota_tokens=quota_tokens)
    response = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": v}
            for i, v in enumerate(_encode(vectors, parsed.encoding))
        ],
        "model": parsed.model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }
    return HttpResponse(
        status=200, headers={"content-type": "application/json", **ctx.headers}, body=dumps(response).encode()
    )


async def _workers_ai_direct(ctx: RequestContext, parsed: EmbeddingsRequest) -> JsonObject:
    assert ctx.principal is not None
    require_model(ctx.principal, parsed.model)
    if ctx.services.ai is None:
        raise ApiError(503, "misconfigured", f"{parsed.model} needs the Workers AI binding (not bound)")
    await admit_quota(ctx)
    ctx.headers["x-edgestack-attempts"] = "1"
    ctx.record.attempts = 1
    try:
        return await workers_ai_embeddings(ctx.services, parsed.model, parsed.texts, parsed.dimensions)
    except UpstreamError as error:
        raise ApiError(502, "upstream", f"Workers AI embedding failed: {error}") from None


async def _routed(
    ctx: RequestContext, parsed: EmbeddingsRequest, headers: Mapping[str, str]
) -> tuple[JsonObject, Candidate]:
    principal = ctx.principal
    assert principal is not None
    route = find_route(ctx.config, principal, parsed.model, "embeddings")
    await admit_quota(ctx)
    body: JsonObject = {"model": parsed.model, "input": parsed.texts}
    if parsed.dimensions is not None:
        body["dimensions"] = parsed.dimensions
    # Embeddings are deterministic: the route's max_temperature does not apply.
    policy = route.cache._replace(max_temperature=None)
    kv = ctx.cache_kv
    decision = cache.decide(policy, kv is not None, "openai", principal.scope, parsed.model, body, headers)
    ctx.record.cache_status = decision.status
    ctx.headers["x-edgestack-cache"] = decision.status
    if decision.status == "MISS" and decision.key is not None and kv is not None:
        cached = await cache.lookup(kv, decision.key, "openai")
        if cached is not None:
            ctx.record.cache_status = "HIT"
            ctx.headers.update({"x-edgestack-cache": "HIT", "x-edgestack-attempts": "0"})
            return cached.response, Candidate(cached.provider, cached.model, 1)
    chat = ChatRequest(api="openai", body=body, alias=parsed.model, stream=False, include_usage=False)
    order = order_candidates(route, ctx.config, chat, ctx)
    # Dollar budgets hold the most this call can cost, as for chat; finish_record settles them.
    ctx.budget_holds = await budgets.reserve(ctx.services, ctx.config, principal, order, body, ctx.request_id)
    ctx.headers.update(budgets.remaining_header(ctx.budget_holds))
    dispatcher = Dispatcher(ctx.services, ctx.config, ctx.state.breakers, ctx.state.latency)
    call = CallSpec("openai", body, False, parsed.model, headers, ctx.request_id, endpoint="embeddings")
    success = await dispatcher.run(route, order, call)
    ctx.record.attempts = success.attempts
    ctx.headers["x-edgestack-attempts"] = str(success.attempts)
    result = success.parsed or {}
    _vectors(result, len(parsed.texts), success.candidate.key)  # a malformed answer is never cached
    if decision.status == "MISS" and decision.key is not None and kv is not None:
        entry = cache.CachedResponse("openai", success.candidate.provider, success.candidate.model, result)
        ctx.services.wait_until(cache.store(kv, decision.key, decision.ttl_s, entry))
    return result, success.candidate
