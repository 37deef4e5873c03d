"""Streaming pieces (pure): translators between the two SSE dialects, accumulators that rebuild the
final response from a stream (for usage, the cache and body logging), and cache replays.

OpenAI: `data: {chat.completion.chunk}` ... optional usage chunk with `choices: []` ... `data: [DONE]`
(https://platform.openai.com/docs/api-reference/chat-streaming).
Anthropic: message_start, (content_block_start, content_block_delta*, content_block_stop)*,
message_delta, message_stop, plus ping/error (https://docs.anthropic.com/en/api/messages-streaming).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .tokens import TokenUsage
from .translate import (
    JsonObject,
    anthropic_stop_to_openai,
    dumps,
    openai_stop_to_anthropic,
    parse_tool_arguments,
)

AnthropicEvent = tuple[str, JsonObject]  # (event name, data)


def _event(name: str, **fields: Any) -> AnthropicEvent:
    """An Anthropic stream event: its name, and its data whose `type` repeats the name."""
    return name, {"type": name, **fields}


# ---------------------------------------------------------------- OpenAI deltas


@dataclass(frozen=True)
class _ToolCallDelta:
    index: int
    id: str
    name: str
    arguments: str | None


@dataclass(frozen=True)
class _ChoiceDelta:
    """What one chunk adds to the first choice."""

    text: str | None
    tool_calls: list[_ToolCallDelta]
    finish_reason: str | None
    reasoning: str | None = None  # `reasoning_content`, sent by OpenAI-compatible reasoning models


def _first_choice_deltas(chunk: JsonObject) -> Iterator[_ChoiceDelta]:
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        calls = []
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            arguments = function.get("arguments")
            calls.append(
                _ToolCallDelta(
                    index=int(call.get("index", 0)),
                    id=str(call.get("id") or ""),
                    name=str(function.get("name") or ""),
                    arguments=arguments if isinstance(arguments, str) else None,
                )
            )
        text = delta.get("content")
        reasoning = delta.get("reasoning_content")
        yield _ChoiceDelta(
            text=text if isinstance(text, str) else None,
            tool_calls=calls,
            finish_reason=choice.get("finish_reason") or None,
            reasoning=reasoning if isinstance(reasoning, str) else None,
        )


# ---------------------------------------------------------------- accumulators


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class OpenAIStreamAccumulator:
    """Rebuilds a `chat.completion` (first choice) from chunks."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, _ToolCallParts] = {}
        self.finish_reason: str | None = None
        self.usage: TokenUsage | None = None

    def add(self, chunk: JsonObject) -> None:
        self.id = self.id or str(chunk.get("id") or "")
        self.model = self.model or str(chunk.get("model") or "")
        self.created = self.created or int(chunk.get("created") or 0)
        if isinstance(chunk.get("usage"), dict):
            self.usage = TokenUsage.from_openai(chunk["usage"])
        for delta in _first_choice_deltas(chunk):
            if delta.text is not None:
                self.text.append(delta.text)
            if delta.reasoning:
                self.reasoning.append(delta.reasoning)
            for call in delta.tool_calls:
                parts = self.tool_calls.setdefault(call.index, _ToolCallParts())
                parts.id = parts.id or call.id
                parts.name = parts.name or call.name
                if call.arguments is not None:
                    parts.arguments.append(call.arguments)
            if delta.finish_reason:
                self.finish_reason = delta.finish_reason

    @property
    def complete(self) -> bool:
        return self.finish_reason is not None

    def result(self) -> JsonObject:
        message: JsonObject = {
            "role": "assistant",
            "content": "".join(self.text) if self.text else None,
            "refusal": None,
        }
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": parts.id,
                    "type": "function",
                    "function": {"name": parts.name, "arguments": "".join(parts.arguments)},
                }
                for _, parts in sorted(self.tool_calls.items())
            ]
        completion: JsonObject = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
            ],
        }
        if self.usage is not None:
            completion["usage"] = self.usage.to_openai()
        return completion


class AnthropicStreamAccumulator:
    """Rebuilds an Anthropic `message` from stream events."""

    def __init__(self) -> None:
        self.message: JsonObject = {}
        self.blocks: dict[int, JsonObject] = {}
        self.partial_json: dict[int, list[str]] = {}
        self.usage: JsonObject = {}
        self.stop_reason: str | None = None
        self.stopped = False

    def add(self, event: str, data: JsonObject) -> None:
        if event == "message_start":
            self.message = dict(data.get("message") or {})
            self.usage.update(self.message.get("usage") or {})
        elif event == "content_block_start":
            self.blocks[int(data.get("index", 0))] = dict(data.get("content_block") or {})
        elif event == "content_block_delta":
            index = int(data.get("index", 0))
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                block["text"] = str(block.get("text", "")) + str(delta.get("text", ""))
            elif delta.get("type") == "thinking_delta":
                block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
            elif delta.get("type") == "signature_delta":
                block["signature"] = str(block.get("signature", "")) + str(delta.get("signature", ""))
            elif delta.get("type") == "input_json_delta":
                self.partial_json.setdefault(index, []).append(str(delta.get("partial_json", "")))
        elif event == "message_delta":
            delta = data.get("delta") or {}
            self.stop_reason = delta.get("stop_reason", self.stop_reason)
            # message_delta usage counts are cumulative: they overwrite message_start's
            self.usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        elif event == "message_stop":
            self.stopped = True

    @property
    def complete(self) -> bool:
        return self.stopped and self.stop_reason is not None

    @property
    def token_usage(self) -> TokenUsage:
        return TokenUsage.from_anthropic(self.usage)

    def result(self) -> JsonObject:
        content = []
        for index, block in sorted(self.blocks.items()):
            block = dict(block)
            if block.get("type") == "tool_use":
                raw = "".join(self.partial_json.get(index, []))
                block["input"] = parse_tool_arguments(raw) if raw else (block.get("input") or {})
            content.append(block)
        message = dict(self.message)
        message.update({"content": content, "stop_reason": self.stop_reason, "usage": dict(self.usage)})
        message.setdefault("type", "message")
        message.setdefault("role", "assistant")
        message.setdefault("stop_sequence", None)
        return message


# ---------------------------------------------------------------- translators


def openai_chunk(
    completion_id: str, model: str, created: int, delta: JsonObject, finish_reason: str | None = None
) -> JsonObject:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def _usage_chunk(completion_id: str, model: str, created: int, usage: TokenUsage) -> JsonObject:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage.to_openai(),
    }


class AnthropicToOpenAIStream:
    """Anthropic stream events in, OpenAI chunks out (the caller adds `data: [DONE]`)."""

    def __init__(self, created: int, include_usage: bool) -> None:
        self.created = created
        self.include_usage = include_usage
        self.id = ""
        self.model = ""
        self.usage: JsonObject = {}
        self.tool_index = -1
        self.block_is_tool: dict[int, int] = {}  # anthropic block index -> openai tool index

    def feed(self, event: str, data: JsonObject) -> list[JsonObject]:
        if event == "message_start":
            message = data.get("message") or {}
            self.id = "chatcmpl-" + str(message.get("id", ""))
            self.model = str(message.get("model", ""))
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if event == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                self.tool_index += 1
                self.block_is_tool[int(data.get("index", 0))] = self.tool_index
                return [
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": self.tool_index,
                                    "id": str(block.get("id", "")),
                                    "type": "function",
                                    "function": {"name": str(block.get("name", "")), "arguments": ""},
                                }
                            ]
                        }
                    )
                ]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if event == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": str(delta.get("text", ""))})]
            if delta.get("type") == "thinking_delta":
                return [self._chunk({"reasoning_content": str(delta.get("thinking", ""))})]
            if delta.get("type") == "input_json_delta":
                tool_index = self.block_is_tool.get(int(data.get("index", 0)), max(self.tool_index, 0))
                return [
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": tool_index,
                                    "function": {"arguments": str(delta.get("partial_json", ""))},
                                }
                            ]
                        }
                    )
                ]
            return []
        if event == "message_delta":
            self.usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, anthropic_stop_to_openai(reason) or "stop")]
        if event == "message_stop" and self.include_usage:
            return [_usage_chunk(self.id, self.model, self.created, TokenUsage.from_anthropic(self.usage))]
        return []

    def _chunk(self, delta: JsonObject, finish_reason: str | None = None) -> JsonObject:
        return openai_chunk(self.id, self.model, self.created, delta, finish_reason)


class OpenAIToAnthropicStream:
    """OpenAI chunks in, Anthropic events out. Call `finish()` at `[DONE]` (usage arrives last)."""

    def __init__(self, message_id_prefix: str = "msg_") -> None:
        self.prefix = message_id_prefix
        self.started = False
        self.open_block: int | None = None
        self.open_kind: str | None = None
        self.open_tool: int | None = None  # OpenAI tool_calls index of the open tool_use block
        self.next_index = 0
        self.finish_reason: str | None = None
        self.usage: TokenUsage | None = None
        self.finished = False

    def feed(self, chunk: JsonObject) -> list[AnthropicEvent]:
        events: list[AnthropicEvent] = []
        if not self.started:
            self.started = True
            message = {
                "id": self.prefix + str(chunk.get("id", "")).removeprefix("chatcmpl-"),
                "type": "message",
                "role": "assistant",
                "model": str(chunk.get("model", "")),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            events.append(_event("message_start", message=message))
        if isinstance(chunk.get("usage"), dict):
            self.usage = TokenUsage.from_openai(chunk["usage"])
        for delta in _first_choice_deltas(chunk):
            if delta.reasoning:
                if self.open_kind != "thinking":
                    events.extend(
                        self._open({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
                    )
                events.append(self._delta({"type": "thinking_delta", "thinking": delta.reasoning}))
            if delta.text:
                if self.open_kind != "text":
                    events.extend(self._open({"type": "text", "text": ""}, "text"))
                events.append(self._delta({"type": "text_delta", "text": delta.text}))
            for call in delta.tool_calls:
                if self.open_kind != "tool_use" or self.open_tool != call.index:
                    block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
                    events.extend(self._open(block, "tool_use"))
                    self.open_tool = call.index
                if call.arguments:
                    events.append(self._delta({"type": "input_json_delta", "partial_json": call.arguments}))
            if delta.finish_reason:
                self.finish_reason = delta.finish_reason
        return events

    def finish(self) -> list[AnthropicEvent]:
        if self.finished:
            return []
        self.finished = True
        events = self._close()
        usage = (self.usage or TokenUsage()).to_anthropic()
        stop = {"stop_reason": openai_stop_to_anthropic(self.finish_reason or "stop"), "stop_sequence": None}
        events.append(_event("message_delta", delta=stop, usage=usage))
        events.append(_event("message_stop"))
        return events

    def _open(self, block: JsonObject, kind: str) -> list[AnthropicEvent]:
        events = self._close()
        self.open_block, self.open_kind = self.next_index, kind
        self.next_index += 1
        events.append(_event("content_block_start", index=self.open_block, content_block=block))
        return events

    def _close(self) -> list[AnthropicEvent]:
        if self.open_block is None:
            return []
        index, self.open_block, self.open_kind, self.open_tool = self.open_block, None, None, None
        return [_event("content_block_stop", index=index)]

    def _delta(self, delta: JsonObject) -> AnthropicEvent:
        return _event("content_block_delta", index=self.open_block, delta=delta)


# ---------------------------------------------------------------- replays (cache hits, non-streaming upstreams)

REPLAY_TEXT_PIECE = 512


def _pieces(text: str) -> list[str]:
    return [text[i : i + REPLAY_TEXT_PIECE] for i in range(0, len(text), REPLAY_TEXT_PIECE)] or []


def openai_completion_to_chunks(completion: JsonObject, include_usage: bool) -> list[JsonObject]:
    """A complete `chat.completion` as the chunk sequence a streaming call would have produced."""
    completion_id = str(completion.get("id", ""))
    model = str(completion.get("model", ""))
    created = int(completion.get("created") or 0)
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    chunks = [openai_chunk(completion_id, model, created, {"role": "assistant", "content": ""})]
    for piece in _pieces(message.get("content") or ""):
        chunks.append(openai_chunk(completion_id, model, created, {"content": piece}))
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        chunks.append(
            openai_chunk(
                completion_id,
                model,
                created,
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.get("id", ""),
                            "type": "function",
                            "function": {
                                "name": function.get("name", ""),
                                "arguments": function.get("arguments", ""),
                            },
                        }
                    ]
                },
            )
        )
    chunks.append(openai_chunk(completion_id, model, created, {}, choice.get("finish_reason") or "stop"))
    if include_usage:
        chunks.append(
            _usage_chunk(completion_id, model, created, TokenUsage.from_openai(completion.get("usage")))
        )
    return chunks


def anthropic_message_to_events(message: JsonObject) -> list[AnthropicEvent]:
    """A complete Anthropic `message` as the event sequence of a streaming call."""
    usage = dict(message.get("usage") or {})
    start = {
        k: v for k, v in message.items() if k not in ("content", "stop_reason", "stop_sequence", "usage")
    }
    start.update(
        {"content": [], "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 0}}
    )
    events: list[AnthropicEvent] = [_event("message_start", message=start)]
    for index, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            events.append(_event("content_block_start", index=index, content_block={"type": "text", "text": ""}))
            for piece in _pieces(str(block.get("text", ""))):
                text_delta = {"type": "text_delta", "text": piece}
                events.append(_event("content_block_delta", index=index, delta=text_delta))
        elif kind == "tool_use":
            events.append(_event("content_block_start", index=index, content_block={**block, "input": {}}))
            arguments = {"type": "input_json_delta", "partial_json": dumps(block.get("input") or {})}
            events.append(_event("content_block_delta", index=index, delta=arguments))
        else:
            events.append(_event("content_block_start", index=index, content_block=block))
        events.append(_event("content_block_stop", index=index))
    stop = {
        "stop_reason": message.get("stop_reason") or "end_turn",
        "stop_sequence": message.get("stop_sequence"),
    }
    events.append(_event("message_delta", delta=stop, usage=usage))
    events.append(_event("message_stop"))
    return events


__all__ = [
    "AnthropicEvent",
    "AnthropicStreamAccumulator",
    "AnthropicToOpenAIStream",
    "OpenAIStreamAccumulator",
    "OpenAIToAnthropicStream",
    "anthropic_message_to_events",
    "dumps",
    "openai_chunk",
    "openai_completion_to_chunks",
    "openai_stop_to_anthropic",
]
