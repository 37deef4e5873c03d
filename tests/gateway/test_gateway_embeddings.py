"""`POST /v1/embeddings` and `POST /v1/messages/count_tokens` through the official SDKs, in front of
the loopback fakes (OpenAI embeddings, Anthropic token counting) and the harness's Workers AI."""

from __future__ import annotations

import base64
import struct

import anthropic
import httpx
import openai
import pytest
from fakes.llm_upstreams import Fault
from gateway_testing import anthropic_client, openai_client, route, section

BGE_SMALL = "@cf/baai/bge-small-en-v1.5"


def _routes() -> dict:
    return {
        "embed": route(
            ("oa", "text-embed-a"),
            ("ob", "text-embed-b"),
            kind="embeddings",
            retry={"max_attempts": 2, "base_delay_ms": 0},
        ),
        "embed-cached": route(
            ("oa", "text-embed-a"), kind="embeddings", cache={"enabled": True, "max_temperature": 0.1}
        ),
        "chat": route(("oa", "gpt-a")),
        "claude": route(("an", "claude-c"), ("oa", "gpt-a")),
    }


@pytest.fixture
def gw(gateway, fresh_upstreams):
    providers = fresh_upstreams.providers(
        oa={"text-embed-a": {"input": 0.02, "output": 0.0}, "gpt-a": {"input": 1, "output": 2}}
    )
    return gateway({**section(fresh_upstreams, _routes()), "providers": providers})


@pytest.fixture
def client(gw) -> openai.OpenAI:
    return openai_client(gw.base_url)


def test_route_alias_embeds_a_list_in_order(client, fresh_upstreams) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="embed", input=["alpha", "beta", "gamma"], encoding_format="float"
    )
    result = raw.parse()
    assert [d.index for d in result.data] == [0, 1, 2] and len(result.data[0].embedding) == 8
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens == 3 and raw.headers["x-edgestack-provider"] == "oa"
    sent = fresh_upstreams.oa.requests[-1]
    assert sent.path == "/v1/embeddings" and sent.body["model"] == "text-embed-a"
    assert sent.body["input"] == ["alpha", "beta", "gamma"]


def test_sdk_default_base64_decodes_to_the_same_floats(client) -> None:
    floats = (
        client.embeddings.create(model="embed", input="same text", encoding_format="float").data[0].embedding
    )
    decoded = client.embeddings.create(model="embed", input="same text").data[0].embedding  # SDK asks base64
    assert decoded == pytest.approx(floats, rel=1e-6)


def test_base64_is_little_endian_float32(gw) -> None:
    reply = httpx.post(
        gw.base_url + "/v1/embeddings", json={"model": "embed", "input": "x", "encoding_format": "base64"}
    )
    packed = base64.b64decode(reply.json()["data"][0]["embedding"])
    assert len(packed) == 8 * 4 and all(0 < v <= 1 for v in struct.unpack("<8f", packed))


def test_dimensions_and_fallback(client, fresh_upstreams) -> None:
    fresh_upstreams.oa.push(Fault(status=503))
    raw = client.embeddings.with_raw_response.create(
        model="embed", input="x", dimensions=4, encoding_format="float"
    )
    assert len(raw.parse().data[0].embedding) == 4
    assert raw.headers["x-edgestack-provider"] == "ob" and raw.headers["x-edgestack-attempts"] == "2"
    assert fresh_upstreams.ob.requests[-1].body["dimensions"] == 4


def test_cache_applies_whatever_max_temperature_says(gw, client, fresh_upstreams) -> None:
    first = client.embeddings.with_raw_response.create(model="embed-cached", input="cache this")
    assert first.headers["x-edgestack-cache"] == "MISS"
    gw.drain()
    hit = client.embeddings.with_raw_response.create(model="embed-cached", input="cache this")
    assert hit.headers["x-edgestack-cache"] == "HIT" and fresh_upstreams.oa.calls == 1
    assert hit.parse().data[0].embedding == first.parse().data[0].embedding


def test_workers_ai_model_batches_in_hundreds(gw, client) -> None:
    texts = [f"text number {i}" for i in range(230)]
    result = client.embeddings.create(model=BGE_SMALL, input=texts, encoding_format="float")
    assert len(result.data) == 230 and len(result.data[0].embedding) == 384
    calls = [len(inputs["text"]) for model, inputs in gw.bindings.ai.calls if model == BGE_SMALL]
    assert calls == [100, 100, 30]
    assert (
        result.data[7].embedding
        == client.embeddings.create(model=BGE_SMALL, input=texts[7], encoding_format="float")
        .data[0]
        .embedding
    )


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({"model": "embed", "input": []}, "input", "empty"),
        ({"model": "embed", "input": "x", "encoding_format": "int8"}, "encoding_format", "float or base64"),
        ({"model": "chat", "input": "x"}, "model", "chat route"),
        (
            {"model": "@cf/meta/llama-3.1-8b-instruct", "input": "x"},
            "model",
            "not a Workers AI embedding model",
        ),
        ({"model": BGE_SMALL, "input": "x", "dimensions": 128}, "dimensions", "384"),
        ({"model": "embed", "input": [[1, 2, 3]]}, "input", "token arrays"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(gw, body, param, needle) -> None:
    reply = httpx.post(gw.base_url + "/v1/embeddings", json=body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and needle in error["message"]


def test_embedding_route_used_for_chat_is_a_400(client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="embed", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["param"] == "model" and "/v1/embeddings" in caught.value.message


def test_embeddings_are_metered(gw, client) -> None:
    client.embeddings.create(model="embed", input=["metered one", "metered two"])
    gw.drain()
    usage = httpx.get(gw.base_url + "/v1/usage", params={"group_by": "alias"}).json()
    row = next(r for r in usage["data"] if r["alias"] == "embed")
    assert row["requests"] >= 1 and row["input_tokens"] >= 4 and row["cost_usd"] > 0


# ---------------------------------------------------------------- count_tokens


def test_count_tokens_is_forwarded_to_anthropic(gw, fresh_upstreams) -> None:
    client = anthropic_client(gw.base_url)
    raw = client.messages.with_raw_response.count_tokens(
        model="claude", system="Be brief.", messages=[{"role": "user", "content": "count me"}]
    )
    assert raw.parse().input_tokens > 7 and "x-edgestack-estimate" not in raw.headers
    sent = fresh_upstreams.an.requests[-1]
    assert sent.path == "/v1/messages/count_tokens" and sent.body["model"] == "claude-c"
    assert sent.body["system"] == "Be brief."


def test_count_tokens_is_estimated_without_an_anthropic_candidate(gw) -> None:
    raw = anthropic_client(gw.base_url).messages.with_raw_response.count_tokens(
        model="chat", messages=[{"role": "user", "content": "x" * 400}]
    )
    assert raw.headers["x-edgestack-estimate"] == "true" and 100 <= raw.parse().input_tokens <= 120


def test_count_tokens_errors_use_anthropics_shape(gw) -> None:
    client = anthropic_client(gw.base_url)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "not_found_error"
    reply = httpx.post(gw.base_url + "/v1/messages/count_tokens", json={"model": "claude"})
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"


# ---------------------------------------------------------------- /v1/models


def test_models_lists_aliases_and_embedding_models_with_their_kind(client) -> None:
    kinds = {m.id: m.kind for m in client.models.list().data}  # type: ignore[attr-defined]
    assert kinds["embed"] == "embeddings" and kinds["chat"] == "chat" and kinds["claude"] == "chat"
    assert kinds[BGE_SMALL] == "embeddings"
    assert client.models.retrieve(BGE_SMALL).kind == "embeddings"  # type: ignore[attr-defined]
