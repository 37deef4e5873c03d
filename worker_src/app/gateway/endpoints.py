"""The model endpoints beyond chat, behind the `/v1` front door (`app/v1.py`): the Responses API,
embeddings and Anthropic token counting. Each lives in its own module, imported on first use."""

from __future__ import annotations

from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Caller
from ..web.errors import ApiError
from .chat import refuse
from .http import request_context

RECORDED_AS = {"/v1/responses": "responses", "/v1/embeddings": "embeddings"}


async def responses_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """POST /v1/responses, GET and DELETE /v1/responses/{id}."""
    from .responses import serve_responses

    ctx = request_context(request, services, "openai", "responses")
    return await serve_responses(
        request, ctx, caller, request.path.rstrip("/").removeprefix("/v1/responses").strip("/")
    )


async def embeddings_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """POST /v1/embeddings."""
    from .embeddings import serve_embeddings

    return await serve_embeddings(request, request_context(request, services, "openai", "embeddings"), caller)


async def count_tokens_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    """POST /v1/messages/count_tokens."""
    from .count_tokens import serve_count_tokens

    return await serve_count_tokens(request, request_context(request, services, "anthropic"), caller)


def refuse_model_request(request: HttpRequest, services: Services, error: ApiError) -> HttpResponse:
    """A Responses or embeddings request the front door refused (no key, rate limit) is recorded too."""
    recorded_as = RECORDED_AS.get(request.path.rstrip("/"))
    if recorded_as is None:  # GET / DELETE /v1/responses/{id}: nothing to record
        return error.to_response("openai")
    return refuse(request_context(request, services, "openai", recorded_as), error)
