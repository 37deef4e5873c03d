"""Cache (hit/miss/bypass, SSE replay, tenant isolation), auth, rate limits, quotas, usage records and
aggregation, and bad input, end to end through HTTP with the official SDKs."""

from __future__ import annotations

import json
import threading

import anthropic
import httpx
import openai
import pytest
from gateway_testing import SECRETS, UPSTREAM_KEY, anthropic_client, openai_client, route, section
from harness import GatewayHarness
from harness.planned import key_sha256, planned_config

HELLO = [{"role": "user", "content": "hello"}]
KEYS = {
    "acme": {"sha256": key_sha256("sk-acme-1"), "scope": "acme"},
    "acme-2": {"sha256": key_sha256("sk-acme-2"), "scope": "acme"},
    "globex": {"sha256": key_sha256("sk-globex"), "scope": "globex", "allowed_models": ["cached"]},
    "tiny": {"sha256": key_sha256("sk-tiny"), "requests_per_day": 2},
    "thrifty": {"sha256": key_sha256("sk-thrifty"), "tokens_per_day": 30},
    "ops": {"sha256": key_sha256("sk-ops"), "admin": True, "operator": True},
    "acme-admin": {"sha256": key_sha256("sk-acme-admin"), "scope": "acme", "admin": True},
}


def _routes() -> dict:
    return {
        "cached": route(("oa", "gpt-a"), cache={"enabled": True, "ttl_s": 600, "max_temperature": 0.5}),
        "cached-anthropic": route(("an", "claude-c"), cache={"enabled": True, "ttl_s": 600}),
        "plain": route(("oa", "gpt-a")),
    }


@pytest.fixture
def gw(gateway, fresh_upstreams):
    return gateway(section(fresh_upstreams, _routes(), public=False, keys=KEYS))


def _chat(gw, key: str = "sk-acme-1", model: str = "cached", headers: dict | None = None, **kwargs):
    client = openai_client(gw.base_url, api_key=key)
    return client.chat.completions.with_raw_response.create(
        model=model,
        messages=kwargs.pop("messages", HELLO),
        temperature=kwargs.pop("temperature", 0),
        extra_headers=headers,
        **kwargs,
    )


def _usage(gw, key: str = "sk-ops", **params) -> dict:
    response = httpx.get(gw.base_url + "/v1/usage", params=params, headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- cache


def test_cache_miss_then_hit_without_calling_upstream(gw, fresh_upstreams) -> None:
    first = _chat(gw)
    assert first.headers["x-edgestack-cache"] == "MISS"
    gw.drain()  # the entry is written through waitUntil
    second = _chat(gw)
    assert second.headers["x-edgestack-cache"] == "HIT" and second.headers["x-edgestack-attempts"] == "0"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert fresh_upstreams.oa.calls == 1


def test_a_streaming_request_is_served_from_cache_as_a_valid_sse_replay(gw, fresh_upstreams) -> None:
    _chat(gw, messages=[{"role": "user", "content": "cache me please"}])
    gw.drain()
    stream = openai_client(gw.base_url, api_key="sk-acme-1").chat.completions.create(
        model="cached",
        messages=[{"role": "user", "content": "cache me please"}],
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "oa: cache me please"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert fresh_upstreams.oa.calls == 1


def test_a_streamed_answer_is_cached_and_replayed_for_the_anthropic_sdk(gw, fresh_upstreams) -> None:
    client = anthropic_client(gw.base_url, api_key="sk-acme-1")
    for expected in ("MISS", "HIT"):
        with client.messages.stream(
            model="cached-anthropic", max_tokens=30, messages=[{"role": "user", "content": "tell me"}]
        ) as stream:
            message = stream.get_final_message()
            assert stream.response.headers["x-edgestack-cache"] == expected
        assert message.content[0].text == "an: tell me" and message.stop_reason == "end_turn"
        gw.drain()
    non_stream = client.messages.with_raw_response.create(
        model="cached-anthropic", max_tokens=30, messages=[{"role": "user", "content": "tell me"}]
    )
    assert (
        non_stream.headers["x-edgestack-cache"] == "HIT"
        and non_stream.parse().content[0].text == "an: tell me"
    )
    assert fresh_upstreams.an.calls == 1


@pytest.mark.parametrize("headers", [{"cf-aig-skip-cache": "true"}, {"x-edgestack-skip-cache": "true"}])
def test_skip_cache_headers_bypass(gw, fresh_upstreams, headers) -> None:
    _chat(gw)
    gw.drain()
    assert _chat(gw, headers=headers).headers["x-edgestack-cache"] == "BYPASS"
    assert fresh_upstreams.oa.calls == 2


def test_cache_is_bypassed_above_the_route_max_temperature_and_on_uncached_routes(gw) -> None:
    assert _chat(gw, temperature=0.9).headers["x-edgestack-cache"] == "BYPASS"
    assert _chat(gw, model="plain").headers["x-edgestack-cache"] == "BYPASS"


def test_cache_never_crosses_tenants(gw, fresh_upstreams) -> None:
    _chat(gw, key="sk-acme-1")
    gw.drain()
    assert _chat(gw, key="sk-acme-2").headers["x-edgestack-cache"] == "HIT"  # same scope "acme"
    assert _chat(gw, key="sk-globex").headers["x-edgestack-cache"] == "MISS"  # another tenant
    assert fresh_upstreams.oa.calls == 2


@pytest.mark.harness_only
def test_cache_ttl_header_sets_the_kv_expiration(gw) -> None:
    _chat(gw, headers={"cf-aig-cache-ttl": "120"})
    gw.drain()
    kv = gw.bindings.kv["CACHE"]
    (key,) = kv.keys("gw:cache:")
    _, expires_at = kv.data[key]
    assert expires_at == pytest.approx(gw.bindings.clock() + 120, abs=5)


def test_bad_cache_ttl_header_is_a_400(gw) -> None:
    with pytest.raises(openai.BadRequestError, match="x-edgestack-cache-ttl"):
        _chat(gw, headers={"x-edgestack-cache-ttl": "5"})


# ---------------------------------------------------------------- auth


def test_missing_or_invalid_keys_get_401_in_each_api_shape(gw) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        _chat(gw, key="sk-wrong")
    assert (
        raised.value.body["type"] == "authentication_error" and raised.value.body["code"] == "invalid_api_key"
    )
    with pytest.raises(anthropic.AuthenticationError) as raised_a:
        anthropic_client(gw.base_url, api_key="sk-wrong").messages.create(
            model="cached", max_tokens=5, messages=HELLO
        )
    assert raised_a.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
    }
    response = httpx.post(gw.base_url + "/v1/chat/completions", json={"model": "cached", "messages": HELLO})
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"


def test_allowed_models_are_enforced_and_listed(gw) -> None:
    with pytest.raises(openai.PermissionDeniedError, match="may not use model 'plain'"):
        _chat(gw, key="sk-globex", model="plain")
    assert [m.id for m in openai_client(gw.base_url, api_key="sk-globex").models.list()] == ["cached"]


def test_provider_keys_never_reach_the_client(gw, fresh_upstreams) -> None:
    fresh_upstreams.oa.push()
    responses = [
        _chat(gw, model="plain").http_response,
        httpx.get(gw.base_url + "/v1/models", headers={"x-api-key": "sk-acme-1"}),
    ]
    for response in responses:
        assert UPSTREAM_KEY not in response.text and UPSTREAM_KEY not in json.dumps(dict(response.headers))


# ---------------------------------------------------------------- rate limits and quotas


@pytest.mark.harness_only  # the client IP comes from `cf-connecting-ip`, which only the edge (or harness) sets
def test_per_ip_rate_limit_answers_429_with_retry_after(gateway, fresh_upstreams) -> None:
    spec = section(
        fresh_upstreams, _routes(), rate_limit={"binding": "RATE_LIMITER", "key": "ip", "retry_after_s": 60}
    )
    gw = gateway(spec, rate_limit=(2, 60))
    ip_a, ip_b = {"cf-connecting-ip": "198.51.100.7"}, {"cf-connecting-ip": "203.0.113.9"}
    _chat(gw, model="plain", headers=ip_a)
    _chat(gw, model="plain", headers=ip_a)
    with pytest.raises(openai.RateLimitError) as raised:
        _chat(gw, model="plain", headers=ip_a)
    assert (
        raised.value.response.headers["retry-after"] == "60"
        and raised.value.body["code"] == "rate_limit_exceeded"
    )
    assert _chat(gw, model="plain", headers=ip_b).parse().choices[0].message.content == "oa: hello"
    with pytest.raises(anthropic.RateLimitError):
        anthropic_client(gw.base_url, **ip_a).messages.create(model="plain", max_tokens=5, messages=HELLO)


def test_per_key_rate_limit_separates_keys_behind_one_ip(gateway, fresh_upstreams) -> None:
    spec = section(
        fresh_upstreams,
        _routes(),
        public=False,
        keys=KEYS,
        rate_limit={"binding": "RATE_LIMITER", "key": "api_key", "retry_after_s": 10},
    )
    gw = gateway(spec, rate_limit=(1, 60))
    shared_ip = {"cf-connecting-ip": "192.0.2.1"}
    _chat(gw, key="sk-acme-1", model="plain", headers=shared_ip)
    with pytest.raises(openai.RateLimitError) as raised:
        _chat(gw, key="sk-acme-1", model="plain", headers=shared_ip)
    assert raised.value.response.headers["retry-after"] == "10"
    _chat(gw, key="sk-acme-2", model="plain", headers=shared_ip)  # another key, same IP: its own budget


def test_daily_request_quota(gw) -> None:
    for _ in range(2):
        _chat(gw, key="sk-tiny", model="plain")
        gw.drain()
    with pytest.raises(openai.RateLimitError) as raised:
        _chat(gw, key="sk-tiny", model="plain")
    assert raised.value.body["code"] == "quota_exceeded" and "request quota of 2" in raised.value.message
    assert 0 < int(raised.value.response.headers["retry-after"]) <= 86_400


def test_daily_token_quota(gw) -> None:
    _chat(gw, key="sk-thrifty", model="plain", messages=[{"role": "user", "content": "a long prompt " * 10}])
    gw.drain()
    with pytest.raises(openai.RateLimitError, match="token quota of 30"):
        _chat(gw, key="sk-thrifty", model="plain")


# ---------------------------------------------------------------- usage records


def test_usage_records_and_aggregation(gw, fresh_upstreams) -> None:
    _chat(gw, key="sk-acme-1")  # MISS via oa
    gw.drain()
    _chat(gw, key="sk-acme-1")  # HIT
    _chat(gw, key="sk-globex")  # MISS (other tenant)
    list(
        openai_client(gw.base_url, api_key="sk-acme-1").chat.completions.create(
            model="cached-anthropic", messages=HELLO, stream=True
        )
    )  # streamed via an
    with pytest.raises(openai.PermissionDeniedError):
        _chat(gw, key="sk-globex", model="plain")
    gw.drain()

    by_provider = {row["provider"]: row for row in _usage(gw, group_by="provider")["data"]}
    assert by_provider["oa"]["requests"] == 3 and by_provider["oa"]["cache_hits"] == 1
    assert by_provider["an"]["requests"] == 1 and by_provider["an"]["output_tokens"] == 2
    assert by_provider[None]["errors"] == 1  # the refused request never reached a provider
    assert by_provider["oa"]["cost_usd"] > 0 and by_provider["oa"]["latency_ms_p50"] is not None
    assert by_provider["oa"]["latency_ms_p50"] <= by_provider["oa"]["latency_ms_p95"]

    by_key = {row["key"]: row["requests"] for row in _usage(gw, group_by="key")["data"]}
    assert by_key == {"acme": 3, "globex": 2}
    own = _usage(gw, key="sk-acme-2", group_by="key")  # a non-admin key sees only its own rows
    assert own["scope"] == "own" and own["data"] == []
    tenant = _usage(gw, key="sk-acme-admin", group_by="key")  # a tenant admin: its scope's keys only
    assert tenant["scope"] == "tenant"
    assert {row["key"]: row["requests"] for row in tenant["data"]} == {"acme": 3}
    models = {row["model"] for row in _usage(gw)["data"]}  # default group_by=model
    assert {"gpt-a", "claude-c"} <= models


def test_usage_window_and_bad_parameters(gw) -> None:
    _chat(gw, model="plain")
    gw.drain()
    assert _usage(gw, since="2000-01-01", until="2000-01-02")["data"] == []
    for params, name in (
        ({"group_by": "color"}, "group_by"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2030-01-02", "until": "2030-01-01"}, "since"),
    ):
        response = httpx.get(
            gw.base_url + "/v1/usage", params=params, headers={"authorization": "Bearer sk-ops"}
        )
        assert response.status_code == 400 and response.json()["error"]["param"] == name


@pytest.mark.harness_only
def test_usage_record_fields_and_no_bodies_unless_opted_in(gw) -> None:
    _chat(gw, key="sk-acme-1", model="plain", headers={"cf-connecting-ip": "198.51.100.7"})
    gw.drain()
    (row,) = gw.bindings.d1["DB"].query("SELECT * FROM gateway_usage")
    assert row["key_id"] == "acme" and row["alias"] == "plain" and row["provider"] == "oa"
    assert row["model"] == "gpt-a" and row["status"] == 200 and row["attempts"] == 1
    assert row["cache_status"] == "BYPASS" and row["input_tokens"] > 0 and row["cost_usd"] > 0
    assert row["ip_hash"] and "198.51.100.7" not in json.dumps(row)
    assert row["request_body"] is None and row["response_body"] is None


@pytest.mark.harness_only
def test_bodies_are_logged_when_the_stack_opts_in(gateway, fresh_upstreams) -> None:
    gw = gateway(section(fresh_upstreams, _routes(), log_bodies=True))
    _chat(gw, model="plain")
    gw.drain()
    (row,) = gw.bindings.d1["DB"].query("SELECT request_body, response_body FROM gateway_usage")
    assert json.loads(row["request_body"])["messages"] == HELLO
    assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == "oa: hello"


# ---------------------------------------------------------------- bad input


def _post(gw, path: str, body: bytes | str, content_type: str = "application/json", key: str = "sk-acme-1"):
    data = body.encode() if isinstance(body, str) else body
    return httpx.post(
        gw.base_url + path,
        content=data,
        headers={"content-type": content_type, "authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "fragment"),
    [
        ("/v1/chat/completions", "{not json", "application/json", 400, "not valid JSON"),
        ("/v1/chat/completions", b"\xff\xfe\x00", "application/json", 400, "not valid JSON"),
        ("/v1/chat/completions", "[1, 2]", "application/json", 400, "must be a JSON object"),
        (
            "/v1/chat/completions",
            '{"messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            400,
            "missing required parameter: 'model'",
        ),
        (
            "/v1/chat/completions",
            '{"model": "ghost", "messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            404,
            "model 'ghost' is not configured",
        ),
        ("/v1/chat/completions", '{"model": "plain", "messages": []}', "application/json", 400, "'messages'"),
        (
            "/v1/chat/completions",
            '{"model": "plain", "messages": [{"role": "user"}], "stream": "yes"}',
            "application/json",
            400,
            "'stream'",
        ),
        (
            "/v1/chat/completions",
            '{"model": "plain", "messages": [{"role": "user"}], "temperature": "hot"}',
            "application/json",
            400,
            "'temperature'",
        ),
        ("/v1/chat/completions", "model=plain", "application/x-www-form-urlencoded", 415, "application/json"),
        (
            "/v1/messages",
            '{"model": "plain", "messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            400,
            "'max_tokens'",
        ),
        (
            "/v1/messages",
            '{"model": 7, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            400,
            "'model' must be a non-empty string",
        ),
    ],
)
def test_bad_input_gets_a_clear_api_shaped_error(gw, path, body, content_type, status, fragment) -> None:
    response = _post(gw, path, body, content_type)
    assert response.status_code == status
    payload = response.json()
    if path == "/v1/messages":
        assert payload["type"] == "error" and fragment in payload["error"]["message"]
    else:
        assert fragment in payload["error"]["message"] and payload["error"]["type"]


def test_oversized_bodies_are_a_413(gateway, fresh_upstreams) -> None:
    gw = gateway(section(fresh_upstreams, _routes(), max_body_bytes=2048))
    big = json.dumps({"model": "plain", "messages": [{"role": "user", "content": "x" * 4000}]})
    response = _post(gw, "/v1/chat/completions", big)
    assert response.status_code == 413 and "limit is 2048" in response.json()["error"]["message"]
    response = _post(gw, "/v1/messages", big)
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"


def test_sdk_errors_for_unknown_alias_and_wrong_method(gw) -> None:
    with pytest.raises(openai.NotFoundError, match="model 'nope' is not configured"):
        _chat(gw, model="nope")
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client(gw.base_url, api_key="sk-acme-1").messages.create(
            model="nope", max_tokens=5, messages=HELLO
        )
    response = httpx.get(gw.base_url + "/v1/chat/completions", headers={"authorization": "Bearer sk-acme-1"})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert httpx.get(gw.base_url + "/v1/nothing-here").status_code == 404
    assert httpx.get(gw.base_url + "/healthz").json()["ok"] is True


@pytest.mark.harness_only  # `edgestack dev` refuses such a stack file before the Worker starts
def test_a_broken_gateway_section_answers_503_naming_the_key(fresh_upstreams) -> None:
    sections = {
        "gateway": {**section(fresh_upstreams, _routes()), "keys": {"k": {"sha256": key_sha256("x")}}}
    }
    config = planned_config(sections, tuple(SECRETS))
    config["gateway"]["keys"]["k"]["allowed_models"] = ["ghost"]  # shipped as the loader would never ship it
    with GatewayHarness(config, SECRETS) as gw:
        response = httpx.post(
            gw.base_url + "/v1/chat/completions", json={"model": "plain", "messages": HELLO}
        )
    assert response.status_code == 503
    assert (
        "gateway.keys.k.allowed_models[0]: unknown model alias 'ghost'" in response.json()["error"]["message"]
    )


@pytest.mark.harness_only
def test_a_client_leaving_mid_stream_stops_the_upstream_and_is_recorded_as_499(
    gateway, fresh_upstreams
) -> None:
    gw = gateway(section(fresh_upstreams, _routes()))
    release = threading.Event()  # the upstream holds its stream after the first event until set
    fresh_upstreams.oa.configure(hold_after_first_event=release)
    words = " ".join(f"w{i}" for i in range(40))
    body = {"model": "plain", "stream": True, "messages": [{"role": "user", "content": words}]}
    with (
        httpx.Client(base_url=gw.base_url) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as r,
    ):
        assert r.status_code == 200
        next(r.iter_raw())  # the first event arrived; now hang up
    release.set()  # the rest of the stream meets a closed connection
    gw.harness.wait_for_closed_connections()
    gw.drain()
    rows = gw.bindings.d1["DB"].query("SELECT status, error_type FROM gateway_usage")
    assert rows == [{"status": 499, "error_type": "client_closed"}]
