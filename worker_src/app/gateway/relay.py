"""Turns upstream SSE events into the client's SSE bytes, one event at a time, while keeping the
complete response (client shape) for the cache and the usage record.

Same API on both sides: events are re-framed verbatim (OpenAI's usage-only chunk is dropped if
the client did not ask for `stream_options.include_usage`; the gateway always asks upstream).
Different APIs: `streams.AnthropicToOpenAIStream` / `streams.OpenAIToAnthropicStream`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..web.errors import Api, error_payload
from ..web.jsonbody import read_json
from ..web.sse import DONE, SseEvent, encode_event
from .streams import (
    AnthropicStreamAccumulator,
    AnthropicToOpenAIStream,
    OpenAIStreamAccumulator,
    OpenAIToAnthropicStream,
    dumps,
)
from .tokens import TokenUsage
from .translate import JsonObject


class StreamRelay:
    """`on_chunk` (OpenAI clients only) receives every chunk of the client's stream as a JSON object,
    before it is encoded: in-process callers read those instead of decoding the SSE bytes again."""

    def __init__(
        self,
        client_api: Api,
        upstream_api: Api,
        include_usage: bool,
        created: int,
        on_chunk: Callable[[JsonObject], None] | None = None,
    ) -> None:
        self.client_api = client_api
        self.on_chunk = on_chunk
        self.error_message: str | None = None  # set with `errored`
        self.upstream_api = upstream_api
        self.include_usage = include_usage
        self.upstream_done = False  # upstream sent [DONE] / message_stop
        self.errored = False  # an error event was relayed
        self._openai = OpenAIStreamAccumulator() if client_api == "openai" else None
        self._anthropic = AnthropicStreamAccumulator() if client_api == "anthropic" else None
        self._to_openai = (
            AnthropicToOpenAIStream(created, include_usage)
            if (upstream_api, client_api) == ("anthropic", "openai")
            else None
        )
        self._to_anthropic = (
            OpenAIToAnthropicStream() if (upstream_api, client_api) == ("openai", "anthropic") else None
        )

    # ------------------------------------------------------------ per event

    def process(self, event: SseEvent) -> bytes:
        if self.upstream_done:
            return b""
        if self.upstream_api == "openai":
            return self._from_openai(event)
        return self._from_anthropic(event)

    def _from_openai(self, event: SseEvent) -> bytes:
        if event.data.strip() == "[DONE]":
            self.upstream_done = True
            return b""
        chunk = _json(event.data)
        if chunk is None:
            return b""
        if "error" in chunk:
            return self._error_from_upstream(chunk.get("error"))
        if self._to_anthropic is not None:
            return b"".join(self._emit_anthropic(name, data) for name, data in self._to_anthropic.feed(chunk))
        assert self._openai is not None
        self._openai.add(chunk)
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        if chunk.get("choices") == [] and chunk.get("usage") is not None and not self.include_usage:
            return b""
        return encode_event(event.data)

    def _from_anthropic(self, event: SseEvent) -> bytes:
        name = event.event or ""
        data = _json(event.data)
        if data is None:
            return b""
        name = name or str(data.get("type", ""))
        if name == "error":
            return self._error_from_upstream(data.get("error"))
        if name == "message_stop":
            self.upstream_done = True
        if self._to_openai is not None:
            out = b"".join(self._emit_openai(chunk) for chunk in self._to_openai.feed(name, data))
            return out
        assert self._anthropic is not None
        self._anthropic.add(name, data)
        return encode_event(event.data, name)

    def _emit_openai(self, chunk: JsonObject) -> bytes:
        assert self._openai is not None
        self._openai.add(chunk)
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        return encode_event(dumps(chunk))

    def _emit_anthropic(self, name: str, data: JsonObject) -> bytes:
        assert self._anthropic is not None
        self._anthropic.add(name, data)
        return encode_event(dumps(data), name)

    # ------------------------------------------------------------ end of stream

    def finish(self) -> bytes:
        """Bytes that close the client stream after the upstream ended (or an error if it ended early)."""
        if self.errored:
            return b""
        if not self.upstream_done and self._openai_finish_seen():
            self.upstream_done = True  # some OpenAI-compatible servers end without `data: [DONE]`
        if self._to_anthropic is not None and self.upstream_done:
            return b"".join(self._emit_anthropic(name, data) for name, data in self._to_anthropic.finish())
        if not self.upstream_done:
            return self.error("the upstream stream ended before it was complete")
        return DONE if self.client_api == "openai" else b""

    def _openai_finish_seen(self) -> bool:
        if self.upstream_api != "openai":
            return False
        if self._to_anthropic is not None:
            return self._to_anthropic.finish_reason is not None
        return self._openai is not None and self._openai.complete

    def error(self, message: str) -> bytes:
        """An error event in the client's dialect (the SDKs raise on it)."""
        self.errored = True
        self.error_message = message
        payload = error_payload(self.client_api, "upstream", message)
        if self.client_api == "anthropic":
            return encode_event(dumps(payload), "error")
        return encode_event(dumps(payload))

    def _error_from_upstream(self, error: Any) -> bytes:
        message = error.get("message") if isinstance(error, dict) else None
        return self.error(f"upstream error during the stream: {message or 'unknown error'}")

    # ------------------------------------------------------------ results

    @property
    def complete(self) -> bool:
        if self.errored:
            return False
        if self._openai is not None:
            return self._openai.complete and self.upstream_done
        assert self._anthropic is not None
        return self._anthropic.complete

    @property
    def usage(self) -> TokenUsage:
        if self._to_openai is not None:
            return TokenUsage.from_anthropic(self._to_openai.usage)
        if self._to_anthropic is not None:
            return self._to_anthropic.usage or TokenUsage()
        if self._openai is not None:
            return self._openai.usage or TokenUsage()
        assert self._anthropic is not None
        return self._anthropic.token_usage

    def result(self) -> JsonObject:
        """The complete response in the client's API shape."""
        if self._openai is not None:
            completion = self._openai.result()
            if "usage" not in completion:
                completion["usage"] = self.usage.to_openai()
            return completion
        assert self._anthropic is not None
        return self._anthropic.result()


def _json(text: str) -> JsonObject | None:
    try:
        value = read_json(text, what="upstream event")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
