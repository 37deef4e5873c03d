"""GET /: a short JSON index of what this Worker serves (the sections its stack enables)."""

from __future__ import annotations

from collections.abc import Mapping

from .http import HttpResponse
from .services import Services

GATEWAY_ROUTES = (
    "POST /v1/chat/completions",
    "POST /v1/messages",
    "GET /v1/models",
    "GET /v1/usage",
)
RAG_ROUTES = ("PUT /v1/documents/{id}", "GET /v1/documents", "POST /v1/rag/search", "POST /v1/rag/query")
AGENT_ROUTES = ("POST /v1/agents/{id}/messages", "POST /v1/agents/{id}/approvals/{call_id}", "GET /v1/tools")


def _enabled(config: Mapping[str, object], section: str) -> bool:
    value = config.get(section)
    return isinstance(value, Mapping) and value.get("enabled", True) is not False


def index(services: Services) -> HttpResponse:
    routes = ["GET /healthz", "GET /demo"]
    gateway = _enabled(services.config, "gateway")
    if gateway:
        routes += GATEWAY_ROUTES
        if _enabled(services.config, "rag"):
            routes += RAG_ROUTES
        if _enabled(services.config, "agents"):
            routes += AGENT_ROUTES
    return HttpResponse.json(
        {
            "service": "edgestack",
            "stack": services.build.stack,
            "bundle_version": services.build.bundle_version,
            "routes": routes,
        }
    )
