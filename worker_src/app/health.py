"""GET /healthz."""

from __future__ import annotations

from .config import BuildInfo
from .http import HttpResponse


def healthz(build: BuildInfo, backends: dict[str, str] | None = None) -> HttpResponse:
    payload: dict[str, object] = {
        "ok": True,
        "stack": build.stack,
        "bundle_version": build.bundle_version,
    }
    if backends:
        payload["backends"] = backends
    return HttpResponse.json(payload)
