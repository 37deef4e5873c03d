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


def _enabled(sections: Mapping[str, object], section: str) -> bool:
    value = sections.get(section)
    return isinstance(value, Mapping) and value.get("enabled", True) is not False


def index(services: Services) -> HttpResponse:
    config = services.config
    routes = ["GET /healthz"] + (["GET /demo"] if config.worker.demo_route else [])
    if config.error is None and _enabled(config.sections, "gateway"):
        routes += GATEWAY_ROUTES
        if _enabled(config.sections, "rag"):
            routes += RAG_ROUTES
        if _enabled(config.sections, "agents"):
            routes += AGENT_ROUTES
    return HttpResponse.json(
        {
            "service": "edgestack",
            "stack": services.build.stack,
            "bundle_version": services.build.bundle_version,
            "routes": routes,
        }
    )
