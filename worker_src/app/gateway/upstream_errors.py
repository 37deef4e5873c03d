"""Upstream (provider) error bodies: their message, with provider keys scrubbed out."""

from __future__ import annotations

import re

from ..web.jsonbody import read_json

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
