"""HTTP entry of the gateway: `/v1/*` routing, `/v1/models` and `/v1/usage`.

Error shape: Anthropic's for `/v1/messages` and for any request carrying `anthropic-version`
(what the Anthropic SDK sends); OpenAI's otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ..http import HttpRequest, HttpResponse
from ..services import Services
from .auth import Principal, authenticate, authorize, client_ip_hash
from .chat import RequestContext, serve_chat
from .config import GatewayConfig, GatewayConfigError
from .errors import Api, GatewayError
from .log import log_event
from .state import ISOLATE, IsolateState
from .usage import UsageRecord

CHAT_PATHS: dict[str, Api] = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _api_for(request: HttpRequest) -> Api:
    """Chat endpoints speak their own API; elsewhere the Anthropic SDK is known by `anthropic-version`."""
    path = request.path.rstrip("/")
    if path in CHAT_PATHS:
        return CHAT_PATHS[path]
    return "anthropic" if request.header("anthropic-version") else "openai"


def _request_id(request: HttpRequest, state: IsolateState, now: float) -> str:
    ray = request.header("cf-ray")
    if ray and _REQUEST_ID_OK.match(ray):
        return ray
    return state.new_request_id(now)


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
        now = services.clock()
        request_id = _request_id(request, state, now)
        record = UsageRecord(
            request_id=request_id,
            ts_ms=int(now * 1000),
            api=CHAT_PATHS[path],
            ip_hash=client_ip_hash(config, services, request.client_ip),
        )
        ctx = RequestContext(
            services=services,
            config=config,
            state=state,
            api=CHAT_PATHS[path],
            request_id=request_id,
            started=now,
            record=record,
            headers={"x-edgestack-request-id": request_id},
        )
        return await serve_chat(CHAT_PATHS[path], request, ctx)
    if path == "/v1/models" or path.startswith("/v1/models/"):
        if method not in ("GET", "HEAD"):
            raise GatewayError(
                405, "method_not_allowed", f"{path} accepts GET only", headers={"allow": "GET"}
            )
        principal = authenticate(config, request.headers)
        return _models(
            config, principal, api, path.removeprefix("/v1/models").strip("/"), _rag_model(services)
        )
    if path == "/v1/documents" or path.startswith(("/v1/documents/", "/v1/rag/")):
        return await _rag(request, services, config)
    if path == "/v1/usage":
        if method not in ("GET", "HEAD"):
            raise GatewayError(
                405, "method_not_allowed", f"{path} accepts GET only", headers={"allow": "GET"}
            )
        principal = authenticate(config, request.headers)
        return await _usage(request, services, config, principal)
    if path == "/v1/budgets":
        from .budgets import handle_budgets  # on first use

        if method not in ("GET", "HEAD"):
            raise GatewayError(
                405, "method_not_allowed", f"{path} accepts GET only", headers={"allow": "GET"}
            )
        principal = authenticate(config, request.headers)
        return await handle_budgets(
            request, services, config, principal, bool(principal.key and principal.key.operator)
        )
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


def _models(
    config: GatewayConfig, principal: Principal, api: Api, one: str, rag_model: str | None = None
) -> HttpResponse:
    aliases = sorted(a for a in config.routes if principal.key is None or principal.key.allows(a))
    if rag_model is not None:
        aliases = sorted({*aliases, rag_model})
    if one:
        if one not in aliases:
            raise GatewayError(
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


async def _usage(
    request: HttpRequest, services: Services, config: GatewayConfig, principal: Principal
) -> HttpResponse:
    from .usage_report import usage_response  # on first use

    return await usage_response(request, services, config, principal)
