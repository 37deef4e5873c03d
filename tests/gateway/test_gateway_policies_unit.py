"""Cache keys and decisions, auth, rate-limit keys, quotas and usage aggregation (units; sqlite for D1)."""

from __future__ import annotations

import statistics

import pytest
from app.gateway.cache import CachedResponse, cache_key, decide, lookup, store
from app.gateway.config import CachePolicy, parse_gateway_config
from app.gateway.quotas import add_usage_statement, check_quota, seconds_until_utc_midnight, utc_day
from app.gateway.usage import UsageQuery, UsageRecord, aggregate, insert_statement, parse_time
from app.web.auth import authenticate, hash_key, presented_key
from app.web.errors import ApiError
from app.web.ratelimit import RateLimitPolicy, enforce_rate_limit, limit_key
from gateway_testing import PLAIN_KEY, run
from harness.bindings import FakeClock, FakeRateLimiter, InMemoryKv, SqliteD1
from harness.planned import key_sha256, planned_config

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}

# ---------------------------------------------------------------- cache


def test_cache_key_ignores_fields_that_do_not_change_the_output() -> None:
    base = cache_key("openai", "t1", "chat", BODY)
    same = {
        **BODY,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u",
        "metadata": {"a": 1},
    }
    assert cache_key("openai", "t1", "chat", same) == base
    assert cache_key("openai", "t1", "chat", dict(reversed(list(BODY.items())))) == base  # key order


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"max_tokens": 10},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"seed": 3},
        {"top_p": 0.5},
    ],
)
def test_cache_key_changes_with_anything_that_changes_the_output(change) -> None:
    assert cache_key("openai", "t1", "chat", {**BODY, **change}) != cache_key("openai", "t1", "chat", BODY)


def test_cache_key_is_scoped_by_tenant_alias_and_api() -> None:
    keys = {
        cache_key("openai", "t1", "chat", BODY),
        cache_key("openai", "t2", "chat", BODY),
        cache_key("openai", "t1", "other", BODY),
        cache_key("anthropic", "t1", "chat", BODY),
        cache_key("openai", "t1", "chat", BODY, custom_key="faq-1"),
        cache_key("openai", "t2", "chat", BODY, custom_key="faq-1"),
    }
    assert len(keys) == 6


ON = CachePolicy(enabled=True, ttl_s=600, max_temperature=0.5)


@pytest.mark.parametrize(
    ("policy", "has_kv", "body", "headers", "status", "ttl"),
    [
        (ON, True, BODY, {}, "MISS", 600),
        (ON._replace(enabled=False), True, BODY, {}, "BYPASS", 0),
        (ON, False, BODY, {}, "BYPASS", 0),
        (ON, True, BODY, {"cf-aig-skip-cache": "true"}, "BYPASS", 0),
        (ON, True, BODY, {"x-edgestack-skip-cache": "1"}, "BYPASS", 0),
        (ON, True, BODY, {"x-edgestack-skip-cache": "false"}, "MISS", 600),
        (ON, True, {**BODY, "temperature": 0.9}, {}, "BYPASS", 0),
        (
            ON,
            True,
            {k: v for k, v in BODY.items() if k != "temperature"},
            {},
            "BYPASS",
            0,
        ),  # default temperature 1
        (ON, True, BODY, {"cf-aig-cache-ttl": "120"}, "MISS", 120),
        (ON, True, BODY, {"cf-aig-cache-ttl": "120", "x-edgestack-cache-ttl": "300"}, "MISS", 300),
    ],
)
def test_cache_decision(policy, has_kv, body, headers, status, ttl) -> None:
    decision = decide(policy, has_kv, "openai", "t", "chat", body, headers)
    assert (decision.status, decision.ttl_s if status == "MISS" else 0) == (status, ttl)


@pytest.mark.parametrize(
    "headers",
    [
        {"cf-aig-cache-ttl": "59"},
        {"x-edgestack-cache-ttl": "1h"},
        {"x-edgestack-cache-ttl": str(31 * 86400)},
        {"cf-aig-skip-cache": "maybe"},
    ],
)
def test_bad_cache_headers_are_a_400_naming_the_header(headers) -> None:
    with pytest.raises(ApiError) as raised:
        decide(ON, True, "openai", "t", "chat", BODY, headers)
    assert raised.value.status == 400 and next(iter(headers)) in raised.value.message


def test_cache_store_and_lookup_respect_ttl_and_api() -> None:
    clock = FakeClock()
    kv = InMemoryKv(clock)
    entry = CachedResponse("openai", "oa", "m", {"id": "x"})
    run(store(kv, "k", 120, entry))
    assert run(lookup(kv, "k", "openai")) == entry
    assert run(lookup(kv, "k", "anthropic")) is None
    clock.advance(121)
    assert run(lookup(kv, "k", "openai")) is None
    kv.data["bad"] = ("{not json", None)
    assert run(lookup(kv, "bad", "openai")) is None


# ---------------------------------------------------------------- auth and rate limits

CONFIG = parse_gateway_config(
    planned_config(
        {
            "gateway": {
                "usage_binding": "DB",
                "providers": {"p": {"kind": "openai", "api_key_secret": "K"}},
                "routes": {
                    "chat": {"candidates": [{"provider": "p", "model": "m"}]},
                    "other": {"candidates": [{"provider": "p", "model": "n"}]},
                },
                "keys": {
                    "acme": {
                        "sha256": key_sha256("sk-acme"),
                        "scope": "acme",
                        "allowed_models": ["chat"],
                        "requests_per_day": 2,
                        "tokens_per_day": 100,
                    }
                },
            }
        }
    )["gateway"]
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer sk-acme"}, "sk-acme"),
        ({"authorization": "bearer  sk-acme "}, "sk-acme"),
        ({"x-api-key": "sk-acme"}, "sk-acme"),
        ({"authorization": "Basic abc"}, None),
        ({}, None),
    ],
)
def test_presented_key(headers, expected) -> None:
    assert presented_key(headers) == expected


def test_authenticate_finds_the_key_by_hash() -> None:
    principal = authenticate(CONFIG, {"x-api-key": "sk-acme"})
    assert principal.key_id == "acme" and principal.scope == "key-scope:acme"
    assert hash_key("sk-acme") == key_sha256("sk-acme")


@pytest.mark.parametrize(
    ("headers", "code"), [({}, "missing_api_key"), ({"x-api-key": "nope"}, "invalid_api_key")]
)
def test_without_a_valid_key_the_answer_is_401(headers, code) -> None:
    with pytest.raises(ApiError) as raised:
        authenticate(CONFIG, headers)
    assert raised.value.status == 401 and raised.value.code == code


def test_public_gateway_treats_unknown_keys_as_anonymous() -> None:
    public = CONFIG._replace(public=True)
    assert authenticate(public, {"x-api-key": "whatever"}).key is None
    assert authenticate(public, {"x-api-key": "sk-acme"}).key_id == "acme"


def test_rate_limit_keys_by_api_key_or_ip() -> None:
    by_key = RateLimitPolicy("RL", "api_key", 60)
    assert limit_key(by_key, "acme", "iphash") == "gw:key:acme"
    assert limit_key(by_key, None, "iphash") == "gw:ip:iphash"
    assert limit_key(RateLimitPolicy("RL", "ip", 60), "acme", "iphash") == "gw:ip:iphash"


def test_rate_limit_429_carries_retry_after_and_a_missing_binding_fails_open() -> None:
    clock = FakeClock()
    limiter = FakeRateLimiter(limit=2, period=60, clock=clock)
    policy = RateLimitPolicy("RL", "ip", retry_after_s=60)
    run(enforce_rate_limit(policy, {"RL": limiter}, "k"))
    run(enforce_rate_limit(policy, {"RL": limiter}, "k"))
    with pytest.raises(ApiError) as raised:
        run(enforce_rate_limit(policy, {"RL": limiter}, "k"))
    assert raised.value.status == 429 and raised.value.retry_after_s == 60
    run(enforce_rate_limit(policy, {"RL": limiter}, "other-key"))  # separate counter
    clock.advance(60)
    run(enforce_rate_limit(policy, {"RL": limiter}, "k"))  # next window
    run(enforce_rate_limit(policy, {}, "k"))  # no binding: logged, allowed


# ---------------------------------------------------------------- quotas


def test_daily_quotas_on_requests_and_tokens() -> None:
    db = SqliteD1()
    key = CONFIG.keys_by_hash[key_sha256("sk-acme")]
    now = 1_767_225_600.0 + 3600  # 2026-01-01T01:00Z
    run(check_quota(db, key, now))
    run(db.batch([add_usage_statement(key, now, 1, 40)]))
    run(db.batch([add_usage_statement(key, now, 1, 0)]))
    with pytest.raises(ApiError) as raised:
        run(check_quota(db, key, now))
    assert raised.value.status == 429 and "request quota of 2" in raised.value.message
    assert raised.value.retry_after_s == 23 * 3600
    tomorrow = now + 86_400
    run(check_quota(db, key, tomorrow))  # a new UTC day
    run(db.batch([add_usage_statement(key, tomorrow, 0, 100)]))
    with pytest.raises(ApiError, match="token quota of 100"):
        run(check_quota(db, key, tomorrow))
    assert utc_day(now) == "2026-01-01" and seconds_until_utc_midnight(now) == 82_800


def test_a_key_without_quotas_never_reads_d1() -> None:
    class ExplodingD1:
        async def execute(self, sql, params=()):
            raise AssertionError("read D1")

    run(check_quota(ExplodingD1(), PLAIN_KEY._replace(name="free"), 0))  # type: ignore[arg-type]


# ---------------------------------------------------------------- usage aggregation


def _record(i: int, **fields) -> UsageRecord:
    defaults = dict(
        request_id=f"r{i}",
        ts_ms=1_000_000 + i,
        api="openai",
        status=200,
        alias="chat",
        provider="oa",
        model="m",
        latency_ms=10 * (i + 1),
        cache_status="MISS",
        attempts=1,
    )
    defaults.update(fields)
    return UsageRecord(**defaults)


def _nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return ordered[rank - 1]


def test_aggregation_sums_counts_and_nearest_rank_percentiles() -> None:
    db = SqliteD1()
    records = [
        _record(
            i,
            input_tokens=10,
            output_tokens=5,
            cached_tokens=2,
            cost_usd=0.001,
            provider="oa" if i % 3 else "an",
            key_id="acme" if i % 2 else None,
        )
        for i in range(37)
    ]
    records += [
        _record(100, status=502, latency_ms=99_999, provider="oa", error_type="upstream"),
        _record(101, status=200, cache_status="HIT", latency_ms=1, provider="oa"),
        _record(102, ts_ms=5_000_000),
    ]  # outside the window
    run(db.batch([insert_statement(r) for r in records]))
    rows = run(
        aggregate(
            db, UsageQuery(since_ms=1_000_000, until_ms=2_000_000, group_by="provider", key_filter="all")
        )
    )
    by = {row["provider"]: row for row in rows}
    oa = [r for r in records[:-1] if r.provider == "oa"]
    assert by["oa"]["requests"] == len(oa) and by["oa"]["errors"] == 1 and by["oa"]["cache_hits"] == 1
    assert by["oa"]["input_tokens"] == sum(r.input_tokens for r in oa)
    assert by["oa"]["cost_usd"] == pytest.approx(sum(r.cost_usd for r in oa))
    ok_latencies = [r.latency_ms for r in oa if r.status < 400]
    assert by["oa"]["latency_ms_p50"] == _nearest_rank(ok_latencies, 0.50)
    assert by["oa"]["latency_ms_p95"] == _nearest_rank(ok_latencies, 0.95)
    assert by["oa"]["latency_ms_p50"] <= statistics.median(ok_latencies) + 10
    assert sum(row["requests"] for row in rows) == len(records) - 1

    own = run(aggregate(db, UsageQuery(1_000_000, 2_000_000, "key", "own", "acme")))
    assert [row["key"] for row in own] == ["acme"] and own[0]["requests"] == 18
    anonymous = run(aggregate(db, UsageQuery(1_000_000, 2_000_000, "key", "anonymous")))
    assert [row["key"] for row in anonymous] == [None]


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1767225600", 1_767_225_600_000),
        ("1767225600.5", 1_767_225_600_500),
        ("2026-01-01", 1_767_225_600_000),
        ("2026-01-01T00:00:10Z", 1_767_225_610_000),
        ("2026-01-01T01:00:00+01:00", 1_767_225_600_000),
    ],
)
def test_usage_time_parameters(text, ms) -> None:
    assert parse_time(text, "since") == ms


def test_bad_usage_time_is_a_400_naming_the_parameter() -> None:
    with pytest.raises(ApiError) as raised:
        parse_time("yesterday", "since")
    assert raised.value.status == 400 and raised.value.param == "since"
