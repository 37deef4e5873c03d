"""The built-in `local-echo` provider: echoes, scripted tool calls, tool results, streaming, usage,
and its place after every real candidate (a provider without its key is skipped, not retried)."""

from __future__ import annotations

import json

import pytest
from app.gateway.config import Candidate, Provider, Route
from app.gateway.local_echo import ECHO_PREFIX, reply_message
from app.gateway.strategies import order_fastest, stand_ins_last
from gateway_testing import WEATHER, anthropic_client, openai_client, read_openai_stream, route

ECHO_SECTION = {
    "public": True,
    "usage_binding": "DB",
    "providers": {
        "openai": {"kind": "openai", "api_key_secret": "OPENAI_API_KEY"},  # no value: not configured
        "local": {"kind": "local-echo"},
    },
    "routes": {
        "chat": route(("openai", "gpt-4o-mini"), ("local", "echo"), strategy="fallback"),
        "local/echo": route(("local", "echo")),
    },
}


@pytest.fixture
def gw(gateway):
    return gateway(ECHO_SECTION, secrets={})


def test_echo_answers_offline_after_the_provider_without_a_key_is_skipped(gw) -> None:
    raw = openai_client(gw.base_url).chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hello there"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == ECHO_PREFIX + "hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    # One call: the keyless provider was skipped as not configured, not retried.
    assert raw.headers["x-edgestack-provider"] == "local" and raw.headers["x-edgestack-attempts"] == "1"


def test_echo_is_deterministic_and_listed_in_models(gw) -> None:
    client = openai_client(gw.base_url)
    answers = {
        client.chat.completions.create(model="local/echo", messages=[{"role": "user", "content": "x"}])
        .choices[0]
        .message.content
        for _ in range(2)
    }
    assert len(answers) == 1
    assert "local/echo" in [m.id for m in client.models.list().data]


def test_echo_streams_with_usage(gw) -> None:
    stream = openai_client(gw.base_url).chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "stream me " * 30}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ECHO_PREFIX + ("stream me " * 30).strip()
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # really streamed in pieces
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_scripted_tool_call_then_the_tool_result_is_the_answer(gw) -> None:
    client = openai_client(gw.base_url)
    messages = [{"role": "user", "content": 'call weather {"query": "Paris"}'}]
    first = client.chat.completions.create(model="chat", messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"query": "Paris"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model="chat", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "weather returned: sunny, 21 C"


def test_anthropic_messages_and_stream_through_the_echo(gw) -> None:
    client = anthropic_client(gw.base_url)
    message = client.messages.create(
        model="chat", max_tokens=100, messages=[{"role": "user", "content": "bonjour"}]
    )
    assert message.content[0].text == ECHO_PREFIX + "bonjour" and message.usage.output_tokens > 0
    with client.messages.stream(
        model="chat", max_tokens=100, messages=[{"role": "user", "content": "salut"}]
    ) as stream:
        assert "".join(stream.text_stream) == ECHO_PREFIX + "salut"


def test_stream_reader_sees_one_tool_call(gw) -> None:
    stream = openai_client(gw.base_url).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "call weather"}], tools=[WEATHER], stream=True
    )
    _, _, finish = read_openai_stream(stream)
    assert finish == "tool_calls"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("call nope {}", "local/echo: no tool named 'nope' in this request (tools: weather)"),
        ("call weather {oops", "local/echo: the arguments of weather are not JSON"),
        ("call weather [1]", "local/echo: the arguments of weather must be a JSON object"),
    ],
)
def test_a_bad_call_command_is_answered_in_text(said: str, expected: str) -> None:
    message = reply_message({"messages": [{"role": "user", "content": said}], "tools": [WEATHER]})
    assert message["content"].startswith(expected) and "tool_calls" not in message


def test_tool_call_ids_differ_between_turns() -> None:
    first = reply_message({"messages": [{"role": "user", "content": "call weather"}], "tools": [WEATHER]})
    later = reply_message(
        {
            "messages": [
                {"role": "user", "content": "call weather"},
                {"role": "assistant", "content": "x"},
                {"role": "user", "content": "call weather"},
            ],
            "tools": [WEATHER],
        }
    )
    assert first["tool_calls"][0]["id"] != later["tool_calls"][0]["id"]


def _provider(name: str, kind: str) -> Provider:
    return Provider(  # type: ignore[arg-type]
        name=name,
        kind=kind,
        base_url=None,
        api_key_secret=None,
        timeout_ms=1000,
        prices={},
        default_max_tokens=1024,
        anthropic_betas=frozenset(),
    )


def test_the_stand_in_goes_last_even_when_it_is_fastest() -> None:
    providers = {"local": _provider("local", "local-echo"), "a": _provider("a", "openai")}
    echo, real = Candidate("local", "echo", 1), Candidate("a", "m", 1)
    route_ = Route(  # only the candidates matter to the ordering
        alias="r", strategy="fastest", candidates=(echo, real), retry=None, breaker=None, cache=None, kind="chat"  # type: ignore[arg-type]
    )
    by_latency = order_fastest(route_, {"local/echo": 1.0, "a/m": 900.0}.get)
    assert by_latency == [echo, real]
    assert stand_ins_last(by_latency, providers) == [real, echo]
