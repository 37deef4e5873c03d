"""A remote MCP server for the agents' `mcp` tool kind: built with the official SDK
(`mcp.server.mcpserver.MCPServer`, Streamable HTTP, stateful sessions and SSE answers: the SDK's
defaults), reached in-process through a Fetcher that drives its ASGI app (`McpWeb`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings

HOST = "mcp.tools.test"
URL = f"https://{HOST}/mcp"


def remote_server() -> MCPServer:
    server = MCPServer("remote-test")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Always fails.")
    def explode(reason: str) -> str:
        raise ToolError(f"exploded: {reason}")  # the SDK sends its message as an isError result

    @server.tool(description="Never answers.")
    async def slow() -> str:
        await asyncio.Event().wait()
        return "unreachable"

    @server.tool(description="Not on the allow list.")
    def hidden() -> str:
        return "hidden"

    return server


class McpWeb:
    """A Fetcher: requests to HOST go to the SDK server's ASGI app; every request is recorded.
    `redirects` maps a path to a (status, Location) answer, as `fetch(..., redirect: "manual")`."""

    def __init__(self, server: MCPServer) -> None:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self.app = server.streamable_http_app(transport_security=security)
        self.server = server
        self.requests: list[tuple[str, str, dict[str, str], bytes | None]] = []
        self.redirects: dict[str, tuple[int, str]] = {}

    @asynccontextmanager
    async def running(self) -> AsyncIterator[McpWeb]:
        async with self.server.session_manager.run():
            yield self

    async def __call__(self, url: str, *, method: str, headers: Any, body: bytes | None, timeout_ms: int) -> Any:
        from app.bindings import UpstreamResponse

        self.requests.append((method, url, dict(headers), body))
        path = httpx.URL(url).path
        if path in self.redirects:
            status, location = self.redirects[path]

            async def empty() -> AsyncIterator[bytes]:
                if False:
                    yield b""

            return UpstreamResponse(status=status, headers={"location": location}, body=empty())
        assert httpx.URL(url).host == HOST, f"the guard let {url} through"
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=f"https://{HOST}") as client:
            response = await client.request(method, url, headers=dict(headers), content=body)
        data = response.content

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        return UpstreamResponse(
            status=response.status_code, headers={k.lower(): v for k, v in response.headers.items()}, body=chunks()
        )
