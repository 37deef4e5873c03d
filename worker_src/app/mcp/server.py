"""MCP methods: one JSON-RPC request in, one result (or RpcError) out.

Stateless: nothing is kept between requests, so `initialize` only negotiates the version and
states the capabilities; every later request stands alone (a client needs no session id, and any
isolate can serve it).
"""

from __future__ import annotations

from typing import Any

from ..services import Services
from ..web.auth import Caller
from ..web.errors import ApiError
from ..web.log import log_event
from .config import McpConfig
from .jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, Request, RpcError
from .resources import list_resources, read_resource, templates
from .schema import check_arguments
from .tools import TOOLS, McpTool

# Newest first; `initialize` echoes the client's version when listed here, else offers the first.
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
SERVER_INFO = {"name": "edgestack", "title": "edgestack RAG and agents", "version": "1"}
INSTRUCTIONS = (
    "Tools search and answer from this tenant's documents and message its agents. "
    "Documents are also resources at edgestack://documents/<id>."
)


def exposed_tools(config: McpConfig, caller: Caller) -> dict[str, McpTool]:
    """The stack's `mcp.tools`, without the write tools for a key that may not write documents."""
    return {
        t.name: t
        for t in TOOLS
        if t.name in config.tools and (caller.may_write_documents or not t.writes_documents)
    }


def negotiate(requested: Any) -> str:
    return requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]


async def handle_request(
    request: Request, services: Services, caller: Caller, config: McpConfig
) -> dict[str, Any]:
    method, params, request_id = request.method, request.params, request.request_id
    assert request_id is not None
    if method == "initialize":
        capabilities: dict[str, Any] = {"tools": {"listChanged": False}}
        if config.resources:
            capabilities["resources"] = {"listChanged": False, "subscribe": False}
        return {
            "protocolVersion": negotiate(params.get("protocolVersion")),
            "capabilities": capabilities,
            "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS,
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [t.listing() for t in exposed_tools(config, caller).values()]}
    if method == "tools/call":
        return await call_tool(params, services, caller, config, request)
    if config.resources and method == "resources/list":
        return await list_resources(services, caller, params.get("cursor"), request_id)
    if config.resources and method == "resources/read":
        return await read_resource(services, caller, params.get("uri"), request_id)
    if config.resources and method == "resources/templates/list":
        return templates()
    raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}", request_id)


def tool_error(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


async def call_tool(
    params: dict[str, Any], services: Services, caller: Caller, config: McpConfig, request: Request
) -> dict[str, Any]:
    name = params.get("name")
    if not isinstance(name, str):
        raise RpcError(INVALID_PARAMS, "invalid params: 'name' must be a tool name", request.request_id)
    tool = exposed_tools(config, caller).get(name)
    if tool is None:
        if name in config.tools and any(t.name == name and t.writes_documents for t in TOOLS):
            return tool_error(f"{name}: this key may not write documents (its documents permission is read)")
        raise RpcError(INVALID_PARAMS, f"invalid params: unknown tool {name!r}", request.request_id)
    arguments = check_arguments(params.get("arguments"), tool.input_schema, request.request_id)
    try:
        output = await tool.handler(services, caller, arguments)
    except ApiError as error:
        message = error.message
        if error.param and not message.startswith(f"{error.param}:"):
            message = f"{error.param}: {message}"
        return tool_error(message)
    except Exception as error:  # a bug: no traceback to the client, a log line for the operator
        log_event("mcp", "tool_failed", tool=name, error=type(error).__name__, detail=str(error)[:300])
        return tool_error(f"{name} failed with an internal error")
    result: dict[str, Any] = {"content": [{"type": "text", "text": output.text}], "isError": False}
    if output.structured is not None:
        result["structuredContent"] = output.structured
    return result
