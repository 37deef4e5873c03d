"""In-process agents under CPython: the Worker core (`app.router.handle`) plus Durable Objects
played by `InProcessObjects`, whose storage is SQLite with the documented shape of a Durable
Object's SQL storage (https://developers.cloudflare.com/durable-objects/api/sqlite-storage-api/:
synchronous `sql.exec`, `transactionSync`, one alarm per object, `deleteAll`). Alarms fire only
when a test calls `fire_alarms` (at-least-once delivery is simulated by firing twice).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO / "tests" / "gateway", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.agents.objects import AgentObject  # noqa: E402
from app.agents.tools import clear_cache  # noqa: E402
from app.bindings import Fetcher  # noqa: E402
from app.config import BuildInfo  # noqa: E402
from app.gateway.state import ISOLATE  # noqa: E402
from app.http import HttpRequest  # noqa: E402
from app.router import handle  # noqa: E402
from app.services import Services  # noqa: E402
from app.web.sse import SseDecoder  # noqa: E402
from gateway_testing import SECRETS, Upstreams, route, section  # noqa: E402
from harness.bindings import (  # noqa: E402
    BackgroundTasks,
    FakeClock,
    FakeObjectStorage,
    InMemoryKv,
    RecordingSleep,
    SqliteD1,
)
from harness.fetcher import H11Fetcher  # noqa: E402
from harness.planned import key_sha256, planned_config, runtime_config  # noqa: E402

T = TypeVar("T")

KEYS = {  # key -> (name, scope, admin)
    "k-alice": ("alice", "acme", False),
    "k-ops": ("ops", "acme", True),
    "k-globex": ("gina", "globex", False),
    "k-globex-admin": ("gadmin", "globex", True),
}


class InProcessObjects:
    """A Durable Object namespace: one AgentObject (and storage) per name, created on first use."""

    def __init__(self, fetch: Fetcher, clock: Callable[[], float]) -> None:
        self.fetch_for_tools = fetch
        self.clock = clock
        self.objects: dict[str, AgentObject] = {}
        self.storages: dict[str, FakeObjectStorage] = {}
        self.services: Services | None = None

    def get(self, name: str) -> AgentObject:
        if name not in self.objects:
            self.storages[name] = FakeObjectStorage()
            self.objects[name] = AgentObject(self.storages[name], self.fetch_for_tools, self.clock)
        return self.objects[name]

    async def _call(self, name: str, path: str, method: str, body: bytes | None) -> Any:
        assert self.services is not None
        request = HttpRequest(
            method=method, url=f"https://durable-object.internal{path}", headers={}, body=body or b""
        )
        return await self.get(name).handle(request, self.services)

    async def fetch(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, bytes]:
        response = await self._call(name, path, method, body)
        if response.stream is not None:
            return response.status, b"".join([chunk async for chunk in response.stream])
        return response.status, response.body

    async def fetch_stream(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, dict[str, str], AsyncIterator[bytes]]:
        response = await self._call(name, path, method, body)
        if response.stream is None:
            return response.status, response.headers, _once(response.body)
        return response.status, response.headers, response.stream

    async def fire_alarms(self) -> int:
        """Run the alarm of every object whose alarm is due (the runtime deletes it first)."""
        assert self.services is not None
        fired = 0
        now_ms = self.clock() * 1000
        for name, storage in list(self.storages.items()):
            if storage.alarm_ms is not None and storage.alarm_ms <= now_ms:
                storage.alarm_ms = None
                await self.objects[name].alarm(self.services)
                fired += 1
        return fired


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


class FlakyD1(SqliteD1):
    """D1 that can be switched off (`down = True`): every call raises, as during an outage."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.batches = 0

    async def execute(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        if self.down:
            raise ConnectionError("D1_ERROR: D1 is unavailable")
        return await super().execute(sql, params)

    async def batch(self, statements: Any) -> None:
        if self.down:
            raise ConnectionError("D1_ERROR: D1 is unavailable")
        self.batches += 1
        await super().batch(statements)


def stack_config(
    upstreams: Upstreams, *, public: bool = False, rag: bool = False, **agents: Any
) -> dict[str, Any]:
    """`EDGESTACK_CONFIG` (decoded) the planner ships for a gateway over the fakes and an agents section."""
    keys = {
        name: {"sha256": key_sha256(key), "scope": scope, "admin": admin}
        for key, (name, scope, admin) in KEYS.items()
    }
    sections: dict[str, Any] = {
        "gateway": section(
            upstreams, {"agent": route(("oa", "gpt-a"))}, public=public, keys=keys, rate_limit=None
        ),
        "agents": {
            "state_binding": "AGENT",
            "history_binding": "DB",
            "tools_binding": "TOOLS",
            "model_alias": "agent",
            **agents,
        },
    }
    if rag:
        sections["rag"] = {"documents_binding": "DOCS", "index_binding": "VECTORS", "generation": "extractive"}
    config = planned_config(sections, secrets=tuple(agents.get("tool_secrets", ())))
    config["agents"]["own_hosts"] = ["example.org"]  # as if the stack routed example.org
    return config


class AgentEnv:
    """The Worker and its agents' objects, in this event loop. Use inside `asyncio.run`."""

    def __init__(
        self, config: dict[str, Any], fetch: Fetcher | None = None, clock: FakeClock | None = None
    ) -> None:
        ISOLATE.reset()
        clear_cache()
        self.clock = clock or FakeClock()
        self.background = BackgroundTasks()
        self.db = FlakyD1()
        self.tools_kv = InMemoryKv(self.clock)
        self.http = H11Fetcher()
        self.objects = InProcessObjects(fetch or self.http, self.clock)
        self.services = Services(
            build=BuildInfo(stack="t", bundle_version="t"),
            config=runtime_config(config),
            fetch=self.http,
            wait_until=self.background,
            clock=self.clock,
            sleep=RecordingSleep(clock=self.clock),
            kv={"CACHE": InMemoryKv(self.clock), "TOOLS": self.tools_kv},
            d1={"DB": self.db},
            secrets=SECRETS,
            durable_objects={"AGENT": self.objects},
        )
        self.objects.services = self.services

    async def close(self) -> None:
        await self.background.drain()
        await self.http.aclose()

    async def call(
        self, method: str, path: str, body: Any = None, key: str | None = "k-alice", raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = await handle(HttpRequest(method, "https://api.test" + path, headers, data), self.services)
        payload = (
            b"".join([c async for c in response.stream]) if response.stream is not None else response.body
        )
        try:
            return response.status, json.loads(payload) if payload else None
        except ValueError:
            return response.status, payload.decode()

    async def sse(self, path: str, body: Any, key: str = "k-alice") -> tuple[int, list[tuple[str, Any]]]:
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        response = await handle(
            HttpRequest("POST", "https://api.test" + path, headers, json.dumps(body).encode()), self.services
        )
        assert response.stream is not None, response.body
        decoder, events = SseDecoder(), []
        async for chunk in response.stream:
            events.extend((e.event or "", json.loads(e.data)) for e in decoder.feed(chunk))
        return response.status, events

    async def settle(self) -> None:
        """Let post-turn work (outbox flushes) finish."""
        await self.background.drain()

    def history_rows(self, tenant: str = "acme", agent_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM agent_messages WHERE tenant = ?"
        params: list[Any] = [tenant]
        if agent_id is not None:
            sql += " AND agent_id = ?"
            params.append(agent_id)
        return self.db.query(sql + " ORDER BY agent_id, seq", params)


def run_env(config: dict[str, Any], body: Callable[[AgentEnv], Any], **kwargs: Any) -> Any:
    async def go() -> Any:
        env = AgentEnv(config, **kwargs)
        try:
            return await body(env)
        finally:
            await env.close()

    return asyncio.run(go())


class ScriptedWeb:
    """A Fetcher for http_get tools: answers by URL from `pages`, records every request.

    Like `fetch(..., redirect: "manual")` on Workers, 3xx responses come back as they are."""

    def __init__(self, pages: dict[str, tuple[int, dict[str, str], bytes]] | None = None) -> None:
        self.pages = dict(pages or {})
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def __call__(
        self, url: str, *, method: str, headers: Any, body: bytes | None, timeout_ms: int
    ) -> Any:
        from app.bindings import UpstreamResponse

        self.requests.append((url, dict(headers)))
        status, response_headers, payload = self.pages.get(
            url, (404, {"content-type": "text/plain"}, b"nope")
        )

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(payload), 1024):
                yield payload[i : i + 1024]

        return UpstreamResponse(status=status, headers=response_headers, body=chunks())


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}
