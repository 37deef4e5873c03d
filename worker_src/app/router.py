"""Top-level request routing for the Default entrypoint."""

from __future__ import annotations

from .config import BuildInfo
from .health import healthz
from .http import HttpRequest, HttpResponse


async def handle(request: HttpRequest, build: BuildInfo) -> HttpResponse:
    if request.path == "/healthz" and request.method in ("GET", "HEAD"):
        return healthz(build)
    return HttpResponse.json({"error": {"message": f"no route for {request.method} {request.path}"}}, status=404)
