"""HTTP entry of the gateway (placeholder until the full handler lands)."""

from __future__ import annotations

from ..http import HttpRequest, HttpResponse
from ..services import Services


async def handle_v1(request: HttpRequest, services: Services) -> HttpResponse:
    return HttpResponse.json({"error": {"message": f"no route for {request.method} {request.path}"}}, status=404)
