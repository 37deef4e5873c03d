"""Fallback, retries with retry-after, dropped connections, timeouts, circuit breakers and every routing
strategy, end to end through HTTP with the official SDKs and the loopback fakes."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from app.gateway.config import BreakerPolicy, CachePolicy, Candidate, RetryPolicy, Route
from app.gateway.latency import KV_PREFIX
from app.gateway.strategies import order_weighted, request_random
from fakes.llm_upstreams import Fault
from gateway_testing import anthropic_client, openai_client, route, section
from harness.bindings import FakeClock

HELLO = [{"role": "user", "content": "hello"}]


def _create(gw, model: str, **kwargs):
    return openai_client(gw.base_url).chat.completions.with_raw_response.create(
        model=model, messages=HELLO, **kwargs
    )


@pytest.fixture
def fallback_gw(gateway, fresh_upstreams):
    routes = {
        "chain": route(
            ("oa", "gpt-a"),
            ("ob", "gpt-b"),
            ("an", "claude-c"),
            retry={"max_attempts": 3, "base_delay_ms": 0},
        )
    }
    return gateway(section(fresh_upstreams, routes))


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=503),
        Fault(status=500),
        Fault(status=429, retry_after="30"),
        Fault(drop="before_headers"),
        Fault(drop="mid_body"),
    ],
)
def test_fallback_to_the_next_candidate(fallback_gw, fresh_upstreams, fault) -> None:
    fresh_upstreams.oa.push(fault)
    raw = _create(fallback_gw, "chain")
    assert raw.parse().choices[0].message.content == "ob: hello"
    assert raw.headers["x-edgestack-provider"] == "ob" and raw.headers["x-edgestack-attempts"] == "2"
    assert fresh_upstreams.oa.calls == 1 and fresh_upstreams.ob.calls == 1


@pytest.mark.parametrize(
    "fault", [Fault(status=503), Fault(drop="before_headers"), Fault(drop="after_headers")]
)
def test_streaming_falls_back_when_the_first_candidate_fails_before_any_event(
    fallback_gw, fresh_upstreams, fault
) -> None:
    fresh_upstreams.oa.push(fault)
    chunks = list(
        openai_client(fallback_gw.base_url).chat.completions.create(
            model="chain", messages=HELLO, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "ob: hello"


def test_anthropic_overloaded_529_falls_back_across_apis(gateway, fresh_upstreams) -> None:
    gw = gateway(section(fresh_upstreams, {"smart": route(("an", "claude-c"), ("oa", "gpt-a"))}))
    fresh_upstreams.an.push(Fault(status=529))
    message = anthropic_client(gw.base_url).messages.create(model="smart", max_tokens=20, messages=HELLO)
    assert message.content[0].text == "oa: hello" and message.stop_reason == "end_turn"


def test_a_request_error_does_not_fall_back(fallback_gw, fresh_upstreams) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(fallback_gw.base_url).chat.completions.create(
            model="chain", messages=[{"role": "user", "content": "TRIGGER_400"}]
        )
    assert "maximum context length" in raised.value.message
    assert raised.value.response.headers["x-edgestack-attempts"] == "1"
    assert fresh_upstreams.oa.calls == 1 and fresh_upstreams.ob.calls == 0 and fresh_upstreams.an.calls == 0


def test_a_request_error_from_a_translated_upstream_keeps_the_client_error_shape(
    gateway, fresh_upstreams
) -> None:
    gw = gateway(section(fresh_upstreams, {"c": route(("an", "claude-c"), ("oa", "gpt-a"))}))
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(gw.base_url).chat.completions.create(
            model="c", messages=[{"role": "user", "content": "TRIGGER_400"}]
        )
    assert (
        raised.value.body["type"] == "invalid_request_error" and "prompt is too long" in raised.value.message
    )
    assert fresh_upstreams.oa.calls == 0


def test_retry_after_is_honoured_when_retrying_the_same_candidate(gateway, fresh_upstreams) -> None:
    gw = gateway(
        section(
            fresh_upstreams,
            {
                "solo": route(
                    ("oa", "gpt-a"),
                    retry={
                        "max_attempts": 3,
                        "backoff": "constant",
                        "base_delay_ms": 10,
                        "max_total_ms": 20_000,
                    },
                )
            },
        )
    )
    fresh_upstreams.oa.push(Fault(status=429, retry_after="1"))
    raw = _create(gw, "solo")
    assert raw.headers["x-edgestack-attempts"] == "2" and fresh_upstreams.oa.calls == 2
    if gw.bindings is not None:  # the harness records the backoff it was asked to sleep
        assert gw.bindings.sleep.delays == [1.0]


def test_exhausted_retries_answer_429_with_the_upstream_retry_after(gateway, fresh_upstreams) -> None:
    gw = gateway(section(fresh_upstreams, {"solo": route(("oa", "gpt-a"), retry={"max_attempts": 1})}))
    fresh_upstreams.oa.push(Fault(status=429, retry_after="17"))
    with pytest.raises(openai.RateLimitError) as raised:
        _create(gw, "solo")
    assert raised.value.response.headers["retry-after"] == "17"


def test_all_candidates_failing_is_a_502_in_each_api_shape(fallback_gw, fresh_upstreams) -> None:
    for fake in (fresh_upstreams.oa, fresh_upstreams.ob, fresh_upstreams.an):
        fake.push(Fault(status=503), Fault(status=503))
    with pytest.raises(openai.APIStatusError) as raised:
        _create(fallback_gw, "chain")
    assert raised.value.status_code == 502 and raised.value.body["type"] == "api_error"
    assert raised.value.response.headers["x-edgestack-attempts"] == "3"
    with pytest.raises(anthropic.APIStatusError) as raised_a:
        anthropic_client(fallback_gw.base_url).messages.create(model="chain", max_tokens=5, messages=HELLO)
    assert raised_a.value.status_code == 502 and raised_a.value.body["error"]["type"] == "api_error"


def test_an_upstream_timeout_falls_back(gateway, fresh_upstreams) -> None:
    providers = fresh_upstreams.providers()
    providers["oa"]["timeout_ms"] = 300
    gw = gateway(
        {
            **section(fresh_upstreams, {"chain": route(("oa", "gpt-a"), ("ob", "gpt-b"))}),
            "providers": providers,
        }
    )
    fresh_upstreams.oa.push(Fault(delay_ms=2000))
    raw = _create(gw, "chain")
    assert raw.headers["x-edgestack-provider"] == "ob"


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_connection_dropped_mid_stream_ends_with_an_error_the_sdk_raises(
    gateway, fresh_upstreams, sdk
) -> None:
    gw = gateway(section(fresh_upstreams, {"chain": route(("oa", "gpt-a"), ("ob", "gpt-b"))}))
    fresh_upstreams.oa.configure(words_per_chunk=1)
    fresh_upstreams.oa.push(Fault(drop="mid_body"))
    long_prompt = [{"role": "user", "content": "one two three four five six seven eight"}]
    if sdk == "openai":
        stream = openai_client(gw.base_url).chat.completions.create(
            model="chain", messages=long_prompt, stream=True
        )
        with pytest.raises(openai.APIError, match="upstream connection was lost"):
            for _ in stream:
                pass
    else:
        with pytest.raises(anthropic.APIStatusError, match="upstream connection was lost"):  # noqa: SIM117
            with anthropic_client(gw.base_url).messages.stream(
                model="chain", max_tokens=50, messages=long_prompt
            ) as stream:
                stream.get_final_message()
    assert fresh_upstreams.ob.calls == 0  # bytes already reached the client: no silent switch
    gw.drain()
    usage = openai_client(gw.base_url).get(
        "/usage", cast_to=object, options={"params": {"group_by": "provider"}}
    )
    assert usage["data"][0]["errors"] == 1


@pytest.mark.harness_only
def test_circuit_breaker_opens_skips_then_half_opens_after_the_cooldown(gateway, fresh_upstreams) -> None:
    clock = FakeClock()
    routes = {
        "chain": route(
            ("oa", "gpt-a"), ("ob", "gpt-b"), circuit_breaker={"failure_threshold": 2, "cooldown_s": 30}
        )
    }
    gw = gateway(section(fresh_upstreams, routes), clock=clock)
    fresh_upstreams.oa.push(Fault(status=503), Fault(status=503))
    for _ in range(2):
        assert _create(gw, "chain").headers["x-edgestack-provider"] == "ob"
    assert fresh_upstreams.oa.calls == 2
    raw = _create(gw, "chain")  # open: oa is skipped without a call
    assert raw.headers["x-edgestack-provider"] == "ob" and raw.headers["x-edgestack-attempts"] == "1"
    assert fresh_upstreams.oa.calls == 2
    clock.advance(30)  # half-open: one probe goes to oa, it succeeds, the circuit closes
    assert _create(gw, "chain").headers["x-edgestack-provider"] == "oa"
    assert _create(gw, "chain").headers["x-edgestack-provider"] == "oa"
    assert fresh_upstreams.oa.calls == 4


@pytest.mark.harness_only
def test_a_failed_half_open_probe_reopens_the_circuit(gateway, fresh_upstreams) -> None:
    clock = FakeClock()
    routes = {
        "chain": route(
            ("oa", "gpt-a"), ("ob", "gpt-b"), circuit_breaker={"failure_threshold": 1, "cooldown_s": 10}
        )
    }
    gw = gateway(section(fresh_upstreams, routes), clock=clock)
    fresh_upstreams.oa.push(Fault(status=503), Fault(status=503))
    _create(gw, "chain")  # opens
    clock.advance(10)
    assert _create(gw, "chain").headers["x-edgestack-attempts"] == "2"  # probe failed, fell back
    assert _create(gw, "chain").headers["x-edgestack-attempts"] == "1"  # open again: skipped
    assert fresh_upstreams.oa.calls == 2


@pytest.mark.harness_only
def test_every_circuit_open_is_a_503_with_retry_after(gateway, fresh_upstreams) -> None:
    clock = FakeClock()
    gw = gateway(
        section(
            fresh_upstreams,
            {
                "solo": route(
                    ("oa", "gpt-a"),
                    retry={"max_attempts": 1},
                    circuit_breaker={"failure_threshold": 1, "cooldown_s": 20},
                )
            },
        ),
        clock=clock,
    )
    fresh_upstreams.oa.push(Fault(status=503))
    with pytest.raises(openai.InternalServerError):
        _create(gw, "solo")
    clock.advance(5)
    with pytest.raises(openai.APIStatusError) as raised:
        _create(gw, "solo")
    assert raised.value.status_code == 503 and raised.value.response.headers["retry-after"] == "15"
    assert raised.value.body["code"] == "circuit_open" and fresh_upstreams.oa.calls == 1


# ---------------------------------------------------------------- strategies


def test_cheapest_picks_the_lowest_estimated_cost(gateway, fresh_upstreams) -> None:
    gw = gateway(
        section(
            fresh_upstreams,
            {"cheap": route(("ob", "gpt-b"), ("an", "claude-c"), ("oa", "gpt-a"), strategy="cheapest")},
        )
    )
    assert _create(gw, "cheap").headers["x-edgestack-provider"] == "oa"  # $1/$2 per M beats $2/$8 and $3/$6
    # Without oa the order depends on the estimate: output-heavy (512 expected tokens) favours ob's $6 output,
    # a one-token answer favours an's $2 input.
    fresh_upstreams.oa.push(Fault(status=503), Fault(status=503))
    assert _create(gw, "cheap").headers["x-edgestack-provider"] == "ob"
    assert _create(gw, "cheap", max_tokens=1).headers["x-edgestack-provider"] == "an"


def test_weighted_follows_the_request_id_deterministically(gateway, fresh_upstreams) -> None:
    spec = route(("oa", "gpt-a", 1), ("ob", "gpt-b", 1), strategy="weighted")
    gw = gateway(section(fresh_upstreams, {"w": spec}))
    local = Route(
        "w",
        "weighted",
        (Candidate("oa", "gpt-a", 1), Candidate("ob", "gpt-b", 1)),
        RetryPolicy(max_attempts=3, backoff="exponential", base_delay_ms=100, max_total_ms=20_000),
        BreakerPolicy(failure_threshold=5, cooldown_s=30),
        CachePolicy(enabled=False, ttl_s=3600, max_temperature=None),
        "chat",
    )  # only the candidates matter to order_weighted
    client = openai_client(gw.base_url)
    seen = set()
    for i in range(12):
        ray = f"8f{i:04x}a1b2c3d4-AMS"
        raw = client.chat.completions.with_raw_response.create(
            model="w", messages=HELLO, extra_headers={"cf-ray": ray}
        )
        expected = order_weighted(local, request_random(ray))[0].provider
        assert (
            raw.headers["x-edgestack-provider"] == expected and raw.headers["x-edgestack-request-id"] == ray
        )
        seen.add(expected)
    assert seen == {"oa", "ob"}


def test_fastest_learns_from_observed_latency(gateway, fresh_upstreams) -> None:
    gw = gateway(
        section(fresh_upstreams, {"fast": route(("oa", "gpt-a"), ("ob", "gpt-b"), strategy="fastest")})
    )
    fresh_upstreams.oa.configure(latency_ms=400)
    providers = [_create(gw, "fast").headers["x-edgestack-provider"] for _ in range(5)]
    assert providers[:2] == ["oa", "ob"]  # each unmeasured candidate is tried once
    assert providers[2:] == ["ob", "ob", "ob"]


@pytest.mark.harness_only
def test_fastest_uses_the_shared_kv_summary_and_publishes_its_own(gateway, fresh_upstreams) -> None:
    gw = gateway(
        section(fresh_upstreams, {"fast": route(("oa", "gpt-a"), ("ob", "gpt-b"), strategy="fastest")})
    )
    kv = gw.bindings.kv["CACHE"]
    gw.harness.call(kv.put(KV_PREFIX + "oa/gpt-a", json.dumps({"ewma_ms": 900, "samples": 40, "at": 0})))
    gw.harness.call(kv.put(KV_PREFIX + "ob/gpt-b", json.dumps({"ewma_ms": 30, "samples": 40, "at": 0})))
    assert _create(gw, "fast").headers["x-edgestack-provider"] == "ob"  # other isolates said ob is faster
    gw.drain()
    published = json.loads(gw.harness.call(kv.get(KV_PREFIX + "ob/gpt-b")))
    assert published["samples"] == 1  # this isolate's own measurement replaced the summary
