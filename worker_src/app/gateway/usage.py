"""Usage records (one per gateway request, in D1 table `gateway_usage`) and their aggregation.

Schema: stacks/migrations/db/0002_gateway_usage.sql. Records are written through `wait_until`, so
logging adds no latency to the response.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from ..bindings import D1Database
from ..web.errors import ApiError

MAX_LOGGED_BODY_CHARS = 100_000

GroupBy = Literal["model", "provider", "key", "alias", "tenant", "total"]
# operator keys / admin keys (their tenant's keys) / other keys / anonymous callers
KeyFilter = Literal["all", "tenant", "own", "anonymous"]
GROUP_COLUMNS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "key": "key_id",
    "alias": "alias",
    "tenant": "key_id",  # mapped to the key's tenant (`UsageQuery.tenant_of`)
    "total": "'total'",  # one row: the whole window, with its latency percentiles
}


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
    key_ids: tuple[str, ...] = ()  # key_filter "tenant": the tenant's keys
    tenant_of: tuple[tuple[str, str], ...] = ()  # (key name, tenant) for group_by "tenant"


def _where(query: UsageQuery) -> tuple[str, list[Any]]:
    where = "ts_ms >= ? AND ts_ms < ?"
    params: list[Any] = [query.since_ms, query.until_ms]
    if query.key_filter == "own":
        where += " AND key_id = ?"
        params.append(query.key_id)
    elif query.key_filter == "tenant":
        where += f" AND key_id IN ({', '.join('?' for _ in query.key_ids) or 'NULL'})"
        params.extend(query.key_ids)
    elif query.key_filter == "anonymous":
        where += " AND key_id IS NULL"
    return where, params


def _group_column(query: UsageQuery) -> tuple[str, list[Any]]:
    if query.group_by != "tenant" or not query.tenant_of:
        return GROUP_COLUMNS[query.group_by], []
    cases = " ".join("WHEN ? THEN ?" for _ in query.tenant_of)
    return f"CASE key_id {cases} ELSE NULL END", [v for pair in query.tenant_of for v in pair]


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
    column, column_params = _group_column(query)
    where, where_params = _where(query)
    params = [*column_params, *where_params]
    sql = f"""
WITH picked AS MATERIALIZED (
  SELECT {column} AS grp, status, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms, cache_status
  FROM gateway_usage WHERE {where}
),
sums AS (
  SELECT grp,
         COUNT(*) AS requests,
         SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
         SUM(input_tokens) AS input_tokens,
         SUM(output_tokens) AS output_tokens,
         SUM(cached_tokens) AS cached_tokens,
         SUM(cost_usd) AS cost_usd,
         SUM(CASE WHEN cache_status = 'HIT' THEN 1 ELSE 0 END) AS cache_hits
  FROM picked GROUP BY grp
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
  FROM ranked WHERE rn = (cnt + 1) / 2 OR rn = (95 * cnt + 99) / 100 GROUP BY grp
)
SELECT sums.grp AS grp, requests, errors, input_tokens, output_tokens, cached_tokens, cost_usd, cache_hits,
       pct.p50 AS latency_ms_p50, pct.p95 AS latency_ms_p95
FROM sums LEFT JOIN pct ON pct.grp IS sums.grp
ORDER BY requests DESC, sums.grp
"""
    return sql.strip(), tuple(params)


def _as_int(value: Any) -> int:
    return int(value) if value is not None else 0


def _usage_row(group_by: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        group_by: row.get("grp"),
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


def breakdowns_sql(query: UsageQuery, groups: list[GroupBy]) -> tuple[str, tuple[Any, ...]]:
    """The sums of several groupings in one scan of the window (no latency percentiles: each needs its
    own sort, which `aggregate_sql` pays for one grouping)."""
    where, where_params = _where(query)
    columns, params = [], []
    for group in groups:
        column, column_params = _group_column(query._replace(group_by=group))
        columns.append(f"{column} AS g_{group}")
        params.extend(column_params)
    selects = [
        f"SELECT '{group}' AS breakdown, g_{group} AS grp, COUNT(*) AS requests, "
        "SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, SUM(input_tokens) AS input_tokens, "
        "SUM(output_tokens) AS output_tokens, SUM(cached_tokens) AS cached_tokens, SUM(cost_usd) AS cost_usd, "
        f"SUM(CASE WHEN cache_status = 'HIT' THEN 1 ELSE 0 END) AS cache_hits FROM picked GROUP BY g_{group}"
        for group in groups
    ]
    sql = (
        f"WITH picked AS MATERIALIZED (SELECT {', '.join(columns)}, status, input_tokens, output_tokens, "
        f"cached_tokens, cost_usd, cache_status FROM gateway_usage WHERE {where}) "
        + " UNION ALL ".join(selects)
    )
    return sql, (*params, *where_params)


async def breakdowns(
    db: D1Database, query: UsageQuery, groups: list[GroupBy]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {group: [] for group in groups}
    for row in await db.execute(*breakdowns_sql(query, groups)):
        out[row["breakdown"]].append(_usage_row(row["breakdown"], row))
    for group, rows in out.items():  # as `aggregate_sql` orders: most requests first, then by name
        rows.sort(key=lambda row, name=group: (-row["requests"], str(row[name])))
    return out


async def aggregate(db: D1Database, query: UsageQuery) -> list[dict[str, Any]]:
    sql, params = aggregate_sql(query)
    rows = await db.execute(sql, params)
    return [_usage_row(query.group_by, row) for row in rows]


SERIES_COLUMNS = ("requests", "errors", "input_tokens", "output_tokens", "cost_usd", "cache_hits")


def series_sql(query: UsageQuery, bucket_ms: int) -> tuple[str, tuple[Any, ...]]:
    """Totals per time bucket (`bucket_ms` wide, aligned to the epoch: UTC hours or days)."""
    where, params = _where(query)
    sql = f"""
SELECT (ts_ms / {int(bucket_ms)}) * {int(bucket_ms)} AS bucket_ms,
       COUNT(*) AS requests,
       SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
       SUM(input_tokens) AS input_tokens,
       SUM(output_tokens) AS output_tokens,
       SUM(cost_usd) AS cost_usd,
       SUM(CASE WHEN cache_status = 'HIT' THEN 1 ELSE 0 END) AS cache_hits
FROM gateway_usage WHERE {where}
GROUP BY bucket_ms ORDER BY bucket_ms
"""
    return sql.strip(), tuple(params)


RECENT_COLUMNS = (
    "request_id", "ts_ms", "api", "status", "key_id", "alias", "provider", "model", "stream", "error_type",
    "input_tokens", "output_tokens", "cost_usd", "latency_ms", "cache_status", "attempts",
)  # fmt: skip


def recent_sql(query: UsageQuery, limit: int, with_bodies: bool) -> tuple[str, tuple[Any, ...]]:
    where, params = _where(query)
    columns = [*RECENT_COLUMNS, *(("request_body", "response_body") if with_bodies else ())]
    sql = (
        f"SELECT {', '.join(columns)} FROM gateway_usage WHERE {where} ORDER BY ts_ms DESC LIMIT {int(limit)}"
    )
    return sql, tuple(params)
