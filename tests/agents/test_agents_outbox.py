"""History in D1 without loss or duplicates (outbox + alarm), and schedules that run exactly once.

D1 is SQLite behind a switch (`FlakyD1.down`); the Durable Object alarm is fired by the test, twice
where Cloudflare's at-least-once delivery could repeat it
(https://developers.cloudflare.com/durable-objects/api/alarms/)."""

from __future__ import annotations

import json
from typing import Any

from agents_testing import AgentEnv, run_env, stack_config, tool_call
from app.agents.outbox import flush_outbox
from app.agents.protocol import object_name
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import Upstreams


def storage(env: AgentEnv, agent_id: str, tenant: str = "acme") -> Any:
    return env.objects.storages[object_name(tenant, agent_id)]


def test_a_d1_outage_loses_nothing_and_the_alarm_replays_the_outbox(upstreams: Upstreams) -> None:
    async def body(env: AgentEnv) -> None:
        env.db.down = True
        for i in range(3):
            status, _ = await env.call("POST", "/v1/agents/a/messages", {"content": f"q{i}"})
            assert status == 200  # the turn does not depend on D1
        await env.settle()
        assert env.history_rows() == []
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["messages"] == 6 and state["state"]["outbox_pending"] == 6
        assert state["state"]["outbox_failures"] >= 1
        alarm = storage(env, "a").alarm_ms
        assert alarm is not None and alarm > env.clock() * 1000  # a retry with backoff

        env.clock.advance(3600)
        assert await env.objects.fire_alarms() == 1  # still down: the retry fails and re-arms
        assert env.history_rows() == [] and storage(env, "a").alarm_ms is not None

        env.db.down = False
        env.clock.advance(3600)
        assert await env.objects.fire_alarms() == 1
        rows = env.history_rows()
        assert [r["content"] for r in rows] == [x for i in range(3) for x in (f"q{i}", f"oa: q{i}")]
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["state"]["outbox_pending"] == 0 and state["state"]["outbox_failures"] == 0
        assert storage(env, "a").alarm_ms is None  # nothing left to do: no idle alarm

    run_env(stack_config(upstreams), body)


def test_replaying_rows_d1_already_has_creates_no_duplicates(upstreams: Upstreams) -> None:
    """A crash after D1 accepted the batch but before the outbox rows were deleted."""

    async def body(env: AgentEnv) -> None:
        await env.call("POST", "/v1/agents/a/messages", {"content": "once"})
        agent = env.objects.get(object_name("acme", "a"))
        before_delete = agent.store.outbox(50)
        await env.settle()
        assert len(env.history_rows()) == 2 and agent.store.outbox_size() == 0
        # put the rows back, as if the delete had never happened, and replay them
        for seq, payload in before_delete:
            agent.store.storage.sql(
                "INSERT INTO agent_outbox (seq, payload) VALUES (?, ?)", seq, json.dumps(payload)
            )
        assert await flush_outbox(agent.store, env.db, env.clock)
        assert [r["content"] for r in env.history_rows()] == ["once", "oa: once"]
        assert agent.store.outbox_size() == 0

    run_env(stack_config(upstreams), body)


def test_history_pages_oldest_first_with_next_before(upstreams: Upstreams) -> None:
    async def body(env: AgentEnv) -> None:
        for i in range(3):
            await env.call("POST", "/v1/agents/a/messages", {"content": f"q{i}"})
        await env.settle()
        status, page = await env.call("GET", "/v1/agents/a/history?limit=4")
        assert status == 200
        assert [m["content"] for m in page["data"]] == ["q1", "oa: q1", "q2", "oa: q2"]
        assert page["next_before"] == "3"
        _, older = await env.call("GET", f"/v1/agents/a/history?limit=4&before={page['next_before']}")
        assert [m["content"] for m in older["data"]] == ["q0", "oa: q0"] and older["next_before"] is None
        assert set(older["data"][0]) == {"id", "role", "content", "created_at"}

    run_env(stack_config(upstreams), body)


# ---------------------------------------------------------------- schedules


def test_a_schedule_runs_exactly_once_even_if_the_alarm_fires_twice(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("remind", in_s=60, prompt="water the plants")]),
        ScriptedReply(text="scheduled"),
        ScriptedReply(text="watering now"),
    )

    async def body(env: AgentEnv) -> None:
        await env.call("PUT", "/v1/tools/remind", {"kind": "schedule"}, key="k-ops")
        _, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "remind me in a minute"})
        assert turn["output"] == "scheduled"
        _, state = await env.call("GET", "/v1/agents/a")
        assert [s["prompt"] for s in state["schedules"]] == ["water the plants"]
        start = env.clock()
        # one alarm for both jobs: the outbox backstop (30 s) until the flush, then the schedule (60 s)
        assert storage(env, "a").alarm_ms == (start + 30) * 1000
        await env.settle()
        assert storage(env, "a").alarm_ms == (start + 60) * 1000
        assert await env.objects.fire_alarms() == 0  # not yet
        env.clock.advance(61)
        obj = env.objects.get(object_name("acme", "a"))
        await obj.alarm(env.services)  # delivered ...
        await obj.alarm(env.services)  # ... and delivered again
        await env.settle()
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["schedules"] == []
        contents = [r["content"] for r in env.history_rows()]
        assert contents.count("water the plants") == 1
        assert contents[-2:] == ["water the plants", "watering now"]

    run_env(stack_config(upstreams), body)


def test_a_failing_outbox_does_not_block_a_due_schedule(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("remind", at="2026-01-01T00:00:30Z", prompt="ping")]),
        ScriptedReply(text="ok"),
        ScriptedReply(text="pong"),
    )

    async def body(env: AgentEnv) -> None:
        await env.call("PUT", "/v1/tools/remind", {"kind": "schedule"}, key="k-ops")
        env.db.down = True
        await env.call("POST", "/v1/agents/a/messages", {"content": "ping me at :30"})
        await env.settle()
        env.clock.advance(40)
        assert await env.objects.fire_alarms() == 1
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["schedules"] == [] and state["messages"] == 6  # the scheduled turn ran
        assert state["state"]["outbox_pending"] == 6
        assert storage(env, "a").alarm_ms is not None  # the outbox retry is armed
        env.db.down = False
        env.clock.advance(600)
        await env.objects.fire_alarms()
        assert [r["content"] for r in env.history_rows()][-2:] == ["ping", "pong"]

    run_env(stack_config(upstreams), body)


def test_schedule_arguments_are_checked(upstreams: Upstreams) -> None:
    bad = [
        {"prompt": "x"},
        {"prompt": "x", "in_s": 5, "at": "2026-01-02T00:00:00Z"},
        {"prompt": "x", "in_s": -1},
        {"prompt": "x", "at": "yesterday"},
        {"prompt": "x", "at": "2025-01-01T00:00:00Z"},
        {"prompt": "", "in_s": 5},
    ]
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("remind", **args) for args in bad]), ScriptedReply(text="k")
    )

    async def body(env: AgentEnv) -> list[str]:
        await env.call("PUT", "/v1/tools/remind", {"kind": "schedule"}, key="k-ops")
        _, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "bad schedules"})
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["schedules"] == []
        return [json.loads(m["content"])["error"] for m in turn["messages"] if m["role"] == "tool"]

    errors = run_env(stack_config(upstreams), body)
    assert len(errors) == 6
    assert "exactly one" in errors[0] and "exactly one" in errors[1]
    assert (
        "'in_s'" in errors[2]
        and "ISO 8601" in errors[3]
        and "future" in errors[4]
        and "'prompt'" in errors[5]
    )


def test_a_schedule_waits_while_the_agent_awaits_an_approval(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(
            tool_calls=[tool_call("remind", in_s=10, prompt="later"), tool_call("guarded", key="x")]
        ),
        ScriptedReply(text="done"),
        ScriptedReply(text="scheduled answer"),
    )

    async def body(env: AgentEnv) -> None:
        await env.call("PUT", "/v1/tools/remind", {"kind": "schedule"}, key="k-ops")
        await env.call(
            "PUT", "/v1/tools/guarded", {"kind": "kv_lookup", "requires_approval": True}, key="k-ops"
        )
        _, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "go"})
        assert turn["status"] == "awaiting_approval"
        env.clock.advance(20)
        await env.objects.fire_alarms()
        _, state = await env.call("GET", "/v1/agents/a")
        assert len(state["schedules"]) == 1  # not consumed while paused
        assert storage(env, "a").alarm_ms == (env.clock() + 60) * 1000
        call_id = turn["pending_approvals"][0]["call_id"]
        await env.call("POST", f"/v1/agents/a/approvals/{call_id}", {"approve": True})
        env.clock.advance(61)
        await env.objects.fire_alarms()
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["schedules"] == []

    run_env(stack_config(upstreams), body)


def test_delete_removes_state_schedules_and_history(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("remind", in_s=60, prompt="x")]),
        ScriptedReply(text="k"),
        ScriptedReply(text="hi b"),
        ScriptedReply(text="hello again"),
    )

    async def body(env: AgentEnv) -> None:
        await env.call("PUT", "/v1/tools/remind", {"kind": "schedule"}, key="k-ops")
        await env.call("POST", "/v1/agents/a/messages", {"content": "hello"})
        await env.call("POST", "/v1/agents/b/messages", {"content": "other agent"})
        await env.settle()
        status, deleted = await env.call("DELETE", "/v1/agents/a")
        assert (status, deleted) == (200, {"agent_id": "a", "deleted": True})
        assert env.history_rows(agent_id="a") == [] and len(env.history_rows(agent_id="b")) == 2
        assert storage(env, "a").alarm_ms is None
        status, _ = await env.call("GET", "/v1/agents/a")
        assert status == 404
        _, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "fresh start"})
        assert turn["status"] == "completed"
        _, state = await env.call("GET", "/v1/agents/a")
        assert state["messages"] == 2 and state["schedules"] == []

    run_env(stack_config(upstreams), body)
