"""The in-process entry into the chat pipeline, for features inside the Worker (agents, RAG).

Same path as `POST /v1/chat/completions` after the edge checks (`chat.run_pipeline`): the alias's
route (strategy, fallbacks, retries, circuit breakers), the response cache, the usage record and
the key's daily quota. Not applied: per-request rate limits and body-size limits, which guard the
HTTP edge and were already checked on the request that led here.

Requests and results are OpenAI-shaped whatever the provider speaks (the pipeline translates).
Failures raise `ApiError` (e.g. 404 unknown alias, 403 alias not allowed for the key, 429 quota,
502/503/504 when every candidate failed); the usage record is written either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..config import ConfigError
from ..services import Services
from ..web.auth import Principal, principal_for_key_name
from ..web.errors import ApiError
from ..web.sse import DONE, encode_event
from .chat import (
    ChatRequest,
    RequestContext,
    complete_json,
    finish_record,
    open_relay,
    run_pipeline,
    validate_chat_body,
)
from .config import GatewayConfig
from .state import ISOLATE, IsolateState
from .streams import dumps, openai_completion_to_chunks
from .tokens import TokenUsage
from .translate import JsonObject
from .usage import UsageRecord


@dataclass(frozen=True)
class InternalChatRequest:
    """An OpenAI-format chat request; `model` is a gateway alias."""

    model: str
    messages: Sequence[JsonObject]
    tools: Sequence[JsonObject] | None = None
    tool_choice: str | JsonObject | None = None
    temperature: float | None = None
    max_tokens: int | None = None

    def body(self, stream: bool) -> JsonObject:
        body: JsonObject = {"model": self.model, "messages": list(self.messages)}
        if self.tools:
            body["tools"] = list(self.tools)
            if self.tool_choice is not None:
                body["tool_choice"] = self.tool_choice
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body


class ToolCall(NamedTuple):
    id: str
    name: str
    arguments: str  # the model's JSON text, unparsed (it may be invalid)


class ChatResult(NamedTuple):
    response: JsonObject  # the OpenAI `chat.completion`
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    usage: TokenUsage
    provider: str
    model: str  # the provider's model that answered
    cache_status: str  # HIT, MISS or BYPASS
    attempts: int
    request_id: str

    @property
    def message(self) -> JsonObject:
        """The assistant message, ready to append to the conversation."""
        message: JsonObject = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


class TextDelta(NamedTuple):
    text: str


class ToolCallDelta(NamedTuple):
    call_index: int  # which call of the message (0, 1, ...)
    id: str | None  # set on the first delta of a call
    name: str | None  # set on the first delta of a call
    arguments: str  # a piece of the arguments JSON text


StreamItem = TextDelta | ToolCallDelta | ChatResult  # the ChatResult comes last


def _gateway_config(services: Services, state: IsolateState) -> GatewayConfig:
    try:
        config = state.config.get(services.config)
    except ConfigError as error:
        raise ApiError(503, "misconfigured", f"gateway misconfigured: {error}") from None
    if config is None or not config.enabled:
        raise ApiError(503, "misconfigured", "the AI gateway is not enabled on this stack")
    return config


def key_principal(services: Services, key_name: str | None, state: IsolateState | None = None) -> Principal:
    """The principal a request was authenticated as, by key name (a Durable Object acting for a
    caller, or a schedule); 401 if the key was removed, 503 if the gateway is off."""
    return principal_for_key_name(_gateway_config(services, state or ISOLATE), key_name)


async def completion_stream(completion: JsonObject) -> AsyncIterator[bytes]:
    """An OpenAI `chat.completion` as the gateway streams it (chunks, then `[DONE]`)."""
    for chunk in openai_completion_to_chunks(completion, include_usage=False):
        yield encode_event(dumps(chunk))
    yield DONE


def _context(
    services: Services, principal: Principal, request_id: str | None, state: IsolateState
) -> RequestContext:
    config = _gateway_config(services, state)
    now = services.clock()
    request_id = request_id or state.new_request_id(now)
    record = UsageRecord(request_id=request_id, ts_ms=int(now * 1000), api="openai", key_id=principal.key_id)
    return RequestContext(
        services=services,
        config=config,
        state=state,
        api="openai",
        request_id=request_id,
        started=now,
        record=record,
        principal=principal,
    )


def _chat_request(request: InternalChatRequest, stream: bool) -> ChatRequest:
    return validate_chat_body("openai", request.body(stream))


def _result(ctx: RequestContext, response: JsonObject) -> ChatResult:
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    calls = tuple(
        ToolCall(
            id=str(call.get("id") or ""),
            name=str((call.get("function") or {}).get("name") or ""),
            arguments=_arguments_text((call.get("function") or {}).get("arguments")),
        )
        for call in message.get("tool_calls") or []
        if isinstance(call, dict)
    )
    content = message.get("content")
    return ChatResult(
        response=response,
        content=content if isinstance(content, str) else None,
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=TokenUsage.from_openai(response.get("usage")),
        provider=ctx.record.provider or "",
        model=ctx.record.model or "",
        cache_status=ctx.record.cache_status,
        attempts=ctx.record.attempts,
        request_id=ctx.request_id,
    )


def _arguments_text(arguments: object) -> str:
    if isinstance(arguments, str):
        return arguments
    return dumps(arguments) if arguments is not None else ""


async def chat(
    services: Services,
    principal: Principal,
    request: InternalChatRequest,
    *,
    request_id: str | None = None,
    state: IsolateState | None = None,
) -> ChatResult:
    """One chat completion through the gateway, as `principal` (whose key's quota and models apply)."""
    ctx = _context(services, principal, request_id, state or ISOLATE)
    try:
        chat_request = _chat_request(request, stream=False)
        served = await run_pipeline(ctx, chat_request, {}, dumps(chat_request.body))
        if served.cached is not None:
            return _result(ctx, served.cached.response)
        response, _ = complete_json(ctx, chat_request, served)
        return _result(ctx, response)
    except ApiError as error:
        finish_record(ctx, error.status, error_kind=error.kind)
        raise


async def stream_chat(
    services: Services,
    principal: Principal,
    request: InternalChatRequest,
    *,
    request_id: str | None = None,
    state: IsolateState | None = None,
) -> AsyncIterator[StreamItem]:
    """Like `chat`, yielding text and tool-call deltas as they arrive, then the `ChatResult`.

    An upstream failure before the first event falls back like any request; one after it raises
    `ApiError(502)` from the iteration (the usage record says the stream broke).
    """
    ctx = _context(services, principal, request_id, state or ISOLATE)
    try:
        chat_request = _chat_request(request, stream=True)
        served = await run_pipeline(ctx, chat_request, {}, dumps(chat_request.body))
    except ApiError as error:
        finish_record(ctx, error.status, error_kind=error.kind)
        raise
    if served.cached is not None:
        for chunk in openai_completion_to_chunks(served.cached.response, include_usage=False):
            for item in _deltas(chunk):
                yield item
        yield _result(ctx, served.cached.response)
        return
    pending: list[TextDelta | ToolCallDelta] = []
    relay, chunks = open_relay(ctx, chat_request, served, lambda chunk: pending.extend(_deltas(chunk)))
    try:
        async for _ in chunks:  # the SSE bytes are for HTTP clients; the deltas come through `pending`
            for item in pending:
                yield item
            pending.clear()
            if relay.errored:
                raise ApiError(502, "upstream", relay.error_message or "upstream error")
        for item in pending:  # a chunk relayed without bytes of its own
            yield item
    finally:
        closer = getattr(chunks, "aclose", None)
        if closer is not None:
            await closer()  # records usage (the relay's `finally`) even if the consumer stopped early
    yield _result(ctx, relay.result())


def _deltas(chunk: JsonObject) -> list[TextDelta | ToolCallDelta]:
    out: list[TextDelta | ToolCallDelta] = []
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str) and delta["content"]:
            out.append(TextDelta(delta["content"]))
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            out.append(
                ToolCallDelta(
                    call_index=int(call.get("index", 0)),
                    id=call.get("id") or None,
                    name=function.get("name") or None,
                    arguments=_arguments_text(function.get("arguments")),
                )
            )
    return out
