"""The AI gateway: OpenAI- and Anthropic-compatible `/v1/*` endpoints (see docs/gateway.md)."""

from __future__ import annotations

from .handler import handle_v1

__all__ = ["handle_v1"]
