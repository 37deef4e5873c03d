"""The official `openai` and `anthropic` SDKs as clients of the gateway, against loopback fake
upstreams (tests/fakes/llm_upstreams.py), streaming and not, tool calls, both translation directions."""

from __future__ import annotations

import json

import pytest
from gateway_testing import (
    UPSTREAM_KEY,
    WEATHER,
    anthropic_client,
    openai_client,
    read_openai_stream,
    route,
    section,
)

WEATHER_ANTHROPIC = {
    "name": "weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}


@pytest.fixture
def gw(gateway, fresh_upstreams):
    routes = {"to-openai": route(("oa", "gpt-a")), "to-anthropic": route(("an", "claude-c"))}
    return gateway(section(fresh_upstreams, routes))


def test_openai_client_to_openai_upstream_passes_through(gw, fresh_upstreams) -> None:
    client = openai_client(gw.base_url, api_key="client-key-not-for-upstream")
    raw = client.chat.completions.with_raw_response.create(
        model="to-openai", messages=[{"role": "user", "content": "hello"}], temperature=0.3
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "oa: hello"
    assert completion.model == "gpt-a" and completion.usage.total_tokens > 0
    assert raw.headers["x-edgestack-provider"] == "oa" and raw.headers["x-edgestack-attempts"] == "1"
    assert raw.headers["x-edgestack-cache"] == "BYPASS" and raw.headers["x-edgestack-request-id"]
    sent = fresh_upstreams.oa.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "client-key-not-for-upstream" not in json.dumps(sent.headers)
    assert sent.body["model"] == "gpt-a" and sent.body["temperature"] == 0.3
    assert UPSTREAM_KEY not in raw.http_response.text and UPSTREAM_KEY not in json.dumps(dict(raw.headers))


def test_openai_client_to_anthropic_upstream_with_system_and_tools(gw, fresh_upstreams) -> None:
    fresh_upstreams.an.configure(cached_tokens=5)
    client = openai_client(gw.base_url)
    completion = client.chat.completions.create(
        model="to-anthropic",
        tools=[WEATHER],
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Paris?"}],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"query": "Paris?"}
    assert completion.usage.prompt_tokens_details.cached_tokens == 5
    sent = fresh_upstreams.an.requests[-1]
    assert sent.headers["x-api-key"] == UPSTREAM_KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "You are terse." and all(
        m["role"] != "system" for m in sent.body["messages"]
    )
    assert sent.body["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]
    assert sent.body["max_tokens"] == 4096  # the provider's default_max_tokens

    # Send the tool result back: the fake rejects a tool_result that answers no tool_use.
    follow_up = client.chat.completions.create(
        model="to-anthropic",
        tools=[WEATHER],
        tool_choice="none",
        messages=[
            {"role": "user", "content": "Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "18C"},
        ],
    )
    assert (
        follow_up.choices[0].message.content == "an: Paris?" and follow_up.choices[0].finish_reason == "stop"
    )
    blocks = fresh_upstreams.an.requests[-1].body["messages"][-1]["content"]
    assert blocks[0] == {"type": "tool_result", "tool_use_id": call.id, "content": "18C"}


@pytest.mark.parametrize("model", ["to-openai", "to-anthropic"])
def test_openai_client_streams_with_include_usage(gw, model) -> None:
    client = openai_client(gw.base_url)
    stream = client.chat.completions.create(
        model=model,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three"}],
    )
    text, usage, finish = read_openai_stream(stream)
    assert text.endswith(": one two three") and finish == "stop"
    assert usage is not None and usage.completion_tokens == 4 and usage.prompt_tokens > 0


@pytest.mark.parametrize("model", ["to-openai", "to-anthropic"])
def test_openai_client_stream_without_include_usage_gets_no_usage_chunk(gw, model) -> None:
    chunks = list(
        openai_client(gw.base_url).chat.completions.create(
            model=model, stream=True, messages=[{"role": "user", "content": "hi"}]
        )
    )
    assert all(chunk.choices for chunk in chunks)  # no `choices: []` usage chunk
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", ["to-openai", "to-anthropic"])
def test_openai_client_streams_tool_calls(gw, model) -> None:
    stream = openai_client(gw.base_url).chat.completions.create(
        model=model, stream=True, tools=[WEATHER], messages=[{"role": "user", "content": "Oslo?"}]
    )
    arguments, name, finish = [], None, None
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            name = call.function.name or name
            arguments.append(call.function.arguments or "")
        finish = chunk.choices[0].finish_reason or finish
    assert (
        name == "weather" and json.loads("".join(arguments)) == {"query": "Oslo?"} and finish == "tool_calls"
    )


def test_anthropic_client_to_openai_upstream(gw, fresh_upstreams) -> None:
    fresh_upstreams.oa.configure(cached_tokens=3)
    client = anthropic_client(gw.base_url, api_key="sk-client")
    raw = client.messages.with_raw_response.create(
        model="to-openai",
        max_tokens=64,
        system="Be kind.",
        tools=[WEATHER_ANTHROPIC],
        messages=[{"role": "user", "content": "Rome?"}],
    )
    message = raw.parse()
    assert raw.headers["x-edgestack-provider"] == "oa"
    assert message.stop_reason == "tool_use" and message.content[0].type == "tool_use"
    assert message.content[0].input == {"query": "Rome?"}
    assert message.usage.cache_read_input_tokens == 3 and message.usage.output_tokens == 7
    sent = fresh_upstreams.oa.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "Be kind."}
    assert sent["max_tokens"] == 64 and sent["tools"][0]["function"]["name"] == "weather"

    follow_up = client.messages.create(
        model="to-openai",
        max_tokens=64,
        messages=[
            {"role": "user", "content": "Rome?"},
            {"role": "assistant", "content": [block.model_dump() for block in message.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": message.content[0].id, "content": "21C"},
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    )
    assert follow_up.content[0].text == "oa: thanks" and follow_up.stop_reason == "end_turn"


@pytest.mark.parametrize("model", ["to-openai", "to-anthropic"])
def test_anthropic_client_streams(gw, model) -> None:
    client = anthropic_client(gw.base_url)
    with client.messages.stream(
        model=model, max_tokens=50, messages=[{"role": "user", "content": "a b c"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.endswith(": a b c") and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens > 0


@pytest.mark.parametrize("model", ["to-openai", "to-anthropic"])
def test_anthropic_client_streams_tool_use(gw, model) -> None:
    client = anthropic_client(gw.base_url)
    with client.messages.stream(
        model=model, max_tokens=50, tools=[WEATHER_ANTHROPIC], messages=[{"role": "user", "content": "Lima?"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[-1].type == "tool_use" and final.content[-1].input == {"query": "Lima?"}


def test_models_list_for_both_sdks(gw) -> None:
    """Route aliases, and (the AI binding being bound) Workers AI's embedding models, each with its kind."""
    for models in (openai_client(gw.base_url).models.list(), anthropic_client(gw.base_url).models.list()):
        kinds = {m.id: m.kind for m in models}  # type: ignore[attr-defined]
        assert {a: k for a, k in kinds.items() if k == "chat"} == {"to-anthropic": "chat", "to-openai": "chat"}
        assert kinds["@cf/baai/bge-small-en-v1.5"] == "embeddings"
    assert openai_client(gw.base_url).models.retrieve("to-openai").id == "to-openai"


@pytest.mark.harness_only
def test_workers_ai_provider_through_the_ai_binding(gateway, fresh_upstreams) -> None:
    """Workers AI is reached through the AI binding (the harness fake), adapted to OpenAI's shape."""
    providers = {
        **fresh_upstreams.providers(),
        "wai": {
            "kind": "workers-ai",
            "prices": {"@cf/meta/llama-3.1-8b-instruct": {"input": 0.28, "output": 0.83}},
        },
    }
    gw = gateway(
        {
            **section(fresh_upstreams, {"edge": route(("wai", "@cf/meta/llama-3.1-8b-instruct"))}),
            "providers": providers,
        }
    )
    client = openai_client(gw.base_url)
    completion = client.chat.completions.create(
        model="edge", messages=[{"role": "user", "content": "hi there"}]
    )
    assert (
        completion.choices[0].message.content == "workers-ai: hi there" and completion.usage.total_tokens > 0
    )
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="edge", stream=True, messages=[{"role": "user", "content": "stream it"}]
        )
        if chunk.choices
    )
    assert text == "workers-ai: stream it"
    with anthropic_client(gw.base_url).messages.stream(
        model="edge", max_tokens=20, messages=[{"role": "user", "content": "x y"}]
    ) as stream:
        assert stream.get_final_message().content[0].text == "workers-ai: x y"
    model, inputs = gw.bindings.ai.calls[0]
    assert model == "@cf/meta/llama-3.1-8b-instruct" and inputs["messages"][0]["content"] == "hi there"
