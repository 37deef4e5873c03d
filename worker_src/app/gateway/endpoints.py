"""The model endpoints beyond chat: the Responses API, embeddings and Anthropic token counting.

One hook for the `/v1` front door; each endpoint lives in its own module, imported on first use.
"""

from __future__ import annotations

from ..http import HttpRequest, HttpResponse
from ..services import Services
from .chat import request_context
from .config import GatewayConfig
from .state import IsolateState


async def serve_model_endpoint(
    request: HttpRequest, services: Services, config: GatewayConfig, state: IsolateState, path: str
) -> HttpResponse:
    """`path` is `/v1/responses[/{id}]`, `/v1/embeddings` or `/v1/messages/count_tokens`."""
    if path == "/v1/embeddings":
        from .embeddings import serve_embeddings

        return await serve_embeddings(
            request, request_context(request, services, config, state, "openai", "embeddings")
        )
    if path == "/v1/messages/count_tokens":
        from .count_tokens import serve_count_tokens

        return await serve_count_tokens(
            request, request_context(request, services, config, state, "anthropic")
        )
    from .responses import serve_responses

    ctx = request_context(request, services, config, state, "openai", "responses")
    return await serve_responses(request, ctx, path.removeprefix("/v1/responses").strip("/"))
