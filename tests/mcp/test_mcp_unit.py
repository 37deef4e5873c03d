"""`/mcp` on CPython: the JSON-RPC layer and the Streamable HTTP rules (status codes, Origin,
versions, batches, notifications), and the tools over the RAG binding fakes (RagWorld)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from app.mcp.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    parse_message,
)
from app.mcp.tools import TOOL_NAMES
from harness.rag_world import OTHER, READER, WRITER, RagWorld

MCP = {
    "enabled": True,
    "tools": list(TOOL_NAMES),
    "resources": True,
    "allowed_origins": ["https://app.example"],
}


@pytest.fixture
def world() -> RagWorld:
    world = RagWorld()
    world.config["mcp"] = dict(MCP)
    return world


def post(
    world: RagWorld, body: Any, key: str | None = WRITER, **headers: str
) -> tuple[int, dict[str, str], Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.setdefault("content-type", "application/json")
    headers.setdefault("accept", "application/json, text/event-stream")
    response = world.request(
        "POST", "/mcp", raw, key=key, content_type=headers["content-type"], headers=headers
    )
    return response.status, response.headers, json.loads(response.body) if response.body else None


def rpc(world: RagWorld, method: str, params: dict[str, Any] | None = None, key: str | None = WRITER) -> Any:
    status, _, body = post(world, {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or {}}, key)
    assert status == 200 and body["id"] == 7, body
    return body


def call(world: RagWorld, tool: str, key: str = WRITER, **arguments: Any) -> dict[str, Any]:
    body = rpc(world, "tools/call", {"name": tool, "arguments": arguments}, key)
    assert "result" in body, body
    return body["result"]


# ---------------------------------------------------------------- JSON-RPC messages


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "a JSON-RPC message is a JSON object"),
        ({"id": 1, "method": "ping"}, "'jsonrpc' must be"),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, "'id' must be a string or an integer"),
        ({"jsonrpc": "2.0", "id": 1}, "'method' is missing"),
        ({"jsonrpc": "2.0", "id": 1, "method": 3}, "'method' must be a non-empty string"),
    ],
)
def test_invalid_messages_are_invalid_requests(value: Any, message: str) -> None:
    with pytest.raises(RpcError) as caught:
        parse_message(value)
    assert caught.value.code == INVALID_REQUEST and message in caught.value.message


def test_params_that_are_not_an_object_are_invalid_params() -> None:
    with pytest.raises(RpcError) as caught:
        parse_message({"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": [1]})
    assert caught.value.code == INVALID_PARAMS and caught.value.request_id == "a"


# ---------------------------------------------------------------- transport


def test_initialize_negotiates_the_version_and_states_capabilities(world: RagWorld) -> None:
    result = rpc(
        world,
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert (
        set(result["capabilities"]) == {"tools", "resources"} and result["serverInfo"]["name"] == "edgestack"
    )
    older = rpc(world, "initialize", {"protocolVersion": "2024-01-01", "capabilities": {}})["result"]
    assert older["protocolVersion"] == "2025-11-25"  # not spoken: the server offers its newest


def test_parse_error_unknown_method_and_bad_version(world: RagWorld) -> None:
    status, _, body = post(world, b"{not json")
    assert status == 400 and body["error"]["code"] == PARSE_ERROR and body["id"] is None
    assert rpc(world, "prompts/list")["error"]["code"] == METHOD_NOT_FOUND
    status, _, body = post(
        world, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, **{"mcp-protocol-version": "1999-01-01"}
    )
    assert status == 400 and "unsupported MCP-Protocol-Version" in body["error"]["message"]
    status, _, body = post(world, {"jsonrpc": "2.0", "method": "ping"}, **{"content-type": "text/plain"})
    assert status == 415


def test_notifications_and_client_responses_get_202_without_body(world: RagWorld) -> None:
    assert post(world, {"jsonrpc": "2.0", "method": "notifications/initialized"})[:3:2] == (202, None)
    assert post(world, {"jsonrpc": "2.0", "id": 3, "result": {}})[:3:2] == (202, None)


def test_batches_only_for_2025_03_26(world: RagWorld) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ]
    status, _, body = post(world, batch)
    assert (
        status == 400
        and body["error"]["code"] == INVALID_REQUEST
        and "2025-03-26" in body["error"]["message"]
    )
    status, _, body = post(world, batch, **{"mcp-protocol-version": "2025-03-26"})
    assert status == 200 and [m["id"] for m in body] == [1, 2]
    assert body[0]["result"] == {} and body[1]["error"]["code"] == METHOD_NOT_FOUND


def test_get_is_405_with_allow(world: RagWorld) -> None:
    response = world.request("GET", "/mcp", key=WRITER, headers={"accept": "text/event-stream"})
    assert response.status == 405 and response.headers["allow"] == "POST"


def test_origin_is_validated_before_and_after_auth(world: RagWorld) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert post(world, ping, origin="https://evil.example")[0] == 403
    assert post(world, ping, key=None, origin="https://evil.example")[0] == 403
    assert post(world, ping, origin="https://app.example")[0] == 200
    assert post(world, ping, origin="https://edge.test")[0] == 200  # the endpoint's own origin


def test_no_key_is_401_with_www_authenticate(world: RagWorld) -> None:
    status, headers, body = post(world, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=None)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer ")
    assert body["error"]["code"] == INVALID_REQUEST and "missing API key" in body["error"]["message"]
    status, headers, _ = post(world, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, key="sk-wrong")
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]


def test_public_stacks_follow_gateway_public() -> None:
    world = RagWorld(public=True)
    world.config["mcp"] = dict(MCP)
    assert rpc(world, "ping", key=None)["result"] == {}


def test_mcp_is_404_without_the_section() -> None:
    world = RagWorld()
    assert world.request("POST", "/mcp", b"{}", content_type="application/json").status == 404


# ---------------------------------------------------------------- tools


def test_tools_list_has_schemas_and_annotations_and_follows_the_stack(world: RagWorld) -> None:
    tools = {t["name"]: t for t in rpc(world, "tools/list")["result"]["tools"]}
    assert set(tools) == set(TOOL_NAMES)
    assert tools["search_documents"]["inputSchema"]["required"] == ["query"]
    assert tools["search_documents"]["annotations"]["readOnlyHint"] is True
    assert tools["delete_document"]["annotations"]["destructiveHint"] is True
    assert "outputSchema" in tools["ask_documents"]
    reader = {t["name"] for t in rpc(world, "tools/list", key=READER)["result"]["tools"]}
    assert reader == set(TOOL_NAMES) - {"put_document", "delete_document"}
    world.config["mcp"] = {**MCP, "tools": ["search_documents"]}
    assert [t["name"] for t in rpc(world, "tools/list")["result"]["tools"]] == ["search_documents"]
    assert (
        rpc(world, "tools/call", {"name": "get_document", "arguments": {"id": "x"}})["error"]["code"]
        == INVALID_PARAMS
    )


def test_put_search_ask_get_list_delete(world: RagWorld) -> None:
    put = call(
        world,
        "put_document",
        id="ops/restore.md",
        content="# Restores\n\nA restore needs two approvals.",
        content_type="text/markdown",
        title="Restores",
    )
    assert put["isError"] is False and put["structuredContent"]["status"] == "ready"
    hits = call(world, "search_documents", query="restore approvals", top_k=3)["structuredContent"]["results"]
    assert hits[0]["doc_id"] == "ops/restore.md"
    answer = call(world, "ask_documents", question="How many approvals does a restore need?")
    assert "two approvals" in answer["structuredContent"]["answer"] and "[1]" in answer["content"][0]["text"]
    assert (
        answer["structuredContent"]["citations"][0]["n"] == 1
        and "Sources:\n[1] ops/restore.md" in answer["content"][0]["text"]
    )
    got = call(world, "get_document", id="ops/restore.md")["structuredContent"]
    assert got["title"] == "Restores" and got["text"].startswith("# Restores")
    listed = call(world, "list_documents", prefix="ops/")["structuredContent"]
    assert [d["id"] for d in listed["documents"]] == ["ops/restore.md"] and listed["next_cursor"] is None
    assert call(world, "delete_document", id="ops/restore.md")["structuredContent"] == {
        "id": "ops/restore.md",
        "deleted": True,
    }
    missing = call(world, "get_document", id="ops/restore.md")
    assert missing["isError"] is True and "id: no document" in missing["content"][0]["text"]


def test_tenants_are_isolated_and_readers_cannot_write(world: RagWorld) -> None:
    call(world, "put_document", id="vault.txt", content="The vault code is HELIOTROPE.")
    other = call(world, "search_documents", key=OTHER, query="vault code heliotrope")
    assert other["structuredContent"]["results"] == []
    refused = call(world, "put_document", key=READER, id="x.txt", content="hi")
    assert refused["isError"] is True and "may not write documents" in refused["content"][0]["text"]
    assert call(world, "get_document", key=READER, id="vault.txt")["isError"] is False


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("search_documents", {}, "arguments.query"),
        ("search_documents", {"query": "x", "top_k": 0}, "arguments.top_k"),
        ("search_documents", {"query": "x", "mode": "fuzzy"}, "arguments.mode"),
        ("search_documents", {"query": "x", "colour": 1}, "arguments.colour"),
        ("put_document", {"id": "a", "content": 3}, "arguments.content"),
    ],
)
def test_bad_arguments_are_invalid_params_naming_the_field(
    world: RagWorld, tool: str, arguments: dict[str, Any], field: str
) -> None:
    error = rpc(world, "tools/call", {"name": tool, "arguments": arguments})["error"]
    assert error["code"] == INVALID_PARAMS and error["data"] == {"field": field} and field in error["message"]


def test_feature_refusals_are_tool_errors_naming_the_field(world: RagWorld) -> None:
    blank = call(world, "search_documents", query="   ")
    assert blank["isError"] is True and "query" in blank["content"][0]["text"]
    bad_id = call(world, "get_document", id="../etc")
    assert bad_id["isError"] is True and bad_id["content"][0]["text"].startswith("id: ")
    no_agents = call(world, "message_agent", agent_id="a1", content="hi")
    assert no_agents["isError"] is True and "agents are not enabled" in no_agents["content"][0]["text"]


def test_resources_list_pages_and_read(world: RagWorld) -> None:
    from app.mcp import resources

    for n in range(3):
        call(world, "put_document", id=f"doc-{n}.txt", content=f"document number {n}")
    call(world, "put_document", key=OTHER, id="globex.txt", content="not yours")
    original, resources.PAGE = resources.PAGE, 2
    try:
        first = rpc(world, "resources/list")["result"]
        second = rpc(world, "resources/list", {"cursor": first["nextCursor"]})["result"]
    finally:
        resources.PAGE = original
    uris = [r["uri"] for r in first["resources"] + second["resources"]]
    assert uris == [f"edgestack://documents/doc-{n}.txt" for n in range(3)] and "nextCursor" not in second
    read = rpc(world, "resources/read", {"uri": "edgestack://documents/doc-1.txt"})["result"]["contents"][0]
    assert read["text"] == "document number 1" and read["mimeType"].startswith("text/plain")
    assert (
        rpc(world, "resources/read", {"uri": "edgestack://documents/globex.txt"})["error"]["code"] == -32002
    )
    assert rpc(world, "resources/read", {"uri": "file:///etc/passwd"})["error"]["code"] == INVALID_PARAMS
