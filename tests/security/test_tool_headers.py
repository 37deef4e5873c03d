"""A tool's static `headers` may hold credentials: their values are shown to the tenant's admins
only (masked for other keys)."""

from __future__ import annotations

from typing import Any

from agents_testing import AgentEnv, run_env, stack_config
from gateway_testing import Upstreams

TOOL = {"kind": "http_get", "allow_hosts": ["api.example.com"], "headers": {"authorization": "Bearer sk-live-1"}}


def test_static_header_values_are_masked_for_non_admin_keys(upstreams: Upstreams) -> None:
    async def body(env: AgentEnv) -> dict[str, Any]:
        status, put = await env.call("PUT", "/v1/tools/web", TOOL, key="k-ops")
        assert status == 200, put
        shown = {}
        for key in ("k-alice", "k-ops"):
            _, one = await env.call("GET", "/v1/tools/web", key=key)
            _, listed = await env.call("GET", "/v1/tools", key=key)
            shown[key] = (one["headers"], listed["data"][0]["headers"])
        return shown

    shown = run_env(stack_config(upstreams), body)
    assert shown["k-alice"] == ({"authorization": "********"},) * 2
    assert shown["k-ops"] == ({"authorization": "Bearer sk-live-1"},) * 2
