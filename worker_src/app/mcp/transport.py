"""`/mcp`: MCP's Streamable HTTP transport (spec 2025-06-18), stateless, answered with JSON.

- `POST` carries one JSON-RPC message: a request is answered `200 application/json`; a
  notification or a client response `202` with no body. A JSON array (a batch) is accepted only
  from clients that negotiated 2025-03-26 (later revisions removed batching).
- `GET` (no server-initiated stream) and `DELETE` (no session) are `405` with `Allow: POST`: the
  `/v1` front door answers that before the caller is authorized.
- `Origin`, when sent, must be the endpoint's own origin or one of `mcp.allowed_origins` (403).
- The caller is authorized by the front door like any `/v1` request (virtual key, tenant = scope,
  `gateway.public`); a refusal is `401` with `WWW-Authenticate: Bearer`.
- No `Mcp-Session-Id` is issued. `MCP-Protocol-Version`, when sent, must be one this server speaks.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.auth import Caller
from ..web.errors import ApiError
from ..web.log import log_event
from .config import McpConfig, mcp_config
from .jsonrpc import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    Request,
    RpcError,
    error_payload,
    parse_body,
    parse_message,
    result_payload,
)
from .server import PROTOCOL_VERSIONS, handle_request

BATCH_VERSION = "2025-03-26"
MAX_BATCH = 32


def _rpc_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return HttpResponse(
        status=status, headers={"content-type": "application/json", **(headers or {})}, body=body
    )


def _http_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return _rpc_response(error_payload(None, code, message), status, headers)


def origin_allowed(request: HttpRequest, allowed: frozenset[str]) -> bool:
    origin = request.header("origin").strip().lower().rstrip("/")
    if not origin:
        return True  # not a browser (MCP clients in apps and SDKs send none)
    own = urlsplit(request.url)
    return origin == f"{own.scheme}://{own.netloc}".lower() or origin in allowed


def refuse_mcp(request: HttpRequest, services: Services, error: ApiError) -> HttpResponse:
    """The front door refused the caller (no or unknown key, rate limit): a JSON-RPC error body
    with the HTTP status, and `WWW-Authenticate` on 401 (RFC 6750)."""
    config = _config_or_none(services)
    if config is not None and not origin_allowed(request, config.allowed_origins):
        return _http_error(403, INVALID_REQUEST, "forbidden: this Origin may not call this MCP server")
    headers = dict(error.headers)
    if error.retry_after_s is not None:
        headers["retry-after"] = str(max(0, int(error.retry_after_s)))
    if error.status == 401:
        challenge = 'Bearer realm="edgestack"'
        if error.code == "invalid_api_key":
            challenge += ', error="invalid_token"'
        headers["www-authenticate"] = challenge
    return _http_error(error.status, INVALID_REQUEST, error.message, headers)


def _config_or_none(services: Services) -> McpConfig | None:
    try:
        return mcp_config(services.config)
    except ValueError:
        return None


async def handle_mcp(request: HttpRequest, services: Services, caller: Caller) -> HttpResponse:
    config = mcp_config(services.config)
    if config is None:
        raise ApiError(404, "not_found", "MCP is not enabled on this stack (no mcp section)")
    if not origin_allowed(request, config.allowed_origins):
        return _http_error(403, INVALID_REQUEST, "forbidden: this Origin may not call this MCP server")
    version = request.header("mcp-protocol-version").strip()
    if version and version not in PROTOCOL_VERSIONS:
        return _http_error(
            400,
            INVALID_REQUEST,
            f"unsupported MCP-Protocol-Version {version[:40]!r} (supported: {', '.join(PROTOCOL_VERSIONS)})",
        )
    accept = request.header("accept").lower()
    if accept and not any(t in accept for t in ("application/json", "*/*", "application/*")):
        return _http_error(406, INVALID_REQUEST, "not acceptable: this server answers with application/json")
    content_type = request.header("content-type").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _http_error(
            415, INVALID_REQUEST, f"content-type must be application/json (got {content_type or 'none'})"
        )
    try:
        value = parse_body(request.body)
    except RpcError as error:
        return _rpc_response(error.payload(), 400)
    if isinstance(value, list):
        return await _batch(value, version, services, caller, config)
    try:
        message = parse_message(value)
    except RpcError as error:
        return _rpc_response(error.payload(), 400)
    if not isinstance(message, Request) or message.is_notification:
        return HttpResponse(status=202)
    return _rpc_response(await _answer(message, services, caller, config))


async def _answer(message: Request, services: Services, caller: Caller, config: McpConfig) -> dict[str, Any]:
    assert message.request_id is not None
    try:
        return result_payload(message.request_id, await handle_request(message, services, caller, config))
    except RpcError as error:
        error.request_id = message.request_id
        return error.payload()
    except ApiError as error:  # the feature refused (e.g. RAG not configured) outside a tool call
        return error_payload(
            message.request_id, INTERNAL_ERROR if error.status >= 500 else INVALID_REQUEST, error.message
        )
    except Exception as error:  # a bug: no traceback to the client
        log_event(
            "mcp",
            "internal_error",
            method=message.method,
            error=type(error).__name__,
            detail=str(error)[:300],
        )
        return error_payload(message.request_id, INTERNAL_ERROR, "internal error")


async def _batch(
    values: list[Any], version: str, services: Services, caller: Caller, config: McpConfig
) -> HttpResponse:
    if version != BATCH_VERSION:
        return _http_error(
            400,
            INVALID_REQUEST,
            f"invalid request: JSON-RPC batches are only accepted with MCP-Protocol-Version {BATCH_VERSION}",
        )
    if not values or len(values) > MAX_BATCH:
        return _http_error(400, INVALID_REQUEST, f"invalid request: a batch holds 1 to {MAX_BATCH} messages")
    answers: list[dict[str, Any]] = []
    for value in values:
        try:
            message = parse_message(value)
        except RpcError as error:
            answers.append(error.payload())
            continue
        if isinstance(message, Request) and not message.is_notification:
            answers.append(await _answer(message, services, caller, config))
    return _rpc_response(answers) if answers else HttpResponse(status=202)
