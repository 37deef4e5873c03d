"""The Anthropic Messages extras through the gateway, driven by the official SDKs in front of the
loopback fakes: thinking, `cache_control`, `system` as blocks and `anthropic-beta` carried through
to Anthropic; thinking <-> `reasoning_content` and images translated for OpenAI-format upstreams;
what has no mapping refused with a 400 naming the field, in Anthropic's error shape."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from gateway_testing import anthropic_client, openai_client, route, section

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
BETA = "prompt-caching-2024-07-31"


@pytest.fixture
def gw(gateway, fresh_upstreams):
    routes = {"claude": route(("an", "claude-c")), "gpt": route(("oa", "gpt-a"))}
    body = section(fresh_upstreams, routes)
    body["providers"]["an"]["anthropic_betas"] = [BETA]
    return gateway(body)


def test_thinking_cache_control_and_system_blocks_pass_through(gw, fresh_upstreams) -> None:
    client = anthropic_client(gw.base_url)
    system = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
    history = [
        {"role": "user", "content": "first"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "earlier thought", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "an: first"},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "text", "text": "second", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    message = client.messages.create(
        model="claude",
        max_tokens=2048,
        system=system,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=history,
        extra_headers={"anthropic-beta": BETA},
    )
    assert message.content[0].type == "thinking" and message.content[0].thinking == "thinking about second"
    assert message.content[0].signature.startswith("sig-") and message.content[1].text == "an: second"
    sent = fresh_upstreams.an.requests[-1]
    assert sent.body["system"] == system and sent.body["messages"] == history
    assert sent.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent.headers["anthropic-beta"] == BETA


def test_streamed_thinking_passes_through(gw) -> None:
    client = anthropic_client(gw.base_url)
    with client.messages.stream(
        model="claude",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "ponder"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].thinking == "thinking about ponder"
    assert final.content[0].signature.startswith("sig-")


def test_a_beta_not_on_the_allow_list_is_a_400(gw, fresh_upstreams) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client(gw.base_url).messages.create(
            model="claude",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"anthropic-beta": "files-api-2025-04-14"},
        )
    assert "anthropic_betas" in caught.value.message and caught.value.body["type"] == "error"
    assert fresh_upstreams.an.calls == 0


def test_reasoning_content_becomes_thinking_for_anthropic_clients(gw, fresh_upstreams) -> None:
    fresh_upstreams.oa.configure(reasoning=True)
    client = anthropic_client(gw.base_url)
    message = client.messages.create(
        model="gpt", max_tokens=50, messages=[{"role": "user", "content": "why"}]
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "thinking about why"
    with client.messages.stream(
        model="gpt", max_tokens=50, messages=[{"role": "user", "content": "how"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].thinking == "thinking about how"
    assert final.content[1].text == "oa: how"


def test_thinking_becomes_reasoning_content_for_openai_clients(gw, fresh_upstreams) -> None:
    client = openai_client(gw.base_url)
    completion = client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "hmm"}],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    assert completion.choices[0].message.reasoning_content == "thinking about hmm"  # type: ignore[attr-defined]
    stream = client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "hmm"}],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
        stream=True,
    )
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in stream if c.choices
    )
    assert reasoning == "thinking about hmm"


def test_image_blocks_become_image_url_parts(gw, fresh_upstreams) -> None:
    anthropic_client(gw.base_url).messages.create(
        model="gpt",
        max_tokens=10,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                    {"type": "text", "text": "what is this?"},
                ],
            }
        ],
    )
    parts = fresh_upstreams.oa.requests[-1].body["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}


@pytest.mark.parametrize(
    ("extra", "content", "param"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "x", "thinking"),
        (
            {},
            [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}],
            "messages[0].content[0].type",
        ),
    ],
)
def test_what_has_no_openai_mapping_is_refused(gw, fresh_upstreams, extra, content, param) -> None:
    reply = httpx.post(
        gw.base_url + "/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        json={
            "model": "gpt",
            "max_tokens": 2048,
            "messages": [{"role": "user", "content": content}],
            **extra,
        },
    )
    assert reply.status_code == 400
    body = reply.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert param.split("[")[0] in body["error"]["message"] and fresh_upstreams.oa.calls == 0
