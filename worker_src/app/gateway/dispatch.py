"""The attempt loop: walk the candidate order within the route's retry budget.

Per attempt the outcome is one of:
- success (2xx; for streams, once the first SSE event has arrived, so a connection dropped before
  any event still falls back);
- retryable: connect error or timeout, 408/429/5xx/529, a dropped or unparsable reply, or a provider
  401/403/404 (the gateway's credentials or model name, not the client's request) -> next candidate;
- final: any other 4xx is caused by the request itself and goes back to the client as is.

Budget: at most `max_attempts` calls. Moving to a candidate that has not failed in this request
happens at once; re-trying one that failed waits its backoff, or the upstream's `retry-after` if
longer, and only if the wait fits in `max_total_ms`. Open circuits are skipped; if every candidate's
circuit is open the answer is 503 with `retry-after` = time to the first half-open.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from typing import Literal, NamedTuple

from ..bindings import UpstreamError, UpstreamResponse, close_stream
from ..services import Services
from ..web.errors import Api, ApiError, kind_for_status
from ..web.jsonbody import read_json
from ..web.log import log_event
from ..web.sse import SseDecoder, SseEvent
from .breaker import CircuitBreakers
from .config import Candidate, GatewayConfig, Provider, Route
from .latency import LatencyTracker
from .providers import (
    Endpoint,
    ProviderMisconfigured,
    UpstreamRequest,
    build_upstream_body,
    check_usable,
    provider_secret_values,
    send,
    speaks_responses,
)
from .translate import JsonObject
from .upstream_errors import scrub_secrets, upstream_error_message

RETRYABLE_4XX = frozenset({408, 429})
PROVIDER_FAULT_4XX = frozenset({401, 403, 404})

FailureKind = Literal["unreachable", "timeout", "http", "dropped", "invalid", "misconfigured"]
# Failures of the provider itself, which open the circuit breaker. A 4xx (429 and 408 included) is an
# answer to a request or to one caller's traffic; counting it would let one tenant open a route's
# circuit for every tenant (breakers are shared by the isolate). It still falls back and retries.
_PROVIDER_SIDE_KINDS = frozenset({"unreachable", "timeout", "dropped", "invalid"})


class Failure(NamedTuple):
    candidate: Candidate
    kind: FailureKind
    message: str
    status: int | None = None
    retry_after_s: float | None = None


class Success(NamedTuple):
    candidate: Candidate
    provider: Provider
    attempts: int
    status: int
    headers: dict[str, str]
    latency_ms: float
    body: bytes = b""  # non-streaming
    parsed: JsonObject | None = None  # non-streaming
    first_events: tuple[SseEvent, ...] = ()  # streaming
    decoder: SseDecoder | None = None  # streaming: holds any partial event after first_events
    stream: AsyncIterator[bytes] | None = None  # streaming: the rest of the upstream body


class CallSpec(NamedTuple):
    """What one dispatch needs to know about the request."""

    api: Api
    body: JsonObject
    stream: bool
    alias: str
    headers: Mapping[str, str]
    request_id: str
    endpoint: Endpoint = "chat"
    responses_body: JsonObject | None = None  # see chat.ChatRequest.responses_body


def counts_against_breaker(failure: Failure) -> bool:
    """5xx (529 included), timeouts, connection errors and broken bodies; never a 4xx."""
    if failure.kind == "http":
        return failure.status is not None and failure.status >= 500
    return failure.kind in _PROVIDER_SIDE_KINDS


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # rare (HTTP-date form): keep it off the import path

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def breaker_key(alias: str, candidate: Candidate) -> str:
    return f"{alias}|{candidate.key}"


def _is_error_event(event: SseEvent) -> bool:
    if event.event == "error":
        return True
    return event.data.startswith('{"error"') or event.data.startswith('{ "error"')


class Dispatcher:
    def __init__(
        self, services: Services, config: GatewayConfig, breakers: CircuitBreakers, latency: LatencyTracker
    ) -> None:
        self.services = services
        self.config = config
        self.breakers = breakers
        self.latency = latency

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every provider key value, read only when an error text must be scrubbed (rare): each read
        is a call into the JS env."""
        return provider_secret_values(self.config.providers, self.services.secrets)

    async def run(self, route: Route, order: list[Candidate], call: CallSpec) -> Success:
        clock, policy = self.services.clock, route.retry
        started = clock()
        attempts = 0
        failures_per_candidate: dict[str, int] = {}
        retry_after: dict[str, float] = {}
        skipped_open: dict[str, float] = {}  # candidate key -> seconds to half-open
        last: Failure | None = None
        positions = policy.max_attempts * len(order)
        for position in range(positions):
            if attempts >= policy.max_attempts:
                break
            candidate = order[position % len(order)]
            provider = self.config.providers[candidate.provider]
            now = clock()
            elapsed_ms = (now - started) * 1000
            if attempts and elapsed_ms >= policy.max_total_ms:
                break
            failed_before = failures_per_candidate.get(candidate.key, 0)
            if failed_before < 0:
                continue  # misconfigured: never retried
            delay_ms = 0.0
            if failed_before:
                delay_ms = max(policy.delay_ms(failed_before), 1000 * retry_after.get(candidate.key, 0.0))
                if elapsed_ms + delay_ms > policy.max_total_ms:
                    continue
            try:
                check_usable(self.services, provider)
            except ProviderMisconfigured as error:
                last = last or Failure(candidate, "misconfigured", str(error))
                failures_per_candidate[candidate.key] = -1
                log_event(
                    "gateway",
                    "provider_misconfigured",
                    route=route.alias,
                    candidate=candidate.key,
                    error=str(error),
                )
                continue
            # A request that cannot be expressed in this provider's API is the client's error (400).
            endpoint = call.endpoint
            if call.responses_body is not None and speaks_responses(provider):
                endpoint = "responses"
            body = call.responses_body if endpoint == "responses" else call.body
            request = build_upstream_body(call.api, body or {}, provider, candidate, call.stream, endpoint)
            key = breaker_key(route.alias, candidate)
            if not self.breakers.try_acquire(key, route.breaker, now):
                if not failed_before:  # one that failed in this request is reported by its failure
                    skipped_open[candidate.key] = self.breakers.seconds_until_half_open(key, route.breaker, now)
                continue
            if delay_ms:
                await self.services.sleep(delay_ms / 1000)
            attempts += 1
            outcome = await self._attempt(candidate, provider, request, call, attempts)
            if isinstance(outcome, Success):
                self.breakers.record_success(key)
                return outcome
            if isinstance(outcome, ApiError):  # final: the upstream refused the request itself
                self.breakers.record_success(key)
                raise outcome
            last = outcome
            if outcome.kind == "misconfigured":  # e.g. no such model: retrying cannot help
                failures_per_candidate[candidate.key] = -1
                self.breakers.record_success(key)  # the provider answered; the stack is wrong
                log_event(
                    "gateway",
                    "provider_misconfigured",
                    route=route.alias,
                    candidate=candidate.key,
                    error=outcome.message,
                )
                continue
            log_event(
                "gateway",
                "upstream_attempt_failed",
                request_id=call.request_id,
                route=route.alias,
                candidate=candidate.key,
                kind=outcome.kind,
                status=outcome.status,
            )
            if counts_against_breaker(outcome):
                self.breakers.record_failure(key, route.breaker, clock())
            else:  # no verdict on the provider's health: free a half-open probe, count nothing
                self.breakers.release(key)
            failures_per_candidate[candidate.key] = failed_before + 1
            retry_after[candidate.key] = outcome.retry_after_s or 0.0  # applies to the next retry only
        raise self._exhausted(last, attempts, skipped_open)

    def _headers(self, candidate: Candidate, attempts: int) -> dict[str, str]:
        return {
            "x-edgestack-provider": candidate.provider,
            "x-edgestack-model": candidate.model,
            "x-edgestack-attempts": str(attempts),
        }

    def _exhausted(self, last: Failure | None, attempts: int, skipped_open: dict[str, float]) -> ApiError:
        if last is None:
            wait = math.ceil(min(skipped_open.values())) if skipped_open else 1
            return ApiError(
                503,
                "overloaded",
                "every upstream for this model is failing (circuit open); retry later",
                code="circuit_open",
                retry_after_s=max(1, wait),
                headers={"x-edgestack-attempts": "0"},
            )
        headers = self._headers(last.candidate, attempts)
        summary = f"{attempts} attempt(s) failed; last: {last.candidate.key}: {last.message}"
        if attempts == 0:
            summary = f"{last.candidate.key}: {last.message}"
        if skipped_open:
            wait = max(1, math.ceil(min(skipped_open.values())))
            summary += (
                f"; {len(skipped_open)} candidate(s) skipped because their circuit breaker is open "
                f"after repeated failures (half-open in {wait} s)"
            )
        if last.kind == "http" and last.status == 429:
            retry = math.ceil(last.retry_after_s) if last.retry_after_s is not None else None
            return ApiError(
                429,
                "rate_limit",
                f"upstream rate limited: {summary}",
                code="upstream_rate_limited",
                retry_after_s=retry,
                headers=headers,
            )
        if last.kind == "timeout":
            return ApiError(
                504, "timeout", f"upstream timed out: {summary}", code="upstream_timeout", headers=headers
            )
        if last.kind == "misconfigured":
            return ApiError(
                502,
                "misconfigured",
                f"no usable upstream: {summary}",
                code="provider_misconfigured",
                headers=headers,
            )
        return ApiError(
            502, "upstream", f"upstream failed: {summary}", code="upstream_error", headers=headers
        )

    async def _attempt(
        self,
        candidate: Candidate,
        provider: Provider,
        request: UpstreamRequest,
        call: CallSpec,
        attempts: int,
    ) -> Success | Failure | ApiError:
        started = self.services.clock()
        try:
            reply = await send(self.services, provider, request, call.headers, call.request_id)
        except ProviderMisconfigured as error:
            return Failure(candidate, "misconfigured", str(error))
        except UpstreamError as error:
            text = scrub_secrets(str(error), self.secrets)
            kind: FailureKind = (
                "timeout" if "timed out" in text.lower() or "timeout" in text.lower() else "unreachable"
            )
            return Failure(candidate, kind, text or "connection failed")
        if reply.status >= 400:
            return await self._http_failure(candidate, provider, reply, call, attempts)
        if call.stream:
            return await self._first_events(candidate, provider, reply, attempts, started)
        try:
            body = await reply.read()
        except UpstreamError as error:
            return Failure(candidate, "dropped", f"connection lost while reading the response: {error}")
        try:
            parsed = read_json(body, what="upstream response")
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
        except ValueError:
            return Failure(candidate, "invalid", "upstream returned a body that is not a JSON object")
        return self._success(candidate, provider, reply, attempts, started)._replace(body=body, parsed=parsed)

    async def _http_failure(
        self, candidate: Candidate, provider: Provider, reply: UpstreamResponse, call: CallSpec, attempts: int
    ) -> Failure | ApiError:
        try:
            body = await reply.read()
        except UpstreamError:
            body = b""
        message = scrub_secrets(upstream_error_message(body), self.secrets)
        status = reply.status
        if status >= 500 or status in RETRYABLE_4XX or status == 529:
            return Failure(
                candidate,
                "http",
                f"HTTP {status}: {message}",
                status=status,
                retry_after_s=parse_retry_after(reply.headers, self.services.clock()),
            )
        if status in PROVIDER_FAULT_4XX:
            return Failure(
                candidate,
                "http",
                f"HTTP {status} from the provider (check its key and model name)",
                status=status,
            )
        return ApiError(
            status,
            kind_for_status(status),
            message,
            code="upstream_rejected_request",
            headers=self._headers(candidate, attempts),
        )

    async def _first_events(
        self, candidate: Candidate, provider: Provider, reply: UpstreamResponse, attempts: int, started: float
    ) -> Success | Failure:
        decoder = SseDecoder()
        events: list[SseEvent] = []
        body = reply.body
        try:
            while not events:
                try:
                    chunk = await body.__anext__()
                except StopAsyncIteration:
                    events = decoder.flush()
                    break
                events = decoder.feed(chunk)
        except UpstreamError as error:
            await close_stream(body)
            return Failure(candidate, "dropped", f"stream dropped before the first event: {error}")
        if not events:
            return Failure(candidate, "dropped", "stream ended before the first event")
        if _is_error_event(events[0]):
            await close_stream(body)
            return Failure(
                candidate, "http", f"stream opened with an error: {events[0].data[:200]}", status=503
            )
        return self._success(candidate, provider, reply, attempts, started)._replace(
            first_events=tuple(events), decoder=decoder, stream=body
        )

    def _success(
        self, candidate: Candidate, provider: Provider, reply: UpstreamResponse, attempts: int, started: float
    ) -> Success:
        """A good answer, its latency observed; the caller adds the body or the first events."""
        latency_ms = (self.services.clock() - started) * 1000
        self._observe(candidate, latency_ms)
        return Success(candidate, provider, attempts, reply.status, reply.headers, latency_ms)

    def _observe(self, candidate: Candidate, latency_ms: float) -> None:
        now = self.services.clock()
        self.latency.observe(candidate.key, latency_ms, now)
        kv = self.services.kv.get(self.config.cache_binding) if self.config.cache_binding else None
        self.latency.maybe_publish(kv, self.services.wait_until, candidate.key, now)
