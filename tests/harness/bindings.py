"""In-memory fakes of the Worker binding protocols (`worker_src/app/bindings.py`), for CPython runs.

Each follows the documented behaviour of the real binding where it matters to callers:
- KV (https://developers.cloudflare.com/kv/api/write-key-value-pairs/): `expiration_ttl` must be
  at least 60 seconds; expired keys read as missing.
- D1 (https://developers.cloudflare.com/d1/worker-api/d1-database/): SQLite; `batch()` is atomic.
  Backed by the stdlib `sqlite3`, with the stack's D1 migrations applied in name order.
- Rate limiting (https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/):
  `limit({key})` -> `{success}`, `limit` calls per `period` seconds per key (fixed window here).
- Workers AI text generation (https://developers.cloudflare.com/workers-ai/models/llama-3.1-8b-instruct/):
  `{response, usage}`, or an SSE byte stream of `{"response": ...}` events ending in `[DONE]` when
  `stream: true`. The fake answers deterministically from the prompt, for tests only.
- Durable Object SQL storage (https://developers.cloudflare.com/durable-objects/api/sqlite-storage-api/):
  synchronous `sql.exec`, `transactionSync` (does not nest), one alarm per object, `deleteAll`;
  `InProcessObjectNamespace` addresses objects by name and runs each request against its object.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "stacks" / "migrations" / "db"

Clock = Callable[[], float]
T = TypeVar("T")


class FakeClock:
    """A settable clock (seconds since the epoch) for tests that must not depend on wall time."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class RecordingSleep:
    """`Services.sleep` that records the requested delays; optionally really sleeps, or advances a clock."""

    def __init__(self, real: bool = False, clock: FakeClock | None = None) -> None:
        self.real = real
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        if self.real:
            await asyncio.sleep(seconds)


class InMemoryKv:
    MIN_TTL_S = 60

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self.data: dict[str, tuple[str, float | None]] = {}
        self.puts = 0

    async def get(self, key: str) -> str | None:
        entry = self.data.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and self.clock() >= expires_at:
            del self.data[key]
            return None
        return value

    async def put(self, key: str, value: str, expiration_ttl: int | None = None) -> None:
        if expiration_ttl is not None and expiration_ttl < self.MIN_TTL_S:
            raise ValueError(
                f"Invalid expiration_ttl of {expiration_ttl}. Expiration TTL must be at least 60."
            )
        self.puts += 1
        self.data[key] = (value, self.clock() + expiration_ttl if expiration_ttl else None)

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.data if k.startswith(prefix))


class SqliteD1:
    """D1 on an in-memory SQLite database, thread-safe so tests can inspect rows from their thread."""

    def __init__(self, migrations: Sequence[Path] | None = None) -> None:
        self.conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        files = sorted(MIGRATIONS.glob("*.sql")) if migrations is None else list(migrations)
        for path in files:
            self.conn.executescript(path.read_text())

    def _run(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, tuple(params))
        rows = [dict(row) for row in cursor.fetchall()] if cursor.description else []
        cursor.close()
        return rows

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.lock:
            return self._run(sql, params)

    async def batch(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                for sql, params in statements:
                    self._run(sql, params)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Synchronous read for test assertions."""
        with self.lock:
            return self._run(sql, params)


class FakeRateLimiter:
    def __init__(self, limit: int, period: int, clock: Clock = time.time) -> None:
        self.limit_per_period = limit
        self.period = period
        self.clock = clock
        # Windows count from the limiter's creation, not from wall-clock minutes: a test that makes
        # its calls within one period never straddles a window edge, however slow the machine.
        self.origin = clock()
        self.windows: dict[str, tuple[int, int]] = {}  # key -> (window number, count)
        self.calls: list[str] = []

    async def limit(self, key: str) -> bool:
        self.calls.append(key)
        window = int((self.clock() - self.origin) // self.period)
        current, count = self.windows.get(key, (window, 0))
        if current != window:
            count = 0
        count += 1
        self.windows[key] = (window, count)
        return count <= self.limit_per_period


EMBEDDING_DIMENSIONS = {"@cf/baai/bge-small-en-v1.5": 384, "@cf/baai/bge-base-en-v1.5": 768}


class FakeWorkersAi:
    """Deterministic text generation and embeddings in the Workers AI output shapes (tests only)."""

    def __init__(self, fail_with: str | None = None) -> None:
        self.fail_with = fail_with
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def run(self, model: str, inputs: Mapping[str, Any]) -> Any:
        self.calls.append((model, dict(inputs)))
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        if "text" in inputs:  # bge embedding models: {"text": [...]} -> {"shape", "data"}, <= 100 texts
            texts = inputs["text"]
            if model not in EMBEDDING_DIMENSIONS or not isinstance(texts, list) or len(texts) > 100:
                raise RuntimeError(f"5006: Error: oneOf at '/' not met for {model}")
            size = EMBEDDING_DIMENSIONS[model]
            data = [[((sum(t.encode()) * (i + 1)) % 89) / 89 for i in range(size)] for t in texts]
            return {"shape": [len(data), size], "data": data}
        messages = inputs.get("messages") or []
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        text = f"workers-ai: {last}"
        usage = {
            "prompt_tokens": max(1, len(json.dumps(messages)) // 4),
            "completion_tokens": len(text.split()),
            "total_tokens": 0,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if inputs.get("stream"):
            return _sse_words(text, usage)
        return {"response": text, "usage": usage}


async def _sse_words(text: str, usage: dict[str, int]) -> AsyncIterator[bytes]:
    words = text.split(" ")
    for index, word in enumerate(words):
        piece = word if index == 0 else " " + word
        yield f"data: {json.dumps({'response': piece, 'p': 'x'})}\n\n".encode()
    yield f"data: {json.dumps({'response': '', 'usage': usage})}\n\n".encode()
    yield b"data: [DONE]\n\n"


class BackgroundTasks:
    """`ctx.waitUntil`: runs the work after the response; `drain()` awaits all of it (as the runtime
    does before an isolate shuts down)."""

    def __init__(self) -> None:
        self.pending: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []
        self.completed = 0

    def __call__(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.pending.discard(task)
        self.completed += 1
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    async def drain(self) -> None:
        while self.pending:
            await asyncio.gather(*list(self.pending), return_exceptions=True)


class FakeObjectStorage:
    """A Durable Object's SQLite storage: `sql`, `transaction`, the alarm, `delete_all`."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.alarm_ms: float | None = None
        self.in_transaction = False
        self.statements = 0

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        self.statements += 1
        if len(query.encode()) > 100_000 or len(params) > 100:
            raise ValueError("statement over the Durable Object SQL limits")
        for value in params:
            if isinstance(value, str) and len(value.encode()) > 2_000_000:
                raise ValueError("string or BLOB too big")
        cursor = self.conn.execute(query, params)
        rows = [dict(r) for r in cursor.fetchall()] if cursor.description else []
        cursor.close()
        return rows

    def transaction(self, work: Callable[[], T]) -> T:
        if self.in_transaction:
            raise RuntimeError("transactionSync does not nest")
        self.in_transaction = True
        self.conn.execute("BEGIN")
        try:
            result = work()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        finally:
            self.in_transaction = False
        self.conn.execute("COMMIT")
        return result

    async def get_alarm(self) -> float | None:
        return self.alarm_ms

    async def set_alarm(self, at_ms: float) -> None:
        self.alarm_ms = at_ms

    async def delete_alarm(self) -> None:
        self.alarm_ms = None

    async def delete_all(self) -> None:
        tables = self.sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        for row in tables:
            self.conn.execute(f'DROP TABLE "{row["name"]}"')
        self.alarm_ms = None


class InProcessObjectNamespace:
    """A Durable Object namespace binding (`fetch(name, path, method, body)`): one object per name,
    made by `factory(storage)` on first use, each with its own `FakeObjectStorage`."""

    def __init__(self, factory: Callable[[FakeObjectStorage], Any]) -> None:
        self.factory = factory
        self.objects: dict[str, Any] = {}
        self.storages: dict[str, FakeObjectStorage] = {}
        self.requests = 0
        self.cpu_s = 0.0  # process CPU spent inside the objects (on Cloudflare: their own isolates)

    async def fetch(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, bytes]:
        from app.http import HttpRequest

        if name not in self.objects:
            self.storages[name] = FakeObjectStorage()
            self.objects[name] = self.factory(self.storages[name])
        self.requests += 1
        request = HttpRequest(
            method=method, url=f"https://durable-object.internal{path}", headers={}, body=body or b""
        )
        started = time.process_time()
        response = await self.objects[name].handle(request)  # no await inside: one synchronous transaction
        self.cpu_s += time.process_time() - started
        return response.status, response.body


def budget_counters() -> InProcessObjectNamespace:
    """The `BudgetCounter` namespace (`app.gateway.budget_counter`)."""
    from app.gateway.budget_counter import BudgetCounterObject

    return InProcessObjectNamespace(BudgetCounterObject)
