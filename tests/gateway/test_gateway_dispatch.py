"""The attempt loop against a scripted fetcher: fallback, retry budget, backoff with retry-after,
breakers, final 4xx, misconfigured providers, dropped streams. No network."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator

import pytest
from app.bindings import UpstreamError, UpstreamResponse
from app.config import BuildInfo
from app.gateway.breaker import CircuitBreakers
from app.gateway.config import BreakerPolicy, Candidate, RetryPolicy, Route, parse_gateway_config
from app.gateway.dispatch import CallSpec, Dispatcher
from app.gateway.latency import LatencyTracker
from app.services import Services
from app.web.errors import ApiError
from gateway_testing import run
from harness.bindings import FakeClock, RecordingSleep
from harness.planned import planned_config, runtime_config

OK_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


OK_STREAM = [b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', b"data: [DONE]\n\n"]


async def _chunks(parts: list[bytes], fail_after: int | None = None) -> AsyncIterator[bytes]:
    """Yield the parts; with `fail_after`, the connection drops after that many parts."""
    for part in parts[:fail_after]:
        yield part
    if fail_after is not None:
        raise UpstreamError("connection lost while reading")


class ScriptedFetcher:
    """Per host: a queue of replies (status, headers, body chunks[, fail_after]) or exceptions."""

    def __init__(self, clock: FakeClock, call_seconds: float = 0.1) -> None:
        self.script: dict[str, deque] = defaultdict(deque)
        self.calls: list[str] = []
        self.clock = clock
        self.call_seconds = call_seconds

    def add(self, host: str, *replies: object) -> None:
        self.script[host].extend(replies)

    async def __call__(self, url, *, method, headers, body, timeout_ms) -> UpstreamResponse:
        host = url.split("/")[2].split(".")[0]
        self.calls.append(host)
        self.clock.advance(self.call_seconds)
        default = (
            (200, {}, OK_STREAM)
            if json.loads(body).get("stream")
            else (200, {}, [json.dumps(OK_BODY).encode()])
        )
        reply = self.script[host].popleft() if self.script[host] else default
        if isinstance(reply, Exception):
            raise reply
        status, headers, parts, *rest = reply  # type: ignore[misc]
        return UpstreamResponse(status, headers, _chunks(parts, rest[0] if rest else None))


def _setup(
    strategy: str = "fallback",
    retry: dict | None = None,
    hosts: tuple[str, ...] = ("one", "two"),
    secrets: dict | None = None,
    failure_threshold: int = 2,
):
    section = planned_config(
        {
            "gateway": {
                "public": True,
                "providers": {
                    h: {"kind": "openai-compatible", "base_url": f"http://{h}.test/v1", "api_key_secret": "K"}
                    for h in hosts
                },
                "routes": {
                    "r": {
                        "strategy": strategy,
                        "candidates": [{"provider": h, "model": f"m-{h}"} for h in hosts],
                        "retry": retry or {},
                        "circuit_breaker": {"failure_threshold": failure_threshold, "cooldown_s": 10},
                    }
                },
            }
        },
        secrets=("K",),
    )
    config = parse_gateway_config(section["gateway"])
    clock = FakeClock()
    fetcher = ScriptedFetcher(clock)
    sleep = RecordingSleep(clock=clock)
    services = Services(
        build=BuildInfo("t", "t"),
        config=runtime_config(section),
        fetch=fetcher,
        wait_until=lambda work: None,
        clock=clock,
        sleep=sleep,
        secrets={"K": "sk-upstream-key"} if secrets is None else secrets,
    )
    breakers = CircuitBreakers()
    dispatcher = Dispatcher(services, config, breakers, LatencyTracker())
    return config, dispatcher, fetcher, sleep, clock, breakers


def _call(stream: bool = False) -> CallSpec:
    return CallSpec(
        api="openai",
        body={"model": "r", "messages": [{"role": "user", "content": "x"}], "stream": stream},
        stream=stream,
        alias="r",
        headers={},
        request_id="req-1",
    )


def _dispatch(config, dispatcher, stream: bool = False):
    route: Route = config.routes["r"]
    return run(dispatcher.run(route, list(route.candidates), _call(stream)))


def test_first_candidate_answers() -> None:
    config, dispatcher, fetcher, sleep, _, _ = _setup()
    success = _dispatch(config, dispatcher)
    assert success.candidate.provider == "one" and success.attempts == 1 and fetcher.calls == ["one"]
    assert success.parsed["choices"][0]["message"]["content"] == "hi" and sleep.delays == []


@pytest.mark.parametrize(
    "failure",
    [
        (503, {}, [b'{"error": {"message": "down"}}']),
        (500, {}, [b"oops"]),
        (529, {}, [b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}']),
        (429, {"retry-after": "3"}, [b"{}"]),
        (408, {}, [b"{}"]),
        (401, {}, [b'{"error": {"message": "bad key sk-upstream-key"}}']),
        UpstreamError("connection to one.test failed: ConnectError"),
        UpstreamError("timed out after 5000 ms"),
        (200, {}, [b'{"id": "x", "choi'], 1),  # dropped mid-body
        (200, {}, [b"<html>not json</html>"]),
    ],
)
def test_retryable_failures_fall_back_at_once_to_the_next_candidate(failure) -> None:
    config, dispatcher, fetcher, sleep, _, _ = _setup()
    fetcher.add("one", failure)
    success = _dispatch(config, dispatcher)
    assert success.candidate.provider == "two" and success.attempts == 2
    assert fetcher.calls == ["one", "two"] and sleep.delays == []  # a fresh candidate: no wait


def test_a_400_from_the_request_itself_does_not_fall_back() -> None:
    config, dispatcher, fetcher, _, _, breakers = _setup()
    fetcher.add(
        "one", (400, {}, [b'{"error": {"message": "context too long", "type": "invalid_request_error"}}'])
    )
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert raised.value.status == 400 and raised.value.message == "context too long"
    assert raised.value.headers["x-edgestack-attempts"] == "1" and fetcher.calls == ["one"]


def test_retrying_a_failed_candidate_waits_backoff_or_retry_after_whichever_is_longer() -> None:
    config, dispatcher, fetcher, sleep, _, _ = _setup(
        retry={"max_attempts": 4, "backoff": "exponential", "base_delay_ms": 100, "max_total_ms": 60_000},
        hosts=("one",),
        failure_threshold=10,
    )
    fetcher.add("one", (429, {"retry-after": "2"}, [b"{}"]), (503, {}, [b"{}"]), (503, {}, [b"{}"]))
    success = _dispatch(config, dispatcher)
    assert success.attempts == 4 and fetcher.calls == ["one"] * 4
    assert sleep.delays == [2.0, 0.2, 0.4]  # max(0.1 backoff, 2 retry-after), then plain backoff 0.2, 0.4


def test_the_attempt_budget_caps_calls_and_the_last_failure_is_reported() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup(retry={"max_attempts": 3, "base_delay_ms": 0})
    for _ in range(3):
        fetcher.add("one", (503, {}, [b"{}"]))
        fetcher.add("two", (503, {}, [b"{}"]))
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert fetcher.calls == ["one", "two", "one"]
    assert raised.value.status == 502 and raised.value.headers["x-edgestack-attempts"] == "3"
    assert "3 attempt(s) failed; last: one/m-one: HTTP 503" in raised.value.message


def test_a_retry_after_longer_than_the_time_budget_is_not_waited_for() -> None:
    config, dispatcher, fetcher, sleep, _, _ = _setup(
        retry={"max_attempts": 5, "base_delay_ms": 10, "max_total_ms": 1000}, hosts=("one",)
    )
    fetcher.add("one", (429, {"retry-after": "30"}, [b"{}"]))
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert raised.value.status == 429 and raised.value.retry_after_s == 30
    assert fetcher.calls == ["one"] and sleep.delays == []


def test_timeouts_end_in_504() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup(retry={"max_attempts": 2, "base_delay_ms": 0})
    fetcher.add("one", UpstreamError("timed out after 5000 ms"))
    fetcher.add("two", UpstreamError("timed out after 5000 ms"))
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert raised.value.status == 504


def test_provider_keys_never_appear_in_errors() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup(retry={"max_attempts": 1})
    fetcher.add("one", (503, {}, [b'{"error": {"message": "key sk-upstream-key is over quota"}}']))
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert "sk-upstream-key" not in raised.value.message and "[redacted]" in raised.value.message


def test_open_circuits_are_skipped_and_all_open_is_a_503_with_retry_after() -> None:
    config, dispatcher, fetcher, _, clock, _ = _setup(retry={"max_attempts": 2, "base_delay_ms": 0})
    for _ in range(2):  # threshold 2: two failing requests open both circuits
        fetcher.add("one", (503, {}, [b"{}"]))
        fetcher.add("two", (503, {}, [b"{}"]))
        with pytest.raises(ApiError):
            _dispatch(config, dispatcher)
    fetcher.calls.clear()
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert fetcher.calls == [] and raised.value.status == 503 and raised.value.code == "circuit_open"
    assert 1 <= raised.value.retry_after_s <= 10
    clock.advance(10)  # cool-down over: half-open, one probe each; the probe succeeds and closes it
    success = _dispatch(config, dispatcher)
    assert success.candidate.provider == "one" and fetcher.calls == ["one"]


def test_a_provider_without_its_secret_is_skipped_without_using_an_attempt() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup(retry={"max_attempts": 1}, secrets={})
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert (
        raised.value.status == 502 and "needs Worker secret K" in raised.value.message and fetcher.calls == []
    )


def test_a_stream_dropped_before_its_first_event_falls_back() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup()
    fetcher.add("one", (200, {"content-type": "text/event-stream"}, [b'data: {"id":'], 1))
    success = _dispatch(config, dispatcher, stream=True)
    assert success.candidate.provider == "two" and success.first_events[0].data.startswith('{"id":"c"')


def test_a_stream_that_opens_with_an_error_event_falls_back() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup()
    fetcher.add(
        "one", (200, {}, [b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'])
    )
    success = _dispatch(config, dispatcher, stream=True)
    assert success.candidate.provider == "two"


def test_breaker_and_retry_policies_come_from_the_route() -> None:
    config, *_ = _setup(retry={"max_attempts": 7, "backoff": "linear"})
    route = config.routes["r"]
    assert route.retry == RetryPolicy(
        max_attempts=7, backoff="linear", base_delay_ms=100, max_total_ms=20_000
    )
    assert route.breaker == BreakerPolicy(failure_threshold=2, cooldown_s=10)
    assert route.candidates[0] == Candidate("one", "m-one", 1)


class _UnknownModelAi:
    """A Workers AI binding that knows no text model (like the local one without a model map)."""

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, model: str, inputs: object, options: object = None) -> object:
        self.calls += 1
        raise RuntimeError(f"AiError: 5007: No such model {model} or task")


def _workers_ai_then_echo(threshold: int = 5):
    section = planned_config(
        {
            "gateway": {
                "public": True,
                "providers": {"wai": {"kind": "workers-ai"}, "local": {"kind": "local-echo"}},
                "routes": {
                    "r": {
                        "candidates": [
                            {"provider": "wai", "model": "@cf/x/llm"},
                            {"provider": "local", "model": "echo"},
                        ],
                        "retry": {"max_attempts": 3, "base_delay_ms": 0},
                        "circuit_breaker": {"failure_threshold": threshold, "cooldown_s": 10},
                    },
                    "only-wai": {"candidates": [{"provider": "wai", "model": "@cf/x/llm"}]},
                },
            }
        }
    )
    config = parse_gateway_config(section["gateway"])
    clock = FakeClock()
    ai = _UnknownModelAi()
    services = Services(
        build=BuildInfo("t", "t"),
        config=runtime_config(section),
        fetch=ScriptedFetcher(clock),
        wait_until=lambda work: None,
        clock=clock,
        sleep=RecordingSleep(clock=clock),
        secrets={},
        ai=ai,
    )
    return config, Dispatcher(services, config, CircuitBreakers(), LatencyTracker()), ai


def test_no_such_workers_ai_model_is_not_retried_and_the_reply_says_how_to_map_it() -> None:
    config, dispatcher, ai = _workers_ai_then_echo()
    only = config.routes["only-wai"]
    with pytest.raises(ApiError) as raised:
        run(dispatcher.run(only, list(only.candidates), _call()))
    assert ai.calls == 1  # one try, not max_attempts
    assert raised.value.status == 502 and raised.value.code == "provider_misconfigured"
    assert "textGenerationModelMap" in raised.value.message
    assert "EDGESTACK_TEXT_GENERATION_MODELS='@cf/x/llm=LOCAL_MODEL'" in raised.value.message
    route = config.routes["r"]
    success = run(dispatcher.run(route, list(route.candidates), _call()))
    assert success.candidate.provider == "local" and ai.calls == 2


def test_a_provider_without_its_key_says_which_secret_and_where_to_put_it() -> None:
    config, dispatcher, fetcher, _, _, _ = _setup(retry={"max_attempts": 2}, secrets={})
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert "0 attempt(s)" not in raised.value.message and fetcher.calls == []
    assert "needs Worker secret K" in raised.value.message and "K=... in .dev.vars" in raised.value.message


def test_open_breakers_next_to_a_failure_are_named_in_the_reply() -> None:
    config, dispatcher, fetcher, _, _, breakers = _setup(
        retry={"max_attempts": 3, "base_delay_ms": 0}, failure_threshold=1
    )
    fetcher.add("one", (503, {}, [b"{}"]))
    fetcher.add("two", (503, {}, [b"{}"]))
    with pytest.raises(ApiError):
        _dispatch(config, dispatcher)  # both circuits open now (threshold 1)
    fetcher.calls.clear()
    route = config.routes["r"]
    key = f"r|{route.candidates[0].key}"
    breakers.record_success(key)  # "one" closes; "two" stays open
    fetcher.add("one", (503, {}, [b"{}"]))
    with pytest.raises(ApiError) as raised:
        _dispatch(config, dispatcher)
    assert fetcher.calls == ["one"]
    assert "circuit breaker is open" in raised.value.message and "1 candidate(s) skipped" in raised.value.message
@pytest.mark.parametrize(
    ("failure", "opens"),
    [
        ((429, {}, [b"{}"]), False),
        ((408, {}, [b"{}"]), False),
        ((401, {}, [b"{}"]), False),
        ((404, {}, [b"{}"]), False),
        ((503, {}, [b"{}"]), True),
        ((529, {}, [b"{}"]), True),
        (UpstreamError("timed out after 5000 ms"), True),
        (UpstreamError("connection to one.test failed: ConnectError"), True),
        ((200, {}, [b"<html>not json</html>"]), True),
    ],
)
def test_only_provider_side_failures_open_the_circuit(failure, opens: bool) -> None:
    """Breakers are shared by every tenant of the isolate: one caller's 4xx traffic (a rate limit, a
    model it may not use) must not open a route's circuit for the others."""
    config, dispatcher, fetcher, *_ = _setup(hosts=("one",), failure_threshold=2, retry={"max_attempts": 1})
    for _ in range(3):
        fetcher.add("one", failure)
        with pytest.raises(ApiError):
            _dispatch(config, dispatcher)
    fetcher.calls.clear()
    if opens:
        with pytest.raises(ApiError) as raised:
            _dispatch(config, dispatcher)
        assert raised.value.code == "circuit_open" and fetcher.calls == []
    else:
        assert _dispatch(config, dispatcher).candidate.provider == "one" and fetcher.calls == ["one"]
