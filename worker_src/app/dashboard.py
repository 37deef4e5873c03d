"""`GET /dashboard`: the usage dashboard, one page served by the Worker.

Its style and script are inline and allowed by hash in a strict Content-Security-Policy: nothing else
loads, and the page talks only to its own origin (`connect-src 'self'`). It holds no data: it signs in
with a pasted key (kept in `sessionStorage`) and reads `/v1/usage?scope=tenant` (admin keys only) and
`/v1/budgets`, so a script can read the same figures.
"""

from __future__ import annotations

import base64
import hashlib

from .http import HttpRequest, HttpResponse

_PAGE: tuple[bytes, str] | None = None


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _page() -> tuple[bytes, str]:
    """The page and its CSP, built on the first request of an isolate."""
    global _PAGE
    if _PAGE is None:
        from .dashboard_page import BODY, SCRIPT, STYLE

        html = (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">'
            "<title>edgestack usage</title>"
            f"<style>{STYLE}</style></head><body>{BODY}<script>{SCRIPT}</script></body></html>"
        )
        csp = (
            f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        _PAGE = (html.encode(), csp)
    return _PAGE


def dashboard(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse.json(
            {"error": {"message": "/dashboard accepts GET only"}}, status=405, headers={"allow": "GET"}
        )
    body, csp = _page()
    return HttpResponse(
        status=200,
        headers={
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": csp,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
            "x-frame-options": "DENY",
        },
        body=b"" if request.method == "HEAD" else body,
    )
