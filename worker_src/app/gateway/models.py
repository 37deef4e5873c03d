"""GET /v1/models and /v1/models/{id}: what a caller may ask for, and whether it is chat or embeddings.

Entries: the route aliases the key may use (`kind` from the route), RAG's `expose_as_model` (chat),
and, when the Workers AI binding is bound and the key is not limited to listed aliases, the Workers
AI embedding models by their `@cf/...` names (`kind: embeddings`). OpenAI's list shape, or
Anthropic's when the request carries `anthropic-version`; both carry the extra `kind` field.
"""

from __future__ import annotations

from ..http import HttpResponse
from ..web.auth import Principal
from ..web.embedding import WORKERS_AI_EMBEDDING_DIMENSIONS
from ..web.errors import Api, ApiError
from .config import GatewayConfig


def model_kinds(
    config: GatewayConfig, principal: Principal, rag_model: str | None, has_ai: bool
) -> dict[str, str]:
    key = principal.key
    kinds = {alias: route.kind for alias, route in config.routes.items() if key is None or key.allows(alias)}
    if rag_model is not None:
        kinds[rag_model] = "chat"
    if has_ai and (key is None or not key.allowed_models):
        kinds.update(dict.fromkeys(WORKERS_AI_EMBEDDING_DIMENSIONS, "embeddings"))
    return dict(sorted(kinds.items()))


def list_models(
    config: GatewayConfig, principal: Principal, api: Api, one: str, rag_model: str | None, has_ai: bool
) -> HttpResponse:
    kinds = model_kinds(config, principal, rag_model, has_ai)
    if one:
        if one not in kinds:
            raise ApiError(
                404, "not_found", f"model {one!r} is not configured", param="model", code="model_not_found"
            )
        kinds = {one: kinds[one]}
    ids = list(kinds)
    if api == "anthropic":
        entries = [
            {"type": "model", "id": i, "display_name": i, "created_at": "1970-01-01T00:00:00Z", "kind": k}
            for i, k in kinds.items()
        ]
        if one:
            return HttpResponse.json(entries[0])
        return HttpResponse.json(
            {
                "data": entries,
                "has_more": False,
                "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None,
            }
        )
    models = [
        {"id": i, "object": "model", "created": 0, "owned_by": "edgestack", "kind": k}
        for i, k in kinds.items()
    ]
    if one:
        return HttpResponse.json(models[0])
    return HttpResponse.json({"object": "list", "data": models})
