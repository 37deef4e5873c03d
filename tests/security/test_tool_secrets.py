"""Tool `secret_headers` may name only `agents.tool_secrets`; stored tool specs that break today's
rules (an unlisted secret, a lone surrogate written before the JSON reader refused it) are skipped,
never sent to the model: they cannot brick a tenant's agents."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from agents_testing import AgentEnv, ScriptedWeb, run_env, stack_config, tool_call
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import SECRETS, Upstreams

TOOL_SECRET = "WEATHER_API_KEY"
WEATHER = {"https://api.weather.example.com/today": (200, {"content-type": "text/plain"}, b"sunny")}


def with_secret(env: AgentEnv) -> None:
    env.services = dataclasses.replace(env.services, secrets={**SECRETS, TOOL_SECRET: "w-123"})
    env.objects.services = env.services


def http_tool(**secret_headers: str) -> dict[str, Any]:
    return {"kind": "http_get", "allow_hosts": ["api.weather.example.com"], "secret_headers": secret_headers}


@pytest.mark.parametrize("secret", ["OA_KEY", "EDGESTACK_CONFIG", "IP_SALT", "PATH"])
def test_a_tool_may_not_name_a_secret_outside_tool_secrets(upstreams: Upstreams, secret: str) -> None:
    async def body(env: AgentEnv) -> tuple[int, Any]:
        return await env.call("PUT", "/v1/tools/leak", http_tool(**{"x-k": secret}), key="k-ops")

    status, payload = run_env(stack_config(upstreams, tool_secrets=[TOOL_SECRET]), body)
    assert status == 400
    assert payload["error"]["param"] == "secret_headers.x-k"
    assert "agents.tool_secrets: WEATHER_API_KEY" in payload["error"]["message"]


def test_a_listed_tool_secret_is_sent_to_the_tools_host(upstreams: Upstreams) -> None:
    web = ScriptedWeb(WEATHER)
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("weather", url="https://api.weather.example.com/today")]),
        ScriptedReply(text="sunny"),
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        with_secret(env)
        status, put = await env.call("PUT", "/v1/tools/weather", http_tool(**{"x-key": TOOL_SECRET}), key="k-ops")
        assert status == 200, put
        status, turn = await env.call("POST", "/v1/agents/w/messages", {"content": "weather?"})
        assert status == 200, turn
        return turn

    turn = run_env(stack_config(upstreams, tool_secrets=[TOOL_SECRET]), body, fetch=web)
    assert turn["output"] == "sunny"
    assert web.requests == [("https://api.weather.example.com/today", {"x-key": "w-123"})]


def _stored_tools(**specs: dict[str, Any]) -> str:
    return json.dumps(specs, ensure_ascii=True)


def test_stored_specs_that_break_todays_rules_are_skipped_not_fatal(upstreams: Upstreams) -> None:
    """A spec naming a provider key (stored before tool_secrets existed) and one holding a lone
    surrogate (stored before the JSON reader refused them) are never offered; the tenant's other
    tools and turns keep working."""
    upstreams.oa.push_script(ScriptedReply(text="fine"))

    async def body(env: AgentEnv) -> tuple[dict[str, Any], list[str]]:
        await env.tools_kv.put(
            "agent-tools/acme",
            _stored_tools(
                leak=http_tool(**{"x-k": "OA_KEY"}),
                broken={"kind": "kv_lookup", "description": "bad \ud800 text", "prefix": "faq/"},
                lookup={"kind": "kv_lookup", "prefix": "faq/"},
            ),
        )
        status, turn = await env.call("POST", "/v1/agents/b/messages", {"content": "hi"})
        assert status == 200, turn
        status, listed = await env.call("GET", "/v1/tools", key="k-ops")
        assert status == 200, listed
        return turn, sorted(t["name"] for t in listed["data"])

    turn, listed = run_env(stack_config(upstreams), body)
    assert turn["output"] == "fine"
    assert [t["function"]["name"] for t in upstreams.oa.requests[0].body["tools"]] == ["lookup"]
    assert listed == ["lookup"]
