"""JSON-RPC 2.0 messages as MCP carries them: parse one POSTed body, build results and errors.

Only the shapes are checked here; what a method means is `server.py`'s business.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002  # MCP: resources/read of an unknown URI

RequestId = str | int


class RpcError(Exception):
    """A JSON-RPC error answer; `request_id` is None when the request's id could not be read."""

    def __init__(
        self, code: int, message: str, request_id: RequestId | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.data = data

    def payload(self) -> dict[str, Any]:
        return error_payload(self.request_id, self.code, self.message, self.data)


class Request(NamedTuple):
    """A request (`request_id` set) or a notification (`request_id` None)."""

    method: str
    params: dict[str, Any]
    request_id: RequestId | None

    @property
    def is_notification(self) -> bool:
        return self.request_id is None


class ClientReply(NamedTuple):
    """A response the client sends back (to a server request); a stateless server only accepts it."""

    request_id: RequestId | None


Message = Request | ClientReply


def parse_body(body: bytes) -> Any:
    """The decoded JSON value; RpcError(PARSE_ERROR) when the body is not JSON."""
    try:
        return json.loads(body)
    except ValueError as error:  # includes UnicodeDecodeError
        raise RpcError(PARSE_ERROR, f"parse error: the body is not valid JSON ({error})") from None


def _id_of(value: dict[str, Any]) -> RequestId | None:
    raw = value.get("id")
    return raw if isinstance(raw, str | int) and not isinstance(raw, bool) else None


def parse_message(value: Any) -> Message:
    """One JSON-RPC message, or RpcError(INVALID_REQUEST) naming what is wrong."""
    if not isinstance(value, dict):
        raise RpcError(INVALID_REQUEST, "invalid request: a JSON-RPC message is a JSON object")
    request_id = _id_of(value)
    if value.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "invalid request: 'jsonrpc' must be \"2.0\"", request_id)
    if "id" in value and request_id is None:
        raise RpcError(INVALID_REQUEST, "invalid request: 'id' must be a string or an integer")
    if "method" not in value:
        if request_id is not None and ("result" in value or "error" in value):
            return ClientReply(request_id)
        raise RpcError(INVALID_REQUEST, "invalid request: 'method' is missing", request_id)
    method = value["method"]
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "invalid request: 'method' must be a non-empty string", request_id)
    params = value.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "invalid params: 'params' must be an object", request_id)
    return Request(method, params, request_id)


def result_payload(request_id: RequestId, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_payload(request_id: RequestId | None, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
