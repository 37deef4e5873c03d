"""The gateway's HTTP routes behind the `/v1` front door (`app/v1.py`): chat completions and
messages, `/v1/models` and `/v1/usage`. The caller arrives authorized."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Caller, Principal, client_ip_hash
from ..web.errors import Api, ApiError, error_api
from ..web.log import log_event
from .chat import RequestContext, refuse, serve_chat
from .config import GatewayConfig, GatewayConfigError
from .state import ISOLATE, IsolateState
from .usage import GROUP_COLUMNS, GroupBy, KeyFilter, UsageQuery, UsageRecord, aggregate, parse_time_bounded

CHAT_PATHS: dict[str, Api] = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}
DEFAULT_USAGE_WINDOW_S = 86_400
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def gateway_config(services: Services, state: IsolateState | None = None) -> GatewayConfig | None:
    """The parsed gateway section (None without one); 503 when it is unusable."""
    try:
        return (state or ISOLATE).config.get(services.config)
    except GatewayConfigError as error:
        log_event("gateway", "config_invalid", error=str(error))
        raise ApiError(503, "misconfigured", f"gateway misconfigured: {error}") from None


def _config(services: Services) -> GatewayConfig:
    config = gateway_config(services)
    if config is None or not config.enabled:
        raise ApiError(404, "not_found", "the AI gateway is not enabled on this stack")
    return config


def _request_id(request: HttpRequest, state: IsolateState, now: float) -> str:
    ray = request.header("cf-ray")
    if ray and _REQUEST_ID_OK.match(ray):
        return ray
    return state.new_request_id(now)


def _chat_context(request: HttpRequest, services: Services) -> RequestContext:
    config, state, api = _config(services), ISOLATE, CHAT_PATHS[request.path.rstrip("/")]
    now = services.clock()
    request_id = _request_id(request, state, now)
    record = UsageRecord(
        request_id=request_id,
        ts_ms=int(now * 1000),
        api=api,
        ip_hash=client_ip_hash(config, services, request.client_ip),
    )
    return RequestContext(
        services=services,
        config=config,
        state=state,
        api=api,
        request_id=request_id,
        started=now,
        record=record,
        headers={"x-edgestack-request-id": request_id},
    )


async def chat_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """POST /v1/chat/completions and POST /v1/messages."""
    ctx = _chat_context(request, services)
    return await serve_chat(ctx.api, request, ctx, caller.principal)


def refuse_chat(request: HttpRequest, services: Services, error: ApiError) -> HttpResponse:
    """A chat request the front door refused (no key, rate limit) is recorded like any other."""
    return refuse(_chat_context(request, services), error)


def models_route(
    request: HttpRequest, services: Services, caller: Caller, extra_model: str | None
) -> HttpResponse:
    """GET /v1/models[/<id>]: the aliases the caller may use, and `extra_model` (RAG's model name)."""
    one = request.path.rstrip("/").removeprefix("/v1/models").strip("/")
    return _models(_config(services), caller.principal, error_api(request), one, extra_model)


async def usage_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """GET /v1/usage."""
    return await _usage(request, services, _config(services), caller.principal)


def _models(
    config: GatewayConfig, principal: Principal, api: Api, one: str, rag_model: str | None = None
) -> HttpResponse:
    aliases = sorted(a for a in config.routes if principal.key is None or principal.key.allows(a))
    if rag_model is not None:
        aliases = sorted({*aliases, rag_model})
    if one:
        if one not in aliases:
            raise ApiError(
                404, "not_found", f"model {one!r} is not configured", param="model", code="model_not_found"
            )
        aliases = [one]
    if api == "anthropic":
        entries = [
            {"type": "model", "id": a, "display_name": a, "created_at": "1970-01-01T00:00:00Z"}
            for a in aliases
        ]
        if one:
            return HttpResponse.json(entries[0])
        return HttpResponse.json(
            {
                "data": entries,
                "has_more": False,
                "first_id": aliases[0] if aliases else None,
                "last_id": aliases[-1] if aliases else None,
            }
        )
    models: list[dict[str, object]] = [
        {"id": a, "object": "model", "created": 0, "owned_by": "edgestack"} for a in aliases
    ]
    if one:
        return HttpResponse.json(models[0])
    return HttpResponse.json({"object": "list", "data": models})


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


async def _usage(
    request: HttpRequest, services: Services, config: GatewayConfig, principal: Principal
) -> HttpResponse:
    db = services.d1.get(config.usage_binding) if config.usage_binding else None
    if db is None:
        raise ApiError(404, "not_found", "usage logging is not configured (gateway.usage_binding)")
    query = request.query
    now_ms = int(services.clock() * 1000)
    until_ms = parse_time_bounded(query["until"], "until") if query.get("until") else now_ms
    since_ms = (
        parse_time_bounded(query["since"], "since")
        if query.get("since")
        else until_ms - DEFAULT_USAGE_WINDOW_S * 1000
    )
    if since_ms >= until_ms:
        raise ApiError(
            400, "invalid_request", "query parameter since must be earlier than until", param="since"
        )
    group_by = query.get("group_by", "model")
    if group_by not in GROUP_COLUMNS:
        raise ApiError(
            400,
            "invalid_request",
            f"query parameter group_by must be one of {', '.join(GROUP_COLUMNS)}; got {group_by!r}",
            param="group_by",
        )
    scope: KeyFilter
    key, tenant_keys = principal.key, ()
    if key is None:
        scope, key_id = "anonymous", None
    elif key.operator:
        scope, key_id = "all", None
    elif key.admin:  # a tenant admin: the keys of its own scope, never another tenant's
        scope, key_id = "tenant", None
        tenant_keys = tuple(sorted(k.name for k in config.keys_by_hash.values() if k.scope == key.scope))
    else:
        scope, key_id = "own", key.name
    query_spec = UsageQuery(
        since_ms=since_ms,
        until_ms=until_ms,
        group_by=cast(GroupBy, group_by),
        key_filter=scope,
        key_id=key_id,
        tenant_key_ids=tenant_keys,
    )
    rows = await aggregate(db, query_spec)
    return HttpResponse.json(
        {
            "object": "usage",
            "since": _iso(since_ms),
            "until": _iso(until_ms),
            "group_by": group_by,
            "scope": scope,
            "data": rows,
        }
    )
