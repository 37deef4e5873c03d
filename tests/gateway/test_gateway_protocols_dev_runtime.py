"""The Responses API, embeddings, count_tokens and the Messages extras on the REAL local runtime
(`edgestack dev`: the Worker on Pyodide in workerd, its D1 and the local Workers AI binding), driven
by the official `openai` and `anthropic` SDKs and by the OpenAI Agents SDK (`openai-agents`) with
both its Responses and its Chat Completions model, in front of the loopback fake upstreams.

One runtime serves the module; every test uses its own prompt, so cache entries and stored
responses of one test never meet another's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from fakes.llm_upstreams import ScriptedReply
from gateway_testing import SECRETS, Upstreams, anthropic_client, openai_client, route, section
from harness.planned import key_sha256
from harness.target import DevRuntimeTarget, ExternalGateway

pytestmark = pytest.mark.dev_runtime

KEY, OTHER_KEY = "sk-protocols-dev", "sk-protocols-other"
KEYS = {
    "dev": {"sha256": key_sha256(KEY), "scope": "dev"},
    "other": {"sha256": key_sha256(OTHER_KEY), "scope": "other"},
}
BGE_SMALL = "@cf/baai/bge-small-en-v1.5"
WEATHER_TOOL = {
    "type": "function",
    "name": "weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}


@pytest.fixture(scope="module")
def dev_gw(upstreams: Upstreams) -> Iterator[ExternalGateway]:
    routes = {
        "to-openai": route(("oa", "gpt-a")),
        "to-anthropic": route(("an", "claude-c")),
        "embed": route(("oa", "text-embed-a"), kind="embeddings"),
    }
    body = section(
        upstreams, routes, public=False, keys=KEYS, response_store={"binding": "DB", "ttl_s": 3600}
    )
    body["providers"]["an"]["anthropic_betas"] = ["prompt-caching-2024-07-31"]
    body["providers"]["oai"] = {
        "kind": "openai",
        "base_url": upstreams.oa.base_url,
        "api_key_secret": "OA_KEY",
    }
    body["routes"]["native"] = route(("oai", "gpt-n"))
    with DevRuntimeTarget().start({"gateway": body}, SECRETS) as running:
        assert isinstance(running, ExternalGateway)
        yield running


@pytest.fixture
def gw(dev_gw: ExternalGateway, fresh_upstreams: Upstreams) -> ExternalGateway:
    return dev_gw


@pytest.fixture
def client(gw: ExternalGateway) -> openai.OpenAI:
    return openai_client(gw.base_url, api_key=KEY)


# ---------------------------------------------------------------- Responses API


def test_responses_text_and_stream(client) -> None:
    response = client.responses.create(model="to-openai", input="dev hello", instructions="Be brief.")
    assert response.status == "completed" and response.output_text == "oa: dev hello"
    assert response.usage.output_tokens == 3
    with client.responses.stream(model="to-anthropic", input="dev one two") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert final.output_text == "an: dev one two" and final.usage.output_tokens == 4


def test_responses_pass_through_natively_to_openai(client, fresh_upstreams) -> None:
    with client.responses.stream(model="native", input="dev native") as stream:
        final = stream.get_final_response()
    assert final.output_text == "oa: dev native" and final.model == "native"
    assert fresh_upstreams.oa.requests[-1].path == "/v1/responses"
    assert client.responses.retrieve(final.id).id == final.id


def test_responses_function_call_round_trip_through_anthropic(client, fresh_upstreams) -> None:
    first = client.responses.create(model="to-anthropic", input="dev Lima?", tools=[WEATHER_TOOL])
    call = first.output[0]
    assert call.type == "function_call" and json.loads(call.arguments) == {"query": "dev Lima?"}
    second = client.responses.create(
        model="to-anthropic",
        tools=[WEATHER_TOOL],
        tool_choice="none",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "22C"}],
    )
    assert second.output_text.startswith("an:")
    turns = fresh_upstreams.an.requests[-1].body["messages"]
    assert turns[0] == {"role": "user", "content": [{"type": "text", "text": "dev Lima?"}]}
    assert turns[1]["content"][0]["type"] == "tool_use" and turns[1]["content"][0]["id"] == call.call_id
    assert turns[2]["content"][0]["tool_use_id"] == call.call_id


def test_stored_responses_are_tenant_scoped(gw, client) -> None:
    mine = client.responses.create(model="to-openai", input="dev private", store=True)
    assert client.responses.retrieve(mine.id).output_text == "oa: dev private"
    other = openai_client(gw.base_url, api_key=OTHER_KEY)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="to-openai", input="go on", previous_response_id=mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    client.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(mine.id)


def test_responses_bad_input_is_a_400(gw) -> None:
    for body, param in (
        ({"input": [{"type": "mystery_item"}]}, "input[0].type"),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ):
        reply = httpx.post(
            gw.base_url + "/v1/responses",
            json={"model": "to-openai", **body},
            headers={"authorization": f"Bearer {KEY}"},
        )
        assert reply.status_code == 400 and reply.json()["error"]["param"] == param


# ---------------------------------------------------------------- the OpenAI Agents SDK


@pytest.mark.parametrize("model_class", ["OpenAIResponsesModel", "OpenAIChatCompletionsModel"])
def test_openai_agents_sdk_runs_a_tool_using_agent(gw, fresh_upstreams, model_class) -> None:
    import agents

    agents.set_tracing_disabled(True)
    calls: list[str] = []

    @agents.function_tool
    def weather(query: str) -> str:
        """Weather for a city."""
        calls.append(query)
        return f"sunny in {query}"

    fresh_upstreams.oa.push_script(
        ScriptedReply(tool_calls=[{"name": "weather", "arguments": {"query": "Oslo"}}]),
        ScriptedReply(text="It is sunny in Oslo."),
    )
    client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=KEY, max_retries=0)
    model = getattr(agents, model_class)(model="to-openai", openai_client=client)
    agent = agents.Agent(
        name="forecaster", instructions="Use the weather tool.", tools=[weather], model=model
    )
    result = asyncio.run(agents.Runner.run(agent, "Weather in Oslo?"))
    assert result.final_output == "It is sunny in Oslo." and calls == ["Oslo"]
    last = fresh_upstreams.oa.requests[-1].body["messages"]
    assert last[0] == {"role": "system", "content": "Use the weather tool."}
    assert last[-1]["role"] == "tool" and last[-1]["content"] == "sunny in Oslo"


# ---------------------------------------------------------------- embeddings, count_tokens, extras


def test_embeddings_through_workers_ai_and_a_route(client) -> None:
    local = client.embeddings.create(model=BGE_SMALL, input=["dev alpha", "dev beta"])
    assert len(local.data) == 2 and len(local.data[0].embedding) == 384
    routed = client.embeddings.create(model="embed", input="dev gamma", dimensions=4)
    assert len(routed.data[0].embedding) == 4
    for body, param in (
        ({"model": "embed", "input": []}, "input"),
        ({"model": "embed", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "to-openai", "input": "x"}, "model"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            client.embeddings.create(**body)
        assert caught.value.body["param"] == param


def test_count_tokens_forwarded_and_estimated(gw) -> None:
    client = anthropic_client(gw.base_url, api_key=KEY)
    raw = client.messages.with_raw_response.count_tokens(
        model="to-anthropic", messages=[{"role": "user", "content": "dev count"}]
    )
    assert raw.parse().input_tokens > 7 and "x-edgestack-estimate" not in raw.headers
    raw = client.messages.with_raw_response.count_tokens(
        model="to-openai", messages=[{"role": "user", "content": "dev count"}]
    )
    assert raw.headers["x-edgestack-estimate"] == "true" and raw.parse().input_tokens > 0


def test_thinking_and_cache_control_pass_through(gw, fresh_upstreams) -> None:
    client = anthropic_client(gw.base_url, api_key=KEY)
    system = [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(
        model="to-anthropic",
        max_tokens=2048,
        system=system,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "dev think"}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert message.content[0].type == "thinking" and message.content[0].thinking == "thinking about dev think"
    sent = fresh_upstreams.an.requests[-1]
    assert sent.body["system"] == system and sent.body["thinking"]["budget_tokens"] == 1024
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31"


def test_the_host_meters_the_workers_own_cpu(gw, client) -> None:
    """`/__edgestack/status` counts the CPU inside the Worker's asyncio handles: it grows with each
    request, by less than the whole host process (HTTP server, Miniflare's client) grows."""

    def status() -> dict:
        return httpx.get(gw.base_url + "/__edgestack/status").json()["workerCpu"]

    before = status()
    for _ in range(5):
        client.chat.completions.create(model="to-openai", messages=[{"role": "user", "content": "dev cpu"}])
    after = status()
    worker, host = after["workerMs"] - before["workerMs"], after["hostMs"] - before["hostMs"]
    assert after["handles"] - before["handles"] >= 5 * 3  # several steps per request
    assert 0 < worker < host and after["meterUs"] > 0
