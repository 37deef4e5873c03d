"""`GET /v1/usage`: aggregated usage records, and what the dashboard reads (the same numbers for a
script as for the page).

Query parameters:
- `since`, `until` (unix seconds or ISO 8601; default: the last 24 hours), `group_by`
  (model, provider, key, alias, tenant): `data` is one row per group.
- `interval=hour|day`: `series`, totals per UTC hour or day, and `totals` for the whole window.
- `breakdowns=alias,provider,...`: `breakdowns`, the rows of each grouping, all from one scan of the
  window (their latency percentiles are null: ask `group_by` for one grouping's).
- `recent=N` (at most 100): `recent`, the last N requests (bodies only with `log_bodies`).
- `include=rag,agents`: `rag` (documents and chunks in the catalogue) and `agents` (messages and
  agents in the history), in the caller's scope.
- `scope=tenant`: refuse the request unless the key is an admin (403 `admin_required`); the
  dashboard asks for it so other keys are turned away.

Who sees what: an `operator` key every record, an admin key its tenant's keys' records, any other
key its own, anonymous callers (public gateway) the anonymous records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from ..bindings import D1Database
from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Principal
from ..web.errors import ApiError
from .config import GatewayConfig
from .usage import (
    GROUP_COLUMNS,
    RECENT_COLUMNS,
    SERIES_COLUMNS,
    GroupBy,
    KeyFilter,
    UsageQuery,
    aggregate,
    breakdowns,
    parse_time_bounded,
    recent_sql,
    series_sql,
)

DEFAULT_USAGE_WINDOW_S = 86_400
INTERVALS_MS = {"hour": 3_600_000, "day": 86_400_000}
MAX_RECENT = 100
MAX_BUCKETS = 2_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


def _group(value: str, param: str) -> GroupBy:
    if value not in GROUP_COLUMNS:
        raise _bad(f"query parameter {param} must be one of {', '.join(GROUP_COLUMNS)}; got {value!r}", param)
    return cast(GroupBy, value)


def caller_scope(
    config: GatewayConfig, principal: Principal
) -> tuple[KeyFilter, str | None, tuple[str, ...]]:
    """(key filter, own key name, the tenant's key names) for what `principal` may read."""
    key = principal.key
    if key is None:
        return "anonymous", None, ()
    if key.operator:
        return "all", None, ()
    if key.admin:
        tenant_keys = tuple(sorted(k.name for k in config.keys_by_hash.values() if k.scope == key.scope))
        return "tenant", None, tenant_keys
    return "own", key.name, ()


async def usage_response(
    request: HttpRequest, services: Services, config: GatewayConfig, principal: Principal
) -> HttpResponse:
    db = services.d1.get(config.usage_binding) if config.usage_binding else None
    if db is None:
        raise ApiError(404, "not_found", "usage logging is not configured (gateway.usage_binding)")
    query = request.query
    if query.get("scope") == "tenant" and not (
        principal.key and (principal.key.admin or principal.key.operator)
    ):
        raise ApiError(
            403, "permission", "the tenant view needs a virtual key with admin: true", code="admin_required"
        )
    now_ms = int(services.clock() * 1000)
    until_ms = parse_time_bounded(query["until"], "until") if query.get("until") else now_ms
    since_ms = (
        parse_time_bounded(query["since"], "since")
        if query.get("since")
        else until_ms - DEFAULT_USAGE_WINDOW_S * 1000
    )
    if since_ms >= until_ms:
        raise _bad("query parameter since must be earlier than until", "since")
    group_by = _group(query.get("group_by", "model"), "group_by")
    key_filter, key_id, key_ids = caller_scope(config, principal)
    tenant_of = tuple(sorted((k.name, k.scope) for k in config.keys_by_hash.values()))
    spec = UsageQuery(since_ms, until_ms, group_by, key_filter, key_id, key_ids, tenant_of)
    body: dict[str, Any] = {
        "object": "usage",
        "since": _iso(since_ms),
        "until": _iso(until_ms),
        "group_by": group_by,
        "scope": key_filter,
        "data": await aggregate(db, spec),
    }
    interval = query.get("interval")
    if interval is not None:
        if interval not in INTERVALS_MS:
            raise _bad(f"query parameter interval must be hour or day; got {interval!r}", "interval")
        bucket = INTERVALS_MS[interval]
        if (until_ms - since_ms) // bucket > MAX_BUCKETS:
            raise _bad(f"at most {MAX_BUCKETS} {interval}s per request: narrow since/until", "interval")
        rows = await db.execute(*series_sql(spec, bucket))
        body["interval"] = interval
        body["series"] = [
            {
                "start": _iso(int(row["bucket_ms"])),
                **{name: _number(row.get(name), name) for name in SERIES_COLUMNS},
            }
            for row in rows
        ]
        body["totals"] = {
            name: _number(sum(point[name] for point in body["series"]), name) for name in SERIES_COLUMNS
        }
    if query.get("breakdowns"):
        groups = [_group(name, "breakdowns") for name in dict.fromkeys(query["breakdowns"].split(","))]
        body["breakdowns"] = await breakdowns(db, spec, groups)
    if query.get("recent"):
        try:
            limit = int(query["recent"])
        except ValueError:
            raise _bad("query parameter recent must be an integer", "recent") from None
        if not 1 <= limit <= MAX_RECENT:
            raise _bad(f"query parameter recent must be between 1 and {MAX_RECENT}", "recent")
        rows = await db.execute(*recent_sql(spec, limit, config.log_bodies))
        body["recent"] = [
            {**{c: row.get(c) for c in RECENT_COLUMNS}, "ts": _iso(int(row["ts_ms"]))} | _bodies(row, config)
            for row in rows
        ]
    includes = set((query.get("include") or "").split(",")) - {""}
    if includes - {"rag", "agents"}:
        raise _bad("query parameter include takes rag and agents", "include")
    if "rag" in includes:
        body["rag"] = await _rag_counts(services, principal, key_filter)
    if "agents" in includes:
        body["agents"] = await _agent_counts(services, principal, key_filter, since_ms, until_ms)
    return HttpResponse.json(body)


def _bodies(row: dict[str, Any], config: GatewayConfig) -> dict[str, Any]:
    return (
        {"request_body": row.get("request_body"), "response_body": row.get("response_body")}
        if config.log_bodies
        else {}
    )


def _number(value: Any, name: str) -> int | float:
    if name == "cost_usd":
        return round(float(value or 0.0), 8)
    return int(value or 0)


def _section_d1(services: Services, section: str, field: str) -> D1Database | None:
    """The D1 database another section's `field` names (RAG's catalogue, the agents' history), if bound."""
    value = services.config.sections.get(section)
    binding = value.get(field) if isinstance(value, Mapping) else None
    return services.d1.get(binding) if isinstance(binding, str) else None


def _tenant(principal: Principal) -> str | None:
    return principal.key.scope if principal.key else "public"


async def _rag_counts(
    services: Services, principal: Principal, key_filter: KeyFilter
) -> dict[str, Any] | None:
    db = _section_d1(services, "rag", "catalog_binding")
    if db is None:
        return None
    where, params = ("", ()) if key_filter == "all" else (" WHERE tenant = ?", (_tenant(principal),))
    rows = await db.execute(
        f"SELECT COUNT(*) AS documents, COALESCE(SUM(chunks), 0) AS chunks FROM rag_documents{where}", params
    )
    return {"documents": int(rows[0]["documents"]), "chunks": int(rows[0]["chunks"])}


async def _agent_counts(
    services: Services, principal: Principal, key_filter: KeyFilter, since_ms: int, until_ms: int
) -> dict[str, Any] | None:
    db = _section_d1(services, "agents", "history_binding")
    if db is None:
        return None
    where, params = "created_at >= ? AND created_at < ?", [_iso(since_ms), _iso(until_ms)]
    if key_filter != "all":
        where += " AND tenant = ?"
        params.append(_tenant(principal))
    rows = await db.execute(
        f"SELECT COUNT(*) AS messages, COUNT(DISTINCT agent_id) AS agents FROM agent_messages WHERE {where}",
        params,
    )
    return {"messages": int(rows[0]["messages"]), "agents": int(rows[0]["agents"])}
