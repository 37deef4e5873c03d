"""Daily per-key quotas on requests and tokens, counted in D1 (`gateway_key_usage_daily`).

Consistency: counters are atomic upserts in D1 (single primary). The check reads the counter before
the call; the request count is incremented at admission and tokens at completion, both through
`wait_until`. So concurrent requests may overshoot a quota by the number in flight, and a token
quota by the tokens of the calls that were running when it was reached. Days are UTC.
"""

from __future__ import annotations

import time

from ..bindings import D1Database
from ..web.errors import ApiError
from ..web.log import log_event
from .config import VirtualKey

SELECT_SQL = "SELECT requests, tokens FROM gateway_key_usage_daily WHERE key_id = ? AND day = ?"
ADD_SQL = (
    "INSERT INTO gateway_key_usage_daily (key_id, day, requests, tokens) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key_id, day) DO UPDATE SET requests = requests + excluded.requests, "
    "tokens = tokens + excluded.tokens"
)


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def seconds_until_utc_midnight(now: float) -> int:
    return max(1, 86_400 - int(now) % 86_400)


async def check_quota(db: D1Database, key: VirtualKey, now: float) -> None:
    if not key.has_quota:
        return
    try:
        rows = await db.execute(SELECT_SQL, (key.name, utc_day(now)))
    except Exception as error:  # quotas fail open: D1 trouble must not take the gateway down
        log_event("gateway", "quota_read_failed", key=key.name, error=type(error).__name__)
        return
    for what, column, limit in (
        ("request", "requests", key.requests_per_day),
        ("token", "tokens", key.tokens_per_day),
    ):
        used = int(rows[0][column]) if rows else 0
        if limit is not None and used >= limit:
            raise ApiError(
                429,
                "quota",
                f"daily {what} quota of {limit} reached for this key",
                code="quota_exceeded",
                retry_after_s=seconds_until_utc_midnight(now),
            )


def add_usage_statement(
    key: VirtualKey, now: float, requests: int, tokens: int
) -> tuple[str, tuple[object, ...]]:
    return ADD_SQL, (key.name, utc_day(now), requests, tokens)
