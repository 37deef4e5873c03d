"""Agents on the REAL local runtime (`edgestack dev`: the Worker and the AgentState Durable Object on
Pyodide, DO SQLite storage and alarms, D1 and KV), against the scripted fake OpenAI upstream.

One runtime serves the whole module (its state lives for the module), so every test uses its own
agent ids. The fake upstream's script is shared: tests that script replies run their turns one at a
time. Deselect with `-m "not dev_runtime"` on a machine without Node.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import SECRETS, Upstreams, route, section
from harness.planned import key_sha256
from harness.target import DevRuntimeTarget, ExternalGateway

pytestmark = pytest.mark.dev_runtime

KEYS = {  # name -> (key, tenant, admin); tenant acme has tools, plain and globex have none
    "alice": ("k-dev-alice", "acme", False),
    "ops": ("k-dev-ops", "acme", True),
    "gina": ("k-dev-gina", "globex", False),
    "bob": ("k-dev-bob", "plain", False),
}
AGENTS = {
    "state_binding": "AGENT",
    "history_binding": "DB",
    "tools_binding": "TOOLS",
    "model_alias": "agent",
    "max_turns": 4,
}


@pytest.fixture(scope="module")
def dev(running_upstreams: Upstreams) -> Iterator[ExternalGateway]:
    keys = {
        name: {"sha256": key_sha256(k), "scope": scope, "admin": admin}
        for name, (k, scope, admin) in KEYS.items()
    }
    config = {
        "gateway": section(running_upstreams, {"agent": route(("oa", "gpt-a"))}, public=False, keys=keys),
        "agents": AGENTS,
    }
    with DevRuntimeTarget().start(config, SECRETS) as running:
        assert isinstance(running, ExternalGateway)
        yield running


def call(
    dev: ExternalGateway, method: str, path: str, body: Any = None, key: str = "alice"
) -> httpx.Response:
    headers = {"authorization": f"Bearer {KEYS[key][0]}"}
    return httpx.request(method, dev.base_url + path, json=body, headers=headers, timeout=60)


def history(dev: ExternalGateway, agent: str, key: str = "alice") -> list[dict[str, Any]]:
    dev.drain()  # the outbox flush runs after the response
    out: list[dict[str, Any]] = []
    before = None
    while True:
        query = "?limit=200" + (f"&before={before}" if before else "")
        page = call(dev, "GET", f"/v1/agents/{agent}/history{query}", key=key).json()
        out[:0] = page["data"]
        before = page["next_before"]
        if before is None:
            return out


def test_tool_loop_approval_and_history_on_the_local_runtime(
    dev: ExternalGateway, upstreams: Upstreams
) -> None:
    assert (
        call(dev, "PUT", "/v1/tools/lookup", {"kind": "kv_lookup", "prefix": "faq/"}, key="ops").status_code
        == 200
    )
    guarded = {"kind": "kv_lookup", "requires_approval": True}
    assert call(dev, "PUT", "/v1/tools/guarded", guarded, key="ops").status_code == 200
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[{"name": "lookup", "arguments": {"key": "hours"}}]),
        ScriptedReply(tool_calls=[{"name": "guarded", "arguments": {"key": "vault"}}]),
        ScriptedReply(text="all done"),
    )
    turn = call(dev, "POST", "/v1/agents/loop-1/messages", {"content": "look things up"})
    assert turn.status_code == 200, turn.text
    paused = turn.json()
    assert paused["status"] == "awaiting_approval"
    assert [m["role"] for m in paused["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert json.loads(paused["messages"][2]["content"]) == {"key": "hours", "found": False, "value": None}
    call_id = paused["pending_approvals"][0]["call_id"]
    state = call(dev, "GET", "/v1/agents/loop-1").json()
    assert state["pending_approvals"][0]["call_id"] == call_id and state["messages"] == 4
    resumed = call(dev, "POST", f"/v1/agents/loop-1/approvals/{call_id}", {"approve": False, "reason": "no"})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "completed" and resumed.json()["output"] == "all done"
    stored = history(dev, "loop-1")
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert "refused" in stored[4]["content"]
    bad = call(dev, "POST", "/v1/agents/loop-1/approvals/call_nope", {"approve": True})
    assert bad.status_code == 409 and bad.json()["error"]["param"] == "call_id"


def test_ssrf_guard_holds_on_the_local_runtime_whose_fetch_reaches_loopback(
    dev: ExternalGateway, upstreams: Upstreams
) -> None:
    spec = {"kind": "http_get", "allow_hosts": ["api.example.com", "127.0.0.1", "localhost"]}
    status = call(dev, "PUT", "/v1/tools/web", spec, key="ops").status_code
    assert status == 400  # loopback cannot even be allow-listed
    assert (
        call(dev, "PUT", "/v1/tools/web", {**spec, "allow_hosts": ["api.example.com"]}, key="ops").status_code
        == 200
    )
    port = upstreams.ob.port  # a loopback server the runtime could reach
    targets = [
        f"http://127.0.0.1:{port}/v1/chat/completions",
        f"https://127.0.0.1:{port}/",
        f"https://2130706433:{port}/",
        "https://[::ffff:127.0.0.1]/",
        "https://localhost/",
        f"https://api.example.com@127.0.0.1:{port}/",
    ]
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[{"name": "web", "arguments": {"url": url}} for url in targets]),
        ScriptedReply(text="blocked"),
    )
    turn = call(dev, "POST", "/v1/agents/ssrf-1/messages", {"content": "fetch these"}).json()
    errors = [json.loads(m["content"])["error"] for m in turn["messages"] if m["role"] == "tool"]
    assert len(errors) == len(targets) and all(errors)
    assert upstreams.ob.calls == 0  # nothing reached the loopback server


def test_two_tenants_with_one_agent_id_on_the_local_runtime(
    dev: ExternalGateway, upstreams: Upstreams
) -> None:
    a = call(dev, "POST", "/v1/agents/shared-id/messages", {"content": "plain only"}, key="bob").json()
    g = call(dev, "POST", "/v1/agents/shared-id/messages", {"content": "globex only"}, key="gina").json()
    assert a["output"] == "oa: plain only" and g["output"] == "oa: globex only"
    assert [m["content"] for m in history(dev, "shared-id", "bob")] == ["plain only", "oa: plain only"]
    assert [m["content"] for m in history(dev, "shared-id", "gina")] == ["globex only", "oa: globex only"]


def test_stream_on_the_local_runtime(dev: ExternalGateway, upstreams: Upstreams) -> None:
    headers = {"authorization": f"Bearer {KEYS['bob'][0]}"}
    events: list[tuple[str, Any]] = []
    with httpx.stream(
        "POST",
        dev.base_url + "/v1/agents/stream-1/messages",
        json={"content": "a b c", "stream": True},
        headers=headers,
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    assert [n for n, _ in events][-1] == "done"
    assert "".join(d["text"] for n, d in events if n == "step") == "oa: a b c"
    assert events[-1][1]["status"] == "completed"


def test_a_schedule_fires_from_the_real_alarm_once(dev: ExternalGateway, upstreams: Upstreams) -> None:
    assert call(dev, "PUT", "/v1/tools/remind", {"kind": "schedule"}, key="ops").status_code == 200
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[{"name": "remind", "arguments": {"in_s": 1, "prompt": "wake up"}}]),
        ScriptedReply(text="will do"),
        ScriptedReply(text="awake"),
    )
    turn = call(dev, "POST", "/v1/agents/alarm-1/messages", {"content": "remind me"}).json()
    assert turn["output"] == "will do"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = call(dev, "GET", "/v1/agents/alarm-1").json()
        if not state["schedules"] and state["messages"] >= 6:
            break
        time.sleep(0.25)
    stored = [m["content"] for m in history(dev, "alarm-1")]
    assert stored.count("wake up") == 1 and stored[-2:] == ["wake up", "awake"]


def test_one_hundred_concurrent_messages_to_one_agent(dev: ExternalGateway, upstreams: Upstreams) -> None:
    def send(i: int) -> dict[str, Any]:
        response = call(dev, "POST", "/v1/agents/busy-1/messages", {"content": f"message {i}"}, key="bob")
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=100) as pool:
        turns = list(pool.map(send, range(100)))
    assert all(t["status"] == "completed" for t in turns)
    stored = history(dev, "busy-1", "bob")
    assert len(stored) == 200
    users = [m["content"] for m in stored[0::2]]
    answers = [m["content"] for m in stored[1::2]]
    assert sorted(users) == sorted(f"message {i}" for i in range(100))  # none lost, none duplicated
    assert answers == [f"oa: {u}" for u in users]  # turns never interleave
    assert len({m["id"] for m in stored}) == 200
    # each response carries exactly its own two messages, as stored
    by_id = {m["id"]: m for m in stored}
    for turn in turns:
        assert [by_id[m["id"]]["content"] for m in turn["messages"]] == [
            m["content"] for m in turn["messages"]
        ]
    assert call(dev, "GET", "/v1/agents/busy-1", key="bob").json()["messages"] == 200
