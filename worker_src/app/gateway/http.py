"""The gateway's HTTP routes behind the `/v1` front door (`app/v1.py`): chat completions and
messages, `/v1/models`, `/v1/usage` and `/v1/budgets`. The caller arrives authorized."""

from __future__ import annotations

import re
from urllib.parse import unquote

from ..config import ConfigError
from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Caller, Principal, client_ip_hash
from ..web.errors import Api, ApiError, error_api
from ..web.log import log_event
from .chat import RequestContext, refuse, serve_chat
from .config import GatewayConfig
from .state import ISOLATE, IsolateState
from .usage import UsageRecord

CHAT_PATHS: dict[str, Api] = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def gateway_config(services: Services, state: IsolateState | None = None) -> GatewayConfig | None:
    """The parsed gateway section (None without one); 503 when it is unusable."""
    try:
        return (state or ISOLATE).config.get(services.config)
    except ConfigError as error:
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


def request_context(
    request: HttpRequest, services: Services, api: Api, record_api: str | None = None
) -> RequestContext:
    """A model endpoint's context: request id (`cf-ray` when usable), usage record (`api` is the
    client's API unless `record_api` names the endpoint, e.g. `responses`), response headers."""
    config, state = _config(services), ISOLATE
    now = services.clock()
    request_id = _request_id(request, state, now)
    record = UsageRecord(
        request_id=request_id,
        ts_ms=int(now * 1000),
        api=record_api or api,
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


def _chat_context(request: HttpRequest, services: Services) -> RequestContext:
    return request_context(request, services, CHAT_PATHS[request.path.rstrip("/")])


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
    from .models import list_models

    one = unquote(request.path.rstrip("/").removeprefix("/v1/models").strip("/"))  # `@cf%2F...` from SDKs
    config = _config(services)
    return list_models(
        config, caller.principal, error_api(request), one, extra_model, services.ai is not None
    )


async def usage_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """GET /v1/usage."""
    return await _usage(request, services, _config(services), caller.principal)


async def _usage(
    request: HttpRequest, services: Services, config: GatewayConfig, principal: Principal
) -> HttpResponse:
    from .usage_report import usage_response  # on first use

    return await usage_response(request, services, config, principal)


async def budgets_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """GET /v1/budgets."""
    from .budgets import handle_budgets  # on first use

    principal = caller.principal
    operator = bool(principal.key and principal.key.operator)
    return await handle_budgets(request, services, _config(services), principal, operator)
