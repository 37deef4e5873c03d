"""Top-level request routing for the Default entrypoint."""

from __future__ import annotations

from .demo import demo, demo_objects
from .gateway import handle_v1
from .health import healthz
from .http import HttpRequest, HttpResponse
from .services import Services


async def handle(request: HttpRequest, services: Services) -> HttpResponse:
    if request.path == "/healthz" and request.method in ("GET", "HEAD"):
        return healthz(services.build, services.local_backends)
    if request.path.startswith("/v1/"):
        return await handle_v1(request, services)
    if request.path == "/demo":
        return await demo(request, services, demo_objects(services))
    return HttpResponse.json(
        {"error": {"message": f"no route for {request.method} {request.path}"}}, status=404
    )


async def handle_scheduled(cron: str, scheduled_time_ms: float, services: Services) -> None:
    """A Cron Trigger fired (`worker.crons`). No app module defines scheduled jobs yet, so this runs
    nothing; the entrypoint is wired so that jobs can be added here without touching entry.py."""
