"""Cloudflare entrypoints. These classes only adapt; the logic lives in `app/`."""

from workers import DurableObject, Response, WorkerEntrypoint

from app.config import STACK_BINDING, VERSION_BINDING, BuildInfo
from app.http import HttpRequest, HttpResponse
from app.router import handle


def _build_info(env) -> BuildInfo:
    return BuildInfo(
        stack=str(getattr(env, STACK_BINDING, "") or ""),
        bundle_version=str(getattr(env, VERSION_BINDING, "") or "dev"),
    )


async def _to_http_request(request) -> HttpRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = b""
    if request.method not in ("GET", "HEAD"):
        body = bytes(await request.bytes())
    return HttpRequest(
        method=request.method,
        url=request.url,
        headers=headers,
        body=body,
        client_ip=headers.get("cf-connecting-ip", ""),
    )


def _to_response(response: HttpResponse) -> Response:
    return Response(response.body, status=response.status, headers=response.headers)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        http_request = await _to_http_request(request)
        return _to_response(await handle(http_request, _build_info(self.env)))


class AgentState(DurableObject):
    """Agent state; later issues move its logic into `app.agents`."""

    async def fetch(self, request):
        return Response.from_json({"ok": True})
