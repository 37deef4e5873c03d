"""Top-level request routing for the Default entrypoint.

The `/v1` front door (and behind it the gateway) and the demo are imported on their first request, not at start-up: under Pyodide
their import is mostly compiling source (the bundle carries no .pyc), and an isolate that never
serves them (a Durable Object, a stack with the gateway off) should not pay for it. Measured in
bench/runtime.py; see docs/benchmarks.md.
"""

from __future__ import annotations

from .health import healthz
from .http import HttpRequest, HttpResponse
from .services import Services

SIMPLE_ROUTES = ("/healthz", "/")


async def handle(request: HttpRequest, services: Services) -> HttpResponse:
    if request.path in SIMPLE_ROUTES:
        if request.method not in ("GET", "HEAD"):
            return HttpResponse.json(
                {"error": {"message": f"{request.path} accepts GET and HEAD only"}},
                status=405,
                headers={"allow": "GET, HEAD"},
            )
        if request.path == "/healthz":
            return healthz(services.build, services.local_backends)
        from .index import index

        return index(services)
    if services.config.error is not None:  # e.g. a config version this Worker does not read
        return HttpResponse.json(
            {"error": {"message": f"misconfigured: {services.config.error}", "type": "misconfigured"}},
            status=503,
        )
    if request.path.startswith("/v1/") or request.path.rstrip("/") == "/mcp":
        from .v1 import handle_v1

        return await handle_v1(request, services)
    if request.path == "/dashboard":
        from .dashboard import dashboard

        return dashboard(request)
    if request.path == "/demo" and services.config.worker.demo_route:  # worker.demo_route: local stacks
        from .demo import demo, demo_objects

        return await demo(request, services, demo_objects(services))
    return HttpResponse.json(
        {"error": {"message": f"no route for {request.method} {request.path}"}}, status=404
    )


async def handle_scheduled(cron: str, scheduled_time_ms: float, services: Services) -> None:
    """A Cron Trigger fired (`worker.crons`). No feature defines a scheduled job yet, so the run is
    logged (Workers Logs) and nothing else happens; a job is added here, not in entry.py."""
    from .web.log import log_event  # on first use

    log_event("cron", "triggered", cron_expression=cron, scheduled_time_ms=int(scheduled_time_ms), stack=services.build.stack)
