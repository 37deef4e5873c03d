"""GET /healthz."""

from __future__ import annotations

from collections.abc import Mapping

from .config import BuildInfo
from .http import HttpResponse


def healthz(build: BuildInfo, backends: Mapping[str, str] | None = None) -> HttpResponse:
    """`backends` (binding kind -> local backend) is reported only under `edgestack dev`."""
    payload: dict[str, object] = {
        "ok": True,
        "stack": build.stack,
        "bundle_version": build.bundle_version,
    }
    if backends:
        payload["backends"] = dict(backends)
    return HttpResponse.json(payload)
