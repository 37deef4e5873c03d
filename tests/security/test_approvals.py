"""Approvals: only the key that started the turn, or a key of the tenant with `approve: true`, may
approve a pending tool call; the resumed turn runs as the starter (its model permissions and quota),
and the stored tool result names who approved or refused it."""

from __future__ import annotations

import json
from typing import Any

from agents_testing import AgentEnv, run_env, stack_config, tool_call
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import Upstreams
from harness.planned import key_sha256

GUARDED = {"kind": "kv_lookup", "prefix": "faq/", "requires_approval": True}


def config_with_approver(upstreams: Upstreams) -> dict[str, Any]:
    config = stack_config(upstreams)
    keys = config["gateway"]["keys"]
    keys["approver"] = {**keys["alice"], "sha256": key_sha256("k-approver"), "approve": True}
    return config


async def paused_turn(env: AgentEnv, agent: str) -> str:
    status, put = await env.call("PUT", "/v1/tools/guarded", GUARDED, key="k-ops")
    assert status == 200, put
    await env.tools_kv.put("agent-data/acme/faq/k1", "classified")
    status, paused = await env.call("POST", f"/v1/agents/{agent}/messages", {"content": "go"})  # as alice
    assert status == 200 and paused["status"] == "awaiting_approval", paused
    return str(paused["pending_approvals"][0]["call_id"])


def test_another_key_of_the_tenant_may_not_approve_not_even_an_admin(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(tool_calls=[tool_call("guarded", key="k1")]), ScriptedReply(text="ok"))

    async def body(env: AgentEnv) -> tuple[int, Any, int]:
        call_id = await paused_turn(env, "a1")
        status, refused = await env.call("POST", f"/v1/agents/a1/approvals/{call_id}", {"approve": True}, key="k-ops")
        still, _ = await env.call("POST", f"/v1/agents/a1/approvals/{call_id}", {"approve": True})  # alice
        return status, refused, still

    status, refused, still = run_env(stack_config(upstreams), body)
    assert status == 403 and refused["error"]["code"] == "approval_not_allowed"
    assert "'alice'" in refused["error"]["message"]
    assert still == 200  # the refused attempt changed nothing: the starter can still approve


def test_an_approve_key_may_approve_and_the_turn_resumes_as_its_starter(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(tool_calls=[tool_call("guarded", key="k1")]), ScriptedReply(text="done"))

    async def body(env: AgentEnv) -> tuple[dict[str, Any], list[Any]]:
        call_id = await paused_turn(env, "a2")
        status, resumed = await env.call(
            "POST", f"/v1/agents/a2/approvals/{call_id}", {"approve": True}, key="k-approver"
        )
        assert status == 200, resumed
        await env.settle()
        rows = await env.db.execute("SELECT key_id FROM gateway_usage ORDER BY ts_ms, request_id")
        return resumed, [r["key_id"] for r in rows]

    resumed, usage_keys = run_env(config_with_approver(upstreams), body)
    assert resumed["output"] == "done"
    result = json.loads(resumed["messages"][0]["content"])
    assert result["approved_by"] == "approver" and result["value"] == "classified"
    assert usage_keys == ["alice", "alice"]  # the model call after approval is billed to the starter
