"""`app.gateway.internal`: the in-process chat entry used by agents and RAG.

Runs the real pipeline under CPython against the loopback fake upstreams (documented OpenAI and
Anthropic wire formats, see fakes/llm_upstreams.py), with SQLite standing in for D1 and a dict for KV.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from app.config import BuildInfo
from app.gateway.internal import (
    ChatResult,
    InternalChatRequest,
    TextDelta,
    ToolCallDelta,
    chat,
    stream_chat,
)
from app.gateway.state import IsolateState
from app.services import Services
from app.web.auth import Caller, Principal, authorize, require_admin
from app.web.errors import ApiError
from fakes.llm_upstreams import Fault
from gateway_testing import PLAIN_KEY, SECRETS, Upstreams, route, run, section
from harness.bindings import (
    BackgroundTasks,
    FakeClock,
    FakeRateLimiter,
    InMemoryKv,
    RecordingSleep,
    SqliteD1,
    budget_counters,
)
from harness.fetcher import H11Fetcher
from harness.planned import key_sha256, planned_config, runtime_config

T = TypeVar("T")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
ALICE = PLAIN_KEY._replace(name="alice", sha256=key_sha256("k-alice"), scope="acme", tokens_per_day=10_000)
ADMIN = PLAIN_KEY._replace(name="ops", sha256=key_sha256("k-ops"), scope="acme", admin=True)


class Env:
    def __init__(self, services: Services, background: BackgroundTasks, db: SqliteD1, kv: InMemoryKv):
        self.services, self.background, self.db, self.kv = services, background, db, kv
        self.state = IsolateState()

    def usage(self) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM gateway_usage ORDER BY ts_ms, request_id")


def with_env(
    upstreams: Upstreams, routes: dict[str, Any], body: Callable[[Env], Awaitable[T]], **top: Any
) -> T:
    top.setdefault(
        "keys",
        {
            "alice": {"sha256": ALICE.sha256, "scope": "acme", "tokens_per_day": 10_000},
            "ops": {"sha256": ADMIN.sha256, "scope": "acme", "admin": True},
        },
    )
    config = runtime_config(planned_config({"gateway": section(upstreams, routes, **top)}))

    async def go() -> T:
        clock = FakeClock()
        background = BackgroundTasks()
        db, kv = SqliteD1(), InMemoryKv(clock)
        fetcher = H11Fetcher()
        services = Services(
            build=BuildInfo(stack="t", bundle_version="t"),
            config=config,
            fetch=fetcher,
            wait_until=background,
            clock=clock,
            sleep=RecordingSleep(clock=clock),
            kv={"CACHE": kv},
            d1={"DB": db},
            rate_limits={"RATE_LIMITER": FakeRateLimiter(2, 60, clock)},
            secrets=SECRETS,
            durable_objects={"BUDGETS": budget_counters()},
        )
        try:
            result = await body(Env(services, background, db, kv))
            await background.drain()
            return result
        finally:
            await fetcher.aclose()

    return run(go())


def ask(text: str, **extra: Any) -> InternalChatRequest:
    return InternalChatRequest(model="chat", messages=[{"role": "user", "content": text}], **extra)


@pytest.mark.parametrize("provider", ["oa", "an"])
def test_chat_returns_openai_shaped_text_and_records_usage(fresh_upstreams: Upstreams, provider: str) -> None:
    model = "gpt-a" if provider == "oa" else "claude-c"

    async def body(env: Env) -> ChatResult:
        result = await chat(env.services, Principal(ALICE), ask("hello there"), state=env.state)
        await env.background.drain()
        rows = env.usage()
        assert len(rows) == 1 and rows[0]["status"] == 200 and rows[0]["key_id"] == "alice"
        assert rows[0]["provider"] == provider and rows[0]["alias"] == "chat"
        assert rows[0]["input_tokens"] == result.usage.prompt_tokens > 0
        return result

    result = with_env(fresh_upstreams, {"chat": route((provider, model))}, body)
    assert result.content == f"{provider}: hello there"
    assert result.tool_calls == ()
    assert result.response["object"] == "chat.completion"
    assert (result.provider, result.model, result.cache_status) == (provider, model, "BYPASS")
    assert result.message == {"role": "assistant", "content": f"{provider}: hello there"}


@pytest.mark.parametrize("provider", ["oa", "an"])
def test_chat_offers_tools_and_returns_tool_calls(fresh_upstreams: Upstreams, provider: str) -> None:
    model = "gpt-a" if provider == "oa" else "claude-c"

    async def body(env: Env) -> ChatResult:
        return await chat(env.services, Principal(ALICE), ask("find cats", tools=TOOLS), state=env.state)

    result = with_env(fresh_upstreams, {"chat": route((provider, model))}, body)
    assert result.finish_reason == "tool_calls"
    assert [(c.name, c.arguments.replace(" ", "")) for c in result.tool_calls] == [
        ("lookup", '{"query":"findcats"}')
    ]
    assert result.tool_calls[0].id
    assert result.message["tool_calls"][0]["function"]["name"] == "lookup"


def test_chat_falls_back_and_serves_the_cache(fresh_upstreams: Upstreams) -> None:
    fresh_upstreams.oa.push(Fault(status=503))
    routes = {"chat": route(("oa", "gpt-a"), ("ob", "gpt-b"), cache={"enabled": True})}

    async def body(env: Env) -> tuple[ChatResult, ChatResult]:
        first = await chat(env.services, Principal(ALICE), ask("q", temperature=0), state=env.state)
        await env.background.drain()  # the cache write
        second = await chat(env.services, Principal(ALICE), ask("q", temperature=0), state=env.state)
        await env.background.drain()
        assert [r["cache_status"] for r in env.usage()] == ["MISS", "HIT"]
        return first, second

    first, second = with_env(fresh_upstreams, routes, body)
    assert (first.provider, first.attempts, first.content) == ("ob", 2, "ob: q")
    assert (second.cache_status, second.content, second.provider) == ("HIT", "ob: q", "ob")
    assert fresh_upstreams.ob.calls == 1


def test_chat_errors_are_gateway_errors_and_are_recorded(fresh_upstreams: Upstreams) -> None:
    restricted = {"bob": {"sha256": key_sha256("k-bob"), "scope": "b", "allowed_models": ["other"]}}

    async def body(env: Env) -> list[tuple[int, str | None]]:
        seen = []
        bob = Principal(
            PLAIN_KEY._replace(name="bob", sha256=key_sha256("k-bob"), scope="b", allowed_models=frozenset({"other"}))
        )
        for principal, request in [
            (
                Principal(ALICE),
                InternalChatRequest(model="nope", messages=[{"role": "user", "content": "x"}]),
            ),
            (bob, ask("x")),
            (Principal(ALICE), InternalChatRequest(model="chat", messages=[])),
        ]:
            with pytest.raises(ApiError) as caught:
                await chat(env.services, principal, request, state=env.state)
            seen.append((caught.value.status, caught.value.param))
        await env.background.drain()
        assert [r["status"] for r in env.usage()] == [404, 403, 400]
        return seen

    routes = {"chat": route(("oa", "gpt-a")), "other": route(("oa", "gpt-a"))}
    seen = with_env(fresh_upstreams, routes, body, keys=restricted)
    assert seen == [(404, "model"), (403, "model"), (400, "messages")]


def test_chat_when_every_candidate_fails_raises_a_5xx(fresh_upstreams: Upstreams) -> None:
    fresh_upstreams.oa.push(Fault(status=500), Fault(status=500), Fault(status=500))

    async def body(env: Env) -> int:
        with pytest.raises(ApiError) as caught:
            await chat(env.services, Principal(ALICE), ask("x"), state=env.state)
        return caught.value.status

    assert with_env(fresh_upstreams, {"chat": route(("oa", "gpt-a"))}, body) >= 500


def test_chat_counts_against_the_key_quota(fresh_upstreams: Upstreams) -> None:
    tight = {"alice": {"sha256": ALICE.sha256, "scope": "acme", "requests_per_day": 1}}
    key = PLAIN_KEY._replace(name="alice", sha256=ALICE.sha256, scope="acme", requests_per_day=1)

    async def body(env: Env) -> int:
        await chat(env.services, Principal(key), ask("one"), state=env.state)
        await env.background.drain()
        with pytest.raises(ApiError) as caught:
            await chat(env.services, Principal(key), ask("two"), state=env.state)
        return caught.value.status

    assert with_env(fresh_upstreams, {"chat": route(("oa", "gpt-a"))}, body, keys=tight) == 429


async def _collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


@pytest.mark.parametrize("provider", ["oa", "an"])
def test_stream_chat_yields_deltas_then_the_result(fresh_upstreams: Upstreams, provider: str) -> None:
    model = "gpt-a" if provider == "oa" else "claude-c"

    async def body(env: Env) -> tuple[list[Any], list[Any]]:
        text = await _collect(stream_chat(env.services, Principal(ALICE), ask("a b c"), state=env.state))
        tools = await _collect(
            stream_chat(env.services, Principal(ALICE), ask("z", tools=TOOLS), state=env.state)
        )
        await env.background.drain()
        rows = env.usage()
        assert [(r["status"], r["stream"]) for r in rows] == [(200, 1), (200, 1)]
        assert all(r["output_tokens"] > 0 for r in rows)
        return text, tools

    text, tools = with_env(fresh_upstreams, {"chat": route((provider, model))}, body)
    assert "".join(i.text for i in text if isinstance(i, TextDelta)) == f"{provider}: a b c"
    assert isinstance(text[-1], ChatResult) and text[-1].content == f"{provider}: a b c"
    deltas = [i for i in tools if isinstance(i, ToolCallDelta)]
    assert deltas[0].name == "lookup" and deltas[0].id
    assert "".join(d.arguments for d in deltas).replace(" ", "") == '{"query":"z"}'
    assert tools[-1].tool_calls[0].name == "lookup"


def test_stream_chat_replays_a_cache_hit(fresh_upstreams: Upstreams) -> None:
    routes = {"chat": route(("oa", "gpt-a"), cache={"enabled": True})}

    async def body(env: Env) -> list[Any]:
        await chat(env.services, Principal(ALICE), ask("hi", temperature=0), state=env.state)
        await env.background.drain()
        return await _collect(
            stream_chat(env.services, Principal(ALICE), ask("hi", temperature=0), state=env.state)
        )

    items = with_env(fresh_upstreams, routes, body)
    assert "".join(i.text for i in items if isinstance(i, TextDelta)) == "oa: hi"
    assert items[-1].cache_status == "HIT"
    assert fresh_upstreams.oa.calls == 1


def test_stream_chat_broken_mid_stream_raises_502(fresh_upstreams: Upstreams) -> None:
    fresh_upstreams.oa.push(Fault(drop="mid_body"))

    async def body(env: Env) -> int:
        with pytest.raises(ApiError) as caught:
            await _collect(stream_chat(env.services, Principal(ALICE), ask("a b c d"), state=env.state))
        await env.background.drain()
        assert env.usage()[-1]["status"] == 502
        return caught.value.status

    assert with_env(fresh_upstreams, {"chat": route(("oa", "gpt-a"))}, body) == 502


# ---------------------------------------------------------------- the shared caller helper


def test_authorize_names_the_tenant_and_admin_rights(fresh_upstreams: Upstreams) -> None:
    async def body(env: Env) -> list[Caller]:
        config = env.state.config.get(env.services.config)
        assert config is not None
        return [
            await authorize(config, env.services, {"authorization": "Bearer k-alice"}, "ip1"),
            await authorize(config, env.services, {"x-api-key": "k-ops"}, "ip2"),
            await authorize(config, env.services, {}, "ip3"),
        ]

    alice, ops, anonymous = with_env(fresh_upstreams, {"chat": route(("oa", "gpt-a"))}, body)
    assert (alice.tenant, alice.is_admin) == ("acme", False)
    assert (ops.tenant, ops.is_admin) == ("acme", True)
    assert (anonymous.tenant, anonymous.is_admin) == ("public", False)
    with pytest.raises(ApiError) as caught:
        require_admin(alice, "PUT /v1/tools/x")
    assert caught.value.status == 403 and "admin: true" in caught.value.message
    require_admin(ops, "PUT /v1/tools/x")


def test_authorize_rejects_missing_keys_and_applies_the_rate_limit(fresh_upstreams: Upstreams) -> None:
    async def body(env: Env) -> list[int]:
        config = env.state.config.get(env.services.config)
        assert config is not None
        statuses = []
        for headers in ({}, {"authorization": "Bearer k-alice"}, {"authorization": "Bearer k-alice"}):
            try:
                await authorize(config, env.services, headers, "same-ip")
                statuses.append(200)
            except ApiError as error:
                statuses.append(error.status)
        return statuses

    statuses = with_env(
        fresh_upstreams,
        {"chat": route(("oa", "gpt-a"))},
        body,
        public=False,
        rate_limit={"binding": "RATE_LIMITER", "key": "ip"},
    )
    assert statuses == [401, 200, 429]  # the limiter allows 2 per minute per IP; the 401 counted too


def test_in_process_calls_reserve_against_budgets_like_http_ones(fresh_upstreams: Upstreams) -> None:
    """RAG and agents call models through `internal`: the same reservation applies (here it cannot fit)."""

    async def body(env: Env) -> ApiError:
        with pytest.raises(ApiError) as raised:
            await chat(env.services, Principal(ALICE), ask("hello", max_tokens=2), state=env.state)
        return raised.value

    budgets = {"tiny": {"scope": "tenant", "match": "acme", "limit_usd": 0.000001, "window": "day"}}
    error = with_env(
        fresh_upstreams, {"chat": route(("oa", "gpt-a"))}, body, budgets=budgets, budget_binding="BUDGETS"
    )
    assert (error.status, error.code) == (429, "budget_exceeded") and "'tiny'" in str(error)
    assert fresh_upstreams.oa.calls == 0
