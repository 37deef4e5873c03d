"""Upstream calls: build the provider's request and return its raw reply.

- openai / openai-compatible: `POST {base_url}/chat/completions`, `Authorization: Bearer <secret>`
  (base_url includes `/v1`, as the OpenAI SDK's does).
- anthropic: `POST {base_url}/v1/messages`, `x-api-key`, `anthropic-version: 2023-06-01`.
- workers-ai: `env.AI.run(model, inputs)` through the AI binding; the reply is adapted to OpenAI's
  wire format (https://developers.cloudflare.com/workers-ai/models/ text-generation schema:
  `{response, tool_calls, usage}`, streaming `data: {"response": ...}` ... `data: [DONE]`).
- local-echo: answered in-process by `local_echo.py` (no language model, no network).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, NamedTuple

from ..bindings import UpstreamError, UpstreamResponse
from ..services import Services
from ..web.errors import Api, ApiError
from ..web.jsonbody import read_json
from ..web.sse import DONE, SseDecoder, encode_event
from .config import DEFAULT_BASE_URLS, Candidate, Provider
from .local_echo import local_echo_payload
from .streams import openai_chunk, openai_completion_to_chunks
from .translate import (
    JsonObject,
    anthropic_request_to_openai,
    dumps,
    openai_request_to_anthropic,
)

ANTHROPIC_VERSION = "2023-06-01"
NO_SUCH_MODEL = "No such model"  # Workers AI error 5007: "No such model <name> or task"


OPENAI_PATHS: dict[str, str] = {
    "chat": "chat/completions",
    "embeddings": "embeddings",
    "responses": "responses",
    "count_tokens": "chat/completions",  # never sent: count_tokens goes to anthropic providers only
}


def speaks_responses(provider: Provider) -> bool:
    """OpenAI itself serves the Responses API; other kinds get it translated to their chat API."""
    return provider.kind == "openai"


class ProviderMisconfigured(Exception):
    """The provider cannot be called at all (missing secret or binding): skip it, do not retry it."""


Endpoint = Literal["chat", "embeddings", "count_tokens", "responses"]


class UpstreamRequest(NamedTuple):
    """The body to send, in the provider's own API shape."""

    body: JsonObject
    stream: bool
    endpoint: Endpoint = "chat"


def build_upstream_body(
    client_api: Api,
    client_body: JsonObject,
    provider: Provider,
    candidate: Candidate,
    stream: bool,
    endpoint: Endpoint = "chat",
) -> UpstreamRequest:
    """Translate (or copy) the client's body for this candidate, with the candidate's model."""
    if endpoint == "embeddings":  # OpenAI's format; floats upstream, re-encoded for the client
        body = {**client_body, "model": candidate.model, "encoding_format": "float"}
        return UpstreamRequest(body=body, stream=False, endpoint="embeddings")
    if endpoint == "responses":  # OpenAI's own Responses API: the client's body, with this model
        return UpstreamRequest(
            body={**client_body, "model": candidate.model}, stream=stream, endpoint="responses"
        )
    if endpoint == "count_tokens":  # Anthropic's format, to anthropic providers only
        fields = ("messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")
        body = {name: client_body[name] for name in fields if name in client_body}
        return UpstreamRequest(body={"model": candidate.model, **body}, stream=False, endpoint="count_tokens")
    if provider.api == client_api:
        body = dict(client_body)
        body["model"] = candidate.model
        if provider.api == "openai" and stream:
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True  # the gateway needs usage; strips the chunk if not asked for
            body["stream_options"] = options
        return UpstreamRequest(body=body, stream=stream)
    if provider.api == "anthropic":
        return UpstreamRequest(
            body=openai_request_to_anthropic(client_body, candidate.model, provider.default_max_tokens),
            stream=stream,
        )
    return UpstreamRequest(
        body=anthropic_request_to_openai(
            client_body, candidate.model, use_max_completion_tokens=provider.kind == "openai"
        ),
        stream=stream,
    )


def anthropic_betas(provider: Provider, header: str) -> str:
    """The client's `anthropic-beta` values for this provider; one not on its allow-list is a 400."""
    values = [value.strip() for value in header.split(",") if value.strip()]
    refused = [value for value in values if value not in provider.anthropic_betas]
    if refused:
        raise ApiError(
            400,
            "invalid_request",
            f"anthropic-beta {refused[0]!r} is not allowed for provider {provider.name!r} "
            f"(gateway.providers.{provider.name}.anthropic_betas)",
            param="anthropic-beta",
        )
    return ",".join(values)


def _secret(provider: Provider, secrets: Mapping[str, str]) -> str | None:
    if provider.api_key_secret is None:
        return None
    value = secrets.get(provider.api_key_secret)
    if not value:
        raise ProviderMisconfigured(
            f"provider {provider.name!r} needs Worker secret {provider.api_key_secret} (not set; "
            f"locally put {provider.api_key_secret}=... in .dev.vars, deployed set the Worker secret)"
        )
    return value


def check_usable(services: Services, provider: Provider) -> None:
    """Raise ProviderMisconfigured when the provider's secret or binding is missing."""
    if provider.kind == "local-echo":
        return
    if provider.kind == "workers-ai":
        if services.ai is None:
            raise ProviderMisconfigured(
                f"provider {provider.name!r} needs the Workers AI binding (not bound)"
            )
        return
    _secret(provider, services.secrets)


def provider_secret_values(providers: Mapping[str, Provider], secrets: Mapping[str, str]) -> tuple[str, ...]:
    """Every provider key value, for scrubbing text that leaves the gateway."""
    return tuple(
        secrets[p.api_key_secret]
        for p in providers.values()
        if p.api_key_secret and secrets.get(p.api_key_secret)
    )


async def send(
    services: Services,
    provider: Provider,
    request: UpstreamRequest,
    client_headers: Mapping[str, str],
    request_id: str,
) -> UpstreamResponse:
    """Send one upstream call. Raises UpstreamError (connect/timeout) or ProviderMisconfigured."""
    if provider.kind == "workers-ai":
        if request.endpoint == "embeddings":
            return await _run_workers_ai_embeddings(services, provider, request)
        return await _run_workers_ai(services, provider, request, request_id)
    if provider.kind == "local-echo":
        payload = local_echo_payload(request.body, request.stream, request_id, int(services.clock()))
        content_type = "text/event-stream" if request.stream else "application/json"
        return UpstreamResponse(200, {"content-type": content_type}, _iterate_bytes(payload))
    key = _secret(provider, services.secrets)
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if request.stream else "application/json",
    }
    if provider.api == "anthropic":
        base = provider.base_url or DEFAULT_BASE_URLS["anthropic"]
        url = f"{base}/v1/messages{'/count_tokens' if request.endpoint == 'count_tokens' else ''}"
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if key:
            headers["x-api-key"] = key
        betas = anthropic_betas(provider, client_headers.get("anthropic-beta", ""))
        if betas:
            headers["anthropic-beta"] = betas
    else:
        base = provider.base_url or DEFAULT_BASE_URLS.get(provider.kind, DEFAULT_BASE_URLS["openai"])
        url = f"{base}/{OPENAI_PATHS[request.endpoint]}"
        if key:
            headers["authorization"] = f"Bearer {key}"
    body = dumps(request.body).encode()
    return await services.fetch(
        url, method="POST", headers=headers, body=body, timeout_ms=provider.timeout_ms
    )


# ---------------------------------------------------------------- Workers AI

WORKERS_AI_INPUTS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "tools",
)


def workers_ai_inputs(body: JsonObject, stream: bool) -> JsonObject:
    """OpenAI chat body -> Workers AI text-generation inputs (content flattened to strings)."""
    messages = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
        converted = {"role": message.get("role", "user"), "content": content or ""}
        if message.get("tool_call_id"):
            converted["tool_call_id"] = message["tool_call_id"]
        messages.append(converted)
    inputs: JsonObject = {"messages": messages}
    if body.get("max_completion_tokens") is not None and body.get("max_tokens") is None:
        inputs["max_tokens"] = body["max_completion_tokens"]
    for name in WORKERS_AI_INPUTS:
        if body.get(name) is not None:
            inputs[name] = body[name]
    if stream:
        inputs["stream"] = True
    return inputs


def workers_ai_result_to_openai(result: Any, model: str, completion_id: str, created: int) -> JsonObject:
    if isinstance(result, dict) and "choices" in result:  # OpenAI-shaped models answer as-is
        return result
    if not isinstance(result, dict):
        raise UpstreamError(f"unexpected Workers AI result of type {type(result).__name__}")
    text = result.get("response")
    if text is not None and not isinstance(text, str):
        text = json.dumps(text)
    calls = [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {
                "name": str(call.get("name", "")),
                "arguments": call["arguments"]
                if isinstance(call.get("arguments"), str)
                else json.dumps(call.get("arguments") or {}),
            },
        }
        for index, call in enumerate(result.get("tool_calls") or [])
        if isinstance(call, dict)
    ]
    message: JsonObject = {"role": "assistant", "content": text, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    raw_usage = result.get("usage")
    usage: JsonObject = raw_usage if isinstance(raw_usage, dict) else {}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
            "total_tokens": int(usage.get("total_tokens") or 0),
        },
    }


async def _iterate_bytes(result: Any) -> AsyncIterator[bytes]:
    if isinstance(result, bytes | str):
        yield result.encode() if isinstance(result, str) else result
        return
    async for chunk in result:
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


async def workers_ai_stream_to_openai(
    result: Any, model: str, completion_id: str, created: int
) -> AsyncIterator[bytes]:
    """Workers AI SSE (`{"response": "..."}` events) -> OpenAI chunk SSE, ending with usage and [DONE]."""
    decoder = SseDecoder()
    usage: JsonObject = {}

    def chunk(delta: JsonObject, finish: str | None = None) -> bytes:
        return encode_event(dumps(openai_chunk(completion_id, model, created, delta, finish)))

    yield chunk({"role": "assistant", "content": ""})
    async for raw in _iterate_bytes(result):
        out = []
        for event in decoder.feed(raw):
            if event.data == "[DONE]":
                continue
            try:
                data = read_json(event.data, what="upstream event")
            except ValueError:
                continue
            if isinstance(data.get("usage"), dict):
                usage = data["usage"]
            if isinstance(data.get("response"), str) and data["response"]:
                out.append(chunk({"content": data["response"]}))
        if out:
            yield b"".join(out)
    yield chunk({}, "stop")
    yield encode_event(
        json.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": int(usage.get("prompt_tokens") or 0),
                    "completion_tokens": int(usage.get("completion_tokens") or 0),
                    "total_tokens": int(usage.get("total_tokens") or 0),
                },
            },
            separators=(",", ":"),
        )
    )
    yield DONE


async def _run_workers_ai(
    services: Services, provider: Provider, request: UpstreamRequest, request_id: str
) -> UpstreamResponse:
    if services.ai is None:
        raise ProviderMisconfigured(f"provider {provider.name!r} needs the Workers AI binding (not bound)")
    model = str(request.body.get("model", ""))
    created = int(services.clock())
    completion_id = f"chatcmpl-wai-{request_id}"
    try:
        result = await asyncio.wait_for(
            services.ai.run(model, workers_ai_inputs(request.body, request.stream)),
            timeout=provider.timeout_ms / 1000,
        )
    except TimeoutError:
        raise UpstreamError(f"Workers AI timed out after {provider.timeout_ms} ms") from None
    except UpstreamError:
        raise
    except Exception as error:  # the binding raises on capacity and model errors
        if NO_SUCH_MODEL in str(error):  # error 5007: a wrong or (locally) unmapped model, not retryable
            raise ProviderMisconfigured(
                f"Workers AI has no model {model!r} ({error}). Check the model name in the stack's "
                "gateway.routes; under edgestack dev, map it to a model of an OpenAI-compatible server "
                "with EDGESTACK_TEXT_GENERATION_URL and EDGESTACK_TEXT_GENERATION_MODELS="
                f"'{model}=LOCAL_MODEL' (textGenerationModelMap, docs/local-bindings.md)"
            ) from None
        raise UpstreamError(f"Workers AI error: {error}") from None
    headers = {"content-type": "text/event-stream" if request.stream else "application/json"}
    if request.stream and not isinstance(result, dict):
        return UpstreamResponse(
            200, headers, workers_ai_stream_to_openai(result, model, completion_id, created)
        )
    completion = workers_ai_result_to_openai(result, model, completion_id, created)
    if request.stream:
        chunks = openai_completion_to_chunks(completion, include_usage=True)
        payload = b"".join(encode_event(dumps(c)) for c in chunks) + DONE
    else:
        payload = dumps(completion).encode()
    return UpstreamResponse(200, headers, _iterate_bytes(payload))


async def _run_workers_ai_embeddings(
    services: Services, provider: Provider, request: UpstreamRequest
) -> UpstreamResponse:
    """An OpenAI embeddings body run on a Workers AI embedding model, answered in OpenAI's shape."""
    from .embeddings import workers_ai_embeddings  # only embedding routes load it

    assert services.ai is not None  # check_usable ran first
    model = str(request.body.get("model", ""))
    texts = request.body.get("input") or []
    result = await workers_ai_embeddings(services, model, texts, request.body.get("dimensions"))
    headers = {"content-type": "application/json"}
    return UpstreamResponse(200, headers, _iterate_bytes(dumps(result).encode()))
