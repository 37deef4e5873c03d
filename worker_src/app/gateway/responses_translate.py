"""OpenAI Responses API <-> the gateway's chat pipeline (pure).

A `POST /v1/responses` body becomes an OpenAI chat-completions body, which the chat pipeline routes
and translates to every provider kind; the `chat.completion` it returns becomes a `response` object.
Wire format: https://platform.openai.com/docs/api-reference/responses (input items `message` with
`input_text` / `input_image` / `output_text` parts, `function_call`, `function_call_output`).

What cannot be expressed as a chat request is refused with a 400 naming the field, never dropped:
built-in tools (web search, file search, computer use, ...), unknown item or part types, `include`
values, background mode, prompt templates. What is approximated is listed in docs/gateway.md.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..web.errors import ApiError
from .tokens import TokenUsage
from .translate import JsonObject, dumps

# Fields a Responses request may carry; anything else is a 400 naming it.
ACCEPTED_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "metadata",
        "text",
        "stream",
        "stream_options",
        "store",
        "previous_response_id",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "service_tier",
        "truncation",
        "include",
        "reasoning",
        "top_logprobs",
    }
)
BUILT_IN_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "file_search",
        "computer_use",
        "computer_use_preview",
        "code_interpreter",
        "image_generation",
        "mcp",
        "local_shell",
        "shell",
        "apply_patch",
        "custom",
        "tool_search",
    }
)
MESSAGE_ROLES = ("user", "assistant", "system", "developer")


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


class ResponsesRequest(NamedTuple):
    """A checked Responses request and its chat-completions equivalent (without earlier turns)."""

    body: JsonObject  # as the client sent it
    alias: str
    stream: bool
    store: bool | None  # None: not said (stored when the gateway has a store)
    previous_response_id: str | None
    instructions: str | None
    input_items: list[JsonObject]  # `input` as a list of items
    chat_messages: list[JsonObject]  # this request's items as chat messages
    chat_options: JsonObject  # every chat field but `model` and `messages`


# ---------------------------------------------------------------- requests


def parse_responses_body(body: JsonObject) -> ResponsesRequest:
    unknown = sorted(set(body) - ACCEPTED_FIELDS)
    if unknown:
        raise _bad(f"'{unknown[0]}' is not supported by this gateway's Responses API", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' must be a non-empty string (a gateway model alias)", "model")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    store = body.get("store")
    if store is not None and not isinstance(store, bool):
        raise _bad("'store' must be true or false", "store")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise _bad("'previous_response_id' must be a response id", "previous_response_id")
    _check_unsupported(body)
    items = input_items(body.get("input"))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _bad("'instructions' must be a string", "instructions")
    return ResponsesRequest(
        body=body,
        alias=model,
        stream=stream,
        store=store,
        previous_response_id=previous,
        instructions=instructions or None,
        input_items=items,
        chat_messages=items_to_chat_messages(items, "input"),
        chat_options=_chat_options(body),
    )


def _check_unsupported(body: JsonObject) -> None:
    include = body.get("include")
    if include:
        if not isinstance(include, list):
            raise _bad("'include' must be a list", "include")
        raise _bad(f"include[0]: {include[0]!r} is not supported by this gateway", "include[0]")
    truncation = body.get("truncation")
    if truncation not in (None, "disabled"):
        raise _bad("'truncation' must be \"disabled\" (automatic truncation is not supported)", "truncation")
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise _bad("'reasoning' must be an object", "reasoning")
    if isinstance(reasoning, dict) and reasoning.get("summary") not in (None, "auto"):
        raise _bad("reasoning.summary is not supported by this gateway", "reasoning.summary")
    if body.get("top_logprobs"):
        raise _bad("'top_logprobs' is not supported by this gateway", "top_logprobs")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _bad(f"'{name}' must be a number", name)
    limit = body.get("max_output_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise _bad("'max_output_tokens' must be a positive integer", "max_output_tokens")
    metadata = body.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        raise _bad("'metadata' must be an object of strings", "metadata")


def input_items(raw: Any) -> list[JsonObject]:
    """`input` as a list of items (a string is one user message)."""
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise _bad("'input' must be a string or a non-empty list of items", "input")
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _bad(f"input[{index}] must be an object", f"input[{index}]")
    return list(raw)


def items_to_chat_messages(items: list[JsonObject], where: str) -> list[JsonObject]:
    """Responses items as chat messages: consecutive function calls join one assistant message."""
    messages: list[JsonObject] = []
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            messages.append(_message(item, at))
        elif kind == "function_call":
            call = {
                "id": _string(item, "call_id", at),
                "type": "function",
                "function": {"name": _string(item, "name", at), "arguments": _arguments(item, at)},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant" and isinstance(last.get("content"), str):
                last["tool_calls"] = [call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": _string(item, "call_id", at),
                    "content": _tool_output(item.get("output"), at),
                }
            )
        elif kind == "reasoning":
            continue  # a model's reasoning carries no content the chat format can send back
        else:
            raise _bad(f"{at}.type {kind!r} is not a supported input item", f"{at}.type")
    return messages


def _string(item: JsonObject, name: str, at: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise _bad(f"{at}.{name} must be a non-empty string", f"{at}.{name}")
    return value


def _arguments(item: JsonObject, at: str) -> str:
    value = item.get("arguments", "")
    if isinstance(value, str):
        return value or "{}"
    raise _bad(f"{at}.arguments must be a JSON string", f"{at}.arguments")


def _tool_output(output: Any, at: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = _parts(output, f"{at}.output", "user")
        return "".join(p["text"] for p in parts if p["type"] == "text")
    raise _bad(f"{at}.output must be a string or a list of parts", f"{at}.output")


def _message(item: JsonObject, at: str) -> JsonObject:
    role = item.get("role")
    if role not in MESSAGE_ROLES:
        raise _bad(f"{at}.role must be one of {', '.join(MESSAGE_ROLES)}", f"{at}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise _bad(f"{at}.content must be a string or a list of parts", f"{at}.content")
    parts = _parts(content, f"{at}.content", str(role))
    if all(part["type"] == "text" for part in parts):
        return {"role": role, "content": "".join(part["text"] for part in parts)}
    if role != "user":
        raise _bad(f"{at}.content: images are only accepted in user messages", f"{at}.content")
    return {"role": role, "content": parts}


def _parts(content: list[Any], at: str, role: str) -> list[JsonObject]:
    parts: list[JsonObject] = []
    for index, part in enumerate(content):
        where = f"{at}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text", "refusal"):
            text = part.get("text", part.get("refusal", ""))
            if not isinstance(text, str):
                raise _bad(f"{where}.text must be a string", f"{where}.text")
            parts.append({"type": "text", "text": text})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str) or not url:
                raise _bad(f"{where}.image_url must be a URL or data URL (file_id is not supported)", where)
            image: JsonObject = {"url": url}
            if part.get("detail") in ("low", "high"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise _bad(f"{where}.type {kind!r} is not a supported content part", f"{where}.type")
    return parts


def _chat_options(body: JsonObject) -> JsonObject:
    options: JsonObject = {}
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise _bad("'tools' must be a list", "tools")
        options["tools"] = [_tool(tool, index) for index, tool in enumerate(tools)]
    choice = body.get("tool_choice")
    if choice is not None:
        options["tool_choice"] = _tool_choice(choice)
    if body.get("parallel_tool_calls") is not None:
        if not isinstance(body["parallel_tool_calls"], bool):
            raise _bad("'parallel_tool_calls' must be true or false", "parallel_tool_calls")
        if tools:
            options["parallel_tool_calls"] = body["parallel_tool_calls"]
    if body.get("max_output_tokens") is not None:
        options["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            options[name] = body[name]
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        options["user"] = user
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        options["response_format"] = response_format
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        options["reasoning_effort"] = effort
    return options


def _tool(tool: Any, index: int) -> JsonObject:
    at = f"tools[{index}]"
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind in BUILT_IN_TOOLS:
        raise _bad(
            f"{at}: the built-in tool {kind!r} is not supported by this gateway (only function tools)",
            f"{at}.type",
        )
    if kind != "function":
        raise _bad(f"{at}.type must be 'function'; got {kind!r}", f"{at}.type")
    assert isinstance(tool, dict)
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(f"{at}.name must be a non-empty string", f"{at}.name")
    function: JsonObject = {
        "name": name,
        "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> str | JsonObject:
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    kind = choice.get("type") if isinstance(choice, dict) else choice
    raise _bad(f"tool_choice {kind!r} is not supported (auto, none, required or a function)", "tool_choice")


def _response_format(text: Any) -> JsonObject | None:
    if text is None:
        return None
    if not isinstance(text, dict):
        raise _bad("'text' must be an object", "text")
    if text.get("verbosity") not in (None, "medium"):
        raise _bad("text.verbosity is not supported by this gateway", "text.verbosity")
    fmt = text.get("format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        assert isinstance(fmt, dict)
        if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
            raise _bad("text.format json_schema needs a 'name' and a 'schema' object", "text.format")
        schema: JsonObject = {"name": fmt["name"], "schema": fmt["schema"]}
        for name in ("strict", "description"):
            if fmt.get(name) is not None:
                schema[name] = fmt[name]
        return {"type": "json_schema", "json_schema": schema}
    raise _bad(f"text.format.type {kind!r} is not supported (text, json_object, json_schema)", "text.format")


def chat_body(request: ResponsesRequest, history: list[JsonObject]) -> JsonObject:
    """The chat-completions body: earlier turns (from `previous_response_id`), then this request."""
    messages: list[JsonObject] = []
    if request.instructions:  # instructions apply to this request only, as in OpenAI's API
        messages.append({"role": "system", "content": request.instructions})
    if history:
        messages.extend(items_to_chat_messages(history, "previous_response"))
    messages.extend(request.chat_messages)
    body: JsonObject = {"model": request.alias, "messages": messages, **request.chat_options}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# ---------------------------------------------------------------- responses


def usage_object(usage: TokenUsage, reasoning_tokens: int = 0) -> JsonObject:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def response_shell(request: ResponsesRequest, response_id: str, created_at: int, store: bool) -> JsonObject:
    """The `response` object without output, as `response.created` sends it."""
    body = request.body
    fmt = (body.get("text") or {}).get("format") or {"type": "text"}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": request.alias,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": request.previous_response_id,
        "reasoning": body.get("reasoning"),
        "store": store,
        "temperature": body.get("temperature"),
        "text": {"format": fmt},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": body.get("user"),
    }


def message_item(item_id: str, text: str, status: str = "completed") -> JsonObject:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        if status == "completed"
        else [],
    }


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> JsonObject:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def finish_response(
    shell: JsonObject, output: list[JsonObject], usage: TokenUsage, finish: str | None
) -> JsonObject:
    """The final `response` object: output items, usage, and `incomplete` when the model hit its limit."""
    response = dict(shell)
    response["output"] = output
    response["usage"] = usage_object(usage)
    if finish == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"
    return response


def completion_to_response(completion: JsonObject, shell: JsonObject) -> JsonObject:
    """A `chat.completion` (first choice) as a `response` object with the shell's request fields."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    base = str(shell["id"]).removeprefix("resp_")
    output: list[JsonObject] = []
    text = message.get("content")
    if isinstance(text, str) and text:
        output.append(message_item(f"msg_{base}", text))
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        arguments = function.get("arguments")
        output.append(
            function_call_item(
                f"fc_{base}_{index}",
                str(call.get("id") or f"call_{base}_{index}"),
                str(function.get("name") or ""),
                arguments if isinstance(arguments, str) else dumps(arguments or {}),
            )
        )
    if not output:
        output.append(message_item(f"msg_{base}", ""))
    usage = TokenUsage.from_openai(completion.get("usage"))
    return finish_response(shell, output, usage, choice.get("finish_reason"))


def output_text(response: JsonObject) -> str:
    """The text of the message items, as the SDKs' `output_text` computes it."""
    return "".join(
        part.get("text", "")
        for item in response.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )


# ---------------------------------------------------------------- native passthrough (kind: openai)


def upstream_responses_body(request: ResponsesRequest, history: list[JsonObject]) -> JsonObject:
    """The client's body for OpenAI's own `/responses`: earlier turns inlined (the ids are the
    gateway's, not OpenAI's), stored by the gateway rather than upstream."""
    body = {k: v for k, v in request.body.items() if k not in ("previous_response_id", "store")}
    if history:  # item ids and reasoning items refer to upstream state that was never stored there
        earlier = [
            {k: v for k, v in item.items() if k != "id"}
            for item in history
            if item.get("type") != "reasoning"
        ]
        body["input"] = earlier + request.input_items
    body["store"] = False
    return body


def adopt_upstream_response(upstream: JsonObject, shell: JsonObject) -> JsonObject:
    """OpenAI's `response` under the gateway's id, alias and storage fields."""
    own = ("id", "model", "previous_response_id", "store", "metadata")
    return {**upstream, **{name: shell[name] for name in own}}


def responses_usage(usage: Any) -> TokenUsage:
    """A Responses `usage` object as the gateway's TokenUsage."""
    if not isinstance(usage, dict):
        return TokenUsage()
    details = usage.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return TokenUsage.from_openai(
        {
            "prompt_tokens": usage.get("input_tokens"),
            "completion_tokens": usage.get("output_tokens"),
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    )
