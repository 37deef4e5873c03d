"""Routing strategies, circuit-breaker transitions (injected clock), latency stats, backoff (pure)."""

from __future__ import annotations

import collections
import json

import pytest
from app.gateway.breaker import CircuitBreakers
from app.gateway.config import BreakerPolicy, CachePolicy, Candidate, Price, Provider, RetryPolicy, Route
from app.gateway.dispatch import parse_retry_after
from app.gateway.latency import KV_PREFIX, PUBLISH_INTERVAL_S, REFRESH_INTERVAL_S, LatencyTracker
from app.gateway.strategies import (
    order_cheapest,
    order_fallback,
    order_fastest,
    order_weighted,
    request_random,
)
from gateway_testing import run
from harness.bindings import InMemoryKv


def _provider(name: str, prices: dict[str, Price]) -> Provider:
    return Provider(
        name=name,
        kind="openai",
        base_url=None,
        api_key_secret=None,
        timeout_ms=1000,
        prices=prices,
        default_max_tokens=4096,
        anthropic_betas=frozenset(),
    )


A, B, C = Candidate("a", "m-a", 1), Candidate("b", "m-b", 1), Candidate("c", "m-c", 1)
PROVIDERS = {
    "a": _provider("a", {"m-a": Price(input=1.0, output=10.0, cached_input=None)}),  # cheap input, pricey output
    "b": _provider("b", {"m-b": Price(input=4.0, output=4.0, cached_input=None)}),
    "c": _provider("c", {}),  # no price
}


RETRY = RetryPolicy(max_attempts=3, backoff="exponential", base_delay_ms=100, max_total_ms=20_000)
BREAKER = BreakerPolicy(failure_threshold=5, cooldown_s=30)
NO_CACHE = CachePolicy(enabled=False, ttl_s=3600, max_temperature=None)


def _route(strategy: str, *candidates: Candidate) -> Route:
    return Route(alias="r", strategy=strategy, candidates=candidates, retry=RETRY, breaker=BREAKER, cache=NO_CACHE, kind="chat")  # type: ignore[arg-type]


def test_fallback_keeps_the_configured_order() -> None:
    assert order_fallback(_route("fallback", C, A, B)) == [C, A, B]


@pytest.mark.parametrize(
    ("prompt", "completion", "expected"),
    [
        (1000, 10, [A, B, C]),  # input-heavy: a is cheapest
        (10, 1000, [B, A, C]),  # output-heavy: b is cheapest
    ],
)
def test_cheapest_uses_prices_and_the_estimated_tokens(prompt, completion, expected) -> None:
    assert order_cheapest(_route("cheapest", C, A, B), PROVIDERS, prompt, completion) == expected


def test_cheapest_ties_keep_the_configured_order() -> None:
    twin = Candidate("a", "m-a", 1)
    providers = {**PROVIDERS, "d": _provider("d", {"m-d": Price(input=1.0, output=10.0, cached_input=None)})}
    d = Candidate("d", "m-d", 1)
    assert order_cheapest(_route("cheapest", d, twin), providers, 100, 100) == [d, twin]


def test_fastest_tries_unmeasured_candidates_first_then_by_latency() -> None:
    latencies = {"a/m-a": 300.0, "b/m-b": 50.0}
    assert order_fastest(_route("fastest", A, B, C), latencies.get) == [C, B, A]


def test_weighted_is_deterministic_per_request_and_follows_the_weights() -> None:
    route = _route("weighted", Candidate("a", "m-a", 3), Candidate("b", "m-b", 1), Candidate("z", "m-z", 0))
    first = [order_weighted(route, request_random(f"req-{i}")) for i in range(2000)]
    again = [order_weighted(route, request_random(f"req-{i}")) for i in range(2000)]
    assert first == again
    counts = collections.Counter(order[0].provider for order in first)
    assert 0.70 < counts["a"] / 2000 < 0.80 and counts["z"] == 0  # 3:1, weight 0 never first
    assert all(order[-1].provider == "z" and len(order) == 3 for order in first)  # weight 0 = last fallback


def test_breaker_opens_after_n_failures_and_half_opens_after_the_cooldown() -> None:
    policy = BreakerPolicy(failure_threshold=3, cooldown_s=30)
    breakers = CircuitBreakers()
    now = 1000.0
    for _ in range(2):
        breakers.record_failure("k", policy, now)
    assert breakers.state("k", policy, now) == "closed" and breakers.try_acquire("k", policy, now)
    breakers.record_failure("k", policy, now)
    assert breakers.state("k", policy, now) == "open"
    assert not breakers.try_acquire("k", policy, now + 29.9)
    assert breakers.seconds_until_half_open("k", policy, now + 10) == pytest.approx(20)
    assert breakers.state("k", policy, now + 30) == "half_open"
    assert breakers.try_acquire("k", policy, now + 30)  # the one probe
    assert not breakers.try_acquire("k", policy, now + 30)  # no second probe while it is in flight
    breakers.record_failure("k", policy, now + 31)  # probe failed: open again, cool-down restarts
    assert breakers.state("k", policy, now + 31) == "open"
    assert not breakers.try_acquire("k", policy, now + 60)
    assert breakers.try_acquire("k", policy, now + 61)
    breakers.record_success("k")  # probe succeeded: closed, counter reset
    assert breakers.state("k", policy, now + 61) == "closed"
    breakers.record_failure("k", policy, now + 62)
    assert breakers.state("k", policy, now + 62) == "closed"


def test_a_released_probe_lets_the_next_request_probe() -> None:
    policy = BreakerPolicy(failure_threshold=1, cooldown_s=5)
    breakers = CircuitBreakers()
    breakers.record_failure("k", policy, 0)
    assert breakers.try_acquire("k", policy, 5)
    breakers.release("k")
    assert breakers.try_acquire("k", policy, 5)


def test_success_resets_the_consecutive_failure_count() -> None:
    policy = BreakerPolicy(failure_threshold=2, cooldown_s=5)
    breakers = CircuitBreakers()
    breakers.record_failure("k", policy, 0)
    breakers.record_success("k")
    breakers.record_failure("k", policy, 1)
    assert breakers.state("k", policy, 1) == "closed"


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        ("constant", [100, 100, 100]),
        ("linear", [100, 200, 300]),
        ("exponential", [100, 200, 400]),
    ],
)
def test_backoff_delays(backoff, delays) -> None:
    policy = RETRY._replace(backoff=backoff, base_delay_ms=100)
    assert [policy.delay_ms(n) for n in (1, 2, 3)] == delays


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, 30.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers, expected) -> None:
    assert parse_retry_after(headers, now=1_767_225_600.0) == expected


def test_latency_tracker_ewma_and_shared_summary_in_kv() -> None:
    kv = InMemoryKv(clock=lambda: 0.0)
    scheduled: list = []
    tracker = LatencyTracker()
    tracker.observe("a/m", 100.0, now=0)
    tracker.observe("a/m", 200.0, now=1)
    assert tracker.estimate_ms("a/m") == pytest.approx(130.0)  # 0.3 * 200 + 0.7 * 100
    tracker.maybe_publish(kv, scheduled.append, "a/m", now=1)
    tracker.maybe_publish(kv, scheduled.append, "a/m", now=1 + PUBLISH_INTERVAL_S / 2)  # rate-limited
    assert len(scheduled) == 1
    run(scheduled[0])
    assert json.loads(kv.data[KV_PREFIX + "a/m"][0])["ewma_ms"] == pytest.approx(130.0)

    other = LatencyTracker()  # another isolate, never measured a/m
    assert other.estimate_ms("a/m") is None
    run(other.refresh_shared(kv, ["a/m", "b/m"], now=5))
    assert other.estimate_ms("a/m") == pytest.approx(130.0) and other.estimate_ms("b/m") is None
    kv.data.clear()
    run(other.refresh_shared(kv, ["b/m"], now=5 + REFRESH_INTERVAL_S / 2))  # not re-read yet
    assert other.estimate_ms("a/m") == pytest.approx(130.0)


def test_local_measurements_win_once_there_are_enough() -> None:
    tracker = LatencyTracker()
    kv = InMemoryKv(clock=lambda: 0.0)
    run(kv.put(KV_PREFIX + "a/m", json.dumps({"ewma_ms": 999, "samples": 50, "at": 0})))
    run(tracker.refresh_shared(kv, ["a/m"], now=0))
    tracker.observe("a/m", 10.0, now=1)
    assert tracker.estimate_ms("a/m") == 999  # one local sample: the shared summary still steers
    tracker.observe("a/m", 10.0, now=2)
    tracker.observe("a/m", 10.0, now=3)
    assert tracker.estimate_ms("a/m") == pytest.approx(10.0)
