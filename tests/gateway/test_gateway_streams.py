"""SSE framing, stream translation both ways, accumulators, cache replays and the relay (pure).

Event sequences follow https://platform.openai.com/docs/api-reference/chat-streaming and
https://docs.anthropic.com/en/api/messages-streaming.
"""

from __future__ import annotations

import json

import pytest
from app.gateway.relay import StreamRelay
from app.gateway.streams import (
    AnthropicStreamAccumulator,
    AnthropicToOpenAIStream,
    OpenAIStreamAccumulator,
    OpenAIToAnthropicStream,
    anthropic_message_to_events,
    openai_completion_to_chunks,
)
from app.web.sse import DONE, SseDecoder, SseEvent, encode_event
from hypothesis import given
from hypothesis import strategies as st

# ---------------------------------------------------------------- SSE


def test_decoder_handles_any_split_line_endings_comments_and_multiline_data() -> None:
    raw = (
        ": keep-alive\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\n"
        'data: {"x": "é"}\n\n'
        "event: b\rdata: three\r\r"
        "data: [DONE]\n\n"
    ).encode()
    expected = [SseEvent("one\ntwo", "a"), SseEvent('{"x": "é"}'), SseEvent("three", "b"), SseEvent("[DONE]")]
    whole = SseDecoder()
    assert whole.feed(raw) + whole.flush() == expected
    for size in (1, 2, 3, 7):  # every split, including inside CRLF and inside the UTF-8 "é"
        decoder, events = SseDecoder(), []
        for i in range(0, len(raw), size):
            events += decoder.feed(raw[i : i + size])
        assert events + decoder.flush() == expected


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["message_start", "ping", "x"])),
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1
            ),
        ),
        max_size=8,
    ),
    st.integers(min_value=1, max_value=9),
)
def test_encoder_and_decoder_round_trip(events, split) -> None:
    raw = b"".join(encode_event(data, name) for name, data in events)
    decoder, out = SseDecoder(), []
    for i in range(0, len(raw), split):
        out += decoder.feed(raw[i : i + split])
    out += decoder.flush()
    assert [(e.event, e.data) for e in out] == [(name, data) for name, data in events]


def test_an_event_cut_off_by_the_end_of_the_stream_is_discarded() -> None:
    decoder = (
        SseDecoder()
    )  # https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
    assert decoder.feed(b"data: whole\n\ndata: tail") == [SseEvent("whole")]
    assert decoder.flush() == []


# ---------------------------------------------------------------- fixtures: real-shaped streams


def anthropic_stream() -> list[tuple[str, dict]]:
    return [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-x",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 12,
                        "output_tokens": 1,
                        "cache_read_input_tokens": 30,
                        "cache_creation_input_tokens": 0,
                    },
                },
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking"}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " now."}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 15},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def openai_stream(include_usage: bool = True) -> list[dict]:
    base = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 9, "model": "gpt-x"}

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Checking"}),
        chunk({"content": " now."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
    ]
    if include_usage:
        chunks.append(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": 42,
                    "completion_tokens": 15,
                    "total_tokens": 57,
                    "prompt_tokens_details": {"cached_tokens": 30},
                },
            }
        )
    return chunks


# ---------------------------------------------------------------- translators


def test_anthropic_stream_to_openai_chunks() -> None:
    translator = AnthropicToOpenAIStream(created=100, include_usage=True)
    chunks = [c for name, data in anthropic_stream() for c in translator.feed(name, data)]
    assert all(c["id"] == "chatcmpl-msg_1" and c["model"] == "claude-x" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == "Checking now."
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_9",
        "type": "function",
        "function": {"name": "weather", "arguments": ""},
    }
    assert "".join(c["function"]["arguments"] for c in calls) == '{"city": "Paris"}'
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 42,
        "completion_tokens": 15,
        "total_tokens": 57,
        "prompt_tokens_details": {"cached_tokens": 30},
    }
    accumulated = OpenAIStreamAccumulator()
    for c in chunks:
        accumulated.add(c)
    message = accumulated.result()["choices"][0]["message"]
    assert message["content"] == "Checking now."
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}


def test_openai_stream_to_anthropic_events() -> None:
    translator = OpenAIToAnthropicStream()
    events = [e for c in openai_stream() for e in translator.feed(c)] + translator.finish()
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0][1]["message"]["id"] == "msg_7"
    assert events[5][1] == {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "call_9", "name": "weather", "input": {}},
    }
    assert events[9][1]["delta"]["stop_reason"] == "tool_use"
    assert events[9][1]["usage"] == {
        "input_tokens": 12,
        "output_tokens": 15,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 30,
    }
    accumulated = AnthropicStreamAccumulator()
    for name, data in events:
        accumulated.add(name, data)
    assert accumulated.complete
    result = accumulated.result()
    assert result["content"] == [
        {"type": "text", "text": "Checking now."},
        {"type": "tool_use", "id": "call_9", "name": "weather", "input": {"city": "Paris"}},
    ]


def test_anthropic_accumulator_rebuilds_the_message() -> None:
    accumulated = AnthropicStreamAccumulator()
    for name, data in anthropic_stream():
        accumulated.add(name, data)
    result = accumulated.result()
    assert result["stop_reason"] == "tool_use" and result["usage"]["output_tokens"] == 15
    assert result["content"][1]["input"] == {"city": "Paris"}
    assert accumulated.token_usage.prompt_tokens == 42 and accumulated.token_usage.cached_tokens == 30


# ---------------------------------------------------------------- replays (cache hits)


def test_openai_replay_rebuilds_the_same_completion() -> None:
    original = OpenAIStreamAccumulator()
    for c in openai_stream():
        original.add(c)
    completion = original.result()
    replay = openai_completion_to_chunks(completion, include_usage=True)
    rebuilt = OpenAIStreamAccumulator()
    for c in replay:
        rebuilt.add(c)
    assert rebuilt.result() == completion
    assert replay[-1]["choices"] == []  # the usage chunk
    assert all(c["choices"] for c in openai_completion_to_chunks(completion, include_usage=False))


def test_anthropic_replay_rebuilds_the_same_message() -> None:
    original = AnthropicStreamAccumulator()
    for name, data in anthropic_stream():
        original.add(name, data)
    message = original.result()
    rebuilt = AnthropicStreamAccumulator()
    events = anthropic_message_to_events(message)
    for name, data in events:
        rebuilt.add(name, data)
    assert rebuilt.result() == message
    assert [n for n, _ in events][0] == "message_start" and [n for n, _ in events][-1] == "message_stop"


# ---------------------------------------------------------------- relay


def _openai_events(chunks: list[dict]) -> list[SseEvent]:
    return [SseEvent(json.dumps(c)) for c in chunks] + [SseEvent("[DONE]")]


def _decode(raw: bytes) -> list[SseEvent]:
    decoder = SseDecoder()
    return decoder.feed(raw) + decoder.flush()


@pytest.mark.parametrize("include_usage", [True, False])
def test_relay_openai_passthrough_strips_the_usage_chunk_unless_asked(include_usage) -> None:
    relay = StreamRelay("openai", "openai", include_usage, created=1)
    out = b"".join(relay.process(e) for e in _openai_events(openai_stream())) + relay.finish()
    events = _decode(out)
    assert events[-1].data == "[DONE]"
    usage_chunks = [e for e in events[:-1] if json.loads(e.data)["choices"] == []]
    assert len(usage_chunks) == (1 if include_usage else 0)
    assert relay.complete and relay.usage.prompt_tokens == 42 and relay.usage.cached_tokens == 30


def test_relay_anthropic_to_openai_ends_with_done_and_keeps_the_result() -> None:
    relay = StreamRelay("openai", "anthropic", include_usage=False, created=1)
    raw = b"".join(relay.process(SseEvent(json.dumps(d), n)) for n, d in anthropic_stream()) + relay.finish()
    assert raw.endswith(DONE)
    assert relay.complete and relay.usage.completion_tokens == 15
    assert relay.result()["choices"][0]["finish_reason"] == "tool_calls"


def test_relay_openai_to_anthropic_closes_the_message_at_done() -> None:
    relay = StreamRelay("anthropic", "openai", include_usage=False, created=1)
    raw = b"".join(relay.process(e) for e in _openai_events(openai_stream())) + relay.finish()
    names = [e.event for e in _decode(raw)]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert relay.complete and relay.result()["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("client", "upstream"),
    [("openai", "openai"), ("anthropic", "anthropic"), ("openai", "anthropic"), ("anthropic", "openai")],
)
def test_relay_reports_a_stream_cut_short_as_an_error_event(client, upstream) -> None:
    relay = StreamRelay(client, upstream, include_usage=False, created=1)
    if upstream == "openai":
        head = [SseEvent(json.dumps(c)) for c in openai_stream()[:3]]
    else:
        head = [SseEvent(json.dumps(d), n) for n, d in anthropic_stream()[:4]]
    raw = b"".join(relay.process(e) for e in head) + relay.finish()
    last = _decode(raw)[-1]
    if client == "anthropic":
        assert last.event == "error" and json.loads(last.data)["error"]["type"] == "api_error"
    else:
        assert "error" in json.loads(last.data) and last.data != "[DONE]"
    assert not relay.complete


def test_relay_translates_an_upstream_error_event() -> None:
    relay = StreamRelay("openai", "anthropic", include_usage=False, created=1)
    start = anthropic_stream()[0]
    relay.process(SseEvent(json.dumps(start[1]), start[0]))
    out = relay.process(
        SseEvent(
            json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            "error",
        )
    )
    assert (
        json.loads(_decode(out)[0].data)["error"]["message"] == "upstream error during the stream: Overloaded"
    )
    assert relay.errored and relay.finish() == b""


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
def test_relay_hands_each_client_chunk_to_on_chunk_as_it_encodes_it(upstream) -> None:
    """In-process callers read these objects; they are exactly the chunks the SSE bytes carry."""
    seen: list[dict] = []
    relay = StreamRelay("openai", upstream, include_usage=True, created=1, on_chunk=seen.append)
    if upstream == "openai":
        events = _openai_events(openai_stream())
    else:
        events = [SseEvent(json.dumps(d), n) for n, d in anthropic_stream()]
    raw = b"".join(relay.process(e) for e in events) + relay.finish()
    sent = [json.loads(e.data) for e in _decode(raw) if e.data != "[DONE]"]
    assert seen == sent and len(seen) > 2
    assert any(c["choices"] and c["choices"][0]["delta"].get("tool_calls") for c in seen)


def test_relay_keeps_the_message_of_the_error_it_sends() -> None:
    relay = StreamRelay("openai", "openai", include_usage=False, created=1)
    relay.process(SseEvent(json.dumps(openai_stream()[0])))
    relay.finish()
    assert relay.errored and relay.error_message == "the upstream stream ended before it was complete"
