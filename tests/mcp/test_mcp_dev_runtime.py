"""`/mcp` on the REAL local runtime (`edgestack dev`), driven by the official MCP Python SDK as the
client (`streamable_http_client` + `ClientSession`): initialize, list and call every tool, tenant
isolation, a read-only key, no key, and protocol errors. The agent's model is the scripted fake
OpenAI upstream. One runtime serves the module; each test uses its own document and agent ids.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import SECRETS, Upstreams, route, section
from harness.planned import key_sha256
from harness.target import DevRuntimeTarget, ExternalGateway
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.dev_runtime

WRITER, READER, OTHER = "sk-mcp-writer", "sk-mcp-reader", "sk-mcp-other"
TOOLS = [
    "search_documents",
    "ask_documents",
    "get_document",
    "list_documents",
    "put_document",
    "delete_document",
    "message_agent",
]
RAG = {
    "documents_binding": "DOCS",
    "index_binding": "VECTORS",
    "catalog_binding": "DB",
    "keyword_binding": "KEYWORDS",
    "queue_binding": "RAG_INGEST",
    "filter_keys": ["category"],
    "embedding_model": "@cf/baai/bge-small-en-v1.5",
    "generation": "extractive",
}


@pytest.fixture(scope="module")
def dev(running_upstreams: Upstreams) -> Iterator[ExternalGateway]:
    keys = {
        "writer": {"sha256": key_sha256(WRITER), "scope": "acme", "documents": "write"},
        "reader": {"sha256": key_sha256(READER), "scope": "acme"},
        "other": {"sha256": key_sha256(OTHER), "scope": "globex", "documents": "write"},
    }
    config: dict[str, Any] = {
        "gateway": section(running_upstreams, {"agent": route(("oa", "gpt-a"))}, public=False, keys=keys)
    }
    config["rag"] = RAG
    config["agents"] = {
        "state_binding": "AGENT",
        "history_binding": "DB",
        "tools_binding": "TOOLS",
        "model_alias": "agent",
    }
    config["mcp"] = {"enabled": True, "tools": TOOLS}
    with DevRuntimeTarget().start(config, SECRETS) as running:
        assert isinstance(running, ExternalGateway)
        yield running


@asynccontextmanager
async def session(dev: ExternalGateway, key: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=60) as http,
        streamable_http_client(dev.base_url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        yield client


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def test_initialize_lists_every_tool_and_calls_each(dev: ExternalGateway, upstreams: Upstreams) -> None:
    upstreams.oa.push_script(ScriptedReply(text="hello from the agent"))

    async def scenario() -> dict[str, Any]:
        async with session(dev, WRITER) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            put = await client.call_tool(
                "put_document",
                {
                    "id": "sdk/backups.md",
                    "content": "# Backups\n\nA restore needs two approvals.",
                    "content_type": "text/markdown",
                    "title": "Backups",
                },
            )
            search = await client.call_tool("search_documents", {"query": "restore approvals", "top_k": 2})
            ask = await client.call_tool(
                "ask_documents", {"question": "How many approvals does a restore need?"}
            )
            got = await client.call_tool("get_document", {"id": "sdk/backups.md"})
            listing = await client.call_tool("list_documents", {"prefix": "sdk/"})
            resources = await client.list_resources()
            read = await client.read_resource("edgestack://documents/sdk/backups.md")
            agent = await client.call_tool("message_agent", {"agent_id": "mcp-agent-1", "content": "hi"})
            deleted = await client.call_tool("delete_document", {"id": "sdk/backups.md"})
            return locals()

    out = run(scenario())
    assert sorted(out["listed"]) == sorted(TOOLS)
    assert out["listed"]["search_documents"].annotations.read_only_hint is True
    assert out["put"].is_error is False and out["put"].structured_content["status"] == "ready"
    assert out["search"].structured_content["results"][0]["doc_id"] == "sdk/backups.md"
    assert "two approvals" in out["ask"].structured_content["answer"] and "[1] sdk/backups.md" in text_of(
        out["ask"]
    )
    assert out["got"].structured_content["text"].startswith("# Backups")
    assert [d["id"] for d in out["listing"].structured_content["documents"]] == ["sdk/backups.md"]
    assert "edgestack://documents/sdk/backups.md" in [str(r.uri) for r in out["resources"].resources]
    assert out["read"].contents[0].text.startswith("# Backups")
    assert (
        out["agent"].is_error is False and out["agent"].structured_content["output"] == "hello from the agent"
    )
    assert out["deleted"].structured_content == {"id": "sdk/backups.md", "deleted": True}


def test_tenants_are_isolated_and_a_reader_cannot_put(dev: ExternalGateway) -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        async with session(dev, WRITER) as acme:
            await acme.call_tool(
                "put_document", {"id": "iso/vault.txt", "content": "The vault code is HELIOTROPE."}
            )
        async with session(dev, OTHER) as globex:
            other = await globex.call_tool("search_documents", {"query": "vault code heliotrope"})
        async with session(dev, READER) as reader:
            refused = await reader.call_tool("put_document", {"id": "iso/x.txt", "content": "no"})
            seen = await reader.call_tool("get_document", {"id": "iso/vault.txt"})
        return other, refused, seen

    other, refused, seen = run(scenario())
    assert all("HELIOTROPE" not in hit["text"] for hit in other.structured_content["results"])
    assert refused.is_error is True and "may not write documents" in text_of(refused)
    assert seen.is_error is False and "HELIOTROPE" in seen.structured_content["text"]


def _post(dev: ExternalGateway, body: bytes, key: str | None = WRITER, **headers: str) -> httpx.Response:
    if key:
        headers["authorization"] = f"Bearer {key}"
    headers.setdefault("content-type", "application/json")
    headers.setdefault("accept", "application/json, text/event-stream")
    return httpx.post(dev.base_url + "/mcp", content=body, headers=headers, timeout=60)


def test_no_key_is_401_and_protocol_errors_have_their_codes(dev: ExternalGateway) -> None:
    ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    refused = _post(dev, ping, key=None)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert _post(dev, ping, origin="https://evil.example").status_code == 403
    assert (
        httpx.get(dev.base_url + "/mcp", headers={"authorization": f"Bearer {WRITER}"}).headers["allow"]
        == "POST"
    )
    parse = _post(dev, b"{oops")
    assert parse.status_code == 400 and parse.json()["error"]["code"] == -32700
    invalid = _post(dev, json.dumps({"jsonrpc": "1.0", "id": 2, "method": "ping"}).encode())
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == -32600

    async def sdk_errors() -> list[int]:
        codes = []
        async with session(dev, WRITER) as client:
            for name, arguments in (("search_documents", {"top_k": 3}), ("no_such_tool", {})):
                try:
                    await client.call_tool(name, arguments)
                except Exception as error:  # the SDK raises its MCP error with the JSON-RPC code
                    codes.append(error.error.code)  # type: ignore[attr-defined]
        return codes

    assert run(sdk_errors()) == [-32602, -32602]
    unknown = _post(dev, json.dumps({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage"}).encode())
    assert unknown.status_code == 200 and unknown.json()["error"]["code"] == -32601
    bad = _post(
        dev,
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 4,
                "method": "tools/call",
                "params": {"name": "search_documents", "arguments": {"top_k": "many"}},
            }
        ).encode(),
    )
    assert bad.json()["error"]["code"] == -32602 and bad.json()["error"]["data"]["field"] == "arguments.query"
    assert (
        _post(dev, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()).status_code
        == 202
    )
