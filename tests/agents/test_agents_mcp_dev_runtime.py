"""The agents' `mcp` tool kind on the REAL local runtime: a remote MCP server built with the official
SDK (mcp_remote.py) served by uvicorn on loopback, reached through `edgestack dev --map-host`, so the
Worker and its SSRF guard see `https://mcp.remote.test/mcp`. An agent turn discovers and calls the
remote tool (the model is the scripted fake OpenAI upstream); approvals, remote errors and timeout_s."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import SECRETS, Upstreams, route, section
from harness.planned import key_sha256
from harness.target import DEFAULT_DEV_COMMAND, DevRuntimeTarget, ExternalGateway
from mcp_remote import remote_server

pytestmark = pytest.mark.dev_runtime

HOST = "mcp.remote.test"
ADMIN, USER = "k-mcp-admin", "k-mcp-user"


@pytest.fixture(scope="module")
def remote_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = remote_server().streamable_http_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "the MCP server did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def dev(running_upstreams: Upstreams, remote_port: int) -> Iterator[ExternalGateway]:
    keys = {
        "admin": {"sha256": key_sha256(ADMIN), "scope": "acme", "admin": True},
        "user": {"sha256": key_sha256(USER), "scope": "acme"},
    }
    config: dict[str, Any] = {"gateway": section(running_upstreams, {"agent": route(("oa", "gpt-a"))}, public=False, keys=keys)}
    config["agents"] = {"state_binding": "AGENT", "history_binding": "DB", "tools_binding": "TOOLS", "model_alias": "agent", "tool_cache_ttl_s": 0}
    command = f"{DEFAULT_DEV_COMMAND} --map-host {HOST}=http://127.0.0.1:{remote_port}"
    with DevRuntimeTarget(command).start(config, SECRETS) as running:
        assert isinstance(running, ExternalGateway)
        yield running


def call(dev: ExternalGateway, method: str, path: str, body: Any = None, key: str = USER) -> httpx.Response:
    return httpx.request(method, dev.base_url + path, json=body, headers={"authorization": f"Bearer {key}"}, timeout=60)


def put_tool(dev: ExternalGateway, name: str, **spec: Any) -> None:
    response = call(dev, "PUT", f"/v1/tools/{name}", {"kind": "mcp", "url": f"https://{HOST}/mcp", **spec}, key=ADMIN)
    assert response.status_code == 200, response.text


def tool_results(turn: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in turn["messages"] if m["role"] == "tool"]


def test_a_turn_discovers_and_calls_the_remote_tool_through_map_host(dev: ExternalGateway, upstreams: Upstreams) -> None:
    put_tool(dev, "calc", allow_tools=["add", "explode", "slow"])
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[{"name": "calc__add", "arguments": {"a": 20, "b": 22}}]), ScriptedReply(text="42")
    )
    turn = call(dev, "POST", "/v1/agents/remote-1/messages", {"content": "add"}).json()
    assert turn["status"] == "completed" and turn["output"] == "42", turn
    assert tool_results(turn) == [{"result": "42"}]
    offered = sorted(t["function"]["name"] for t in upstreams.oa.requests[0].body["tools"])
    assert offered == ["calc__add", "calc__explode", "calc__slow"]


def test_approval_remote_error_and_timeout_on_the_runtime(dev: ExternalGateway, upstreams: Upstreams) -> None:
    put_tool(dev, "gated", allow_tools=["add", "explode", "slow"], requires_approval=["add"], timeout_s=1)
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[{"name": "gated__explode", "arguments": {"reason": "boom"}}, {"name": "gated__slow", "arguments": {}}]),
        ScriptedReply(tool_calls=[{"name": "gated__add", "arguments": {"a": 1, "b": 2}}]),
        ScriptedReply(text="3"),
    )
    paused = call(dev, "POST", "/v1/agents/remote-2/messages", {"content": "go"}).json()
    explode, slow = tool_results(paused)
    assert "exploded: boom" in explode["error"] and "timed out after 1 s" in slow["error"]
    assert paused["status"] == "awaiting_approval" and paused["pending_approvals"][0]["tool"] == "gated__add"
    call_id = paused["pending_approvals"][0]["call_id"]
    done = call(dev, "POST", f"/v1/agents/remote-2/approvals/{call_id}", {"approve": True}).json()
    assert done["status"] == "completed" and tool_results(done) == [{"approved_by": "user", "result": "3"}]
