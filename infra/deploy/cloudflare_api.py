"""Cloudflare API access for edgestack's own resources (Vectorize indexes, D1 migrations).

- The API token is resolved at run time (Pulumi config secret `cloudflare:apiToken`, then the
  `CLOUDFLARE_API_TOKEN` environment variable) and only ever held in memory.
- `EDGESTACK_CLOUDFLARE_BASE_URL` points the official `cloudflare` SDK at another host with the same
  REST shape (the loopback fake in tests, the local dev host), e.g. `http://127.0.0.1:8787/client/v4`.
- Every call goes through `CloudflareApi.call`, retried with `tenacity` on 429/5xx/connection errors:
  exponential backoff with jitter, `retry-after` honoured, bounded in attempts and total time. The
  SDK's own retries are disabled so the policy (and its clock and sleep) is in one place and testable
  without waiting. Re-sending D1 SQL is safe by construction (see `D1RestClient`).
- Errors become `CloudflareApiError` with a one-line message; 401/403 become `CloudflareAuthError`.

The `cloudflare` SDK is imported lazily: importing this module stays cheap for `edgestack synth`.
"""

from __future__ import annotations

import email.utils
import os
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from infra.d1.migrations import D1QueryError, StatementResult
from infra.errors import EdgestackError

if TYPE_CHECKING:
    from cloudflare import Cloudflare
    from tenacity import RetryCallState

T = TypeVar("T")

TOKEN_CONFIG_KEY = "cloudflare:apiToken"
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
BASE_URL_ENV = "EDGESTACK_CLOUDFLARE_BASE_URL"
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"


class MissingTokenError(EdgestackError, RuntimeError):
    """No API token in the Pulumi config nor in the environment."""


class CloudflareApiError(EdgestackError, RuntimeError):
    """A failed Cloudflare API call, with the `errors` array of the response envelope."""

    def __init__(self, operation: str, status: int | None, details: Sequence[ApiErrorDetail], note: str = ""):
        self.operation = operation
        self.status = status
        self.details = tuple(details)
        self.note = note
        super().__init__(operation)

    def __str__(self) -> str:
        return self._one_line()

    def _one_line(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        errors = "; ".join(str(d) for d in self.details) or "no error details"
        tail = f" ({self.note})" if self.note else ""
        return f"Cloudflare API error while {self.operation}: {status}: {errors}{tail}"

    def has_code(self, *codes: int) -> bool:
        return any(d.code in codes for d in self.details)

    def mentions(self, text: str) -> bool:
        return any(text in d.message for d in self.details)


class CloudflareAuthError(CloudflareApiError):
    """401 (token rejected) or 403 (token lacks a permission)."""

    def _one_line(self) -> str:
        errors = "; ".join(str(d) for d in self.details)
        detail = f" [{errors}]" if errors else ""
        if self.status == 401:
            return (
                f"Cloudflare rejected the API token (HTTP 401) while {self.operation}{detail}: set a valid token "
                f"with `pulumi config set --secret {TOKEN_CONFIG_KEY} ...` or {TOKEN_ENV}"
            )
        return (
            f"the Cloudflare API token may not do this (HTTP 403) while {self.operation}{detail}: "
            f"grant it {self.note or 'the needed permission'} on the account"
        )


class CloudflareUnavailableError(CloudflareApiError):
    """429/5xx/connection errors: retried, then raised when the attempt or time budget runs out."""

    retry_after: float | None = None  # seconds the response asked to wait


@dataclass(frozen=True)
class ApiErrorDetail:
    code: int | None
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code is not None else self.message


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff (base * 2**n, capped) plus up to `jitter_s` of random delay, `retry-after`
    honoured as given, bounded in attempts and total time."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_total_s: float = 120.0
    jitter_s: float = 0.0

    def backoff(self, retry_number: int, random: Callable[[], float] = _random.random) -> float:
        delay = min(self.base_delay_s * (2**retry_number), self.max_delay_s)
        return float(delay + self.jitter_s * random())


# What `connect` uses by default: jittered, so parallel deploys hitting one limit spread out.
DEFAULT_RETRY = RetryPolicy(jitter_s=0.5)


def resolve_token(config_token: str | None, env: Mapping[str, str] | None = None) -> str:
    """The Pulumi config secret wins over the environment; an empty value counts as missing."""
    env = os.environ if env is None else env
    token = (config_token or "").strip() or env.get(TOKEN_ENV, "").strip()
    if not token:
        raise MissingTokenError(
            f"no Cloudflare API token: run `pulumi config set --secret {TOKEN_CONFIG_KEY} <token>` "
            f"or export {TOKEN_ENV}"
        )
    return token


def base_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The base URL override, validated; None means the SDK default (api.cloudflare.com)."""
    env = os.environ if env is None else env
    value = env.get(BASE_URL_ENV, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{BASE_URL_ENV}={value!r} is not an http(s) URL such as http://127.0.0.1:8787/client/v4"
        )
    return value.rstrip("/")


@dataclass
class CloudflareApi:
    """The SDK client plus the retry policy. Holds the token in memory only; never pickled."""

    sdk: Cloudflare
    retry: RetryPolicy = DEFAULT_RETRY
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = _random.random
    attempts_log: list[str] = field(default_factory=list, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("CloudflareApi holds the API token and must not be serialized")

    def call(
        self,
        operation: str,
        fn: Callable[[Cloudflare], T],
        *,
        permission: str = "",
        on_retry: Callable[[], None] | None = None,
    ) -> T:
        """Run `fn(sdk)`; retry 429/5xx/connection errors; map failures to one-line errors.

        `operation` reads as "while <operation>" in messages. `permission` names the token permission a
        403 asks for. `on_retry` is called before each re-send (callers of non-idempotent requests use
        it to know a replay may have happened).
        """
        from tenacity import Retrying, retry_if_exception_type

        started = self.clock()

        def wait(state: RetryCallState) -> float:
            failure = _failure(state)
            if failure.retry_after is not None:
                return max(failure.retry_after, 0.0)
            return self.retry.backoff(state.attempt_number - 1, self.random)

        def stop(state: RetryCallState) -> bool:
            elapsed = self.clock() - started
            return state.attempt_number >= self.retry.max_attempts or (
                elapsed + (state.upcoming_sleep or 0.0) > self.retry.max_total_s
            )

        def before_sleep(state: RetryCallState) -> None:
            failure = _failure(state)
            self.attempts_log.append(
                f"{operation}: {failure.status or 'connection error'}; retry in {state.upcoming_sleep:.2f}s"
            )
            if on_retry is not None:
                on_retry()

        def give_up(state: RetryCallState) -> T:
            failure = _failure(state)
            failure.note = f"gave up after {state.attempt_number} attempt(s) in {self.clock() - started:.1f}s"
            raise failure

        retrying = Retrying(
            retry=retry_if_exception_type(CloudflareUnavailableError),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
            reraise=True,
        )
        return retrying(_one_attempt, self.sdk, operation, fn, permission)


def _failure(state: RetryCallState) -> CloudflareUnavailableError:
    failure = state.outcome.exception() if state.outcome is not None else None
    assert isinstance(failure, CloudflareUnavailableError)
    return failure


def _one_attempt(sdk: Cloudflare, operation: str, fn: Callable[[Cloudflare], T], permission: str) -> T:
    """`fn(sdk)` with the SDK's errors mapped to `CloudflareApiError`s (transient ones unavailable)."""
    import cloudflare

    try:
        return fn(sdk)
    except cloudflare.APIStatusError as exc:
        status = exc.status_code
        details = _details(exc.body)
        if status in (401, 403):
            raise CloudflareAuthError(operation, status, details, note=permission) from None
        if status != 429 and status < 500:
            raise CloudflareApiError(operation, status, details) from None
        failure = CloudflareUnavailableError(operation, status, details)
        failure.retry_after = _retry_after(exc.response.headers)
        raise failure from None
    except cloudflare.APIConnectionError as exc:
        raise CloudflareUnavailableError(operation, None, [ApiErrorDetail(None, str(exc))]) from None


def connect(
    token: str,
    *,
    base_url: str | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout_s: float = 60.0,
) -> CloudflareApi:
    """Build the SDK client for `token`, at `base_url` or the `EDGESTACK_CLOUDFLARE_BASE_URL` override."""
    from cloudflare import Cloudflare

    sdk = Cloudflare(
        api_token=token,
        base_url=base_url or base_url_from_env() or DEFAULT_BASE_URL,
        max_retries=0,  # CloudflareApi.call owns retries
        timeout=timeout_s,
    )
    # The SDK also picks CLOUDFLARE_API_KEY / CLOUDFLARE_EMAIL up from the environment and would prefer
    # them over the token; edgestack authenticates with the token only.
    sdk.api_key = None
    sdk.api_email = None
    sdk.user_service_key = None
    return CloudflareApi(sdk=sdk, retry=retry or DEFAULT_RETRY, sleep=sleep, clock=clock)


def _details(body: object) -> list[ApiErrorDetail]:
    """The envelope's `errors` array (`[{"code", "message"}]`), or the raw body when it is not JSON."""
    if isinstance(body, dict):
        out = []
        for item in body.get("errors") or []:
            if isinstance(item, dict):
                code = item.get("code")
                out.append(
                    ApiErrorDetail(code if isinstance(code, int) else None, str(item.get("message", "")))
                )
        return out
    if isinstance(body, str | bytes) and body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return [ApiErrorDetail(None, " ".join(text.split())[:200])]
    return []


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` (delta seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return float(raw_ms) / 1000
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return float(email.utils.mktime_tz(parsed) - time.time())


# --- D1 over REST ---------------------------------------------------------------------------------

D1_PERMISSION = "'D1 Write' (D1 Edit)"


@dataclass(frozen=True)
class D1RestClient:
    """`D1QueryClient` over `POST /accounts/{account_id}/d1/database/{database_id}/query`.

    Works against Cloudflare and against any host exposing the same REST shape (the local dev host,
    the test fake) through the base URL override.

    Retried like every call, which is safe for what edgestack sends: a request runs as one transaction,
    and each migration request ends with the insert of its file's name into `d1_migrations` (UNIQUE),
    so a replay of a request that did commit fails and rolls back whole; reads and probes are repeatable.
    """

    api: CloudflareApi
    account_id: str
    database_id: str

    def query(self, sql: str, params: Sequence[str] = ()) -> list[StatementResult]:
        def send(sdk: Cloudflare) -> Any:
            kwargs: dict[str, Any] = {"account_id": self.account_id, "sql": sql}
            if params:
                kwargs["params"] = list(params)
            # Raw response: D1 can answer `success: false` with per-statement results that the typed
            # page model would swallow.
            return sdk.d1.database.with_raw_response.query(self.database_id, **kwargs).http_response.json()

        try:
            # SQL may not be idempotent (a migration file): never re-sent once D1 may have run it.
            envelope = self.api.call(
                f"querying D1 database {self.database_id}", send, permission=D1_PERMISSION
            )
        except CloudflareApiError as exc:
            if type(exc) is not CloudflareApiError:  # auth and exhausted retries keep their own message
                raise
            raise D1QueryError("; ".join(d.message for d in exc.details) or str(exc), exc.status) from None
        return parse_d1_envelope(envelope)


def parse_d1_envelope(envelope: object) -> list[StatementResult]:
    """`{"success", "errors", "result": [{"results": [...], "success", "meta"}]}` -> one result per statement."""
    if not isinstance(envelope, dict):
        raise D1QueryError(f"unexpected D1 response: {str(envelope)[:200]}", None)
    if not envelope.get("success", False):
        errors = _details(envelope)
        raise D1QueryError("; ".join(d.message for d in errors) or "D1 reported failure", None)
    out: list[StatementResult] = []
    for item in envelope.get("result") or []:
        if not isinstance(item, dict):
            continue
        if item.get("success") is False:  # the schema's statement result is {meta, results, success}:
            errors = _details(envelope)  # its reason comes in the envelope's errors[]
            raise D1QueryError("; ".join(d.message for d in errors) or "a statement failed (no error given)", None)
        rows = [row for row in item.get("results") or [] if isinstance(row, dict)]
        raw_meta = item.get("meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        out.append(StatementResult(rows=rows, meta=meta))
    return out
