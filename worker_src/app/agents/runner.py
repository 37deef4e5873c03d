"""Runs one tool call and returns the text the model gets back (JSON; failures say what failed).

Nothing here raises for a bad call: hostile or malformed arguments, blocked URLs, timeouts and
tool errors all become `{"error": ...}` results, so the model can react and the turn goes on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..bindings import Fetcher, KvNamespace, UpstreamError
from ..services import Services
from ..web.jsonbody import JsonBodyError, read_json
from ..web.log import log_event
from .config import AgentsConfig
from .mcp_client import McpRemoteError, Remote, call_output, remote_specs
from .ssrf import BlockedUrl, FetchPolicy, guarded_get
from .store import AgentStore, Schedule, bound_text, iso_ms
from .tools import DEFAULT_CONTENT_TYPES, LOOKUP_KEY_PREFIX, ToolSpec, lookup_key

DEFAULT_MAX_RESPONSE_BYTES = 65_536
MAX_SCHEDULE_AHEAD_S = 366 * 86_400
MAX_PROMPT_CHARS = 8_000

RagSearch = Callable[
    ..., Awaitable[list[Any]]
]  # app.rag.search(services, tenant, query, *, top_k, mode, filter)


class ToolContext(NamedTuple):
    services: Services
    config: AgentsConfig
    tenant: str
    store: AgentStore
    key_name: str | None  # the key the turn runs as (schedules run as it later)
    fetch: Fetcher  # must not follow redirects (guarded_get checks each hop)
    kv: KvNamespace | None  # the tools binding (kv_lookup reads it)
    rag_search: RagSearch | None
    on_schedule: Callable[[Schedule], Awaitable[None]]  # re-arms the object's alarm


def result_text(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def error_result(message: str) -> str:
    return result_text({"error": message})


def resolve_rag_search(services: Services) -> RagSearch | None:
    """`app.rag.search` when the stack configures `rag`."""
    from ..rag.config import rag_enabled

    if not rag_enabled(services.config):
        return None
    from ..rag import search  # on first use: RAG is imported only by agents that search

    return search


async def run_tool(spec: ToolSpec | None, name: str, arguments: str, ctx: ToolContext) -> str:
    """The tool's result text, bounded by `max_tool_output_chars` (the stored message says if cut)."""
    if spec is None:
        return error_result(f"unknown tool {name!r}")
    try:
        args = read_json(arguments, what="arguments") if arguments.strip() else {}
    except JsonBodyError as error:
        return error_result(error.message)
    if not isinstance(args, dict):
        return error_result("arguments must be a JSON object")
    timeout_s = (spec.timeout_ms or ctx.config.tool_timeout_ms) / 1000
    try:
        text = await asyncio.wait_for(_dispatch(spec, args, ctx, timeout_s), timeout_s)
    except TimeoutError:
        text = error_result(f"tool {name!r} timed out after {timeout_s:g} s")
    except (BlockedUrl, UpstreamError, ToolArgumentError, McpRemoteError) as error:
        text = error_result(str(error))
    except Exception as error:  # a tool bug or a binding failure: the model is told, the turn goes on
        text = error_result(f"tool {name!r} failed: {type(error).__name__}: {str(error)[:300]}")
    return bound_text(text, ctx.config.max_tool_output_chars)


class ToolArgumentError(ValueError):
    pass


def _string_arg(args: Mapping[str, Any], key: str, limit: int = 4096) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ToolArgumentError(f"argument {key!r} must be a non-empty string")
    if len(value) > limit:
        raise ToolArgumentError(f"argument {key!r} is longer than {limit} characters")
    return value


async def _dispatch(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext, timeout_s: float) -> str:
    if spec.kind == "http_get":
        return await _http_get(spec, args, ctx, timeout_s)
    if spec.kind == "kv_lookup":
        return await _kv_lookup(spec, args, ctx)
    if spec.kind == "schedule":
        return await _schedule(args, ctx)
    if spec.kind == "mcp":
        return await _mcp_call(spec, args, ctx, timeout_s)
    return await _rag_search(spec, args, ctx)


def _remote(spec: ToolSpec, ctx: ToolContext, timeout_s: float) -> Remote:
    timeout_ms = max(1, int(timeout_s * 1000))
    return Remote(spec, ctx.fetch, ctx.config.own_hosts, _tool_headers(spec, ctx), timeout_ms)


async def _mcp_call(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext, timeout_s: float) -> str:
    remote_tool = str(spec.options.get("remote_tool", ""))
    result = await _remote(spec, ctx, timeout_s).call(remote_tool, args, ctx.services.clock)
    is_error, text = call_output(result)
    if is_error:
        return error_result(f"the MCP tool {remote_tool!r} failed: {text[:4000]}")
    return result_text({"result": text})


async def expand_mcp_tools(tools: dict[str, ToolSpec], ctx: ToolContext) -> dict[str, ToolSpec]:
    """The turn's tools with each `mcp` spec replaced by its remote tools (`<name>__<tool>`). A server
    that cannot be reached or answers badly offers no tools this turn (logged, the turn goes on)."""
    out: dict[str, ToolSpec] = {}
    for name, spec in tools.items():
        if spec.kind != "mcp":
            out[name] = spec
            continue
        timeout_s = (spec.timeout_ms or ctx.config.tool_timeout_ms) / 1000
        try:
            remote = _remote(spec, ctx, timeout_s)
            discovery = await asyncio.wait_for(remote.discover(ctx.services.clock), timeout_s)
        except (TimeoutError, BlockedUrl, UpstreamError, McpRemoteError, ToolArgumentError) as error:
            log_event("agents", "mcp_discovery_failed", tool=name, error=type(error).__name__, detail=str(error)[:300])
            continue
        for remote_name, remote_spec in remote_specs(spec, discovery).items():
            out.setdefault(remote_name, remote_spec)  # a tenant's own tool of that name wins
    return out


def _tool_headers(spec: ToolSpec, ctx: ToolContext) -> dict[str, str]:
    """The spec's `headers`, plus `secret_headers` filled from the Worker's secrets."""
    headers = dict(spec.options.get("headers") or {})
    for header, secret in (spec.options.get("secret_headers") or {}).items():
        value = ctx.services.secrets.get(secret)
        if value is None:
            raise ToolArgumentError(f"the tool's secret {secret!r} is not set on this Worker")
        headers[header] = value
    return headers


async def _http_get(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext, timeout_s: float) -> str:
    url = _string_arg(args, "url", 8192)
    options = spec.options
    headers = _tool_headers(spec, ctx)
    policy = FetchPolicy(
        allow_hosts=tuple(options.get("allow_hosts") or ()),
        own_hosts=ctx.config.own_hosts,
        max_bytes=int(options.get("max_response_bytes") or DEFAULT_MAX_RESPONSE_BYTES),
        content_types=tuple(options.get("content_types") or DEFAULT_CONTENT_TYPES),
        headers=headers,
        timeout_ms=max(1, int(timeout_s * 1000)),
    )
    result = await guarded_get(ctx.fetch, url, policy)
    return result_text(
        {
            "status": result.status,
            "url": result.url,
            "content_type": result.content_type,
            "truncated": result.truncated,
            "body": result.text,
        }
    )


async def _kv_lookup(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext) -> str:
    key = _string_arg(args, "key", 256)
    if not LOOKUP_KEY_PREFIX.match(key) or ".." in key:
        raise ToolArgumentError("argument 'key' may only use A-Z a-z 0-9 / _ . : - (and no '..')")
    if ctx.kv is None:
        raise ToolArgumentError("kv_lookup needs agents.tools_binding")
    value = await ctx.kv.get(lookup_key(ctx.tenant, str(spec.options.get("prefix", "")), key))
    return result_text({"key": key, "found": value is not None, "value": value})


def _due_ms(args: Mapping[str, Any], now: float) -> int:
    at, delay = args.get("at"), args.get("in_s")
    if (at is None) == (delay is None):
        raise ToolArgumentError("give exactly one of 'at' (ISO 8601 time) or 'in_s' (seconds)")
    if delay is not None:
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not 0 < delay <= MAX_SCHEDULE_AHEAD_S
        ):
            raise ToolArgumentError(f"'in_s' must be a number of seconds from 0 to {MAX_SCHEDULE_AHEAD_S}")
        return int((now + float(delay)) * 1000)
    if not isinstance(at, str):
        raise ToolArgumentError("'at' must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise ToolArgumentError(f"'at' is not an ISO 8601 time: {at[:64]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    if not now - 60 <= seconds <= now + MAX_SCHEDULE_AHEAD_S:
        raise ToolArgumentError("'at' must be in the future (and within a year)")
    return int(max(seconds, now) * 1000)


async def _schedule(args: dict[str, Any], ctx: ToolContext) -> str:
    prompt = _string_arg(args, "prompt", MAX_PROMPT_CHARS)
    due = _due_ms(args, ctx.services.clock())
    if len(ctx.store.schedules()) >= ctx.config.max_schedules:
        raise ToolArgumentError(f"this agent already has {ctx.config.max_schedules} pending schedules")
    schedule = ctx.store.add_schedule(due, prompt, ctx.key_name)
    await ctx.on_schedule(schedule)
    return result_text({"scheduled": schedule.id, "at": iso_ms(due)})


async def _rag_search(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext) -> str:
    query = _string_arg(args, "query", 4096)
    if ctx.rag_search is None:
        return error_result("RAG is not configured on this stack (no `rag` section or no RAG package)")
    top_k = args.get("top_k", spec.options.get("top_k"))
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 50):
        raise ToolArgumentError("'top_k' must be an integer from 1 to 50")
    hits = await ctx.rag_search(ctx.services, ctx.tenant, query, top_k=top_k, mode=spec.options.get("mode"))
    return result_text(
        {
            "results": [
                {
                    "doc_id": getattr(hit, "doc_id", None),
                    "chunk": getattr(hit, "chunk", None),
                    "score": getattr(hit, "score", None),
                    "title": getattr(hit, "title", None),
                    "text": getattr(hit, "text", None),
                }
                for hit in hits
            ]
        }
    )
