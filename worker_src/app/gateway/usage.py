"""Usage records (one per gateway request, in D1 table `gateway_usage`) and their aggregation.

Schema: stacks/migrations/db/0002_gateway_usage.sql. Records are written through `wait_until`, so
logging adds no latency to the response.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from ..bindings import D1Database
from ..web.errors import ApiError

MAX_LOGGED_BODY_CHARS = 100_000

GroupBy = Literal["model", "provider", "key", "alias"]
# operator keys / tenant admin keys (their scope's keys) / other keys / anonymous callers
KeyFilter = Literal["all", "tenant", "own", "anonymous"]
GROUP_COLUMNS: dict[str, str] = {"model": "model", "provider": "provider", "key": "key_id", "alias": "alias"}


@dataclass
class UsageRecord:
    request_id: str
    ts_ms: int
    api: str
    status: int = 0
    key_id: str | None = None
    ip_hash: str | None = None
    alias: str | None = None
    provider: str | None = None
    model: str | None = None
    stream: int = 0
    error_type: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    ttfb_ms: int | None = None
    cache_status: str = "BYPASS"
    attempts: int = 0
    request_body: str | None = None
    response_body: str | None = None


_COLUMNS = [f.name for f in fields(UsageRecord)]
INSERT_SQL = f"INSERT INTO gateway_usage ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


def insert_statement(record: UsageRecord) -> tuple[str, tuple[Any, ...]]:
    return INSERT_SQL, tuple(getattr(record, name) for name in _COLUMNS)


def clip_body(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_LOGGED_BODY_CHARS:
        return text
    return text[:MAX_LOGGED_BODY_CHARS] + "...[truncated]"


# ---------------------------------------------------------------- aggregation (GET /v1/usage)


class UsageQuery(NamedTuple):
    since_ms: int
    until_ms: int
    group_by: GroupBy
    key_filter: KeyFilter
    key_id: str | None = None
    tenant_key_ids: tuple[str, ...] = ()  # key_filter "tenant": the names of the scope's keys


def parse_time(value: str, name: str) -> int:
    """Unix seconds (int or float) or ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00Z`) -> epoch ms."""
    text = value.strip()
    try:
        seconds = float(text)
        if not math.isfinite(seconds):
            raise ValueError
        return int(seconds * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ApiError(
            400,
            "invalid_request",
            f"query parameter {name} must be unix seconds or an ISO 8601 time, got {value!r}",
            param=name,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


MAX_TIME_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def parse_time_bounded(value: str, name: str) -> int:
    millis = parse_time(value, name)
    if not 0 <= millis <= MAX_TIME_MS:
        raise ApiError(400, "invalid_request", f"query parameter {name} is out of range", param=name)
    return millis


def aggregate_sql(query: UsageQuery) -> tuple[str, tuple[Any, ...]]:
    """One statement: sums per group plus nearest-rank p50/p95 latency of successful requests."""
    column = GROUP_COLUMNS[query.group_by]
    where = "ts_ms >= ? AND ts_ms < ?"
    params: list[Any] = [query.since_ms, query.until_ms]
    if query.key_filter == "own":
        where += " AND key_id = ?"
        params.append(query.key_id)
    elif query.key_filter == "tenant":  # one bound parameter however many keys the tenant has
        where += " AND key_id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(query.tenant_key_ids)))
    elif query.key_filter == "anonymous":
        where += " AND key_id IS NULL"
    sql = f"""
WITH picked AS (
  SELECT {column} AS grp, status, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms, cache_status
  FROM gateway_usage WHERE {where}
),
ranked AS (
  SELECT grp, latency_ms,
         ROW_NUMBER() OVER (PARTITION BY grp ORDER BY latency_ms) AS rn,
         COUNT(*) OVER (PARTITION BY grp) AS cnt
  FROM picked WHERE status < 400
),
pct AS (
  SELECT grp,
         MAX(CASE WHEN rn = (cnt + 1) / 2 THEN latency_ms END) AS p50,
         MAX(CASE WHEN rn = (95 * cnt + 99) / 100 THEN latency_ms END) AS p95
  FROM ranked GROUP BY grp
)
SELECT picked.grp AS grp,
       COUNT(*) AS requests,
       SUM(CASE WHEN picked.status >= 400 THEN 1 ELSE 0 END) AS errors,
       SUM(picked.input_tokens) AS input_tokens,
       SUM(picked.output_tokens) AS output_tokens,
       SUM(picked.cached_tokens) AS cached_tokens,
       SUM(picked.cost_usd) AS cost_usd,
       SUM(CASE WHEN picked.cache_status = 'HIT' THEN 1 ELSE 0 END) AS cache_hits,
       pct.p50 AS latency_ms_p50,
       pct.p95 AS latency_ms_p95
FROM picked LEFT JOIN pct ON pct.grp IS picked.grp
GROUP BY picked.grp
ORDER BY requests DESC, grp
"""
    return sql.strip(), tuple(params)


def _as_int(value: Any) -> int:
    return int(value) if value is not None else 0


async def aggregate(db: D1Database, query: UsageQuery) -> list[dict[str, Any]]:
    sql, params = aggregate_sql(query)
    rows = await db.execute(sql, params)
    return [
        {
            query.group_by: row.get("grp"),
            "requests": _as_int(row.get("requests")),
            "errors": _as_int(row.get("errors")),
            "input_tokens": _as_int(row.get("input_tokens")),
            "output_tokens": _as_int(row.get("output_tokens")),
            "cached_tokens": _as_int(row.get("cached_tokens")),
            "cost_usd": round(float(row.get("cost_usd") or 0.0), 8),
            "cache_hits": _as_int(row.get("cache_hits")),
            "latency_ms_p50": row.get("latency_ms_p50"),
            "latency_ms_p95": row.get("latency_ms_p95"),
        }
        for row in rows
    ]
