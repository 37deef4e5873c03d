"""`POST /v1/responses` (and GET/DELETE by id) driven by the official `openai` SDK, in front of the
loopback fake upstreams: text, streams, function calls with a tool-result round trip, translation to
an Anthropic upstream, `previous_response_id`, tenant isolation and the 400s for bad input."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from fakes.llm_upstreams import Fault
from gateway_testing import openai_client, route, section
from harness.planned import key_sha256

KEY_A, KEY_B = "sk-responses-tenant-a", "sk-responses-tenant-b"
KEYS = {
    "a": {"sha256": key_sha256(KEY_A), "scope": "tenant-a"},
    "b": {"sha256": key_sha256(KEY_B), "scope": "tenant-b"},
}
WEATHER_TOOL = {  # a Responses API function tool (flat, unlike chat's)
    "type": "function",
    "name": "weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
}


def _routes() -> dict:
    return {
        "to-openai": route(("oa", "gpt-a")),
        "to-anthropic": route(("an", "claude-c")),
        "fallback": route(("oa", "gpt-a"), ("ob", "gpt-b"), retry={"max_attempts": 2, "base_delay_ms": 0}),
        "cached": route(("oa", "gpt-a"), cache={"enabled": True, "ttl_s": 600}),
    }


@pytest.fixture
def gw(gateway, fresh_upstreams):
    body = section(fresh_upstreams, _routes(), public=False, keys=KEYS, response_store={"binding": "DB"})
    # `kind: openai` serves the Responses API itself: the request passes through to its /responses.
    body["providers"]["oai"] = {
        "kind": "openai",
        "base_url": fresh_upstreams.oa.base_url,
        "api_key_secret": "OA_KEY",
    }
    body["routes"]["native"] = route(("oai", "gpt-n"))
    body["routes"]["native-or-anthropic"] = route(
        ("oai", "gpt-n"), ("an", "claude-c"), retry={"base_delay_ms": 0}
    )
    return gateway(body)


@pytest.fixture
def client(gw) -> openai.OpenAI:
    return openai_client(gw.base_url, api_key=KEY_A)


def test_text_response_has_the_documented_shape(client, fresh_upstreams) -> None:
    raw = client.responses.with_raw_response.create(
        model="to-openai",
        input="hello there",
        instructions="Be brief.",
        max_output_tokens=50,
        temperature=0.2,
    )
    response = raw.parse()
    assert (
        response.object == "response" and response.status == "completed" and response.id.startswith("resp_")
    )
    assert response.output_text == "oa: hello there" and response.model == "to-openai"
    assert response.output[0].type == "message" and response.output[0].content[0].type == "output_text"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens == 3
    assert response.usage.total_tokens == response.usage.input_tokens + 3
    assert raw.headers["x-edgestack-provider"] == "oa" and raw.headers["x-edgestack-attempts"] == "1"
    sent = fresh_upstreams.oa.requests[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert sent["max_tokens"] == 50 and sent["temperature"] == 0.2


def test_stream_sends_the_documented_event_sequence(client) -> None:
    with client.responses.stream(model="to-openai", input="one two three") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "oa: one two three" and len(deltas) == 4
    assert final.output_text == "oa: one two three" and final.usage.output_tokens == 4


def test_function_call_and_tool_result_round_trip_through_anthropic(client, fresh_upstreams) -> None:
    first = client.responses.create(model="to-anthropic", input="Paris?", tools=[WEATHER_TOOL])
    call = first.output[0]
    assert call.type == "function_call" and call.name == "weather"
    assert json.loads(call.arguments) == {"query": "Paris?"}
    sent = fresh_upstreams.an.requests[-1].body
    assert sent["tools"][0]["name"] == "weather" and "input_schema" in sent["tools"][0]
    # Send the result back as items: the Anthropic fake rejects a tool_result without its tool_use.
    second = client.responses.create(
        model="to-anthropic",
        tools=[WEATHER_TOOL],
        tool_choice="none",
        input=[
            {"role": "user", "content": "Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": "weather",
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "18C and sunny"},
        ],
    )
    assert second.status == "completed" and second.output_text.startswith("an:")
    turns = fresh_upstreams.an.requests[-1].body["messages"]
    assert turns[1]["content"][0]["type"] == "tool_use"
    assert turns[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call.call_id,
        "content": "18C and sunny",
    }


def test_streamed_function_call_from_anthropic(client) -> None:
    with client.responses.stream(model="to-anthropic", input="Rome?", tools=[WEATHER_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert "response.function_call_arguments.delta" in types
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"query": "Rome?"}
    assert final.output[0].type == "function_call" and final.output[0].name == "weather"


def test_previous_response_id_continues_the_conversation(client, fresh_upstreams) -> None:
    first = client.responses.create(model="to-openai", input="my name is Ada", store=True)
    second = client.responses.create(
        model="to-openai", input="what is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    sent = fresh_upstreams.oa.requests[-1].body["messages"]
    assert sent == [
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "oa: my name is Ada"},
        {"role": "user", "content": "what is my name?"},
    ]
    fetched = client.responses.retrieve(second.id)
    assert fetched.output_text == second.output_text
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_another_tenants_response_id_is_a_404(gw, client) -> None:
    mine = client.responses.create(model="to-openai", input="secret plans", store=True)
    other = openai_client(gw.base_url, api_key=KEY_B)
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.create(model="to-openai", input="continue", previous_response_id=mine.id)
    assert caught.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(mine.id)
    assert client.responses.retrieve(mine.id).id == mine.id


def test_store_false_keeps_nothing(client) -> None:
    response = client.responses.create(model="to-openai", input="forget me", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_fallback_and_cache_apply(client, fresh_upstreams) -> None:
    fresh_upstreams.oa.push(Fault(status=503))
    raw = client.responses.with_raw_response.create(model="fallback", input="hi")
    assert raw.parse().output_text == "ob: hi" and raw.headers["x-edgestack-attempts"] == "2"


def test_cache_hit_replays_as_a_response_and_a_stream(gw, client, fresh_upstreams) -> None:
    first = client.responses.with_raw_response.create(model="cached", input="cache me")
    assert first.headers["x-edgestack-cache"] == "MISS"
    gw.drain()  # the KV write goes through waitUntil
    hit = client.responses.with_raw_response.create(model="cached", input="cache me")
    assert hit.headers["x-edgestack-cache"] == "HIT" and hit.parse().output_text == "oa: cache me"
    with client.responses.stream(model="cached", input="cache me") as stream:
        assert "".join(e.delta for e in stream if e.type == "response.output_text.delta") == "oa: cache me"
    assert fresh_upstreams.oa.calls == 1


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        (
            {"input": [{"type": "computer_call_output", "call_id": "x"}]},
            "input[0].type",
            "not a supported input item",
        ),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", "not supported"),
        (
            {"input": "x", "tools": [{"type": "file_search", "vector_store_ids": []}]},
            "tools[0].type",
            "built-in",
        ),
        ({"input": "x", "background": True}, "background", "not supported"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
            "content part",
        ),
        ({"input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format", "schema"),
        ({"input": []}, "input", "non-empty"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(gw, body, param, needle) -> None:
    reply = httpx.post(
        gw.base_url + "/v1/responses",
        json={"model": "to-openai", **body},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and needle in error["message"]


def test_store_true_without_a_store_names_the_missing_binding(gateway, fresh_upstreams) -> None:
    gw = gateway(section(fresh_upstreams, _routes()))
    client = openai_client(gw.base_url)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="to-openai", input="x", store=True)
    assert caught.value.body["param"] == "store" and "gateway.response_store.binding" in caught.value.message
    assert client.responses.create(model="to-openai", input="x").store is False  # not asked: not stored


# ---------------------------------------------------------------- kind: openai, natively


def test_openai_kind_passes_the_request_through_natively(client, fresh_upstreams) -> None:
    raw = client.responses.with_raw_response.create(
        model="native", input="native hi", instructions="Be brief.", text={"format": {"type": "text"}}
    )
    response = raw.parse()
    assert response.output_text == "oa: native hi" and response.model == "native"
    assert response.id.startswith("resp_") and not response.id.startswith("resp_up")
    assert response.usage.output_tokens == 3 and raw.headers["x-edgestack-provider"] == "oai"
    sent = fresh_upstreams.oa.requests[-1]
    assert sent.path == "/v1/responses" and sent.body["model"] == "gpt-n"
    assert sent.body["instructions"] == "Be brief." and sent.body["input"] == "native hi"
    assert sent.body["store"] is False


def test_native_stream_passes_events_through_under_the_gateways_id(client) -> None:
    with client.responses.stream(model="native", input="native one two") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    created = events[0]
    assert created.type == "response.created" and created.response.id == final.id and final.model == "native"
    assert final.output_text == "oa: native one two"
    assert client.responses.retrieve(final.id).output_text == "oa: native one two"


def test_native_function_call_and_previous_response_id(client, fresh_upstreams) -> None:
    first = client.responses.create(model="native", input="native Paris?", tools=[WEATHER_TOOL])
    call = first.output[0]
    assert call.type == "function_call" and json.loads(call.arguments) == {"query": "native Paris?"}
    second = client.responses.create(
        model="native",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C"}],
    )
    assert second.output_text.startswith("oa:")
    sent = fresh_upstreams.oa.requests[-1].body
    assert "previous_response_id" not in sent
    assert sent["input"][0] == {"type": "message", "role": "user", "content": "native Paris?"}
    assert sent["input"][1]["type"] == "function_call" and "id" not in sent["input"][1]
    assert sent["input"][2] == {"type": "function_call_output", "call_id": call.call_id, "output": "18C"}


def test_native_falls_back_to_a_translated_candidate(client, fresh_upstreams) -> None:
    fresh_upstreams.oa.push(Fault(status=503))
    with client.responses.stream(model="native-or-anthropic", input="fall back") as stream:
        final = stream.get_final_response()
    assert final.output_text == "an: fall back"
