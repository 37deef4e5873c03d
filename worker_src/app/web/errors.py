"""The one API error of `/v1`, rendered in the error JSON shape of the API the client speaks.

Anthropic's shape for `/v1/messages` and for any request carrying `anthropic-version` (what the
Anthropic SDK sends); OpenAI's otherwise (`error_api`).
"""

from __future__ import annotations

from typing import Literal

from ..http import HttpRequest, HttpResponse

Api = Literal["openai", "anthropic"]

ANTHROPIC_PATHS = ("/v1/messages", "/v1/messages/count_tokens")

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


class ApiError(Exception):
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


def error_api(request: HttpRequest) -> Api:
    """The error shape a request is answered in: `/v1/messages` speaks Anthropic's, `/v1/chat/...`
    OpenAI's; elsewhere the Anthropic SDK is known by its `anthropic-version` header."""
    path = request.path.rstrip("/")
    if path in ANTHROPIC_PATHS:
        return "anthropic"
    if path == "/v1/chat/completions":
        return "openai"
    return "anthropic" if request.header("anthropic-version") else "openai"


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param, code=code)
