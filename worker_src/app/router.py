"""Top-level request routing for the Default entrypoint."""

from __future__ import annotations

from .gateway import handle_v1
from .health import healthz
from .http import HttpRequest, HttpResponse
from .services import Services


async def handle(request: HttpRequest, services: Services) -> HttpResponse:
    if request.path == "/healthz" and request.method in ("GET", "HEAD"):
        return healthz(services.build)
    if request.path.startswith("/v1/"):
        return await handle_v1(request, services)
    return HttpResponse.json({"error": {"message": f"no route for {request.method} {request.path}"}}, status=404)
