"""Cloudflare entrypoints. These classes only adapt; the logic lives in `app/`."""

import json

import js_bindings as edge
from app.config import CONFIG_BINDING, STACK_BINDING, VERSION_BINDING, BuildInfo, read_json_config
from app.demo import demo, handle_object_request
from app.http import HttpRequest, HttpResponse
from app.router import handle
from app.services import Services
from workers import DurableObject, Response, WorkerEntrypoint

DEFAULT_STATE_BINDING = "AGENT"


def _text(env, name: str, default: str = "") -> str:
    value = getattr(env, name, None)
    return value if isinstance(value, str) else default


def _services(env, ctx) -> Services:
    return Services(
        build=BuildInfo(stack=_text(env, STACK_BINDING), bundle_version=_text(env, VERSION_BINDING, "dev")),
        config=read_json_config(_text(env, CONFIG_BINDING)),
        fetch=edge.WorkersFetcher(),
        wait_until=edge.wait_until(ctx),
        clock=edge.clock,
        sleep=edge.sleep,
        kv=edge.kv_bindings(env),
        d1=edge.d1_bindings(env),
        r2=edge.r2_bindings(env),
        vectorize=edge.vectorize_bindings(env),
        rate_limits=edge.rate_limit_bindings(env),
        ai=edge.ai_binding(env),
        secrets=edge.SecretMap(env),
    )


async def _http_request(request) -> HttpRequest:
    method, url, headers, body = await edge.http_request_parts(request)
    return HttpRequest(
        method=method, url=url, headers=headers, body=body, client_ip=headers.get("cf-connecting-ip", "")
    )


def _response(response: HttpResponse) -> Response:
    body = edge.response_body(response.status, response.body, response.stream)
    return Response(body, status=response.status, headers=response.headers or None)


def _with_local_backends(response: HttpResponse, backends) -> HttpResponse:
    """/healthz under `edgestack dev` also names the local backend of each binding kind."""
    if not backends or response.status != 200 or response.stream is not None:
        return response
    payload = json.loads(response.body or b"{}")
    if isinstance(payload, dict) and "backends" not in payload:
        payload["backends"] = backends
        return HttpResponse.json(payload, headers=response.headers)
    return response


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        http_request = await _http_request(request)
        services = _services(self.env, self.ctx)
        if http_request.path == "/demo":
            state_binding = services.config.get("agents", {}).get("state_binding", DEFAULT_STATE_BINDING)
            return _response(
                await demo(http_request, services, edge.durable_object_client(self.env, state_binding))
            )
        response = await handle(http_request, services)
        if http_request.path == "/healthz":
            response = _with_local_backends(response, edge.local_backends(self.env))
        return _response(response)


class AgentState(DurableObject):
    """Agent state; later issues move its logic into `app.agents`."""

    async def fetch(self, request):
        http_request = await _http_request(request)
        if http_request.path.startswith("/demo/"):
            return _response(await handle_object_request(http_request, edge.ObjectStorage(self.ctx.storage)))
        return Response.from_json({"ok": True})
