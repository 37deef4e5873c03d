"""Gateway errors, rendered in the error JSON shape of the API the client speaks."""

from __future__ import annotations

import re
from typing import Literal

from ..http import HttpResponse
from ..jsonbody import read_json

Api = Literal["openai", "anthropic"]

# kind -> (OpenAI `error.type`, Anthropic `error.type`)
_ERROR_TYPES: dict[str, tuple[str, str]] = {
    "invalid_request": ("invalid_request_error", "invalid_request_error"),
    "authentication": ("authentication_error", "authentication_error"),
    "permission": ("permission_error", "permission_error"),
    "not_found": ("not_found_error", "not_found_error"),
    "method_not_allowed": ("invalid_request_error", "invalid_request_error"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "unsupported_media_type": ("invalid_request_error", "invalid_request_error"),
    "rate_limit": ("rate_limit_error", "rate_limit_error"),
    "quota": ("insufficient_quota", "rate_limit_error"),
    "upstream": ("api_error", "api_error"),
    "timeout": ("timeout_error", "api_error"),
    "overloaded": ("overloaded_error", "overloaded_error"),
    "misconfigured": ("api_error", "api_error"),
    "internal": ("api_error", "api_error"),
}


class GatewayError(Exception):
    """An answer other than success, with the status and the error `kind` (see `_ERROR_TYPES`)."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code
        self.retry_after_s = retry_after_s
        self.headers = dict(headers or {})

    def payload(self, api: Api) -> dict[str, object]:
        return error_payload(api, self.kind, self.message, param=self.param, code=self.code)

    def to_response(self, api: Api, headers: dict[str, str] | None = None) -> HttpResponse:
        merged = dict(self.headers)
        if self.retry_after_s is not None:
            merged["retry-after"] = str(max(0, int(self.retry_after_s)))
        merged.update(headers or {})
        return HttpResponse.json(self.payload(api), status=self.status, headers=merged)


def error_payload(
    api: Api, kind: str, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, object]:
    openai_type, anthropic_type = _ERROR_TYPES.get(kind, (kind, kind))
    if api == "anthropic":
        return {"type": "error", "error": {"type": anthropic_type, "message": message}}
    return {"error": {"message": message, "type": openai_type, "param": param, "code": code}}


def kind_for_status(status: int) -> str:
    return {
        400: "invalid_request",
        401: "authentication",
        403: "permission",
        404: "not_found",
        413: "request_too_large",
        415: "unsupported_media_type",
        429: "rate_limit",
        504: "timeout",
        529: "overloaded",
    }.get(status, "invalid_request" if status < 500 else "upstream")


_KEYISH = re.compile(r"(sk-[A-Za-z0-9_\-*]{4,}|sk-ant-[A-Za-z0-9_\-*]{4,})")


def scrub_secrets(text: str, secrets: tuple[str, ...]) -> str:
    """Remove provider keys (exact and key-shaped) from text that may reach a client or a log."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _KEYISH.sub("[redacted]", text)


def upstream_error_message(body: bytes) -> str:
    """The `message` of an OpenAI- or Anthropic-shaped error body (or a short excerpt)."""
    try:
        payload = read_json(body, what="upstream error")
    except ValueError:
        return body[:300].decode("utf-8", "replace").strip() or "upstream error"
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(payload.get("message"), str):
            return str(payload["message"])
    return "upstream error"
