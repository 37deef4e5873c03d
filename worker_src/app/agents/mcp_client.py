"""The `mcp` tool kind: an agent uses the tools of a remote MCP server (Streamable HTTP).

Discovery is `initialize` + `notifications/initialized` + `tools/list`, cached per isolate for
DISCOVERY_TTL_S (with the session id the server issued, if any); each remote tool is offered to the
model as `<tool>__<remote tool>` with the server's `inputSchema`. A call is one `tools/call` (after
a fresh `initialize` if the server forgot the session: 404). Every request goes through the SSRF
guard of `http_get` (`ssrf.guarded_fetch`: https, the spec's own host only, every redirect checked,
credentials dropped on a host change); the server's answers never set a request header other than
its own `Mcp-Session-Id` (a token the spec asks clients to echo, checked to be visible ASCII).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from ..bindings import Fetcher
from .ssrf import FetchPolicy, guarded_fetch, read_limited, url_host
from .tools import TOOL_NAME, ToolSpec, mcp_tool_name

PROTOCOL_VERSION = "2025-06-18"
KNOWN_VERSIONS = frozenset({"2025-11-25", "2025-06-18", "2025-03-26"})
DISCOVERY_TTL_S = 60.0
DEFAULT_MAX_RESPONSE_BYTES = 262_144
MAX_TOOL_PAGES = 10
CLIENT_INFO = {"name": "edgestack-agents", "version": "1"}


class McpRemoteError(Exception):
    """The remote server failed or answered something that is not MCP; the message says what."""


class RemoteTool(NamedTuple):
    name: str
    description: str
    input_schema: dict[str, Any]


class Connection(NamedTuple):
    session_id: str | None
    version: str


class Discovery(NamedTuple):
    expires_at: float
    connection: Connection
    tools: tuple[RemoteTool, ...]


# (url, header values) -> discovery; per isolate. Keyed by headers so tenants with other tokens never share.
_CACHE: dict[tuple[str, str], Discovery] = {}


def clear_cache() -> None:
    _CACHE.clear()


class Remote:
    """One remote server as a tool spec describes it, with the request's headers and limits."""

    def __init__(self, spec: ToolSpec, fetch: Fetcher, own_hosts: tuple[str, ...], headers: dict[str, str], timeout_ms: int) -> None:
        options = spec.options
        self.url: str = options["url"]
        self.fetch = fetch
        self.policy = FetchPolicy(
            allow_hosts=(url_host(self.url),),
            own_hosts=own_hosts,
            max_bytes=int(options.get("max_response_bytes") or DEFAULT_MAX_RESPONSE_BYTES),
            content_types=("application/json", "text/event-stream"),
            headers=headers,
            timeout_ms=timeout_ms,
        )
        self.cache_key = (self.url, json.dumps(sorted(headers.items())))
        self.next_id = 0

    async def _post(self, message: dict[str, Any], connection: Connection | None) -> tuple[int, dict[str, str], bytes]:
        headers = dict(self.policy.headers)
        headers.update({"content-type": "application/json", "accept": "application/json, text/event-stream"})
        if connection is not None:
            headers["mcp-protocol-version"] = connection.version
            if connection.session_id:
                headers["mcp-session-id"] = connection.session_id
        policy = self.policy._replace(headers=headers)
        body = json.dumps(message, separators=(",", ":")).encode()
        response, _, _ = await guarded_fetch(self.fetch, self.url, policy, "POST", body)
        data, truncated = await read_limited(response.body, policy.max_bytes)
        if truncated:
            raise McpRemoteError(f"the MCP server's answer is larger than max_response_bytes ({policy.max_bytes})")
        return response.status, response.headers, data

    async def request(self, method: str, params: dict[str, Any], connection: Connection | None) -> tuple[dict[str, Any], dict[str, str]]:
        self.next_id += 1
        request_id = self.next_id
        status, headers, data = await self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}, connection)
        if status == 404 and connection is not None and connection.session_id:
            raise SessionExpired()
        message = _reply(status, headers, data, request_id)
        if "error" in message:
            error = message["error"] if isinstance(message["error"], dict) else {}
            raise McpRemoteError(f"the MCP server refused {method}: {str(error.get('message', 'error'))[:300]} (code {error.get('code')})")
        result = message.get("result")
        if not isinstance(result, dict):
            raise McpRemoteError(f"the MCP server's answer to {method} has no result object")
        return result, headers

    async def connect(self) -> Connection:
        result, headers = await self.request(
            "initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}, None
        )
        version = result.get("protocolVersion")
        if version not in KNOWN_VERSIONS:
            raise McpRemoteError(f"the MCP server speaks protocol version {str(version)[:40]!r}, not {PROTOCOL_VERSION}")
        session = headers.get("mcp-session-id")
        if session is not None and not (0 < len(session) <= 256 and all(0x21 <= ord(c) <= 0x7E for c in session)):
            raise McpRemoteError("the MCP server sent an invalid Mcp-Session-Id")
        connection = Connection(session, str(version))
        status, _, _ = await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, connection)
        if status >= 400:
            raise McpRemoteError(f"the MCP server answered notifications/initialized with HTTP {status}")
        return connection

    async def discover(self, clock: Callable[[], float]) -> Discovery:
        now = clock()
        cached = _CACHE.get(self.cache_key)
        if cached is not None and cached.expires_at > now:
            return cached
        connection = await self.connect()
        tools: list[RemoteTool] = []
        cursor: Any = None
        for _ in range(MAX_TOOL_PAGES):
            result, _ = await self.request("tools/list", {"cursor": cursor} if cursor else {}, connection)
            for item in result.get("tools") or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    schema = item.get("inputSchema")
                    tools.append(
                        RemoteTool(
                            item["name"],
                            str(item.get("description") or "")[:1024],
                            schema if isinstance(schema, dict) and schema.get("type") == "object" else {"type": "object"},
                        )
                    )
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                break
        discovery = Discovery(now + DISCOVERY_TTL_S, connection, tuple(tools))
        _CACHE[self.cache_key] = discovery
        return discovery

    async def call(self, tool: str, arguments: dict[str, Any], clock: Callable[[], float]) -> dict[str, Any]:
        discovery = await self.discover(clock)
        params = {"name": tool, "arguments": arguments}
        try:
            result, _ = await self.request("tools/call", params, discovery.connection)
        except SessionExpired:
            _CACHE.pop(self.cache_key, None)
            connection = await self.connect()
            _CACHE[self.cache_key] = discovery._replace(connection=connection)
            result, _ = await self.request("tools/call", params, connection)
        return result


class SessionExpired(Exception):
    pass


def _reply(status: int, headers: dict[str, str], data: bytes, request_id: int) -> dict[str, Any]:
    """The JSON-RPC answer to `request_id` in a JSON or SSE body."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media == "text/event-stream":
            for message in _sse_messages(data.decode("utf-8", "replace")):
                if message.get("id") == request_id and ("result" in message or "error" in message):
                    return message
            raise McpRemoteError(f"the MCP server's event stream has no answer (HTTP {status})")
        message = json.loads(data)
    except ValueError:
        raise McpRemoteError(f"the MCP server answered HTTP {status} with a body that is not JSON-RPC") from None
    if not isinstance(message, dict):
        raise McpRemoteError(f"the MCP server answered HTTP {status} with a body that is not JSON-RPC")
    if status >= 400 and "error" not in message:
        raise McpRemoteError(f"the MCP server answered HTTP {status}")
    return message


def _sse_messages(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:"))
        if data:
            value = json.loads(data)
            if isinstance(value, dict):
                out.append(value)
    return out


def remote_specs(spec: ToolSpec, discovery: Discovery) -> dict[str, ToolSpec]:
    """The model-visible tools of one `mcp` spec: allowed remote tools with a usable name."""
    allow = spec.options.get("allow_tools")
    approval = set(spec.options.get("approval_tools") or ())
    out: dict[str, ToolSpec] = {}
    for tool in discovery.tools:
        name = mcp_tool_name(spec.name, tool.name)
        if (allow is not None and tool.name not in allow) or not TOOL_NAME.match(name):
            continue
        out[name] = spec._replace(
            name=name,
            description=tool.description or f"{tool.name} (remote MCP tool of {spec.name})",
            parameters=tool.input_schema,
            requires_approval=spec.requires_approval or tool.name in approval,
            options={**spec.options, "remote_tool": tool.name},
        )
    return out


def call_output(result: dict[str, Any]) -> tuple[bool, str]:
    """(is_error, text) of a `tools/call` result: text blocks, else the structured content as JSON."""
    texts = [
        str(block.get("text", ""))
        for block in result.get("content") or []
        if isinstance(block, dict) and block.get("type") == "text"
    ]
    text = "\n".join(texts)
    if not text and "structuredContent" in result:
        text = json.dumps(result["structuredContent"], ensure_ascii=False)
    return result.get("isError") is True, text


