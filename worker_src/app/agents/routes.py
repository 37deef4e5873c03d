"""The Worker side of `/v1/agents/...` and `/v1/tools/...` (behind the `/v1` front door, `app/v1.py`).

Requests are checked here (ids, bodies, rights) and then forwarded to the agent's Durable Object,
named from (tenant, agent_id); history is read from D1 and tool configs from KV directly.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from ..http import HttpRequest, HttpResponse
from ..services import DurableObjectNamespace, Services
from ..web.auth import Caller, require_admin
from ..web.errors import ApiError, bad_request
from ..web.request import json_body, method_not_allowed, reject_unknown_fields
from .config import AgentsConfig, serving_agents_config
from .protocol import AGENT_ID, OBJECT_PATH, AgentCall, object_name
from .tools import ToolRegistry, ToolSpecError, parse_tool_spec

MAX_REASON_CHARS = 2000
MAX_HISTORY_PAGE = 200
DEFAULT_HISTORY_PAGE = 50
MAX_TOOL_SPEC_BYTES = 65_536


def _json_body(request: HttpRequest) -> dict[str, Any]:
    return json_body(request, check_content_type=False, empty=True)


async def handle_agents_route(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    config = serving_agents_config(services.config)
    parts = [unquote(p) for p in request.path.rstrip("/").split("/")[2:]]  # after "", "v1"
    if parts[0] == "tools":
        return await _tools(request, services, config, caller, parts[1:])
    return await _agents(request, services, config, caller, parts[1:])


# ---------------------------------------------------------------- /v1/agents


def _agent_id(parts: list[str]) -> str:
    if not parts or not AGENT_ID.match(parts[0]):
        shown = parts[0][:40] if parts else ""
        raise bad_request(
            f"invalid agent id {shown!r}: use 1-128 characters from A-Z a-z 0-9 . _ : -",
            "agent_id",
            code="invalid_agent_id",
        )
    return parts[0]


async def _agents(
    request: HttpRequest, services: Services, config: AgentsConfig, caller: Caller, parts: list[str]
) -> HttpResponse:
    agent_id = _agent_id(parts)
    rest, method, path = parts[1:], request.method, request.path
    key = caller.principal.key_id
    if not rest:
        if method in ("GET", "HEAD"):
            return await _forward(services, config, AgentCall("get", caller.tenant, agent_id, key))
        if method == "DELETE":
            return await _delete(services, config, caller, agent_id)
        raise method_not_allowed(path, "GET", "DELETE")
    if rest == ["messages"]:
        if method != "POST":
            raise method_not_allowed(path, "POST")
        return await _message(request, services, config, caller, agent_id)
    if rest == ["history"]:
        if method not in ("GET", "HEAD"):
            raise method_not_allowed(path, "GET")
        return await _history(request, services, config, caller, agent_id)
    if len(rest) == 2 and rest[0] == "approvals":
        if method != "POST":
            raise method_not_allowed(path, "POST")
        return await _approval(request, services, config, caller, agent_id, rest[1])
    raise ApiError(404, "not_found", f"no route for {method} {path}")


async def _message(
    request: HttpRequest, services: Services, config: AgentsConfig, caller: Caller, agent_id: str
) -> HttpResponse:
    body = _json_body(request)
    reject_unknown_fields(body, ("content", "stream"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false", "stream")
    return await send_message(services, config, caller, agent_id, body.get("content"), stream=stream)


async def send_message(
    services: Services,
    config: AgentsConfig,
    caller: Caller,
    agent_id: str,
    content: Any,
    *,
    stream: bool = False,
) -> HttpResponse:
    """One user message to the agent (a turn): `POST /v1/agents/{id}/messages` and MCP's
    `message_agent`. Raises ApiError naming the field on bad input."""
    agent_id = _agent_id([agent_id])
    if config.model_alias is None:
        raise ApiError(503, "misconfigured", "agents.model_alias is not set on this stack")
    if not isinstance(content, str) or not content.strip():
        raise bad_request("'content' must be a non-empty string", "content", "empty_message")
    if len(content) > config.max_message_chars:
        raise ApiError(
            413,
            "invalid_request",
            f"'content' is {len(content)} characters; the limit is {config.max_message_chars}",
            param="content",
            code="message_too_large",
        )
    call = AgentCall(
        "message", caller.tenant, agent_id, caller.principal.key_id, content=content, stream=stream
    )
    return await _forward(services, config, call)


async def _approval(
    request: HttpRequest,
    services: Services,
    config: AgentsConfig,
    caller: Caller,
    agent_id: str,
    call_id: str,
) -> HttpResponse:
    if not call_id or len(call_id) > 128:
        raise bad_request("invalid call_id", "call_id", "unknown_call_id")
    body = _json_body(request)
    reject_unknown_fields(body, ("approve", "reason", "stream"))
    approve = body.get("approve")
    if not isinstance(approve, bool):
        raise bad_request("'approve' must be true or false", "approve")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
        raise bad_request(f"'reason' must be a string of at most {MAX_REASON_CHARS} characters", "reason")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false", "stream")
    call = AgentCall(
        "approve",
        caller.tenant,
        agent_id,
        caller.principal.key_id,
        call_id=call_id,
        approve=approve,
        reason=reason,
        stream=stream,
    )
    return await _forward(services, config, call)


def _namespace(services: Services, config: AgentsConfig) -> DurableObjectNamespace:
    namespace = services.durable_objects.get(config.state_binding)
    if namespace is None:
        raise ApiError(503, "misconfigured", f"Durable Object binding {config.state_binding!r} is missing")
    return namespace


async def _forward(services: Services, config: AgentsConfig, call: AgentCall) -> HttpResponse:
    namespace = _namespace(services, config)
    name = object_name(call.tenant, call.agent_id)
    if call.stream:
        status, headers, chunks = await namespace.fetch_stream(name, OBJECT_PATH, "POST", call.to_bytes())
        return HttpResponse(status=status, headers=headers, stream=chunks)
    status, body = await namespace.fetch(name, OBJECT_PATH, "POST", call.to_bytes())
    return HttpResponse(status=status, headers={"content-type": "application/json"}, body=body)


async def _delete(services: Services, config: AgentsConfig, caller: Caller, agent_id: str) -> HttpResponse:
    """The object's state first (it stops replicating), then its history in D1."""
    response = await _forward(
        services, config, AgentCall("delete", caller.tenant, agent_id, caller.principal.key_id)
    )
    if response.status != 200:
        return response
    db = services.d1.get(config.history_binding)
    if db is None:
        raise ApiError(503, "misconfigured", f"D1 binding {config.history_binding!r} is missing")
    try:
        await db.execute(
            "DELETE FROM agent_messages WHERE tenant = ? AND agent_id = ?", [caller.tenant, agent_id]
        )
    except Exception as error:
        raise ApiError(
            503,
            "upstream",
            f"the agent's state is deleted but deleting its history failed ({type(error).__name__}); "
            "retry the DELETE",
            retry_after_s=5,
        ) from None
    return HttpResponse.json({"agent_id": agent_id, "deleted": True})


def _int_query(query: dict[str, str], name: str, low: int, high: int, default: int | None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"query parameter {name} must be an integer (got {raw[:20]!r})", name) from None
    if not low <= value <= high:
        raise bad_request(f"query parameter {name} must be from {low} to {high}", name)
    return value


async def _history(
    request: HttpRequest, services: Services, config: AgentsConfig, caller: Caller, agent_id: str
) -> HttpResponse:
    query = request.query
    limit = _int_query(query, "limit", 1, MAX_HISTORY_PAGE, DEFAULT_HISTORY_PAGE) or DEFAULT_HISTORY_PAGE
    before = _int_query(query, "before", 1, 2**62, None)
    db = services.d1.get(config.history_binding)
    if db is None:
        raise ApiError(503, "misconfigured", f"D1 binding {config.history_binding!r} is missing")
    sql = "SELECT * FROM agent_messages WHERE tenant = ? AND agent_id = ?"
    params: list[Any] = [caller.tenant, agent_id]
    if before is not None:
        sql += " AND seq < ?"
        params.append(before)
    rows = await db.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit + 1])
    more = len(rows) > limit
    page = list(reversed(rows[:limit]))
    return HttpResponse.json(
        {
            "data": [_history_message(row) for row in page],
            "next_before": str(page[0]["seq"]) if more else None,
        }
    )


def _history_message(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"], "role": row["role"], "content": row.get("content")}
    if row.get("tool_calls"):
        out["tool_calls"] = json.loads(row["tool_calls"])
    if row.get("tool_call_id"):
        out["tool_call_id"] = row["tool_call_id"]
    out["created_at"] = row["created_at"]
    return out


# ---------------------------------------------------------------- /v1/tools


def _registry(services: Services, config: AgentsConfig) -> ToolRegistry:
    kv = services.kv.get(config.tools_binding) if config.tools_binding else None
    if kv is None:
        raise ApiError(404, "not_found", "agent tools are not configured (agents.tools_binding)")
    return ToolRegistry(kv, config.tool_cache_ttl_s, services.clock, config.tool_secrets)


async def _tools(
    request: HttpRequest, services: Services, config: AgentsConfig, caller: Caller, parts: list[str]
) -> HttpResponse:
    registry, method, path = _registry(services, config), request.method, request.path
    if not parts:
        if method not in ("GET", "HEAD"):
            raise method_not_allowed(path, "GET")
        specs = await registry.all(caller.tenant, fresh=True)
        shown = [{"name": n, **s.public(caller.is_admin)} for n, s in specs.items()]
        return HttpResponse.json({"data": shown})
    if len(parts) != 1:
        raise ApiError(404, "not_found", f"no route for {method} {path}")
    name = parts[0]
    if method in ("GET", "HEAD"):
        specs = await registry.all(caller.tenant, fresh=True)
        if name not in specs:
            raise ApiError(404, "not_found", f"no tool named {name!r}", param="name")
        return HttpResponse.json({"name": name, **specs[name].public(caller.is_admin)})
    if method == "PUT":
        require_admin(caller, f"PUT {path}")
        if len(request.body) > MAX_TOOL_SPEC_BYTES:
            raise ApiError(413, "invalid_request", f"a tool spec is at most {MAX_TOOL_SPEC_BYTES} bytes", param="body")
        try:
            spec = parse_tool_spec(name, _json_body(request), config.own_hosts, config.tool_secrets)
            await registry.put(caller.tenant, spec)
        except ToolSpecError as error:
            raise bad_request(str(error), error.field, "invalid_tool_spec") from None
        return HttpResponse.json({"name": name, **spec.to_json()})
    if method == "DELETE":
        require_admin(caller, f"DELETE {path}")
        if not await registry.delete(caller.tenant, name):
            raise ApiError(404, "not_found", f"no tool named {name!r}", param="name")
        return HttpResponse.json({"name": name, "deleted": True})
    raise method_not_allowed(path, "GET", "PUT", "DELETE")
