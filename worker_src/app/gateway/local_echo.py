"""The `local-echo` provider: a built-in stand-in for a model, so chat, agents and tools answer offline.

It is no language model. It answers deterministically from the request alone (docs/gateway.md,
"The local echo model"):

- the last message is a tool result: it answers with that result (`<tool> returned: <content>`);
- the last user message is `call TOOL {json arguments}` and TOOL is one of the request's `tools`:
  it emits that tool call (arguments default to `{}`);
- otherwise it echoes the last user message, saying what it is.

Replies are OpenAI chat completions (the gateway translates them for `/v1/messages`), stream like
any other provider, and report usage estimated at 4 characters per token (`tokens.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from ..web.sse import DONE, encode_event
from .streams import openai_chunk, openai_completion_to_chunks
from .tokens import CHARS_PER_TOKEN, estimate_prompt_tokens
from .translate import JsonObject, dumps

CALL_COMMAND = re.compile(r"^call\s+([A-Za-z0-9_-]{1,64})(?:\s+(.*))?$", re.DOTALL)
ECHO_PREFIX = "local/echo (no language model; set OPENAI_API_KEY in .dev.vars for one) heard: "


def _text(content: Any) -> str:
    """Message content as plain text (a string or OpenAI content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _tool_names(body: JsonObject) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def _called_tools(messages: Sequence[Any]) -> dict[str, str]:
    """tool_call_id -> tool name, from the assistant messages of the conversation."""
    names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    names[str(call.get("id"))] = str((call.get("function") or {}).get("name", "tool"))
    return names


def _answer_tool_results(messages: Sequence[Any]) -> str:
    names = _called_tools(messages)
    results = []
    for message in reversed(messages):
        if not (isinstance(message, dict) and message.get("role") == "tool"):
            break
        name = names.get(str(message.get("tool_call_id")), "the tool")
        results.append(f"{name} returned: {_text(message.get('content'))}")
    return "\n".join(reversed(results))


def _tool_call(name: str, arguments: JsonObject, messages: Sequence[Any]) -> JsonObject:
    """One OpenAI tool call; its id depends on the conversation so far (deterministic, unique per turn)."""
    digest = hashlib.sha256(dumps([messages, name, arguments]).encode()).hexdigest()[:24]
    return {"id": f"call_{digest}", "type": "function", "function": {"name": name, "arguments": dumps(arguments)}}


def reply_message(body: JsonObject) -> JsonObject:
    """The assistant message local-echo answers `body` (an OpenAI chat request) with."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return {"role": "assistant", "content": _answer_tool_results(messages)}
    said = _text(last.get("content")).strip()
    command = CALL_COMMAND.match(said)
    if command is None:
        return {"role": "assistant", "content": ECHO_PREFIX + said}
    name, raw_arguments = command.group(1), (command.group(2) or "").strip()
    available = _tool_names(body)
    if name not in available:
        offered = ", ".join(available) or "none"
        return {"role": "assistant", "content": f"local/echo: no tool named {name!r} in this request (tools: {offered})"}
    try:
        arguments = json.loads(raw_arguments) if raw_arguments else {}
    except ValueError as error:
        return {"role": "assistant", "content": f"local/echo: the arguments of {name} are not JSON: {error}"}
    if not isinstance(arguments, dict):
        return {"role": "assistant", "content": f"local/echo: the arguments of {name} must be a JSON object"}
    return {"role": "assistant", "content": None, "tool_calls": [_tool_call(name, arguments, messages)]}


def completion(body: JsonObject, completion_id: str, created: int) -> JsonObject:
    message = reply_message(body)
    output = message.get("content") or dumps(message.get("tool_calls"))
    prompt_tokens = estimate_prompt_tokens(body)
    completion_tokens = max(1, len(output) // CHARS_PER_TOKEN)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": str(body.get("model", "")),
        "choices": [
            {
                "index": 0,
                "message": {**message, "refusal": None},
                "logprobs": None,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def local_echo_payload(body: JsonObject, stream: bool, request_id: str, created: int) -> bytes:
    """The reply body an OpenAI upstream would send: JSON, or SSE chunks ending with usage and [DONE]."""
    reply = completion(body, f"chatcmpl-echo-{request_id}", created)
    if not stream:
        return dumps(reply).encode()
    # Stream word by word: the replayed completion without its text, the words inserted after the role.
    message = reply["choices"][0]["message"]
    words = re.findall(r"\s*\S+\s*", message.get("content") or "")
    without_text = {**reply, "choices": [{**reply["choices"][0], "message": {**message, "content": None}}]}
    chunks = openai_completion_to_chunks(without_text, include_usage=True)
    created, model = int(reply["created"]), str(reply["model"])
    chunks[1:1] = [openai_chunk(str(reply["id"]), model, created, {"content": word}) for word in words]
    return b"".join(encode_event(dumps(chunk)) for chunk in chunks) + DONE
