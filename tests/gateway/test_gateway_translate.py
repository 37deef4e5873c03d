"""Translation tables OpenAI <-> Anthropic (requests, responses, stop reasons, usage), pure functions.

Shapes follow https://platform.openai.com/docs/api-reference/chat/create and
https://docs.anthropic.com/en/api/messages.
"""

from __future__ import annotations

import json

import pytest
from app.gateway.config import Price
from app.gateway.tokens import TokenUsage, cost_usd
from app.gateway.translate import (
    anthropic_request_to_openai,
    anthropic_response_to_openai,
    anthropic_stop_to_openai,
    openai_request_to_anthropic,
    openai_response_to_anthropic,
    openai_stop_to_anthropic,
    parse_tool_arguments,
)
from app.web.errors import ApiError

WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Get weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "weather",
    "description": "Get weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.mark.parametrize(
    ("anthropic", "openai"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("pause_turn", "stop"),
        ("refusal", "content_filter"),
        (None, None),
    ],
)
def test_stop_reasons_anthropic_to_openai(anthropic, openai) -> None:
    assert anthropic_stop_to_openai(anthropic) == openai


@pytest.mark.parametrize(
    ("openai", "anthropic"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, None),
    ],
)
def test_stop_reasons_openai_to_anthropic(openai, anthropic) -> None:
    assert openai_stop_to_anthropic(openai) == anthropic


# ---------------------------------------------------------------- requests: OpenAI -> Anthropic

OPENAI_TO_ANTHROPIC_CASES = [
    pytest.param(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": "No emoji."},
                {"role": "user", "content": "Hi"},
            ]
        },
        {
            "system": "Be brief.\n\nNo emoji.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_tokens": 4096,
        },
        id="system-and-developer-messages-become-top-level-system",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "user", "content": "And tomorrow?"},
            ],
            "tools": [WEATHER_TOOL_OPENAI],
            "tool_choice": "required",
            "max_tokens": 50,
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                        {"type": "text", "text": "And tomorrow?"},
                    ],
                },
            ],
            "max_tokens": 50,
            "tools": [WEATHER_TOOL_ANTHROPIC],
            "tool_choice": {"type": "any"},
        },
        id="tool-calls-become-tool-use-and-tool-messages-become-tool-results",
    ),
    pytest.param(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER_TOOL_OPENAI],
            "tool_choice": {"type": "function", "function": {"name": "weather"}},
            "parallel_tool_calls": False,
            "temperature": 1.7,
            "top_p": 0.9,
            "stop": "END",
            "max_completion_tokens": 12,
            "user": "u-1",
        },
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
            "max_tokens": 12,
            "tools": [WEATHER_TOOL_ANTHROPIC],
            "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
            "temperature": 1.0,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"},
        },
        id="sampling-stop-choice-and-user",
    ),
    pytest.param(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    ],
                }
            ],
            "stream": True,
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    ],
                }
            ],
            "max_tokens": 4096,
            "stream": True,
        },
        id="image-parts-and-stream",
    ),
]


@pytest.mark.parametrize(("body", "expected"), OPENAI_TO_ANTHROPIC_CASES)
def test_openai_request_to_anthropic(body, expected) -> None:
    assert openai_request_to_anthropic(body, "claude-x", 4096) == {"model": "claude-x", **expected}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n > 1"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}],
                    }
                ]
            },
            "arguments is not JSON",
        ),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "role 'wizard' is not supported"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "cannot be sent to an Anthropic model",
        ),
    ],
)
def test_openai_request_that_anthropic_cannot_take_is_a_400(body, message) -> None:
    with pytest.raises(ApiError) as raised:
        openai_request_to_anthropic(body, "claude-x", 100)
    assert raised.value.status == 400 and message in raised.value.message


# ---------------------------------------------------------------- requests: Anthropic -> OpenAI

ANTHROPIC_TO_OPENAI_CASES = [
    pytest.param(
        {
            "system": [{"type": "text", "text": "Be brief."}],
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "Hi"}],
            "stop_sequences": ["END"],
            "temperature": 0.2,
            "metadata": {"user_id": "u-9"},
            "stream": True,
        },
        False,
        {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "max_tokens": 20,
            "temperature": 0.2,
            "stop": ["END"],
            "user": "u-9",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        id="system-blocks-become-a-system-message",
    ),
    pytest.param(
        {
            "max_tokens": 20,
            "tools": [WEATHER_TOOL_ANTHROPIC],
            "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [{"type": "text", "text": "18C"}],
                        },
                        {"type": "text", "text": "Thanks"},
                    ],
                },
            ],
        },
        True,
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                {"role": "user", "content": "Thanks"},
            ],
            "max_completion_tokens": 20,
            "tools": [WEATHER_TOOL_OPENAI],
            "tool_choice": {"type": "function", "function": {"name": "weather"}},
            "parallel_tool_calls": False,
        },
        id="tool-use-becomes-tool-calls-with-json-string-arguments",
    ),
    pytest.param(
        {
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"},
                        },
                    ],
                }
            ],
        },
        False,
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look"},
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,BBBB"}},
                    ],
                }
            ],
            "max_tokens": 5,
        },
        id="images-become-data-urls",
    ),
]


@pytest.mark.parametrize(("body", "use_max_completion_tokens", "expected"), ANTHROPIC_TO_OPENAI_CASES)
def test_anthropic_request_to_openai(body, use_max_completion_tokens, expected) -> None:
    result = anthropic_request_to_openai(body, "gpt-x", use_max_completion_tokens=use_max_completion_tokens)
    assert result == {"model": "gpt-x", **expected}


# ---------------------------------------------------------------- responses and usage

ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 20,
    },
}
OPENAI_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 5,
    "model": "gpt-x",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 33,
        "completion_tokens": 7,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 20},
    },
}


def test_anthropic_response_to_openai_counts_cached_tokens_into_prompt_tokens() -> None:
    converted = anthropic_response_to_openai(ANTHROPIC_MESSAGE, created=5)
    assert converted == {**OPENAI_COMPLETION, "id": "chatcmpl-msg_1", "model": "claude-x"}


def test_openai_response_to_anthropic_splits_cached_tokens_out_of_input_tokens() -> None:
    converted = openai_response_to_anthropic(OPENAI_COMPLETION)
    assert converted["content"] == ANTHROPIC_MESSAGE["content"]
    assert converted["stop_reason"] == "tool_use" and converted["id"] == "msg_1"
    assert converted["usage"] == {
        "input_tokens": 13,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 20,
    }


def test_usage_is_the_same_from_either_side() -> None:
    from_anthropic = TokenUsage.from_anthropic(ANTHROPIC_MESSAGE["usage"])
    assert (from_anthropic.prompt_tokens, from_anthropic.cached_tokens, from_anthropic.completion_tokens) == (
        33,
        20,
        7,
    )
    assert TokenUsage.from_openai(from_anthropic.to_openai()).prompt_tokens == 33
    assert TokenUsage.from_anthropic(from_anthropic.to_anthropic()) == from_anthropic


def test_cost_uses_cached_input_price_for_cached_tokens() -> None:
    usage = TokenUsage(prompt_tokens=1_000_000, completion_tokens=500_000, cached_tokens=400_000)
    assert cost_usd(usage, Price(input=2.0, output=8.0, cached_input=0.5)) == pytest.approx(1.2 + 0.2 + 4.0)
    assert cost_usd(usage, Price(input=2.0, output=8.0, cached_input=None)) == pytest.approx(
        2.0 + 4.0
    )  # no cached price: input price
    assert cost_usd(usage, None) == 0.0


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        (None, {}),
        ("[1, 2]", {"value": [1, 2]}),
        ("{not json", {"_unparsed_arguments": "{not json"}),
        ({"a": 2}, {"a": 2}),
    ],
)
def test_tool_arguments_string_to_input_object(arguments, expected) -> None:
    assert parse_tool_arguments(arguments) == expected


def test_round_trip_keeps_the_conversation() -> None:
    openai_body = {
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "Q"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "-2C"},
        ],
        "tools": [WEATHER_TOOL_OPENAI],
        "max_tokens": 9,
    }
    anthropic_body = openai_request_to_anthropic(openai_body, "c", 100)
    back = anthropic_request_to_openai(anthropic_body, "g", use_max_completion_tokens=False)
    assert back["messages"][0] == {"role": "system", "content": "S"}
    assert back["messages"][2]["tool_calls"][0]["function"] == {
        "name": "weather",
        "arguments": '{"city":"Oslo"}',
    }
    assert back["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "-2C"}
    assert json.loads(back["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert back["tools"] == [WEATHER_TOOL_OPENAI] and back["max_tokens"] == 9
