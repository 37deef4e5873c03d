"""POST /v1/messages/count_tokens (https://docs.anthropic.com/en/api/messages-count-tokens).

`model` is a chat route alias. The request goes to the route's `anthropic` candidates in route order
(`{base_url}/v1/messages/count_tokens`, with fallbacks, retries and breakers as for messages);
`{"input_tokens": N}` comes back as Anthropic counted it. A route without an anthropic candidate,
or whose anthropic candidates all failed, gets the gateway's own estimate (4 characters per token
over system, messages and tools, as `cheapest` routing uses) with `x-edgestack-estimate: true`.
Counting is free upstream, so it writes no usage record and counts against no quota.
Errors use Anthropic's shape, which the Anthropic SDK parses.
"""

from __future__ import annotations

from ..http import HttpRequest, HttpResponse
from ..web.auth import Caller
from ..web.errors import ApiError
from ..web.log import log_event
from ..web.request import json_body
from .chat import RequestContext, admit, find_route
from .dispatch import CallSpec, Dispatcher
from .tokens import estimate_prompt_tokens
from .translate import JsonObject


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


def _check(body: JsonObject) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("model: Field required (a gateway model alias)", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _bad("messages: must be a non-empty list of message objects", "messages")
    return model


async def serve_count_tokens(request: HttpRequest, ctx: RequestContext, caller: Caller) -> HttpResponse:
    try:
        admit(request, ctx, caller.principal)
        return await _serve(request, ctx)
    except ApiError as error:
        return error.to_response("anthropic", ctx.headers)


async def _serve(request: HttpRequest, ctx: RequestContext) -> HttpResponse:
    body = json_body(request)
    alias = _check(body)
    assert ctx.principal is not None
    route = find_route(ctx.config, ctx.principal, alias, "chat")
    anthropic = [c for c in route.candidates if ctx.config.providers[c.provider].kind == "anthropic"]
    if anthropic:
        dispatcher = Dispatcher(ctx.services, ctx.config, ctx.state.breakers, ctx.state.latency)
        call = CallSpec(
            "anthropic", body, False, alias, request.headers, ctx.request_id, endpoint="count_tokens"
        )
        try:
            success = await dispatcher.run(route, anthropic, call)
        except ApiError as error:
            if error.status < 500 and error.status != 429:
                raise  # the upstream refused the request itself
            log_event(
                "gateway", "count_tokens_estimated", request_id=ctx.request_id, reason=error.message[:200]
            )
        else:
            tokens = (success.parsed or {}).get("input_tokens")
            if isinstance(tokens, int):
                headers = {
                    **ctx.headers,
                    "x-edgestack-provider": success.candidate.provider,
                    "x-edgestack-model": success.candidate.model,
                }
                return HttpResponse.json({"input_tokens": tokens}, headers=headers)
    return HttpResponse.json(
        {"input_tokens": estimate_prompt_tokens(body)},
        headers={**ctx.headers, "x-edgestack-estimate": "true"},
    )
