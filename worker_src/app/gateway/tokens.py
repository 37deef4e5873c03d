"""Token usage in one shape for both APIs, cost from the price table, and request-size estimates."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .config import Price


class TokenUsage(NamedTuple):
    """`prompt_tokens` counts every input token, cached ones included (OpenAI's convention)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # read from the provider's prompt cache
    cache_write_tokens: int = 0  # Anthropic cache_creation_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> TokenUsage:
        if not isinstance(usage, dict):
            return cls()
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return cls(
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            cached_tokens=_int(cached),
        )

    @classmethod
    def from_anthropic(cls, usage: Any) -> TokenUsage:
        if not isinstance(usage, dict):
            return cls()
        read = _int(usage.get("cache_read_input_tokens"))
        write = _int(usage.get("cache_creation_input_tokens"))
        return cls(
            prompt_tokens=_int(usage.get("input_tokens")) + read + write,
            completion_tokens=_int(usage.get("output_tokens")),
            cached_tokens=read,
            cache_write_tokens=write,
        )

    def to_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }

    def to_anthropic(self) -> dict[str, Any]:
        uncached = max(0, self.prompt_tokens - self.cached_tokens - self.cache_write_tokens)
        return {
            "input_tokens": uncached,
            "output_tokens": self.completion_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
            "cache_read_input_tokens": self.cached_tokens,
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def cost_usd(usage: TokenUsage, price: Price | None) -> float:
    """Cost of one call. Cached input at `cached_input` (or the input price); cache writes at input."""
    if price is None:
        return 0.0
    cached_price = price.cached_input if price.cached_input is not None else price.input
    uncached = max(0, usage.prompt_tokens - usage.cached_tokens)
    total = (
        uncached * price.input + usage.cached_tokens * cached_price + usage.completion_tokens * price.output
    )
    return round(total / 1_000_000, 10)


CHARS_PER_TOKEN = 4
DEFAULT_OUTPUT_ESTIMATE = 512


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """A cheap size estimate (4 characters per token) over messages, system prompt, tools and an
    embeddings or Responses `input`."""
    chars = 0
    for key in ("messages", "system", "tools", "input"):
        value = body.get(key)
        if isinstance(value, str):
            chars += len(value)
        elif value is not None:
            chars += len(json.dumps(value, separators=(",", ":")))
    return max(1, chars // CHARS_PER_TOKEN)


def estimate_completion_tokens(body: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_OUTPUT_ESTIMATE


def _produced_chars(response: dict[str, Any]) -> int:
    chars = 0
    for choice in response.get("choices") or ():  # OpenAI shape
        message = (choice.get("message") or {}) if isinstance(choice, dict) else {}
        content = message.get("content")
        chars += len(content) if isinstance(content, str) else 0
        for call in message.get("tool_calls") or ():
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            chars += len(arguments) if isinstance(arguments, str) else 0
    for block in response.get("content") or ():  # Anthropic shape
        if isinstance(block, dict):
            text = block.get("text")
            chars += len(text) if isinstance(text, str) else len(json.dumps(block.get("input") or ""))
    return chars


def produced_usage(usage: TokenUsage, body: dict[str, Any], response: dict[str, Any]) -> TokenUsage:
    """Usage of a stream that ended before the provider reported it (a client that went away): the
    prompt estimate when unknown, and the relayed output at 4 characters per token."""
    if usage.completion_tokens:
        return usage
    return usage._replace(
        prompt_tokens=usage.prompt_tokens or estimate_prompt_tokens(body),
        completion_tokens=-(-_produced_chars(response) // CHARS_PER_TOKEN),
    )
