"""The `/v1` front door (app/v1.py): a route is one table entry; the front door answers 404 and 405
(with `Allow`), authorizes once (key, then rate limits) and hands the route the resolved caller."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO / "worker_src", REPO / "tests"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.config import BuildInfo  # noqa: E402
from app.gateway.state import ISOLATE  # noqa: E402
from app.http import HttpRequest, HttpResponse  # noqa: E402
from app.services import Services  # noqa: E402
from app.v1 import ROUTES, V1Route, handle_v1  # noqa: E402
from app.web.auth import Caller  # noqa: E402
from harness.bindings import FakeRateLimiter  # noqa: E402
from harness.planned import planned_config, runtime_config  # noqa: E402

KEY = "sk-acme-1"
RL_BINDING = {"bindings": {"rate_limits": {"RL": {"namespace_id": 2, "limit": 1, "period": 60}}}}


def _services(rate_limit: dict[str, Any] | None = None) -> Services:
    gateway: dict[str, Any] = {
        "keys": {"acme": {"sha256": hashlib.sha256(KEY.encode()).hexdigest(), "scope": "acme", "admin": True}}
    }
    if rate_limit is not None:
        gateway["rate_limit"] = rate_limit

    async def no_fetch(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no outbound fetch expected")

    return Services(
        build=BuildInfo(stack="test", bundle_version="v"),
        config=runtime_config(planned_config({"gateway": gateway}, overlay=RL_BINDING)),
        fetch=no_fetch,
        wait_until=lambda awaitable: None,
        clock=lambda: 1000.0,
        sleep=no_fetch,
        rate_limits={"RL": FakeRateLimiter(1, 60, clock=lambda: 1000.0)},
    )


def _request(method: str, path: str, key: str | None = KEY, **headers: str) -> HttpRequest:
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return HttpRequest(method=method, url=f"https://api.test{path}", headers=headers, client_ip="203.0.113.9")


class Echo:
    """A route handler that records the callers it was handed."""

    def __init__(self) -> None:
        self.callers: list[Caller] = []

    async def __call__(self, request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
        self.callers.append(caller)
        return HttpResponse.json({"tenant": caller.tenant, "admin": caller.is_admin})


def _call(request: HttpRequest, services: Services, routes: tuple[V1Route, ...]) -> HttpResponse:
    ISOLATE.reset()
    return asyncio.run(handle_v1(request, services, routes))


def test_a_new_route_is_one_entry_and_gets_the_resolved_caller() -> None:
    echo = Echo()
    routes = (*ROUTES, V1Route("/v1/echo", ("POST",), echo))
    response = _call(_request("POST", "/v1/echo/"), _services(), routes)
    assert response.status == 200 and json.loads(response.body) == {"tenant": "acme", "admin": True}
    assert [c.principal.key_id for c in echo.callers] == ["acme"]


def test_the_front_door_refuses_before_the_handler_runs() -> None:
    echo = Echo()
    routes = (V1Route("/v1/echo", ("POST",), echo), V1Route("/v1/things/", ("GET", "HEAD", "PUT"), echo))
    services = _services()
    missing = _call(_request("POST", "/v1/echo", key=None), services, routes)
    assert missing.status == 401 and json.loads(missing.body)["error"]["code"] == "missing_api_key"
    wrong = _call(_request("DELETE", "/v1/things/a"), services, routes)
    assert wrong.status == 405 and wrong.headers["allow"] == "GET, PUT"
    assert "/v1/things/a accepts GET, PUT only" in json.loads(wrong.body)["error"]["message"]
    unknown = _call(_request("GET", "/v1/nothing"), services, routes)
    assert unknown.status == 404
    assert echo.callers == []


def test_errors_take_the_shape_of_the_api_the_client_speaks() -> None:
    routes = (V1Route("/v1/echo", ("POST",), Echo()),)
    anthropic = _call(_request("POST", "/v1/echo", key="sk-nope", **{"anthropic-version": "2023-06-01"}), _services(), routes)
    assert json.loads(anthropic.body) == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
    }
    openai = _call(_request("POST", "/v1/echo", key="sk-nope"), _services(), routes)
    assert json.loads(openai.body)["error"]["type"] == "authentication_error"


def test_rate_limits_are_applied_once_per_request() -> None:
    echo = Echo()
    routes = (V1Route("/v1/echo", ("POST",), echo),)
    services = _services(rate_limit={"binding": "RL", "key": "api_key"})
    assert _call(_request("POST", "/v1/echo"), services, routes).status == 200
    limited = _call(_request("POST", "/v1/echo"), services, routes)
    assert limited.status == 429 and limited.headers["retry-after"] == "60"
    limiter = services.rate_limits["RL"]
    assert isinstance(limiter, FakeRateLimiter) and limiter.calls == ["gw:key:acme", "gw:key:acme"]


def test_a_handler_bug_is_a_500_in_the_api_shape_logged_by_the_front_door(capsys: Any) -> None:
    async def broken(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
        raise RuntimeError("boom")

    response = _call(_request("POST", "/v1/echo"), _services(), (V1Route("/v1/echo", ("POST",), broken),))
    assert response.status == 500 and json.loads(response.body)["error"]["message"] == "internal gateway error"
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"v1": "internal_error", "path": "/v1/echo", "error": "RuntimeError", "detail": "boom"}
