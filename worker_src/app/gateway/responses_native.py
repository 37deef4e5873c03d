"""Responses API answers from `kind: openai` providers, which serve `/responses` themselves.

Their events and objects pass through as OpenAI sent them, with the gateway's response id, model
alias and storage fields put on every `response` object; usage is read from the final response for
the usage record and the quota. These answers are not written to the response cache (entries hold
chat completions); translated answers are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from ..bindings import UpstreamError, close_stream
from ..web.jsonbody import read_json
from ..web.log import log_event
from ..web.sse import SseEvent, encode_event
from .chat import RequestContext, Served, finish_record, price_of
from .dispatch import breaker_key
from .responses_stream import failure_events
from .responses_translate import adopt_upstream_response, responses_usage
from .tokens import cost_usd
from .translate import JsonObject, dumps

FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")

SaveResponse = Callable[[JsonObject], Awaitable[None]]


def record_native(
    ctx: RequestContext, served: Served, response: JsonObject, status: int, kind: str | None
) -> None:
    assert served.success is not None
    usage = responses_usage(response.get("usage"))
    finish_record(
        ctx,
        status,
        error_kind=kind,
        usage=usage,
        cost=cost_usd(usage, price_of(ctx, served.success.candidate)),
        quota_tokens=usage.total_tokens,
    )


def native_response(ctx: RequestContext, served: Served, shell: JsonObject) -> JsonObject:
    """A non-streaming answer: OpenAI's response, adopted and recorded."""
    assert served.success is not None
    response = adopt_upstream_response(served.success.parsed or {}, shell)
    ctx.record.ttfb_ms = ctx.elapsed_ms()
    record_native(ctx, served, response, 200, None)
    return response


async def relay_native(
    ctx: RequestContext, served: Served, shell: JsonObject, save: SaveResponse
) -> AsyncIterator[bytes]:
    """OpenAI's Responses events, passed through as they arrive; recorded and stored at the end."""
    success = served.success
    assert success is not None and success.stream is not None and success.decoder is not None
    upstream, decoder = success.stream, success.decoder
    ctx.record.ttfb_ms = ctx.elapsed_ms()
    final: JsonObject | None = None
    sequence = 0
    status, kind = 200, None

    def relay(events: list[SseEvent]) -> bytes:
        nonlocal final, sequence
        out = []
        for event in events:
            try:
                data = read_json(event.data, what="upstream event")
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            name = str(data.get("type") or event.event or "")
            if isinstance(data.get("response"), dict):
                data["response"] = adopt_upstream_response(data["response"], shell)
                if name in FINAL_EVENTS:
                    final = data["response"]
            if isinstance(data.get("sequence_number"), int):
                sequence = data["sequence_number"] + 1
            out.append(encode_event(dumps(data), name or None))
        return b"".join(out)

    try:
        head = relay(list(success.first_events))
        if head:
            yield head
        while final is None:
            try:
                chunk = await upstream.__anext__()
            except StopAsyncIteration:
                break
            out = relay(decoder.feed(chunk))
            if out:
                yield out
        if final is None:
            status, kind = 502, "upstream"
            yield _failure(shell, "the upstream stream ended before the response was complete", sequence)
        elif final.get("status") == "failed":
            status, kind = 502, "upstream"
    except UpstreamError as error:
        status, kind = 502, "upstream"
        log_event(
            "gateway",
            "stream_interrupted",
            request_id=ctx.request_id,
            candidate=success.candidate.key,
            error=str(error)[:200],
        )
        yield _failure(shell, "the upstream connection was lost during the stream", sequence)
    except (GeneratorExit, asyncio.CancelledError):
        status, kind = 499, "client_closed"
        raise
    finally:
        await close_stream(upstream)
        if status == 502:
            key = breaker_key(served.route.alias, success.candidate)
            ctx.state.breakers.record_failure(key, served.route.breaker, ctx.services.clock())
        record_native(ctx, served, final or {}, status, kind)
    if final is not None and status == 200:
        await save(final)


def _failure(shell: JsonObject, message: str, sequence: int) -> bytes:
    return b"".join(
        encode_event(dumps(data), name) for name, data in failure_events(shell, [], message, sequence)
    )
