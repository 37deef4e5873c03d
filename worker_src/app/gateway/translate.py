"""OpenAI chat completions <-> Anthropic messages: requests, responses and stop reasons (pure).

Wire formats: https://platform.openai.com/docs/api-reference/chat and
https://docs.anthropic.com/en/api/messages. Only used when the client's API differs from the
upstream's; same-API traffic passes through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..web.errors import ApiError
from ..web.jsonbody import read_json
from ..web.sse import dumps
from .tokens import TokenUsage

JsonObject = dict[str, Any]

ANTHROPIC_TO_OPENAI_STOP: dict[str | None, str | None] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
    None: None,
}

OPENAI_TO_ANTHROPIC_STOP: dict[str | None, str | None] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    None: None,
}


def anthropic_stop_to_openai(reason: str | None) -> str | None:
    return ANTHROPIC_TO_OPENAI_STOP.get(reason, "stop")


def openai_stop_to_anthropic(reason: str | None) -> str | None:
    return OPENAI_TO_ANTHROPIC_STOP.get(reason, "end_turn")


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


# ---------------------------------------------------------------- content helpers


def _text_of(content: Any) -> str:
    """Text of an OpenAI content (string or list of parts) or Anthropic blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _image_url_to_anthropic(url: str) -> JsonObject:
    if url.startswith("data:") and ";base64," in url:
        header, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": header, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _openai_parts_to_blocks(content: Any, where: str) -> list[JsonObject]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise _bad(f"{where}.content must be a string or a list of parts", where)
    blocks: list[JsonObject] = []
    for part in content:
        if not isinstance(part, dict):
            raise _bad(f"{where}.content parts must be objects", where)
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise _bad(f"{where}: image_url.url must be a string", where)
            blocks.append(_image_url_to_anthropic(url))
        else:
            raise _bad(f"{where}: content part type {kind!r} cannot be sent to an Anthropic model", where)
    return blocks


USER_BLOCKS_TO_OPENAI = ("text", "image", "tool_result")


def _anthropic_blocks_to_openai_parts(blocks: list[Any], where: str) -> list[JsonObject]:
    parts: list[JsonObject] = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        if block.get("type") not in USER_BLOCKS_TO_OPENAI:
            at = f"{where}.content[{index}].type"
            raise _bad(f"{at}: {block.get('type')!r} blocks cannot be sent to an OpenAI-format model", at)
        if block.get("type") == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif block.get("type") == "image":
            source = block.get("source") or {}
            if source.get("type") == "base64":
                url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
            else:
                url = str(source.get("url", ""))
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _merge_same_role(messages: list[JsonObject]) -> list[JsonObject]:
    """Anthropic wants alternating turns: fold consecutive same-role messages into one."""
    merged: list[JsonObject] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = list(merged[-1]["content"]) + list(message["content"])
        else:
            merged.append({"role": message["role"], "content": list(message["content"])})
    return merged


# ---------------------------------------------------------------- requests


def _request_messages(body: JsonObject) -> Iterator[tuple[int, str, JsonObject]]:
    """Each message of a request as (index, `messages[index]`, message); one that is not an object is a
    bad request."""
    for index, message in enumerate(body.get("messages") or []):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _bad(f"{where} must be an object", where)
        yield index, where, message


def openai_request_to_anthropic(body: JsonObject, model: str, default_max_tokens: int) -> JsonObject:
    """An OpenAI chat-completions request as an Anthropic messages request for `model`."""
    system_texts: list[str] = []
    turns: list[JsonObject] = []
    for index, where, message in _request_messages(body):
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system_texts.append(_text_of(content))
        elif role == "user":
            turns.append({"role": "user", "content": _openai_parts_to_blocks(content, where)})
        elif role == "assistant":
            blocks = _openai_parts_to_blocks(content, where)
            for call_index, call in enumerate(message.get("tool_calls") or []):
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict):
                    raise _bad(f"{where}.tool_calls[{call_index}].function is required", where)
                arguments = function.get("arguments") or "{}"
                try:
                    tool_input = read_json(arguments, what="arguments") if isinstance(arguments, str) else arguments
                except ValueError as error:
                    raise _bad(
                        f"{where}.tool_calls[{call_index}].function.arguments is not JSON: {error}", where
                    ) from None
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": str(call.get("id") or f"toolu_{index}_{call_index}"),
                        "name": str(function.get("name", "")),
                        "input": tool_input if isinstance(tool_input, dict) else {"value": tool_input},
                    }
                )
            if blocks:
                turns.append({"role": "assistant", "content": blocks})
        elif role in ("tool", "function"):
            turns.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": str(message.get("tool_call_id") or message.get("name") or ""),
                            "content": _text_of(content),
                        }
                    ],
                }
            )
        else:
            raise _bad(f"{where}.role {role!r} is not supported", where)

    out: JsonObject = {
        "model": model,
        "messages": _merge_same_role(turns),
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens,
    }
    system = "\n\n".join(text for text in system_texts if text)
    if system:
        out["system"] = system
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)  # Anthropic's range is 0..1
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if isinstance(body.get("n"), int) and body["n"] > 1:
        raise _bad("n > 1 is not supported when the route sends the request to an Anthropic model", "n")
    tools = body.get("tools")
    if tools:
        out["tools"] = [_openai_tool_to_anthropic(tool, i) for i, tool in enumerate(tools)]
        choice = _openai_tool_choice_to_anthropic(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    if isinstance(body.get("thinking"), dict):  # Anthropic's own parameter, sent by OpenAI-format clients
        out["thinking"] = body["thinking"]
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("stream"):
        out["stream"] = True
    return out


def _openai_tool_to_anthropic(tool: Any, index: int) -> JsonObject:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not function.get("name"):
        raise _bad(f"tools[{index}] must be a function tool with a name", f"tools[{index}]")
    converted: JsonObject = {
        "name": function["name"],
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        converted["description"] = function["description"]
    return converted


def _openai_tool_choice_to_anthropic(choice: Any, parallel: Any) -> JsonObject | None:
    converted: JsonObject | None
    if choice is None or choice == "auto":
        converted = {"type": "auto"} if parallel is False else None
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        converted = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        converted = {"type": "tool", "name": choice["function"].get("name", "")}
    else:
        raise _bad(f"tool_choice {choice!r} is not supported", "tool_choice")
    if converted is not None and parallel is False:
        converted["disable_parallel_tool_use"] = True
    return converted


def anthropic_request_to_openai(
    body: JsonObject, model: str, *, use_max_completion_tokens: bool
) -> JsonObject:
    """An Anthropic messages request as an OpenAI chat-completions request for `model`.

    `thinking` (enabled) has no OpenAI request equivalent and is refused; thinking blocks of earlier
    assistant turns are not sent back (OpenAI-format upstreams take no reasoning as input);
    `cache_control` marks are dropped (OpenAI-format upstreams cache prompts by themselves).
    """
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled"):
        raise _bad(
            f"'thinking' cannot be sent to the OpenAI-format model {model!r} of this route "
            "(no request equivalent); drop it or route the alias to an Anthropic provider",
            "thinking",
        )
    messages: list[JsonObject] = []
    system = body.get("system")
    system_text = _text_of(system)
    if system_text:
        messages.append({"role": "system", "content": system_text})
    for _, where, message in _request_messages(body):
        role = message.get("role")
        content = message.get("content")
        if role not in ("user", "assistant"):
            raise _bad(f"{where}.role must be user or assistant", where)
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
            continue
        if not isinstance(content, list):
            raise _bad(f"{where}.content must be a string or a list of blocks", where)
        if role == "assistant":
            text = _text_of(content)
            calls = [
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name", "")),
                        "arguments": dumps(block.get("input") or {}),
                    },
                }
                for block in content
                if isinstance(block, dict) and block.get("type") == "tool_use"
            ]
            assistant: JsonObject = {"role": "assistant", "content": text or None}
            if calls:
                assistant["tool_calls"] = calls
            messages.append(assistant)
            continue
        for block in content:  # tool results become `tool` messages, ahead of the user's own text
            if isinstance(block, dict) and block.get("type") == "tool_result":
                result = block.get("content")
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": str(block.get("tool_use_id", "")),
                        "content": _text_of(result) if not isinstance(result, str) else result,
                    }
                )
        parts = _anthropic_blocks_to_openai_parts(content, where)
        if parts:
            only_text = all(part["type"] == "text" for part in parts)
            messages.append(
                {"role": "user", "content": "".join(p["text"] for p in parts) if only_text else parts}
            )

    out: JsonObject = {"model": model, "messages": messages}
    if body.get("max_tokens") is not None:
        out["max_completion_tokens" if use_max_completion_tokens else "max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    tools = body.get("tools")
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.get("name", ""),
                    "description": tool.get("description", ""),
                    "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
                },
            }
            for tool in tools
            if isinstance(tool, dict)
        ]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            kind = choice.get("type")
            if kind == "any":
                out["tool_choice"] = "required"
            elif kind == "tool":
                out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name", "")}}
            elif kind in ("auto", "none"):
                out["tool_choice"] = kind
            if choice.get("disable_parallel_tool_use"):
                out["parallel_tool_calls"] = False
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


# ---------------------------------------------------------------- responses


def anthropic_response_to_openai(message: JsonObject, created: int) -> JsonObject:
    text_parts: list[str] = []
    thinking: list[str] = []
    tool_calls: list[JsonObject] = []
    for block in message.get("content") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            text_parts.append(str(block.get("text", "")))
        elif block.get("type") == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif block.get("type") == "tool_use":
            tool_calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name", "")),
                        "arguments": dumps(block.get("input") or {}),
                    },
                }
            )
    reply: JsonObject = {
        "role": "assistant",
        "content": "".join(text_parts) if text_parts else None,
        "refusal": None,
    }
    if tool_calls:
        reply["tool_calls"] = tool_calls
    if thinking:  # the field OpenAI-compatible reasoning models (and their SDK users) read
        reply["reasoning_content"] = "".join(thinking)
    usage = TokenUsage.from_anthropic(message.get("usage"))
    return {
        "id": "chatcmpl-" + str(message.get("id", "")),
        "object": "chat.completion",
        "created": created,
        "model": str(message.get("model", "")),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": anthropic_stop_to_openai(message.get("stop_reason")),
            }
        ],
        "usage": usage.to_openai(),
    }


def openai_response_to_anthropic(completion: JsonObject) -> JsonObject:
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = choice.get("message") or {}
    content: list[JsonObject] = []
    reasoning = reply.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _text_of(reply.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    for call in reply.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id", "")),
                "name": str(function.get("name", "")),
                "input": parse_tool_arguments(function.get("arguments")),
            }
        )
    usage = TokenUsage.from_openai(completion.get("usage"))
    return {
        "id": "msg_" + str(completion.get("id", "")).removeprefix("chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "model": str(completion.get("model", "")),
        "content": content,
        "stop_reason": openai_stop_to_anthropic(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": usage.to_anthropic(),
    }


def parse_tool_arguments(arguments: Any) -> JsonObject:
    """OpenAI's `arguments` JSON string as Anthropic's `input` object (never raises)."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = read_json(arguments, what="arguments")
    except ValueError:
        return {"_unparsed_arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}
