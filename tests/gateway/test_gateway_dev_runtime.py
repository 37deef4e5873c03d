"""A representative subset of the gateway integration tests, always run against the REAL local runtime
(`edgestack dev`: the Worker on Pyodide inside Miniflare/workerd, with its KV, D1 and rate-limit
bindings), whatever `EDGESTACK_GATEWAY_TARGET` says.

One runtime serves the whole module: its stack's gateway section (below) covers every test, and the
loopback fake upstreams (tests/fakes/llm_upstreams.py, documented OpenAI/Anthropic wire formats) start
first. Because the runtime's state (cache, breakers, usage rows) lives for the module, every test uses its
own route alias, prompt or key, so no test sees another's cache entries, breaker counts or usage rows.
The rest of the suite runs in the in-process harness by default (see docs/gateway.md, "Tests").
Deselect with `-m "not dev_runtime"` on a machine without Node.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from fakes.llm_upstreams import Fault
from gateway_testing import (
    SECRETS,
    WEATHER,
    Upstreams,
    anthropic_client,
    openai_client,
    read_openai_stream,
    route,
    section,
)
from harness.planned import key_sha256
from harness.target import DevRuntimeTarget, ExternalGateway

pytestmark = pytest.mark.dev_runtime

KEY = "sk-dev-runtime-1"  # tenant "dev"
OTHER_KEY = "sk-dev-other"  # tenant "other", for cache isolation
METER_KEY = "sk-dev-meter"  # used only by the usage test, which reads back its own rows
KEYS = {
    "dev": {"sha256": key_sha256(KEY), "scope": "dev"},
    "other": {"sha256": key_sha256(OTHER_KEY), "scope": "other"},
    "meter": {"sha256": key_sha256(METER_KEY), "scope": "meter"},
}
NO_DELAY = {"max_attempts": 3, "base_delay_ms": 0}


def _routes() -> dict:
    return {
        "to-openai": route(("oa", "gpt-a")),
        "to-anthropic": route(("an", "claude-c")),
        "chain-503": route(("oa", "gpt-a"), ("ob", "gpt-b"), retry=NO_DELAY),
        "chain-429": route(("oa", "gpt-a"), ("ob", "gpt-b"), retry=NO_DELAY),
        "solo": route(
            ("oa", "gpt-a"),
            retry={"max_attempts": 3, "backoff": "constant", "base_delay_ms": 10, "max_total_ms": 20_000},
        ),
        "cached": route(("oa", "gpt-a"), cache={"enabled": True, "ttl_s": 600, "max_temperature": 0.5}),
        "cached-anthropic": route(("an", "claude-c"), cache={"enabled": True, "ttl_s": 600}),
        "metered": route(("oa", "gpt-a")),
    }


@pytest.fixture(scope="module")
def dev_gw(upstreams: Upstreams) -> Iterator[ExternalGateway]:
    config = {"gateway": section(upstreams, _routes(), public=False, keys=KEYS)}
    with DevRuntimeTarget().start(config, SECRETS) as running:
        assert isinstance(running, ExternalGateway)
        yield running


@pytest.fixture
def gw(dev_gw: ExternalGateway, fresh_upstreams: Upstreams) -> ExternalGateway:
    return dev_gw


def _openai(gw: ExternalGateway, key: str = KEY) -> openai.OpenAI:
    return openai_client(gw.base_url, api_key=key)


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------- translation, both SDKs


def test_openai_sdk_to_anthropic_upstream_translates_system_tools_and_usage(gw, fresh_upstreams) -> None:
    fresh_upstreams.an.configure(cached_tokens=5)
    raw = _openai(gw).chat.completions.with_raw_response.create(
        model="to-anthropic",
        tools=[WEATHER],
        messages=[{"role": "system", "content": "You are terse."}, *_user("Paris?")],
    )
    completion = raw.parse()
    assert raw.headers["x-edgestack-provider"] == "an" and raw.headers["x-edgestack-attempts"] == "1"
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls" and call.function.name == "weather"
    assert json.loads(call.function.arguments) == {"query": "Paris?"}
    assert completion.usage.prompt_tokens_details.cached_tokens == 5
    sent = fresh_upstreams.an.requests[-1]
    assert sent.headers["x-api-key"] == SECRETS["AN_KEY"] and sent.body["system"] == "You are terse."
    assert all(m["role"] != "system" for m in sent.body["messages"])
    assert SECRETS["AN_KEY"] not in raw.http_response.text


def test_openai_sdk_streams_from_anthropic_upstream_with_include_usage(gw) -> None:
    stream = _openai(gw).chat.completions.create(
        model="to-anthropic",
        stream=True,
        stream_options={"include_usage": True},
        messages=_user("one two three"),
    )
    text, usage, finish = read_openai_stream(stream)
    assert text == "an: one two three" and finish == "stop"
    assert usage is not None and usage.completion_tokens == 4 and usage.prompt_tokens > 0


def test_anthropic_sdk_streams_from_openai_upstream(gw, fresh_upstreams) -> None:
    with anthropic_client(gw.base_url, api_key=KEY).messages.stream(
        model="to-openai", max_tokens=50, system="Be kind.", messages=_user("a b c")
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        assert stream.response.headers["x-edgestack-provider"] == "oa"
    assert text == "oa: a b c" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens > 0
    sent = fresh_upstreams.oa.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "Be kind."} and sent["stream"] is True


# ---------------------------------------------------------------- fallback and retries


@pytest.mark.parametrize(
    ("alias", "fault"),
    [("chain-503", Fault(status=503)), ("chain-429", Fault(status=429, retry_after="30"))],
)
def test_fallback_to_the_next_candidate(gw, fresh_upstreams, alias, fault) -> None:
    fresh_upstreams.oa.push(fault)
    raw = _openai(gw).chat.completions.with_raw_response.create(model=alias, messages=_user("hello"))
    assert raw.parse().choices[0].message.content == "ob: hello"
    assert raw.headers["x-edgestack-provider"] == "ob" and raw.headers["x-edgestack-attempts"] == "2"
    assert fresh_upstreams.oa.calls == 1 and fresh_upstreams.ob.calls == 1


def test_retry_after_is_honoured_when_retrying_the_same_candidate(gw, fresh_upstreams) -> None:
    fresh_upstreams.oa.push(Fault(status=429, retry_after="1"))
    started = time.monotonic()
    raw = _openai(gw).chat.completions.with_raw_response.create(model="solo", messages=_user("again"))
    elapsed = time.monotonic() - started
    assert raw.parse().choices[0].message.content == "oa: again"
    assert raw.headers["x-edgestack-attempts"] == "2" and fresh_upstreams.oa.calls == 2
    assert elapsed >= 1.0  # a lower bound only: the Worker waited the upstream's retry-after


# ---------------------------------------------------------------- cache (KV in the runtime)


def test_cache_miss_then_hit_and_a_streaming_sse_replay(gw, fresh_upstreams) -> None:
    client = _openai(gw)
    messages = _user("cache me on the edge")
    first = client.chat.completions.with_raw_response.create(model="cached", messages=messages, temperature=0)
    assert first.headers["x-edgestack-cache"] == "MISS"
    gw.drain()  # the entry is written through waitUntil
    second = client.chat.completions.with_raw_response.create(
        model="cached", messages=messages, temperature=0
    )
    assert second.headers["x-edgestack-cache"] == "HIT" and second.headers["x-edgestack-attempts"] == "0"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content

    chunks = list(
        client.chat.completions.create(
            model="cached",
            messages=messages,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "oa: cache me on the edge"
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert fresh_upstreams.oa.calls == 1
    other_tenant = _openai(gw, key=OTHER_KEY).chat.completions.with_raw_response.create(
        model="cached", messages=messages, temperature=0
    )
    assert other_tenant.headers["x-edgestack-cache"] == "MISS" and fresh_upstreams.oa.calls == 2


def test_a_streamed_anthropic_answer_is_cached_and_replayed(gw, fresh_upstreams) -> None:
    client = anthropic_client(gw.base_url, api_key=KEY)
    for expected in ("MISS", "HIT"):
        with client.messages.stream(
            model="cached-anthropic", max_tokens=30, messages=_user("tell me at the edge")
        ) as stream:
            message = stream.get_final_message()
            assert stream.response.headers["x-edgestack-cache"] == expected
        assert message.content[0].text == "an: tell me at the edge" and message.stop_reason == "end_turn"
        gw.drain()
    assert fresh_upstreams.an.calls == 1


# ---------------------------------------------------------------- auth and bad input


def test_missing_or_invalid_keys_get_401_in_each_api_shape(gw, fresh_upstreams) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        _openai(gw, key="sk-wrong").chat.completions.create(model="to-openai", messages=_user("x"))
    assert raised.value.body["code"] == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError) as raised_a:
        anthropic_client(gw.base_url, api_key="sk-wrong").messages.create(
            model="to-openai", max_tokens=5, messages=_user("x")
        )
    assert raised_a.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
    }
    response = httpx.post(gw.base_url + "/v1/chat/completions", json={"model": "to-openai", "messages": []})
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"
    assert fresh_upstreams.oa.calls == 0


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "fragment"),
    [
        ("/v1/chat/completions", "{not json", "application/json", 400, "not valid JSON"),
        (
            "/v1/chat/completions",
            '{"model": "ghost", "messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            404,
            "model 'ghost' is not configured",
        ),
        ("/v1/chat/completions", "model=plain", "application/x-www-form-urlencoded", 415, "application/json"),
        (
            "/v1/messages",
            '{"model": "to-openai", "messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            400,
            "'max_tokens'",
        ),
    ],
)
def test_bad_input_gets_an_api_shaped_error(gw, fresh_upstreams, path, body, content_type, status, fragment):
    response = httpx.post(
        gw.base_url + path,
        content=body.encode(),
        headers={"content-type": content_type, "authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == status, response.text
    payload = response.json()
    if path == "/v1/messages":
        assert payload["type"] == "error" and fragment in payload["error"]["message"]
    else:
        assert fragment in payload["error"]["message"] and payload["error"]["type"]
    assert fresh_upstreams.oa.calls == 0 and fresh_upstreams.an.calls == 0


# ---------------------------------------------------------------- usage (D1 in the runtime)


def _own_usage(gw: ExternalGateway, key: str, expected_requests: int, timeout_s: float = 20) -> dict:
    """The key's own usage by provider, polled until its rows have landed (waitUntil has no drain hook
    in the runtime; a loaded machine may need more than `drain()`'s settle time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(
            gw.base_url + "/v1/usage",
            params={"group_by": "provider"},
            headers={"authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        usage = response.json()
        if sum(row["requests"] for row in usage["data"]) >= expected_requests or time.monotonic() > deadline:
            return usage
        time.sleep(0.2)


def test_usage_is_aggregated_from_d1_after_drain(gw) -> None:
    client = _openai(gw, key=METER_KEY)
    for prompt in ("first meter", "second meter"):
        client.chat.completions.create(model="metered", messages=_user(prompt))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="ghost", messages=_user("x"))
    gw.drain()  # usage rows are written through waitUntil
    usage = _own_usage(gw, METER_KEY, expected_requests=3)
    assert usage["scope"] == "own"
    by_provider = {row["provider"]: row for row in usage["data"]}
    assert by_provider["oa"]["requests"] == 2 and by_provider["oa"]["errors"] == 0
    assert by_provider["oa"]["output_tokens"] > 0 and by_provider["oa"]["cost_usd"] > 0
    assert by_provider["oa"]["latency_ms_p50"] <= by_provider["oa"]["latency_ms_p95"]
    assert by_provider[None]["errors"] == 1  # the unknown alias never reached a provider
