"""HTTP entry of the gateway: `/v1/*` routing, `/v1/models` and `/v1/usage`.

Error shape: Anthropic's for `/v1/messages` and for any request carrying `anthropic-version`
(what the Anthropic SDK sends); OpenAI's otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast
from urllib.parse import unquote

from ..http import HttpRequest, HttpResponse
from ..services import Services
from .auth import Principal, authenticate, authorize, client_ip_hash
from .chat import request_context, serve_chat
from .config import GatewayConfig, GatewayConfigError
from .errors import Api, GatewayError
from .log import log_event
from .models import list_models
from .state import ISOLATE, IsolateState
from .usage import GROUP_COLUMNS, GroupBy, KeyFilter, UsageQuery, aggregate, parse_time_bounded

CHAT_PATHS: dict[str, Api] = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}
MODEL_ENDPOINTS = ("/v1/responses", "/v1/embeddings", "/v1/messages/count_tokens")
DEFAULT_USAGE_WINDOW_S = 86_400


def _api_for(request: HttpRequest) -> Api:
    """Chat endpoints speak their own API; elsewhere the Anthropic SDK is known by `anthropic-version`."""
    path = request.path.rstrip("/")
    if path in CHAT_PATHS:
        return CHAT_PATHS[path]
    if path == "/v1/messages/count_tokens":
        return "anthropic"
    return "anthropic" if request.header("anthropic-version") else "openai"


async def handle_v1(
    request: HttpRequest, services: Services, state: IsolateState | None = None
) -> HttpResponse:
    state = state or ISOLATE
    api = _api_for(request)
    try:
        config = state.config.get(services.config)
    except GatewayConfigError as error:
        log_event("config_invalid", error=str(error))
        return GatewayError(503, "misconfigured", f"gateway misconfigured: {error}").to_response(api)
    if config is None or not config.enabled:
        return GatewayError(404, "not_found", "the AI gateway is not enabled on this stack").to_response(api)
    try:
        return await _route(request, services, config, state, api)
    except GatewayError as error:
        return error.to_response(api)
    except Exception as error:  # a bug: answer in the API's shape, log without bodies
        log_event("internal_error", path=request.path, error=type(error).__name__, detail=str(error)[:300])
        return GatewayError(500, "internal", "internal gateway error").to_response(api)


async def _route(
    request: HttpRequest, services: Services, config: GatewayConfig, state: IsolateState, api: Api
) -> HttpResponse:
    path, method = request.path.rstrip("/") or "/", request.method
    if path == "/v1/chat/completions" and method == "POST" and _asks_rag_model(request, services):
        return await _rag(request, services, config, as_chat=True)
    if path in CHAT_PATHS:
        if method != "POST":
            raise GatewayError(
                405, "method_not_allowed", f"{path} accepts POST only", headers={"allow": "POST"}
            )
        ctx = request_context(request, services, config, state, CHAT_PATHS[path])
        return await serve_chat(CHAT_PATHS[path], request, ctx)
    if path in MODEL_ENDPOINTS or path.startswith("/v1/responses/"):
        from .endpoints import serve_model_endpoint  # Responses, embeddings, count_tokens: on first use

        return await serve_model_endpoint(request, services, config, state, path)
    if path == "/v1/models" or path.startswith("/v1/models/"):
        if method not in ("GET", "HEAD"):
            raise GatewayError(
                405, "method_not_allowed", f"{path} accepts GET only", headers={"allow": "GET"}
            )
        principal = authenticate(config, request.headers)
        one = unquote(path.removeprefix("/v1/models").strip("/"))  # `@cf%2F...` from the SDKs
        return list_models(config, principal, api, one, _rag_model(services), services.ai is not None)
    if path == "/v1/documents" or path.startswith(("/v1/documents/", "/v1/rag/")):
        return await _rag(request, services, config)
    if path == "/v1/usage":
        if method not in ("GET", "HEAD"):
            raise GatewayError(
                405, "method_not_allowed", f"{path} accepts GET only", headers={"allow": "GET"}
            )
        principal = authenticate(config, request.headers)
        return await _usage(request, services, config, principal)
    if path.startswith(("/v1/agents/", "/v1/tools")) and path.split("/")[2] in ("agents", "tools"):
        from ..agents.routes import handle_agents_route  # on first use, like the gateway itself

        return await handle_agents_route(request, services, config)
    raise GatewayError(404, "not_found", f"no route for {method} {request.path}")


def _rag_model(services: Services) -> str | None:
    """`rag.expose_as_model`: the model name under which RAG answers chat completions."""
    rag = services.config.get("rag")
    if not isinstance(rag, Mapping) or rag.get("enabled") is False:
        return None
    name = rag.get("expose_as_model")
    return name if isinstance(name, str) else None


def _asks_rag_model(request: HttpRequest, services: Services) -> bool:
    name = _rag_model(services)
    return name is not None and f'"{name}"'.encode() in request.body and _body_model(request) == name


def _body_model(request: HttpRequest) -> object:
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body.get("model") if isinstance(body, dict) else None


async def _rag(
    request: HttpRequest, services: Services, config: GatewayConfig, *, as_chat: bool = False
) -> HttpResponse:
    from ..rag.errors import RagError
    from ..rag.http import handle_rag, handle_rag_chat  # on first use

    caller = await authorize(
        config, services, request.headers, client_ip_hash(config, services, request.client_ip)
    )
    try:
        if as_chat:
            return await handle_rag_chat(request, services, caller.principal, caller.tenant)
        return await handle_rag(
            request, services, caller.principal, caller.tenant, may_write=caller.may_write_documents
        )
    except RagError as error:
        raise GatewayError(error.status, error.kind, error.message, param=error.param) from None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


async def _usage(
    request: HttpRequest, services: Services, config: GatewayConfig, principal: Principal
) -> HttpResponse:
    db = services.d1.get(config.usage_binding) if config.usage_binding else None
    if db is None:
        raise GatewayError(404, "not_found", "usage logging is not configured (gateway.usage_binding)")
    query = request.query
    now_ms = int(services.clock() * 1000)
    until_ms = parse_time_bounded(query["until"], "until") if query.get("until") else now_ms
    since_ms = (
        parse_time_bounded(query["since"], "since")
        if query.get("since")
        else until_ms - DEFAULT_USAGE_WINDOW_S * 1000
    )
    if since_ms >= until_ms:
        raise GatewayError(
            400, "invalid_request", "query parameter since must be earlier than until", param="since"
        )
    group_by = query.get("group_by", "model")
    if group_by not in GROUP_COLUMNS:
        raise GatewayError(
            400,
            "invalid_request",
            f"query parameter group_by must be one of {', '.join(GROUP_COLUMNS)}; got {group_by!r}",
            param="group_by",
        )
    scope: KeyFilter
    if principal.key is None:
        scope, key_id = "anonymous", None
    elif principal.key.admin:
        scope, key_id = "all", None
    else:
        scope, key_id = "own", principal.key.name
    query_spec = UsageQuery(
        since_ms=since_ms,
        until_ms=until_ms,
        group_by=cast(GroupBy, group_by),
        key_filter=scope,
        key_id=key_id,
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
