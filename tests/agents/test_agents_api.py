"""The /v1/agents and /v1/tools routes: bad input gets a 4xx in the gateway's error shape naming the
field, rights are checked, and two tenants using the same agent id never share anything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents_testing import AgentEnv, run_env, stack_config
from app.agents.protocol import object_name
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import Upstreams

LONG = "x" * 1001


def error_of(payload: Any) -> tuple[str | None, str | None]:
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}  # the gateway's (OpenAI) error shape
    return error["param"], error["code"]


BAD_REQUESTS = [
    # (method, path, body, key, status, param)
    ("POST", "/v1/agents/a/messages", {"content": ""}, "k-alice", 400, "content"),
    ("POST", "/v1/agents/a/messages", {"content": "   "}, "k-alice", 400, "content"),
    ("POST", "/v1/agents/a/messages", {"content": LONG}, "k-alice", 413, "content"),
    ("POST", "/v1/agents/a/messages", {"content": 5}, "k-alice", 400, "content"),
    ("POST", "/v1/agents/a/messages", {}, "k-alice", 400, "content"),
    ("POST", "/v1/agents/a/messages", {"content": "hi", "stream": "yes"}, "k-alice", 400, "stream"),
    ("POST", "/v1/agents/a/messages", {"content": "hi", "role": "system"}, "k-alice", 400, "role"),
    ("POST", "/v1/agents/a/messages", "not an object", "k-alice", 400, "body"),
    ("POST", "/v1/agents/bad%20id/messages", {"content": "hi"}, "k-alice", 400, "agent_id"),
    ("POST", "/v1/agents/" + "a" * 129 + "/messages", {"content": "hi"}, "k-alice", 400, "agent_id"),
    ("POST", "/v1/agents/a%2Fb/messages", {"content": "hi"}, "k-alice", 400, "agent_id"),
    ("GET", "/v1/agents/%C3%A9t%C3%A9", None, "k-alice", 400, "agent_id"),
    ("POST", "/v1/agents/a/approvals/call_x", {"approve": "yes"}, "k-alice", 400, "approve"),
    (
        "POST",
        "/v1/agents/a/approvals/call_x",
        {"approve": True, "reason": LONG * 3},
        "k-alice",
        400,
        "reason",
    ),
    ("POST", "/v1/agents/fresh/approvals/call_x", {"approve": True}, "k-alice", 409, "call_id"),
    ("GET", "/v1/agents/a/history?limit=0", None, "k-alice", 400, "limit"),
    ("GET", "/v1/agents/a/history?limit=abc", None, "k-alice", 400, "limit"),
    ("GET", "/v1/agents/a/history?before=-3", None, "k-alice", 400, "before"),
    ("GET", "/v1/agents/never-used", None, "k-alice", 404, "agent_id"),
    ("PUT", "/v1/tools/t1", {"kind": "shell"}, "k-ops", 400, "kind"),
    ("PUT", "/v1/tools/t1", {"kind": "kv_lookup"}, "k-alice", 403, None),
    ("DELETE", "/v1/tools/t1", None, "k-alice", 403, None),
    ("PUT", "/v1/tools/bad name", {"kind": "kv_lookup"}, "k-ops", 400, "name"),
    (
        "PUT",
        "/v1/tools/t1",
        {"kind": "http_get", "allow_hosts": ["10.0.0.1"]},
        "k-ops",
        400,
        "allow_hosts[0]",
    ),
    ("GET", "/v1/tools/absent", None, "k-alice", 404, "name"),
    ("POST", "/v1/agents/a/messages", {"content": "hi"}, None, 401, None),
    ("POST", "/v1/agents/a/messages", {"content": "hi"}, "k-wrong", 401, None),
    ("PATCH", "/v1/agents/a", None, "k-alice", 405, None),
]


@pytest.mark.parametrize(("method", "path", "body", "key", "status", "param"), BAD_REQUESTS)
def test_bad_requests_get_a_4xx_naming_the_field(
    upstreams: Upstreams, method: str, path: str, body: Any, key: str | None, status: int, param: str | None
) -> None:
    async def go(env: AgentEnv) -> tuple[int, Any]:
        raw = b"not json" if body == "not an object" else None
        return await env.call(method, path, body, key=key, raw=raw)

    got, payload = run_env(stack_config(upstreams, max_message_chars=1000), go)
    assert got == status, payload
    assert error_of(payload)[0] == param
    assert upstreams.oa.calls == 0  # nothing reached the model


def test_an_unknown_call_id_is_a_404_and_nothing_changes(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(tool_calls=[{"name": "guarded", "arguments": {"key": "a"}}]))

    async def go(env: AgentEnv) -> None:
        await env.call(
            "PUT", "/v1/tools/guarded", {"kind": "kv_lookup", "requires_approval": True}, key="k-ops"
        )
        _, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "go"})
        status, payload = await env.call("POST", "/v1/agents/a/approvals/call_nope", {"approve": True})
        assert status == 404 and error_of(payload) == ("call_id", "unknown_call_id")
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["pending_approvals"] == turn["pending_approvals"]

    run_env(stack_config(upstreams), go)


def test_tools_crud_needs_admin_for_writes_and_is_per_tenant(upstreams: Upstreams) -> None:
    async def go(env: AgentEnv) -> None:
        spec = {"kind": "http_get", "allow_hosts": ["api.example.com"], "requires_approval": True}
        status, stored = await env.call("PUT", "/v1/tools/web", spec, key="k-ops")
        assert status == 200 and stored["name"] == "web" and stored["parameters"]["required"] == ["url"]
        _, listed = await env.call("GET", "/v1/tools", key="k-alice")  # reading needs no admin
        assert [t["name"] for t in listed["data"]] == ["web"]
        _, other = await env.call("GET", "/v1/tools", key="k-globex")
        assert other["data"] == []
        status, _ = await env.call("GET", "/v1/tools/web", key="k-globex")
        assert status == 404
        status, _ = await env.call("DELETE", "/v1/tools/web", key="k-globex-admin")
        assert status == 404  # another tenant's admin cannot see it
        status, _ = await env.call("DELETE", "/v1/tools/web", key="k-ops")
        assert status == 200
        _, listed = await env.call("GET", "/v1/tools", key="k-ops")
        assert listed["data"] == []

    run_env(stack_config(upstreams), go)


def test_two_tenants_with_the_same_agent_id_share_nothing(upstreams: Upstreams) -> None:
    async def go(env: AgentEnv) -> None:
        _, a = await env.call(
            "POST", "/v1/agents/support/messages", {"content": "acme secret"}, key="k-alice"
        )
        _, g = await env.call(
            "POST", "/v1/agents/support/messages", {"content": "globex hello"}, key="k-globex"
        )
        await env.settle()
        assert a["output"] == "oa: acme secret" and g["output"] == "oa: globex hello"
        # separate objects, named from (tenant, agent id)
        assert set(env.objects.objects) == {object_name("acme", "support"), object_name("globex", "support")}
        # the model never saw the other tenant's messages
        assert [m["content"] for m in upstreams.oa.requests[1].body["messages"]] == ["globex hello"]
        _, acme_history = await env.call("GET", "/v1/agents/support/history", key="k-ops")
        _, globex_history = await env.call("GET", "/v1/agents/support/history", key="k-globex")
        assert [m["content"] for m in acme_history["data"]] == ["acme secret", "oa: acme secret"]
        assert [m["content"] for m in globex_history["data"]] == ["globex hello", "oa: globex hello"]
        _, state = await env.call("GET", "/v1/agents/support", key="k-globex")
        assert state["messages"] == 2
        await env.call("DELETE", "/v1/agents/support", key="k-globex")
        _, acme_after = await env.call("GET", "/v1/agents/support/history", key="k-alice")
        assert len(acme_after["data"]) == 2

    run_env(stack_config(upstreams), go)


def test_anonymous_callers_on_a_public_stack_are_the_public_tenant(upstreams: Upstreams) -> None:
    async def go(env: AgentEnv) -> None:
        status, turn = await env.call("POST", "/v1/agents/kiosk/messages", {"content": "hi"}, key=None)
        assert status == 200 and turn["status"] == "completed"
        assert object_name("public", "kiosk") in env.objects.objects
        status, payload = await env.call("PUT", "/v1/tools/x", {"kind": "schedule"}, key=None)
        assert status == 403 and "admin: true" in payload["error"]["message"]

    run_env(stack_config(upstreams, public=True), go)


def test_agents_answer_404_when_the_stack_has_no_agents_section(upstreams: Upstreams) -> None:
    config = stack_config(upstreams)
    config["agents"] = None

    async def go(env: AgentEnv) -> tuple[int, Any]:
        return await env.call("POST", "/v1/agents/a/messages", {"content": "hi"})

    status, payload = run_env(config, go)
    assert status == 404 and "agents are not enabled" in payload["error"]["message"]


def test_a_bug_in_the_object_is_a_500_in_the_error_shape_and_the_agent_recovers(upstreams: Upstreams) -> None:
    async def go(env: AgentEnv) -> None:
        await env.call("POST", "/v1/agents/a/messages", {"content": "first"})
        store = env.objects.get(object_name("acme", "a")).store
        original = store.pending

        def broken() -> Any:
            raise RuntimeError("storage exploded")

        store.pending = broken  # type: ignore[method-assign]
        status, payload = await env.call("POST", "/v1/agents/a/messages", {"content": "second"})
        assert status == 500 and payload["error"]["message"] == "internal agent error"
        store.pending = original  # type: ignore[method-assign]
        status, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "third"})
        assert status == 200 and turn["output"] == "oa: third"  # the turn lock was released

    run_env(stack_config(upstreams), go)


def test_tool_configs_are_cached_per_isolate_for_the_ttl_only(upstreams: Upstreams) -> None:
    """Another isolate's edit (written straight to KV here) is seen once this isolate's cache expires."""

    async def go(env: AgentEnv) -> list[list[str]]:
        await env.call("PUT", "/v1/tools/first", {"kind": "schedule"}, key="k-ops")
        offered: list[list[str]] = []
        for advance in (0, 5, 6):  # the cache holds for tool_cache_ttl_s = 10 s
            env.clock.advance(advance)
            upstreams.oa.push_script(ScriptedReply(text="ok"))
            await env.call("POST", "/v1/agents/a/messages", {"content": "which tools?"})
            offered.append([t["function"]["name"] for t in upstreams.oa.requests[-1].body.get("tools", [])])
            if advance == 0:
                raw = json.loads(await env.tools_kv.get("agent-tools/acme") or "{}")
                raw["second"] = {"kind": "schedule"}
                await env.tools_kv.put("agent-tools/acme", json.dumps(raw))
        return offered

    offered = run_env(stack_config(upstreams), go)
    assert offered == [["first"], ["first"], ["first", "second"]]
