"""The agents' `mcp` tool kind under CPython: a remote server built with the official MCP SDK
(mcp_remote.py), an agent turn through the real gateway pipeline with the scripted fake OpenAI
upstream. Discovery and calls, approvals, remote errors, timeouts, the SSRF guard and bad specs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents_testing import AgentEnv, run_env, stack_config, tool_call
from app.agents import mcp_client
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import Upstreams
from mcp_remote import URL, McpWeb, remote_server

SPEC = {"kind": "mcp", "url": URL, "allow_tools": ["add", "explode", "slow"], "headers": {"authorization": "Bearer remote-token"}}


async def put(env: AgentEnv, name: str, spec: Any) -> tuple[int, Any]:
    return await env.call("PUT", f"/v1/tools/{name}", spec, key="k-ops")


def run_with_remote(upstreams: Upstreams, body: Any, web: McpWeb | None = None) -> tuple[Any, McpWeb]:
    mcp_client.clear_cache()
    web = web or McpWeb(remote_server())

    async def scenario(env: AgentEnv) -> Any:
        async with web.running():
            return await body(env)

    return run_env(stack_config(upstreams), scenario, fetch=web), web


def tool_results(turn: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in turn["messages"] if m["role"] == "tool"]


def test_a_turn_discovers_and_calls_a_remote_tool(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(tool_calls=[tool_call("calc__add", a=2, b=40)]), ScriptedReply(text="42"))

    async def body(env: AgentEnv) -> Any:
        assert (await put(env, "calc", SPEC))[0] == 200
        return (await env.call("POST", "/v1/agents/m1/messages", {"content": "add"}))[1]

    turn, web = run_with_remote(upstreams, body)
    assert turn["status"] == "completed" and turn["output"] == "42"
    assert tool_results(turn) == [{"result": "42"}]
    offered = {t["function"]["name"]: t["function"] for t in upstreams.oa.requests[0].body["tools"]}
    assert sorted(offered) == ["calc__add", "calc__explode", "calc__slow"]  # `hidden` is not allowed
    assert offered["calc__add"]["parameters"]["required"] == ["a", "b"]
    methods = [json.loads(b)["method"] for _, _, _, b in web.requests if b]
    assert methods == ["initialize", "notifications/initialized", "tools/list", "tools/call"]
    assert all(h["authorization"] == "Bearer remote-token" for _, _, h, _ in web.requests)
    assert all(h.get("mcp-session-id") for _, _, h, b in web.requests[1:])  # the SDK server's session


def test_discovery_is_cached_per_isolate_for_a_short_ttl(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(text="one"), ScriptedReply(text="two"), ScriptedReply(text="three"))

    async def body(env: AgentEnv) -> None:
        await put(env, "calc", SPEC)
        await env.call("POST", "/v1/agents/m2/messages", {"content": "a"})
        await env.call("POST", "/v1/agents/m2/messages", {"content": "b"})
        env.clock.advance(mcp_client.DISCOVERY_TTL_S + 1)
        await env.call("POST", "/v1/agents/m2/messages", {"content": "c"})

    _, web = run_with_remote(upstreams, body)
    methods = [json.loads(b)["method"] for _, _, _, b in web.requests if b]
    assert methods.count("tools/list") == 2 and methods.count("initialize") == 2


def test_approval_gates_a_listed_remote_tool(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(tool_calls=[tool_call("calc__add", a=1, b=1)]), ScriptedReply(text="2"))

    async def body(env: AgentEnv) -> tuple[Any, Any]:
        await put(env, "calc", {**SPEC, "requires_approval": ["add"]})
        paused = (await env.call("POST", "/v1/agents/m3/messages", {"content": "add"}))[1]
        call_id = paused["pending_approvals"][0]["call_id"]
        done = (await env.call("POST", f"/v1/agents/m3/approvals/{call_id}", {"approve": True}))[1]
        return paused, done

    (paused, done), web = run_with_remote(upstreams, body)
    assert paused["status"] == "awaiting_approval" and paused["pending_approvals"][0]["tool"] == "calc__add"
    assert done["status"] == "completed" and tool_results(done) == [{"approved_by": "alice", "result": "2"}]


def test_a_remote_error_is_a_tool_error_and_a_slow_server_hits_timeout_s(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("calc__explode", reason="boom"), tool_call("calc__slow")]),
        ScriptedReply(text="both failed"),
    )

    async def body(env: AgentEnv) -> Any:
        await put(env, "calc", {**SPEC, "timeout_s": 0.5})
        return (await env.call("POST", "/v1/agents/m4/messages", {"content": "go"}))[1]

    turn, _ = run_with_remote(upstreams, body)
    explode, slow = tool_results(turn)
    assert "the MCP tool 'explode' failed" in explode["error"] and "exploded: boom" in explode["error"]
    assert "timed out after 0.5 s" in slow["error"]
    assert turn["status"] == "completed"


def test_an_unreachable_server_offers_no_tools_and_the_turn_goes_on(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(text="no tools today"))
    web = McpWeb(remote_server())
    web.redirects["/mcp"] = (503, "")

    async def body(env: AgentEnv) -> Any:
        await put(env, "calc", SPEC)
        return (await env.call("POST", "/v1/agents/m5/messages", {"content": "hi"}))[1]

    turn, _ = run_with_remote(upstreams, body, web)
    assert turn["output"] == "no tools today" and "tools" not in upstreams.oa.requests[0].body


@pytest.mark.parametrize(
    "location",
    ["https://127.0.0.1/mcp", "https://169.254.169.254/latest", "https://evil.example/mcp", "http://mcp.tools.test/mcp"],
)
def test_every_redirect_is_checked_and_credentials_never_leave(upstreams: Upstreams, location: str) -> None:
    upstreams.oa.push_script(ScriptedReply(text="ok"))
    web = McpWeb(remote_server())
    web.redirects["/mcp"] = (307, location)

    async def body(env: AgentEnv) -> Any:
        await put(env, "calc", SPEC)
        return (await env.call("POST", "/v1/agents/m6/messages", {"content": "hi"}))[1]

    turn, _ = run_with_remote(upstreams, body, web)
    assert turn["status"] == "completed"
    assert [url for _, url, _, _ in web.requests] == [URL]  # the redirect was refused, not followed


BLOCKED_URLS = [
    "http://mcp.tools.test/mcp",
    "ftp://mcp.tools.test/mcp",
    "https://localhost/mcp",
    "https://api.localhost/mcp",
    "https://127.0.0.1/mcp",
    "https://2130706433/mcp",
    "https://0177.0.0.1/mcp",
    "https://0x7f.1/mcp",
    "https://127.1/mcp",
    "https://%31%32%37.0.0.1/mcp",
    "https://[::1]/mcp",
    "https://[::ffff:127.0.0.1]/mcp",
    "https://[64:ff9b::a00:1]/mcp",
    "https://10.0.0.5/mcp",
    "https://192.168.1.1/mcp",
    "https://172.16.0.1/mcp",
    "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1]/mcp",
    "https://[fd00::1]/mcp",
    "https://0.0.0.0/mcp",
    "https://metadata.google.internal/mcp",
    "https://printer.local/mcp",
    "https://router.home.arpa/mcp",
    "https://other.workers.dev/mcp",
    "https://user:pass@mcp.tools.test/mcp",
    "https://mcp.tools.test:8443/mcp",
    "https://mcp.tools.test\\@127.0.0.1/mcp",
    "https://bücher.example/mcp",
]


def test_each_blocked_url_form_is_refused_at_put(upstreams: Upstreams) -> None:
    async def body(env: AgentEnv) -> list[tuple[int, Any]]:
        return [await put(env, "remote", {"kind": "mcp", "url": url}) for url in BLOCKED_URLS]

    answers, _ = run_with_remote(upstreams, body)
    for url, (status, answer) in zip(BLOCKED_URLS, answers, strict=True):
        assert status == 400 and answer["error"]["param"] == "url", (url, answer)


@pytest.mark.parametrize(
    ("spec", "param", "message"),
    [
        ({"kind": "mcp"}, "url", "needs the https URL"),
        ({"kind": "mcp", "url": "http://mcp.tools.test/mcp"}, "url", "only https"),
        ({"kind": "mcp", "url": "https://127.0.0.1/mcp"}, "url", "non-public IP"),
        ({"kind": "mcp", "url": "https://10.1.2.3/mcp"}, "url", "non-public IP"),
        ({"kind": "mcp", "url": URL, "allow_tools": ["add", 7]}, "allow_tools[1]", "must be a non-empty string"),
        ({"kind": "mcp", "url": URL, "requires_approval": "yes"}, "requires_approval", "list of remote tool names"),
        ({"kind": "mcp", "url": URL, "timeout_s": 0}, "timeout_s", "from 0.1 to 120"),
        ({"kind": "mcp", "url": URL, "parameters": {"type": "object"}}, "parameters", "is not a field"),
    ],
)
def test_bad_mcp_specs_are_400_naming_the_field(upstreams: Upstreams, spec: dict[str, Any], param: str, message: str) -> None:
    async def body(env: AgentEnv) -> tuple[int, Any]:
        return await put(env, "remote", spec)

    (status, answer), _ = run_with_remote(upstreams, body)
    assert status == 400 and answer["error"]["param"] == param and message in answer["error"]["message"]


def test_the_spec_round_trips_through_the_registry(upstreams: Upstreams) -> None:
    spec = {**SPEC, "requires_approval": ["slow"], "timeout_s": 3, "max_response_bytes": 4096}

    async def body(env: AgentEnv) -> Any:
        await put(env, "calc", spec)
        return (await env.call("GET", "/v1/tools/calc", key="k-ops"))[1]

    got, _ = run_with_remote(upstreams, body)
    assert got["requires_approval"] == ["slow"] and got["timeout_s"] == 3 and got["url"] == URL


# ---------------------------------------------------------------- the client against scripted answers


class ScriptedMcp:
    """A Fetcher answering each POST with the next scripted (status, headers, body); records requests."""

    def __init__(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, str]] = []

    async def __call__(self, url: str, *, method: str, headers: Any, body: bytes | None, timeout_ms: int) -> Any:
        from app.bindings import UpstreamResponse

        self.requests.append(dict(headers))
        status, answer_headers, payload = self.answers.pop(0)

        async def chunks() -> Any:
            yield payload

        return UpstreamResponse(status=status, headers=answer_headers, body=chunks())


def _remote(fetch: ScriptedMcp, **options: Any) -> Any:
    from app.agents.tools import parse_tool_spec

    spec = parse_tool_spec("calc", {"kind": "mcp", "url": URL, **options})
    return mcp_client.Remote(spec, fetch, (), {"authorization": "Bearer t"}, 1000)


def _init(session: str | None, **extra: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"content-type": "application/json", **extra}
    if session is not None:
        headers["mcp-session-id"] = session
    body = {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}}}
    return 200, headers, json.dumps(body).encode()


def test_server_text_never_sets_request_headers_but_its_session_id() -> None:
    import asyncio

    tools = b'event: message\ndata: {"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add","inputSchema":{"type":"object"}}]}}\n\n'
    fetch = ScriptedMcp(
        _init("s-1", **{"set-cookie": "a=b", "x-forward-to": "evil"}),
        (202, {}, b""),
        (200, {"content-type": "text/event-stream"}, tools),
    )
    mcp_client.clear_cache()
    discovery = asyncio.run(_remote(fetch).discover(lambda: 0.0))
    assert [t.name for t in discovery.tools] == ["add"]
    later = fetch.requests[1:]
    assert all(h["mcp-session-id"] == "s-1" and "cookie" not in h and "x-forward-to" not in h for h in later)
    assert set(later[0]) == {"authorization", "content-type", "accept", "mcp-protocol-version", "mcp-session-id"}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([_init("bad id\r\nx-evil: 1")], "invalid Mcp-Session-Id"),
        ([(200, {"content-type": "application/json"}, b'{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"1999-01-01"}}')], "protocol version"),
        ([(500, {"content-type": "text/html"}, b"<html>")], "not JSON-RPC"),
        ([(200, {"content-type": "application/json"}, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"no"}}')], "refused initialize: no"),
        ([(200, {"content-type": "application/json"}, b" " * 300_000)], "larger than max_response_bytes"),
    ],
)
def test_bad_servers_are_named_errors(answers: list[Any], message: str) -> None:
    import asyncio

    mcp_client.clear_cache()
    with pytest.raises(mcp_client.McpRemoteError, match=message):
        asyncio.run(_remote(ScriptedMcp(*answers)).discover(lambda: 0.0))
