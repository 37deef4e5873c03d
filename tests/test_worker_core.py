"""The Worker core on CPython: `app.router` dispatch (/healthz with the local backends, /demo through
the `durable_objects` service, /v1/ to the gateway, 404 otherwise) and `app.config.ParsedOnce`, the
once-per-isolate parse of `EDGESTACK_CONFIG`. No `workers`/`js` modules are involved: entry.py only
adapts those into `Services`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO / "worker_src", REPO / "tests"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.config import BuildInfo, ParsedOnce, parse_runtime_config  # noqa: E402
from app.http import HttpRequest, HttpResponse  # noqa: E402
from app.router import handle, handle_scheduled  # noqa: E402
from app.services import Services  # noqa: E402
from harness.bindings import InMemoryKv  # noqa: E402
from harness.planned import planned_config, runtime_config  # noqa: E402


class RecordingNamespace:
    """A Durable Object namespace that records what it was sent and answers like AgentState's /demo side."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    async def fetch(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, bytes]:
        self.calls.append((name, path, method))
        return 200, json.dumps({"visits": len(self.calls)}).encode()


async def _no_fetch(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("no outbound fetch expected")


async def _no_sleep(seconds: float) -> None:
    raise AssertionError("no sleep expected")


LOCAL_NO_SECTIONS = runtime_config(planned_config({}))  # stacks/local.yaml (demo_route: true), no sections


def _services(**overrides: Any) -> Services:
    fields: dict[str, Any] = {
        "build": BuildInfo(stack="local", bundle_version="abc123"),
        "config": LOCAL_NO_SECTIONS,
        "fetch": _no_fetch,
        "wait_until": lambda awaitable: None,
        "clock": lambda: 0.0,
        "sleep": _no_sleep,
    }
    fields.update(overrides)
    return Services(**fields)


def _get(path: str, services: Services, method: str = "GET") -> HttpResponse:
    request = HttpRequest(method=method, url=f"http://localhost{path}", headers={})
    return asyncio.run(handle(request, services))


def test_healthz_reports_build_and_only_local_backends_when_present() -> None:
    on_cloudflare = json.loads(_get("/healthz", _services()).body)
    assert on_cloudflare == {"ok": True, "stack": "local", "bundle_version": "abc123"}
    local = json.loads(_get("/healthz", _services(local_backends={"kv": "miniflare"})).body)
    assert local["backends"] == {"kv": "miniflare"} and local["ok"] is True


def test_healthz_answers_head_and_rejects_post() -> None:
    assert _get("/healthz", _services(), method="HEAD").status == 200
    assert _get("/healthz", _services(), method="POST").status == 405


def test_demo_visits_the_configured_state_binding() -> None:
    agent, other = RecordingNamespace(), RecordingNamespace()
    services = _services(
        config=runtime_config(
            planned_config(
                {"agents": {"state_binding": "STATE", "history_binding": "DB"}},
                overlay={"bindings": {"durable_objects": {"STATE": {"class_name": "AgentState"}}}},
            )
        ),
        durable_objects={"OTHER": other, "STATE": agent},
        kv={"CACHE": InMemoryKv()},
    )
    report = json.loads(_get("/demo?name=ada", services).body)
    assert agent.calls == [("demo:ada", "/demo/visit", "POST")] and other.calls == []
    assert report["durable_object"] == {"object": "demo:ada", "status": 200, "visits": 1}
    assert report["kv"]["stored"] == "ada"


def test_demo_defaults_to_the_agent_binding_and_skips_a_missing_one() -> None:
    agent = RecordingNamespace()
    assert "durable_object" in json.loads(_get("/demo", _services(durable_objects={"AGENT": agent})).body)
    assert agent.calls == [("demo:world", "/demo/visit", "POST")]
    report = json.loads(_get("/demo", _services(durable_objects={"OTHER": RecordingNamespace()})).body)
    assert report == {"name": "world"}


def test_v1_goes_to_the_gateway_and_unknown_paths_get_404() -> None:
    disabled = json.loads(_get("/v1/models", _services()).body)
    assert disabled["error"]["message"] == "the AI gateway is not enabled on this stack"
    enabled = _get("/v1/models", _services(config=runtime_config(planned_config({"gateway": {}}))))
    assert enabled.status == 401 and json.loads(enabled.body)["error"]["type"] == "authentication_error"
    missing = _get("/nope", _services())
    assert missing.status == 404
    assert json.loads(missing.body) == {"error": {"message": "no route for GET /nope"}}


def test_parsed_once_parses_each_raw_text_once() -> None:
    calls: list[str | None] = []

    def parse(raw: str | None) -> dict[str, Any]:
        calls.append(raw)
        return json.loads(raw or "{}")

    once = ParsedOnce(parse)
    first = once('{"gateway": {}}')
    assert once('{"gateway": {}}') is first  # same text: the same object, not re-parsed
    assert calls == ['{"gateway": {}}']
    assert once('{"rag": {}}') == {"rag": {}}  # new text (a redeploy): parsed again
    assert once(None) == {} and len(calls) == 3


def test_parsed_once_does_not_cache_a_failure() -> None:
    once = ParsedOnce(parse_runtime_config)
    good = json.dumps(planned_config({}))
    assert once(good).worker.demo_route is True
    with pytest.raises(ValueError, match="EDGESTACK_CONFIG: not JSON"):
        once("[1")
    with pytest.raises(ValueError, match="EDGESTACK_CONFIG: not JSON"):
        once("[1")
    assert once(good).error is None


def test_a_cron_trigger_is_logged_with_its_schedule_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    services = _services()
    asyncio.run(handle_scheduled("*/5 * * * *", 1_700_000_000_000.0, services))
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "cron": "triggered",
        "cron_expression": "*/5 * * * *",
        "scheduled_time_ms": 1_700_000_000_000,
        "stack": "local",
    }


def test_healthz_and_the_index_answer_other_methods_with_405_and_allow() -> None:
    for path in ("/healthz", "/"):
        refused = _get(path, _services(), method="POST")
        assert refused.status == 405 and refused.headers["allow"] == "GET, HEAD"
        assert "accepts GET and HEAD only" in json.loads(refused.body)["error"]["message"]


def test_the_index_lists_what_the_stack_enables() -> None:
    bare = json.loads(_get("/", _services()).body)
    assert bare["service"] == "edgestack" and bare["routes"] == ["GET /healthz", "GET /demo"]
    config = runtime_config(
        planned_config(
            {
                "gateway": {"public": True, "rate_limit": {"binding": "RATE_LIMITER"}},
                "agents": {"state_binding": "AGENT", "history_binding": "DB"},
            }
        )
    )
    full = json.loads(_get("/", _services(config=config)).body)["routes"]
    assert "POST /v1/chat/completions" in full and "POST /v1/agents/{id}/messages" in full
    assert not any("/v1/rag/" in route for route in full)  # no rag section
