"""Helpers shared by the gateway tests (imported by name: keep this module name unique)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.web.auth import VirtualKey  # noqa: E402
from fakes.llm_upstreams import FakeLLMUpstream  # noqa: E402

T = TypeVar("T")

# A key with no scope, models, quotas or rights of its own; tests `_replace` what they need
# (VirtualKey has no defaults: the planner ships every field).
PLAIN_KEY = VirtualKey(
    name="plain",
    sha256="0" * 64,
    scope="default",
    allowed_models=frozenset(),
    requests_per_day=None,
    tokens_per_day=None,
    admin=False,
    operator=False,
    approve=False,
    documents="read",
)

UPSTREAM_KEY = "sk-upstream-SECRET-0123456789"  # what the fakes expect; must never reach a client
SECRETS = {"OA_KEY": UPSTREAM_KEY, "OB_KEY": UPSTREAM_KEY, "AN_KEY": UPSTREAM_KEY}
WEATHER = {  # an OpenAI function tool; the fake upstreams call it with {"query": <the last user text>}
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (unit tests of async code)."""
    return asyncio.run(coro)


class Upstreams:
    """Two OpenAI-compatible fakes (`oa`, `ob`) and one Anthropic fake (`an`)."""

    def __init__(self) -> None:
        self.oa = FakeLLMUpstream("openai", "oa", api_key=UPSTREAM_KEY)
        self.ob = FakeLLMUpstream("openai", "ob", api_key=UPSTREAM_KEY)
        self.an = FakeLLMUpstream("anthropic", "an", api_key=UPSTREAM_KEY)

    def all(self) -> list[FakeLLMUpstream]:
        return [self.oa, self.ob, self.an]

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Upstreams]:
        """The three fakes, started; stopped on exit."""
        fakes = cls()
        with ExitStack() as stack:
            for fake in fakes.all():
                stack.enter_context(fake.start())
            yield fakes

    def fresh(self) -> Upstreams:
        """No queued faults, scripted replies or recorded requests; default settings."""
        for fake in self.all():
            fake.reset()
            fake.configure(
                latency_ms=0.0,
                chunk_delay_ms=0.0,
                failure_rate=0.0,
                cached_tokens=0,
                hold_after_first_event=None,
                reasoning=False,
            )
        return self

    def providers(self, **prices: dict[str, Any]) -> dict[str, Any]:
        """Provider specs for the three fakes; model prices per provider name."""
        return {
            "oa": {
                "kind": "openai-compatible",
                "base_url": self.oa.base_url,
                "api_key_secret": "OA_KEY",
                "timeout_ms": 5000,
                "prices": prices.get("oa", {"gpt-a": {"input": 1.0, "output": 2.0, "cached_input": 0.5}}),
            },
            "ob": {
                "kind": "openai-compatible",
                "base_url": self.ob.base_url,
                "api_key_secret": "OB_KEY",
                "timeout_ms": 5000,
                "prices": prices.get("ob", {"gpt-b": {"input": 3.0, "output": 6.0}}),
            },
            "an": {
                "kind": "anthropic",
                "base_url": self.an.base_url,
                "api_key_secret": "AN_KEY",
                "timeout_ms": 5000,
                "prices": prices.get("an", {"claude-c": {"input": 2.0, "output": 8.0, "cached_input": 0.2}}),
            },
        }


def route(
    *candidates: tuple[str, str] | tuple[str, str, int], strategy: str = "fallback", **extra: Any
) -> dict[str, Any]:
    """A route spec from (provider, model[, weight]) tuples."""
    return {
        "strategy": strategy,
        "candidates": [
            {"provider": c[0], "model": c[1], **({"weight": c[2]} if len(c) > 2 else {})} for c in candidates
        ],
        **extra,
    }


def section(upstreams: Upstreams, routes: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A gateway section over the three fakes, with the local stack's bindings."""
    return {
        "public": True,
        "cache_binding": "CACHE",
        "usage_binding": "DB",
        "providers": upstreams.providers(),
        "routes": routes,
        **top,
    }


def openai_client(base_url: str, api_key: str = "anonymous", **headers: str) -> Any:
    import openai

    return openai.OpenAI(
        base_url=base_url + "/v1", api_key=api_key, max_retries=0, timeout=20, default_headers=headers or None
    )


def anthropic_client(base_url: str, api_key: str = "anonymous", **headers: str) -> Any:
    import anthropic

    return anthropic.Anthropic(
        base_url=base_url, api_key=api_key, max_retries=0, timeout=20, default_headers=headers or None
    )


def read_openai_stream(stream: Iterable[Any]) -> tuple[str, Any, str | None]:
    """An OpenAI SDK chat-completions stream read to its end: (text, usage or None, finish reason)."""
    text, usage, finish = [], None, None
    for chunk in stream:
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    return "".join(text), usage, finish
