"""Loopback fake OpenAI and Anthropic servers following the documented wire formats.

- OpenAI chat completions (https://platform.openai.com/docs/api-reference/chat/create and
  https://platform.openai.com/docs/api-reference/chat-streaming): `POST /v1/chat/completions`,
  `Authorization: Bearer`, `chat.completion` / SSE `chat.completion.chunk` ... `data: [DONE]`;
  with `stream_options.include_usage` every chunk carries `"usage": null` and one last chunk has
  `choices: []` and the usage; errors are `{"error": {message, type, param, code}}`.
- Anthropic messages (https://docs.anthropic.com/en/api/messages and
  https://docs.anthropic.com/en/api/messages-streaming): `POST /v1/messages`, `x-api-key`,
  `anthropic-version` required, `max_tokens` required, `system` top-level only (a `system` role in
  `messages` is rejected), `tool_result` must answer a `tool_use` of the previous assistant turn;
  SSE events message_start, ping, content_block_start/delta/stop, message_delta, message_stop;
  errors are `{"type": "error", "error": {type, message}}`, 529 = overloaded_error.

- Also: OpenAI `POST /v1/embeddings` (deterministic unit vectors, `dimensions`), OpenAI
  `POST /v1/responses` (the same replies as `response` objects, streamed as the documented Responses
  events with `sequence_number`), Anthropic `POST /v1/messages/count_tokens`, Anthropic `thinking`
  blocks when a request enables thinking, and OpenAI-style `reasoning_content` with `reasoning` set.

Behaviour is scripted per test: queued `Fault`s (status codes, `retry-after`, dropped
connections before headers / after headers / mid-body), fixed latency before the headers and
between events, a seeded failure rate (benchmarks), a prompt-cache hit count, and a request log.
Replies are deterministic: `"<name>: <last user text>"`; with tools offered (and tool_choice not
"none") the reply is a call to the first tool with `{"query": <last user text>}`. A prompt containing
`TRIGGER_400` gets a 400 caused by the request itself.

Control over HTTP too (for runs where the gateway is another process):
`POST /_fake/faults` (list of Fault fields), `POST /_fake/script` (list of ScriptedReply fields:
the next replies, in order, whatever the request), `POST /_fake/settings`, `GET /_fake/requests`, `POST /_fake/reset`.
Run standalone: `python -m fakes.llm_upstreams --api openai --latency-ms 100` (prints the base URL).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from fakes.loopback import serve_on_loopback, stop_serving

Api = Literal["openai", "anthropic"]
DropMode = Literal["before_headers", "after_headers", "mid_body"]


@dataclass
class Fault:
    """What the next request gets instead of a normal answer."""

    status: int | None = None  # e.g. 429, 500, 503, 529
    retry_after: str | None = None
    drop: DropMode | None = None
    delay_ms: float = 0.0  # extra latency before the headers


@dataclass
class ScriptedReply:
    """The next answer, whatever the request: text, and/or tool calls `{"name", "arguments": {...}}`."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class UpstreamSettings:
    latency_ms: float = 0.0  # before the response headers
    chunk_delay_ms: float = 0.0  # between SSE events
    failure_rate: float = 0.0  # share of requests answered with `failure_status`
    failure_status: int = 503
    seed: int = 7
    cached_tokens: int = 0  # reported as prompt-cache hits
    reasoning: bool = False  # OpenAI API: send `reasoning_content` first, as reasoning models do
    words_per_chunk: int = 1
    # in-process runs only: a stream sends its first event, then waits for this event to be set
    hold_after_first_event: threading.Event | None = None


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [
                    b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
                ]
                if texts:
                    return " ".join(texts)
    return ""


def _responses_messages(items: Any) -> list[dict[str, Any]]:
    """A Responses `input` as chat-like messages, for the deterministic reply."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages = []
    for item in items or []:
        if item.get("type", "message") == "message":
            content = item.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            messages.append({"role": item.get("role"), "content": content})
        elif item.get("type") == "function_call_output":
            messages.append({"role": "tool", "content": item.get("output")})
    return messages


def _pieces(text: str, words_per_chunk: int) -> list[str]:
    words = text.split(" ")
    out = []
    for i in range(0, len(words), words_per_chunk):
        piece = " ".join(words[i : i + words_per_chunk])
        out.append(piece if i == 0 else " " + piece)
    return out


class FakeLLMUpstream:
    def __init__(
        self,
        api: Api,
        name: str | None = None,
        api_key: str = "test-upstream-key",
        settings: UpstreamSettings | None = None,
    ) -> None:
        self.api = api
        self.name = name or api
        self.api_key = api_key
        self.settings = settings or UpstreamSettings()
        self.faults: deque[Fault] = deque()
        self.script: deque[ScriptedReply] = deque()
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self._rng = random.Random(self.settings.seed)
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ control

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The provider `base_url` for a stack file (OpenAI's includes /v1, Anthropic's does not)."""
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.api == "openai" else root

    def start(self) -> FakeLLMUpstream:
        upstream = self

        class Handler(_Handler):
            fake = upstream

        self._server = serve_on_loopback(Handler, f"fake-{self.name}", server_class=_QuietServer)
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_serving(self._server)
            self._server = None

    def __enter__(self) -> FakeLLMUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def push_script(self, *replies: ScriptedReply) -> None:
        with self.lock:
            self.script.extend(replies)

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.script.clear()
            self.requests.clear()
            self._rng = random.Random(self.settings.seed)

    def configure(self, **settings: Any) -> None:
        with self.lock:
            for key, value in settings.items():
                if not hasattr(self.settings, key):
                    raise ValueError(f"unknown setting {key!r}")
                setattr(self.settings, key, value)
            self._rng = random.Random(self.settings.seed)

    @property
    def calls(self) -> int:
        with self.lock:
            return len(self.requests)

    def next_fault(self) -> Fault | None:
        with self.lock:
            if self.faults:
                return self.faults.popleft()
            if self.settings.failure_rate and self._rng.random() < self.settings.failure_rate:
                return Fault(status=self.settings.failure_status)
            return None

    # ------------------------------------------------------------ replies (pure)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        if self.api == "anthropic":
            kind = {
                400: "invalid_request_error",
                401: "authentication_error",
                403: "permission_error",
                404: "not_found_error",
                413: "request_too_large",
                429: "rate_limit_error",
                529: "overloaded_error",
            }.get(status, "api_error")
            return {"type": "error", "error": {"type": kind, "message": message}}
        kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}.get(
            status, "server_error"
        )
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def embeddings(self, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        """OpenAI `POST /v1/embeddings`: one deterministic unit vector per text (`dimensions`, else 8)."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, self.error_body(401, "Incorrect API key provided.")
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return 400, self.error_body(400, "'input' : input must be a non-empty string or array of strings")
        if body.get("encoding_format") not in (None, "float", "base64"):
            return 400, self.error_body(400, "'encoding_format' must be float or base64")
        size = int(body.get("dimensions") or 8)
        data = []
        for index, text in enumerate(texts):
            seed = sum(text.encode())
            raw = [((seed * (i + 3)) % 97) / 97 + 0.01 for i in range(size)]
            norm = sum(x * x for x in raw) ** 0.5
            data.append({"object": "embedding", "index": index, "embedding": [x / norm for x in raw]})
        tokens = sum(max(1, len(t) // 4) for t in texts)
        return 200, {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def responses_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        """OpenAI `POST /v1/responses` (non-streaming): the same deterministic reply as chat."""
        text, calls, prompt, completion = self.reply(
            {**body, "messages": _responses_messages(body.get("input"))}
        )
        output: list[dict[str, Any]] = []
        if text:
            content = [{"type": "output_text", "text": text, "annotations": []}]
            output.append(
                {
                    "type": "message",
                    "id": "msg_up" + uuid.uuid4().hex[:10],
                    "status": "completed",
                    "role": "assistant",
                    "content": content,
                }
            )
        for call in calls:
            output.append(
                {
                    "type": "function_call",
                    "id": "fc_up" + uuid.uuid4().hex[:10],
                    "status": "completed",
                    "call_id": "call_" + uuid.uuid4().hex[:12],
                    "name": call["name"],
                    "arguments": json.dumps(call["input"]),
                }
            )
        return {
            "id": "resp_up" + uuid.uuid4().hex[:16],
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body["model"],
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": self.settings.cached_tokens},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            },
        }

    def responses_events(self, body: dict[str, Any]) -> list[str]:
        """The documented Responses stream for `responses_reply`, each event with its sequence number."""
        final = self.responses_reply(body)
        events: list[tuple[str, dict[str, Any]]] = []

        def add(name: str, **fields: Any) -> None:
            events.append((name, {"type": name, "sequence_number": len(events), **fields}))

        add("response.created", response={**final, "status": "in_progress", "output": [], "usage": None})
        for index, item in enumerate(final["output"]):
            add(
                "response.output_item.added",
                output_index=index,
                item={
                    **item,
                    "status": "in_progress",
                    **({"content": []} if item["type"] == "message" else {"arguments": ""}),
                },
            )
            if item["type"] == "message":
                text = item["content"][0]["text"]
                ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
                add(
                    "response.content_part.added",
                    **ids,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
                for piece in _pieces(text, self.settings.words_per_chunk):
                    add("response.output_text.delta", **ids, delta=piece, logprobs=[])
                add("response.output_text.done", **ids, text=text, logprobs=[])
                add("response.content_part.done", **ids, part=item["content"][0])
            else:
                half = len(item["arguments"]) // 2
                for part in (item["arguments"][:half], item["arguments"][half:]):
                    add(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=part,
                    )
                add(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    arguments=item["arguments"],
                )
            add("response.output_item.done", output_index=index, item=item)
        add("response.completed", response=final)
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]

    def count_tokens(self, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        """Anthropic `POST /v1/messages/count_tokens`: `{"input_tokens": N}` (7 + 1 per 3 characters)."""
        if headers.get("x-api-key") != self.api_key or not headers.get("anthropic-version"):
            return 401, self.error_body(401, "invalid x-api-key")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or "max_tokens" in body:
            return 400, self.error_body(
                400, "model: Field required; max_tokens: Extra inputs are not permitted"
            )
        material = json.dumps([body.get("system"), body.get("messages"), body.get("tools")])
        return 200, {"input_tokens": 7 + len(material) // 3}

    def validate(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, str] | None:
        """The checks the real API does that matter to a gateway (auth, required fields, roles)."""
        if self.api == "openai":
            if path != "/v1/chat/completions":
                return 404, f"Unknown request URL: POST {path}"
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return 401, "Incorrect API key provided."
            if not isinstance(body, dict) or not isinstance(body.get("model"), str):
                return 400, "you must provide a model parameter"
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                return 400, "'messages' must be a non-empty array"
            open_calls: set[str] = set()
            for index, message in enumerate(messages):
                role = message.get("role")
                if role not in ("system", "developer", "user", "assistant", "tool"):
                    return 400, f"Invalid value for 'messages[{index}].role'"
                if role == "assistant":
                    open_calls = {c.get("id") for c in message.get("tool_calls") or []}
                if role == "tool" and message.get("tool_call_id") not in open_calls:
                    return 400, (
                        f"messages[{index}]: a message with role 'tool' must be a response to a preceding "
                        "message with 'tool_calls'"
                    )
            if "TRIGGER_400" in json.dumps(messages):
                return 400, "This model's maximum context length is 10 tokens (TRIGGER_400)."
            return None
        if path != "/v1/messages":
            return 404, f"Not found: {path}"
        if headers.get("x-api-key") != self.api_key:
            return 401, "invalid x-api-key"
        if not headers.get("anthropic-version"):
            return 400, "anthropic-version: header is required"
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return 400, "model: Field required"
        if not isinstance(body.get("max_tokens"), int):
            return 400, "max_tokens: Field required"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, "messages: Field required"
        previous_tool_uses: set[str] = set()
        for index, message in enumerate(messages):
            role = message.get("role")
            if role not in ("user", "assistant"):
                return 400, (
                    f"messages.{index}.role: Input should be 'user' or 'assistant' "
                    "(use the top-level system parameter)"
                )
            content = message.get("content")
            blocks = content if isinstance(content, list) else []
            if role == "user":
                for block in blocks:
                    if (
                        block.get("type") == "tool_result"
                        and block.get("tool_use_id") not in previous_tool_uses
                    ):
                        return 400, f"messages.{index}: tool_result block has no matching tool_use"
            previous_tool_uses = (
                {b.get("id") for b in blocks if b.get("type") == "tool_use"} if role == "assistant" else set()
            )
        if body.get("temperature") is not None and not 0 <= body["temperature"] <= 1:
            return 400, "temperature: Input should be less than or equal to 1"
        if "TRIGGER_400" in json.dumps(messages):
            return 400, "prompt is too long (TRIGGER_400)"
        return None

    def reply(self, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]], int, int]:
        """(text, tool calls `{"name", "input"}`, prompt tokens, completion tokens) for a request."""
        messages = body.get("messages") or []
        prompt_tokens = max(1, len(json.dumps(messages)) // 4) + self.settings.cached_tokens
        with self.lock:
            scripted = self.script.popleft() if self.script else None
        if scripted is not None:
            calls = [{"name": c["name"], "input": c.get("arguments", {})} for c in scripted.tool_calls or []]
            answer = scripted.text or ""
            return answer, calls, prompt_tokens, max(1, len(answer.split(" "))) + 7 * len(calls)
        text = _last_user_text(messages)
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        none_choice = choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none")
        if tools and not none_choice:
            tool = tools[0]
            name = tool.get("function", {}).get("name") or tool.get(
                "name"
            )  # chat nests it; Responses does not
            return "", [{"name": name, "input": {"query": text}}], prompt_tokens, 7
        answer = f"{self.name}: {text}"
        return answer, [], prompt_tokens, len(answer.split(" "))

    def reasoning_text(self, body: dict[str, Any]) -> str | None:
        """Reasoning for this reply: OpenAI fakes with `reasoning` set; Anthropic with `thinking` enabled."""
        if self.api == "openai":
            wanted = self.settings.reasoning
        else:
            wanted = isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled"
        return f"thinking about {_last_user_text(body.get('messages') or [])}" if wanted else None

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text, calls, prompt, completion = self.reply(body)
        message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
        reasoning = self.reasoning_text(body)
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = [
                {
                    "id": "call_" + uuid.uuid4().hex[:12],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["input"])},
                }
                for call in calls
            ]
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:16],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": self.settings.cached_tokens},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def openai_chunks(self, body: dict[str, Any]) -> list[str]:
        text, calls, prompt, completion = self.reply(body)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:16],
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            data = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                data["usage"] = None
            return json.dumps(data)

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        reasoning = self.reasoning_text(body)
        if reasoning:
            events.extend(chunk({"reasoning_content": piece}) for piece in _pieces(reasoning, 1))
        if text:
            events.extend(chunk({"content": piece}) for piece in _pieces(text, self.settings.words_per_chunk))
        for index, call in enumerate(calls):
            arguments = json.dumps(call["input"])
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": "call_" + uuid.uuid4().hex[:12],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
        events.append(chunk({}, "tool_calls" if calls else "stop"))
        if include_usage:
            events.append(
                json.dumps(
                    {
                        **base,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                            "prompt_tokens_details": {"cached_tokens": self.settings.cached_tokens},
                        },
                    }
                )
            )
        events.append("[DONE]")
        return [f"data: {event}\n\n" for event in events]

    def message(self, body: dict[str, Any]) -> dict[str, Any]:
        text, calls, prompt, completion = self.reply(body)
        content: list[dict[str, Any]] = []
        reasoning = self.reasoning_text(body)
        if reasoning:
            content.append(
                {"type": "thinking", "thinking": reasoning, "signature": "sig-" + uuid.uuid4().hex[:8]}
            )
        if text or not calls:
            content.append({"type": "text", "text": text})
        content.extend(
            {
                "type": "tool_use",
                "id": "toolu_" + uuid.uuid4().hex[:16],
                "name": call["name"],
                "input": call["input"],
            }
            for call in calls
        )
        cached = self.settings.cached_tokens
        return {
            "id": "msg_" + uuid.uuid4().hex[:16],
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if calls else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt - cached,
                "output_tokens": completion,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": cached,
            },
        }

    def anthropic_events(self, body: dict[str, Any]) -> list[str]:
        message = self.message(body)
        usage = message["usage"]
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }

        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        events = [event("message_start", {"message": start}), event("ping", {})]
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                events.append(
                    event(
                        "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
                    )
                )
                for piece in _pieces(block["text"], self.settings.words_per_chunk):
                    events.append(
                        event(
                            "content_block_delta",
                            {"index": index, "delta": {"type": "text_delta", "text": piece}},
                        )
                    )
            elif block["type"] == "thinking":
                start_block = {"type": "thinking", "thinking": "", "signature": ""}
                events.append(event("content_block_start", {"index": index, "content_block": start_block}))
                for piece in _pieces(block["thinking"], self.settings.words_per_chunk):
                    delta = {"type": "thinking_delta", "thinking": piece}
                    events.append(event("content_block_delta", {"index": index, "delta": delta}))
                delta = {"type": "signature_delta", "signature": block["signature"]}
                events.append(event("content_block_delta", {"index": index, "delta": delta}))
            else:
                events.append(
                    event("content_block_start", {"index": index, "content_block": {**block, "input": {}}})
                )
                arguments = json.dumps(block["input"])
                half = len(arguments) // 2
                for part in (arguments[:half], arguments[half:]):
                    events.append(
                        event(
                            "content_block_delta",
                            {"index": index, "delta": {"type": "input_json_delta", "partial_json": part}},
                        )
                    )
            events.append(event("content_block_stop", {"index": index}))
        events.append(
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(event("message_stop", {}))
        return events


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog: concurrent benchmark clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:  # dropped connections are intended
        return


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMUpstream
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as real servers do for SSE

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # ------------------------------------------------------------ plumbing

    def _read_json(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _send_json(
        self, status: int, payload: Any, extra: dict[str, str] | None = None, drop_mid_body: bool = False
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if drop_mid_body:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._abort()
            return
        self.wfile.write(data)

    def _abort(self) -> None:
        """Drop the TCP connection without finishing the HTTP message."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # ------------------------------------------------------------ routes

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/_fake/requests":
            with self.fake.lock:
                payload = [asdict(r) for r in self.fake.requests]
            self._send_json(200, payload)
            return
        self._send_json(404, self.fake.error_body(404, f"no route GET {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_json()
        if self.path.startswith("/_fake/"):
            self._control(body)
            return
        fake = self.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        with fake.lock:
            fake.requests.append(RecordedRequest(self.path, headers, body))
        fault = fake.next_fault()
        delay = fake.settings.latency_ms + (fault.delay_ms if fault else 0)
        if delay:
            time.sleep(delay / 1000)
        if fault and fault.drop == "before_headers":
            self._abort()
            return
        if fault and fault.status:
            extra = {"retry-after": fault.retry_after} if fault.retry_after else {}
            message = {429: "Rate limit reached", 529: "Overloaded"}.get(
                fault.status, "The server had an error"
            )
            self._send_json(fault.status, fake.error_body(fault.status, message), extra)
            return
        if fake.api == "openai" and self.path == "/v1/responses":
            if headers.get("authorization") != f"Bearer {fake.api_key}":
                self._send_json(401, fake.error_body(401, "Incorrect API key provided."))
            elif not isinstance(body, dict) or "input" not in body or body.get("previous_response_id"):
                self._send_json(400, fake.error_body(400, "input required; previous_response_id unknown"))
            elif body.get("stream"):
                self._stream_events(fake.responses_events(body), fault)
            else:
                self._send_json(200, fake.responses_reply(body))
            return
        endpoint = {"openai": "/v1/embeddings", "anthropic": "/v1/messages/count_tokens"}[fake.api]
        if self.path == endpoint:
            answer = fake.embeddings if fake.api == "openai" else fake.count_tokens
            self._send_json(*answer(headers, body))
            return
        problem = fake.validate(self.path, headers, body)
        if problem is not None:
            self._send_json(problem[0], fake.error_body(*problem))
            return
        assert isinstance(body, dict)
        if body.get("stream"):
            self._stream(body, fault)
            return
        payload = fake.completion(body) if fake.api == "openai" else fake.message(body)
        self._send_json(200, payload, drop_mid_body=bool(fault and fault.drop == "mid_body"))

    def _stream(self, body: dict[str, Any], fault: Fault | None) -> None:
        fake = self.fake
        self._stream_events(
            fake.openai_chunks(body) if fake.api == "openai" else fake.anthropic_events(body), fault
        )

    def _stream_events(self, events: list[str], fault: Fault | None) -> None:
        fake = self.fake
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if fault and fault.drop == "after_headers":
            self._abort()
            return
        cut = len(events) // 2 if fault and fault.drop == "mid_body" else None
        for index, event in enumerate(events):
            if cut is not None and index == cut:
                self._abort()
                return
            if index == 1 and fake.settings.hold_after_first_event is not None:
                fake.settings.hold_after_first_event.wait(timeout=30)
            if index and fake.settings.chunk_delay_ms:
                time.sleep(fake.settings.chunk_delay_ms / 1000)
            self._chunk(event.encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _control(self, body: Any) -> None:
        fake = self.fake
        if self.path == "/_fake/faults" and isinstance(body, list):
            fake.push(*(Fault(**item) for item in body))
        elif self.path == "/_fake/settings" and isinstance(body, dict):
            fake.configure(**body)
        elif self.path == "/_fake/script" and isinstance(body, list):
            fake.push_script(*(ScriptedReply(**item) for item in body))
        elif self.path == "/_fake/reset":
            fake.reset()
        else:
            self._send_json(400, {"error": "bad control request"})
            return
        self._send_json(200, {"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a fake OpenAI or Anthropic upstream on 127.0.0.1")
    parser.add_argument("--api", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--name", default=None)
    parser.add_argument("--api-key", default="test-upstream-key")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeLLMUpstream(
        args.api,
        args.name,
        args.api_key,
        UpstreamSettings(latency_ms=args.latency_ms, failure_rate=args.failure_rate),
    ).start()
    print(fake.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
