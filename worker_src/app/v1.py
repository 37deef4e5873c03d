"""The `/v1` front door (and `/mcp`, which shares its keys): one route table, one authorization, one error shape.

Every `/v1` request goes through `handle_v1`: find the route (404 / 405 with `Allow` here), then
authorize the caller once (per-IP rate limit, virtual key, per-key rate limit: `web.auth.authorize`)
and hand the request, the services and the resolved `Caller` (key, tenant, rights) to the route's
handler. Errors are answered in the shape of the API the client speaks (`web.errors.error_api`).

A new route is one `V1Route` line in `ROUTES`. Handlers import their feature on first use, so an
isolate pays for RAG or agents only when it serves them (see app/router.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from .gateway.endpoints import count_tokens_route, embeddings_route, refuse_model_request, responses_route
from .gateway.http import budgets_route, chat_route, gateway_config, models_route, refuse_chat, usage_route
from .http import HttpRequest, HttpResponse
from .services import Services
from .web.auth import Caller, authorize, client_ip_hash
from .web.errors import ApiError, error_api
from .web.jsonbody import JsonBodyError, read_json
from .web.log import log_event
from .web.request import method_not_allowed

Handler = Callable[[HttpRequest, Services, Caller], Awaitable[HttpResponse]]
Refuse = Callable[[HttpRequest, Services, ApiError], HttpResponse]

GET = ("GET", "HEAD")
ANY: tuple[str, ...] = ()  # the handler answers 405 itself (it has sub-routes)


class V1Route(NamedTuple):
    path: str  # an exact path, or a prefix when it ends in "/"
    methods: tuple[str, ...]  # accepted methods; ANY leaves it to the handler
    handler: Handler
    refuse: Refuse | None = None  # answers a request the front door refused (default: the error)

    def matches(self, path: str) -> bool:
        return path.startswith(self.path) if self.path.endswith("/") else path == self.path


# ---------------------------------------------------------------- handlers (feature on first use)


def _rag_model(services: Services) -> str | None:
    """`rag.expose_as_model`: the model name under which RAG answers chat completions."""
    from .rag.config import rag_model

    return rag_model(services.config)


def _mentions_rag_model(request: HttpRequest, services: Services) -> bool:
    """Whether the body's bytes hold the RAG model's name; never parses (also used before the
    caller is authenticated)."""
    name = _rag_model(services)
    return name is not None and f'"{name}"'.encode() in request.body


def _asks_rag_model(request: HttpRequest, services: Services) -> bool:
    """Whether an authenticated caller's chat completion names the RAG model (the body is parsed)."""
    if not _mentions_rag_model(request, services):
        return False
    try:
        body = read_json(request.body)
    except JsonBodyError:
        return False  # the chat path answers with the 400 naming the problem
    return isinstance(body, dict) and body.get("model") == _rag_model(services)


async def _chat_completions(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    if _asks_rag_model(request, services):
        from .rag.http import handle_rag_chat

        return await handle_rag_chat(request, services, caller)
    return await chat_route(request, services, caller)


def _refuse_chat_completions(request: HttpRequest, services: Services, error: ApiError) -> HttpResponse:
    # Refused before authentication: the body is not parsed, its bytes are only searched.
    if _mentions_rag_model(request, services):
        return error.to_response("openai")
    return refuse_chat(request, services, error)


async def _models(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    return models_route(request, services, caller, _rag_model(services))


async def _rag(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    from .rag.http import handle_rag

    return await handle_rag(request, services, caller)


async def _agents(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    from .agents.routes import handle_agents_route

    return await handle_agents_route(request, services, caller)


async def _mcp(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    from .mcp.transport import handle_mcp

    return await handle_mcp(request, services, caller)


def _refuse_mcp(request: HttpRequest, services: Services, error: ApiError) -> HttpResponse:
    from .mcp.transport import refuse_mcp

    return refuse_mcp(request, services, error)


ROUTES: tuple[V1Route, ...] = (
    V1Route("/v1/chat/completions", ("POST",), _chat_completions, _refuse_chat_completions),
    V1Route("/v1/messages", ("POST",), chat_route, refuse_chat),
    V1Route("/v1/messages/count_tokens", ("POST",), count_tokens_route),
    V1Route("/v1/responses", ANY, responses_route, refuse_model_request),
    V1Route("/v1/responses/", ANY, responses_route, refuse_model_request),
    V1Route("/v1/embeddings", ("POST",), embeddings_route, refuse_model_request),
    V1Route("/v1/models", GET, _models),
    V1Route("/v1/models/", GET, _models),
    V1Route("/v1/usage", GET, usage_route),
    V1Route("/v1/budgets", GET, budgets_route),
    V1Route("/v1/documents", ANY, _rag),
    V1Route("/v1/documents/", ANY, _rag),
    V1Route("/v1/rag/", ANY, _rag),
    V1Route("/v1/agents/", ANY, _agents),
    V1Route("/v1/tools", ANY, _agents),
    V1Route("/v1/tools/", ANY, _agents),
    V1Route("/mcp", ("POST",), _mcp, _refuse_mcp),  # MCP (Streamable HTTP), same keys as /v1
)


# ---------------------------------------------------------------- the front door


def find_route(path: str, routes: tuple[V1Route, ...] = ROUTES) -> V1Route | None:
    return next((route for route in routes if route.matches(path)), None)


async def handle_v1(
    request: HttpRequest, services: Services, routes: tuple[V1Route, ...] = ROUTES
) -> HttpResponse:
    api = error_api(request)
    try:
        return await _dispatch(request, services, routes)
    except ApiError as error:
        return error.to_response(api)
    except Exception as error:  # a bug: answer in the API's shape, log without bodies
        log_event(
            "v1", "internal_error", path=request.path, error=type(error).__name__, detail=str(error)[:300]
        )
        return ApiError(500, "internal", "internal gateway error").to_response(api)


async def _dispatch(request: HttpRequest, services: Services, routes: tuple[V1Route, ...]) -> HttpResponse:
    access = gateway_config(services)  # keys, public flag and rate limits live in the gateway section
    if access is None or not access.enabled:
        raise ApiError(404, "not_found", "the AI gateway is not enabled on this stack")
    path = request.path.rstrip("/") or "/"
    route = find_route(path, routes)
    if route is None:
        raise ApiError(404, "not_found", f"no route for {request.method} {request.path}")
    if route.methods and request.method not in route.methods:
        raise method_not_allowed(path, *(m for m in route.methods if m != "HEAD"))
    try:
        caller = await authorize(
            access, services, request.headers, client_ip_hash(access, services, request.client_ip)
        )
    except ApiError as error:
        if route.refuse is None:
            raise
        return route.refuse(request, services, error)
    return await route.handler(request, services, caller)
