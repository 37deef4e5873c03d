"""Fuzz every `/v1` route that reads a JSON body, on the Worker core under CPython: generated bodies
(deep, wide, lone surrogates, huge numbers, plausible field names) never get a 5xx.

The same property on the real local runtime (where a parser recursion kills the isolate) is in
test_security_dev_runtime.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from agents_testing import AgentEnv, stack_config
from app.web.jsonbody import MAX_DEPTH
from gateway_testing import Upstreams
from harness.rag_world import WRITER, RagWorld
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("EDGESTACK_FUZZ_EXAMPLES", "150"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
RAG_MODEL = "docs-rag"

# Field names the routes read, so generated bodies get past the first checks now and then.
FIELDS = (
    "model", "messages", "role", "content", "stream", "max_tokens", "query", "filter", "top_k",
    "mode", "text", "title", "metadata", "category", "year", "kind", "url", "description",
    "headers", "secret_headers", "allow_hosts", "prefix", "approve", "reason", "parameters",
)  # fmt: skip
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["user", "assistant", RAG_MODEL, "agent", "hybrid", "http_get", "kv_lookup"]),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), SURROGATES, st.text(max_size=4)),
)
numbers = st.one_of(
    st.integers(),
    st.sampled_from([2**53 + 1, -(2**53) - 1, 10**30, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.none() | st.booleans() | numbers | texts
keys = st.sampled_from(FIELDS) | texts
values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=4), max_leaves=20
)


def _encode(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


objects = st.builds(_encode, st.dictionaries(keys, values, max_size=6), st.booleans())
chat_like = st.builds(
    _encode,
    st.fixed_dictionaries(
        {"model": st.sampled_from([RAG_MODEL, "agent", "nope"]), "messages": values},
        optional={"stream": st.booleans(), "content": values, "query": values, "filter": values},
    ),
    st.booleans(),
)
deep = st.builds(
    lambda prefix, opener, n, closed: prefix + opener * n + (b"1" + b"]" * n if closed and opener == b"[" else b""),
    st.sampled_from([b"", b'{"model":"docs-rag","messages":', b'{"filter":', b'{"content":"hi","x":']),
    st.sampled_from([b"[", b'{"a":', b'[{"k":']),
    st.integers(MAX_DEPTH + 1, 20_000),
    st.booleans(),
)
wide = st.builds(
    lambda n, item: _encode({"model": RAG_MODEL, "messages": [item] * n, "query": "q"}, True),
    st.integers(0, 2_000),
    st.sampled_from([{"role": "user", "content": "x"}, 1, "s", [], {}]),
)
bodies = st.one_of(objects, chat_like, deep, wide)

RAG_ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/rag/search"),
    ("POST", "/v1/rag/query"),
    ("PUT", "/v1/documents/fuzz-doc"),
]
AGENT_ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/agents/fuzz/messages"),
    ("POST", "/v1/agents/fuzz/approvals/call_1"),
    ("PUT", "/v1/tools/fuzz_tool"),
]


@pytest.fixture(scope="module")
def rag_world() -> RagWorld:
    return RagWorld(expose_as_model=RAG_MODEL)


@SETTINGS
@given(route=st.sampled_from(RAG_ROUTES), body=bodies)
def test_gateway_and_rag_routes_never_answer_5xx(rag_world: RagWorld, route: tuple[str, str], body: bytes) -> None:
    method, path = route
    response = rag_world.request(method, path, body, key=WRITER, content_type="application/json")
    assert response.status < 500, (route, body[:200], response.body[:300])


@pytest.fixture(scope="module")
def agent_env(running_upstreams: Upstreams) -> Iterator[tuple[asyncio.AbstractEventLoop, AgentEnv]]:
    loop = asyncio.new_event_loop()
    env = loop.run_until_complete(_make_env(stack_config(running_upstreams)))
    try:
        yield loop, env
    finally:
        loop.run_until_complete(env.close())
        loop.close()


async def _make_env(config: dict[str, Any]) -> AgentEnv:
    return AgentEnv(config)


@SETTINGS
@given(route=st.sampled_from(AGENT_ROUTES), body=bodies)
def test_agent_and_tool_routes_never_answer_5xx(
    agent_env: tuple[asyncio.AbstractEventLoop, AgentEnv], route: tuple[str, str], body: bytes
) -> None:
    loop, env = agent_env
    method, path = route
    status, payload = loop.run_until_complete(env.call(method, path, key="k-ops", raw=body))
    loop.run_until_complete(env.settle())
    assert status < 500, (route, body[:200], str(payload)[:300])
