"""The turn loop through the real gateway pipeline, with a scripted fake OpenAI upstream issuing tool
calls in the documented wire format (fakes/llm_upstreams.py), under CPython (agents_testing.py)."""

from __future__ import annotations

import asyncio
import json
import sys
import types
from typing import Any

import app
import pytest
from agents_testing import AgentEnv, ScriptedWeb, run_env, stack_config, tool_call
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import Upstreams

LOOKUP = {"kind": "kv_lookup", "prefix": "faq/"}
WEB = {"kind": "http_get", "allow_hosts": ["api.weather.example.com"], "headers": {"authorization": "Bearer w"}}


async def put_tools(env: AgentEnv, admin: str = "k-ops", **tools: dict[str, Any]) -> None:
    for name, spec in tools.items():
        status, body = await env.call("PUT", f"/v1/tools/{name}", spec, key=admin)
        assert status == 200, body


def sent_messages(upstreams: Upstreams) -> list[list[dict[str, Any]]]:
    return [r.body["messages"] for r in upstreams.oa.requests]


def test_multi_step_tool_loop_feeds_results_back_and_stores_everything(upstreams: Upstreams) -> None:
    web = ScriptedWeb(
        {"https://api.weather.example.com/today": (200, {"content-type": "application/json"}, b'{"t":21}')}
    )
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("lookup", key="hours")]),
        ScriptedReply(
            text="checking", tool_calls=[tool_call("weather", url="https://api.weather.example.com/today")]
        ),
        ScriptedReply(text="Open 9-5, 21 degrees."),
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, lookup=LOOKUP, weather=WEB)
        await env.tools_kv.put("agent-data/acme/faq/hours", "9-5")
        status, turn = await env.call("POST", "/v1/agents/helper/messages", {"content": "hours and weather?"})
        assert status == 200, turn
        await env.settle()
        history = env.history_rows(agent_id="helper")
        assert [r["id"] for r in history] == [m["id"] for m in turn["messages"]]
        return turn

    turn = run_env(stack_config(upstreams), body, fetch=web)
    assert (turn["status"], turn["output"], turn["pending_approvals"]) == (
        "completed",
        "Open 9-5, 21 degrees.",
        [],
    )
    roles = [m["role"] for m in turn["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    lookup_result = json.loads(turn["messages"][2]["content"])
    assert lookup_result == {"key": "hours", "found": True, "value": "9-5"}
    weather = json.loads(turn["messages"][4]["content"])
    assert (weather["status"], weather["body"]) == (200, '{"t":21}')
    assert turn["messages"][4]["tool_call_id"] == turn["messages"][3]["tool_calls"][0]["id"]
    assert web.requests == [("https://api.weather.example.com/today", {"authorization": "Bearer w"})]
    # the model saw each tool result, and was offered both tools
    third = upstreams.oa.requests[2].body
    assert [m["role"] for m in third["messages"]] == roles[:5]
    assert sorted(t["function"]["name"] for t in third["tools"]) == ["lookup", "weather"]


def test_tool_errors_go_back_to_the_model_as_results(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(
            tool_calls=[
                tool_call("nope"),
                tool_call("weather", url="http://api.weather.example.com/x"),
                {"name": "lookup", "arguments": {"key": "../../etc"}},
            ]
        ),
        ScriptedReply(text="sorry"),
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, lookup=LOOKUP, weather=WEB)
        status, turn = await env.call("POST", "/v1/agents/a/messages", {"content": "go"})
        assert status == 200
        return turn

    turn = run_env(stack_config(upstreams), body, fetch=ScriptedWeb())
    errors = [json.loads(m["content"])["error"] for m in turn["messages"] if m["role"] == "tool"]
    assert "unknown tool 'nope'" in errors[0]
    assert "only https" in errors[1]
    assert "'..'" in errors[2]
    assert turn["status"] == "completed" and turn["output"] == "sorry"


def test_a_slow_tool_times_out_into_a_tool_result(upstreams: Upstreams) -> None:
    class SlowWeb(ScriptedWeb):
        """A fetch that never answers: it waits for an event nobody sets, so only the timeout ends it."""

        async def __call__(self, url: str, **kwargs: Any) -> Any:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("weather", url="https://api.weather.example.com/slow")]),
        ScriptedReply(text="it timed out"),
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, weather={**WEB, "timeout_ms": 100})
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "go"}))[1]

    turn = run_env(stack_config(upstreams), body, fetch=SlowWeb())
    assert "timed out after 0.1 s" in json.loads(turn["messages"][2]["content"])["error"]
    assert turn["status"] == "completed"


# ---------------------------------------------------------------- approvals


APPROVED_TOOL = {**LOOKUP, "requires_approval": True}


@pytest.mark.parametrize("approve", [True, False])
def test_approval_pauses_the_turn_and_resumes_it(upstreams: Upstreams, approve: bool) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("secret", key="k1"), tool_call("lookup", key="k2")]),
        ScriptedReply(text="finished"),
    )

    async def body(env: AgentEnv) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        await put_tools(env, secret=APPROVED_TOOL, lookup=LOOKUP)
        await env.tools_kv.put("agent-data/acme/faq/k1", "classified")
        _, paused = await env.call("POST", "/v1/agents/a/messages", {"content": "go"})
        _, state = await env.call("GET", "/v1/agents/a")
        status, blocked = await env.call("POST", "/v1/agents/a/messages", {"content": "again"})
        assert status == 409 and blocked["error"]["code"] == "awaiting_approval"
        call_id = paused["pending_approvals"][0]["call_id"]
        status, resumed = await env.call(
            "POST", f"/v1/agents/a/approvals/{call_id}", {"approve": approve, "reason": "not today"}
        )
        assert status == 200, resumed
        _, after = await env.call("GET", "/v1/agents/a")
        return paused, state, resumed, after

    paused, state, resumed, after = run_env(stack_config(upstreams), body)
    assert paused["status"] == "awaiting_approval" and paused["output"] is None
    assert [(p["tool"], json.loads(p["arguments"])) for p in paused["pending_approvals"]] == [
        ("secret", {"key": "k1"})
    ]
    # the call without approval ran at once; the approved one waits
    assert [m["role"] for m in paused["messages"]] == ["user", "assistant", "tool"]
    assert state["pending_approvals"] == paused["pending_approvals"]
    assert state["state"]["status"] == "awaiting_approval"
    assert resumed["status"] == "completed" and resumed["output"] == "finished"
    assert [m["role"] for m in resumed["messages"]] == ["tool", "assistant"]
    result = json.loads(resumed["messages"][0]["content"])
    if approve:
        assert result["value"] == "classified" and result["approved_by"] == "alice"
    else:
        assert result == {
            "refused_by": "alice",
            "error": "the user refused this tool call: not today; do not retry it",
        }
    assert after["pending_approvals"] == [] and after["messages"] == 5
    # the model got the refusal or the value as the tool's result
    last_prompt = upstreams.oa.requests[-1].body["messages"]
    assert last_prompt[-1]["role"] == "tool" or last_prompt[-2]["role"] == "tool"


# ---------------------------------------------------------------- budgets


def test_max_turns_ends_the_turn_with_budget_exhausted(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        *[ScriptedReply(text=f"step {i}", tool_calls=[tool_call("lookup", key="x")]) for i in range(5)]
    )

    async def body(env: AgentEnv) -> tuple[int, dict[str, Any]]:
        await put_tools(env, lookup=LOOKUP)
        return await env.call("POST", "/v1/agents/a/messages", {"content": "loop forever"})

    status, turn = run_env(stack_config(upstreams, max_turns=2), body)
    assert status == 200
    assert (turn["status"], turn["budget"], turn["output"]) == ("budget_exhausted", "max_turns", "step 1")
    assert upstreams.oa.calls == 2
    # every tool call has its result, so the next turn starts from a valid conversation
    assert [m["role"] for m in turn["messages"]] == ["user", "assistant", "tool", "assistant", "tool"]


def test_max_tool_calls_answers_the_rest_with_not_run(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(tool_calls=[tool_call("lookup", key=str(i)) for i in range(3)]))

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, lookup=LOOKUP)
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "three"}))[1]

    turn = run_env(stack_config(upstreams, max_tool_calls=2), body)
    assert (turn["status"], turn["budget"]) == ("budget_exhausted", "max_tool_calls")
    results = [json.loads(m["content"]) for m in turn["messages"] if m["role"] == "tool"]
    assert [("error" in r) for r in results] == [False, False, True]
    assert "max_tool_calls" in results[2]["error"]


def test_the_wall_clock_deadline_ends_the_turn(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(*[ScriptedReply(tool_calls=[tool_call("lookup", key="x")]) for _ in range(5)])

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, lookup=LOOKUP)
        original = env.tools_kv.get

        async def slow_get(key: str) -> str | None:
            env.clock.advance(4)  # each lookup takes 4 s of the turn's 10 s
            return await original(key)

        env.tools_kv.get = slow_get  # type: ignore[method-assign]
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "slow"}))[1]

    turn = run_env(stack_config(upstreams, turn_deadline_s=10, max_turns=10), body)
    assert (turn["status"], turn["budget"]) == ("budget_exhausted", "turn_deadline_s")
    assert upstreams.oa.calls == 3  # 0 s, 4 s, 8 s; at 12 s no further model call


def test_a_gateway_failure_is_an_error_response_not_a_500(upstreams: Upstreams) -> None:
    from fakes.llm_upstreams import Fault

    upstreams.oa.push(*[Fault(status=500)] * 3)

    async def body(env: AgentEnv) -> tuple[int, Any, int]:
        status, payload = await env.call("POST", "/v1/agents/a/messages", {"content": "hi"})
        _, state = await env.call("GET", "/v1/agents/a")
        return status, payload, state["messages"]

    status, payload, stored = run_env(stack_config(upstreams), body)
    assert status in (502, 503, 504) and payload["error"]["type"] != "internal"
    assert stored == 1  # the user message is kept; the next turn can answer it


# ---------------------------------------------------------------- context, limits


def test_context_keeps_the_last_messages_and_starts_at_a_user_message(upstreams: Upstreams) -> None:
    async def body(env: AgentEnv) -> None:
        for i in range(5):
            await env.call("POST", "/v1/agents/a/messages", {"content": f"m{i}"})

    run_env(stack_config(upstreams, max_context_messages=3, system_prompt="be brief"), body)
    prompts = [[m["content"] for m in sent[1:]] for sent in sent_messages(upstreams)]
    assert all(sent[0] == {"role": "system", "content": "be brief"} for sent in sent_messages(upstreams))
    assert prompts == [
        ["m0"],
        ["m0", "oa: m0", "m1"],
        ["m1", "oa: m1", "m2"],
        ["m2", "oa: m2", "m3"],
        ["m3", "oa: m3", "m4"],
    ]


def test_context_window_never_starts_with_an_orphaned_answer(upstreams: Upstreams) -> None:
    async def body(env: AgentEnv) -> None:
        for i in range(3):
            await env.call("POST", "/v1/agents/a/messages", {"content": f"m{i}"})

    run_env(stack_config(upstreams, max_context_messages=2), body)
    # the last 2 stored messages before the third call are [oa: m1, m2]: the window starts at m2
    assert [[m["content"] for m in sent] for sent in sent_messages(upstreams)] == [["m0"], ["m1"], ["m2"]]


def test_large_tool_output_is_truncated_before_storing_and_says_so(upstreams: Upstreams) -> None:
    big = b"x" * 50_000
    web = ScriptedWeb({"https://api.weather.example.com/big": (200, {"content-type": "text/plain"}, big)})
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("weather", url="https://api.weather.example.com/big")]),
        ScriptedReply(text="ok"),
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, weather={**WEB, "max_response_bytes": 40_000})
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "big"}))[1]

    turn = run_env(stack_config(upstreams, max_tool_output_chars=1000), body, fetch=web)
    stored = turn["messages"][2]["content"]
    assert len(stored) < 1200
    assert "[truncated by edgestack:" in stored and "characters removed before storing]" in stored


def test_oversized_tool_arguments_are_refused_and_cut_before_storing(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("lookup", key="k" * 150_000)]), ScriptedReply(text="ok")
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, lookup=LOOKUP)
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "huge"}))[1]

    turn = run_env(stack_config(upstreams), body)
    stored_arguments = turn["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert len(stored_arguments) < 100_200 and "[truncated by edgestack:" in stored_arguments
    assert (
        "not run: the arguments are 150011 characters" in json.loads(turn["messages"][2]["content"])["error"]
    )
    assert turn["status"] == "completed"


# ---------------------------------------------------------------- streaming


def test_stream_sends_steps_tool_events_and_done(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(text="let me look", tool_calls=[tool_call("lookup", key="hours")]),
        ScriptedReply(text="open nine to five"),
    )

    async def body(env: AgentEnv) -> tuple[int, list[tuple[str, Any]]]:
        await put_tools(env, lookup=LOOKUP)
        return await env.sse("/v1/agents/s/messages", {"content": "hours?", "stream": True})

    status, events = run_env(stack_config(upstreams), body)
    assert status == 200
    names = [name for name, _ in events]
    assert names[0] == "step" and names[-1] == "done"
    assert names.index("tool_call") < names.index("tool_result") < len(names) - 1
    text = "".join(data["text"] for name, data in events if name == "step")
    assert text == "let me look" + "open nine to five"  # the deltas of both model calls
    done = events[-1][1]
    assert done["status"] == "completed" and done["output"] == "open nine to five"
    assert events[names.index("tool_call")][1]["tool"] == "lookup"


# ---------------------------------------------------------------- ordering


def test_concurrent_messages_to_one_agent_run_one_turn_at_a_time_in_order(upstreams: Upstreams) -> None:
    upstreams.oa.configure(latency_ms=2)

    async def body(env: AgentEnv) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        turns = await asyncio.gather(
            *[env.call("POST", "/v1/agents/busy/messages", {"content": f"n{i}"}) for i in range(40)]
        )
        await env.settle()
        return [t for _, t in turns], env.history_rows(agent_id="busy")

    turns, history = run_env(stack_config(upstreams), body)
    contents = [r["content"] for r in history]
    assert len(contents) == 80
    # arrival order (gather starts them in order), each answer right after its question
    assert contents == [x for i in range(40) for x in (f"n{i}", f"oa: n{i}")]
    assert [r["seq"] for r in history] == list(range(1, 81))
    assert all(t["status"] == "completed" for t in turns)


# ---------------------------------------------------------------- rag_search


def test_rag_search_says_rag_is_not_configured(upstreams: Upstreams) -> None:
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("kb", query="refunds")]), ScriptedReply(text="no kb")
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, kb={"kind": "rag_search"})
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "refunds?"}))[1]

    turn = run_env(stack_config(upstreams), body)
    assert "RAG is not configured" in json.loads(turn["messages"][2]["content"])["error"]


def test_rag_search_calls_the_rag_package_with_the_tenant(
    upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for `app.rag.search` with the signature issue 8 exposes."""
    seen: list[tuple[str, str, Any, Any]] = []

    class Hit(types.SimpleNamespace):
        pass

    async def search(
        services: Any, tenant: str, query: str, *, top_k: Any = None, mode: Any = None, filter: Any = None
    ) -> list[Any]:
        seen.append((tenant, query, top_k, mode))
        return [Hit(doc_id="d1", chunk=0, score=0.9, title="Refunds", text="30 days")]

    fake = types.ModuleType("app.rag")
    fake.search = search  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.rag", fake)
    monkeypatch.setattr(app, "rag", fake, raising=False)  # also when the real package was imported
    upstreams.oa.push_script(
        ScriptedReply(tool_calls=[tool_call("kb", query="refunds")]), ScriptedReply(text="30 days")
    )

    async def body(env: AgentEnv) -> dict[str, Any]:
        await put_tools(env, "k-globex-admin", kb={"kind": "rag_search", "top_k": 3, "mode": "hybrid"})
        return (await env.call("POST", "/v1/agents/a/messages", {"content": "refunds?"}, key="k-globex"))[1]

    turn = run_env(stack_config(upstreams, rag=True), body)
    assert seen == [("globex", "refunds", 3, "hybrid")]
    results = json.loads(turn["messages"][2]["content"])["results"]
    assert results == [{"doc_id": "d1", "chunk": 0, "score": 0.9, "title": "Refunds", "text": "30 days"}]
