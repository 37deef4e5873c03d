"""Request helpers shared by every `/v1` route: the JSON body, 405 with `Allow`, unknown fields."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..http import HttpRequest
from .errors import ApiError, bad_request
from .jsonbody import JsonBodyError, read_json


def json_body(
    request: HttpRequest, *, check_content_type: bool = True, empty: bool = False
) -> dict[str, Any]:
    """The body as a JSON object. `check_content_type`: 415 unless `application/json` (or `+json`);
    `empty`: an empty body reads as `{}`."""
    if check_content_type:
        content_type = request.header("content-type").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"content-type must be application/json (got {content_type or 'none'})",
                code="unsupported_content_type",
            )
    if empty and not request.body:
        return {}
    try:
        body = read_json(request.body)  # nesting, surrogates and unsafe numbers refused, naming the field
    except JsonBodyError as error:
        raise bad_request(error.message, error.field, "invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object", "body", "invalid_json")
    return body


def method_not_allowed(path: str, *methods: str) -> ApiError:
    """405 naming the methods `path` accepts, also in the `Allow` header (RFC 9110 §15.5.6)."""
    allowed = ", ".join(methods)
    return ApiError(405, "method_not_allowed", f"{path} accepts {allowed} only", headers={"allow": allowed})


def reject_unknown_fields(body: dict[str, Any], allowed: Collection[str]) -> None:
    """400 naming the first unknown field (sorted) and the fields the route accepts."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(
            f"unknown field(s): {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})", unknown[0]
        )
