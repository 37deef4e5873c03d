"""Typed views of the Worker's bindings, as the core modules use them.

`worker_src/js_bindings.py` adapts the real JS bindings (Pyodide) to these protocols;
unit tests pass in-memory fakes. Core modules never touch a JS object directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class KvNamespace(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def put(self, key: str, value: str, expiration_ttl: int | None = None) -> None: ...
    async def delete(self, key: str) -> None: ...


class D1Database(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one statement; return its rows as dicts (empty for writes)."""
        ...

    async def batch(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run statements atomically, as D1's `batch()` does."""
        ...


@dataclass(frozen=True)
class R2ObjectInfo:
    """An R2 object's metadata (`head()`), without its body."""

    key: str
    size: int
    content_type: str = "application/octet-stream"
    custom_metadata: dict[str, str] = field(default_factory=dict)


class R2Bucket(Protocol):
    async def delete(self, key: str) -> None: ...

    async def put_object(
        self, key: str, data: bytes, content_type: str, custom_metadata: Mapping[str, str]
    ) -> None:
        """`put()` with `httpMetadata.contentType` and `customMetadata` (string values)."""
        ...

    async def get_object(self, key: str) -> tuple[bytes, R2ObjectInfo] | None: ...
    async def head(self, key: str) -> R2ObjectInfo | None: ...


class QueueProducer(Protocol):
    async def send(self, body: Mapping[str, Any]) -> None:
        """Send one JSON message (`Queue.send(body)`)."""
        ...


@dataclass(frozen=True)
class VectorMatch:
    id: str
    score: float
    values: list[float] | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Vector:
    id: str
    values: list[float]
    metadata: dict[str, Any] = field(default_factory=dict)
    namespace: str | None = None


@dataclass(frozen=True)
class VectorQuery:
    """The options of a Vectorize query (`topK`, `returnValues`, `returnMetadata`, `namespace`, `filter`)."""

    top_k: int = 5
    return_values: bool = False
    return_metadata: str = "none"  # "none", "indexed" or "all"
    namespace: str | None = None
    filter: Mapping[str, Any] | None = None


class VectorizeIndex(Protocol):
    async def upsert(self, vectors: Sequence[Vector]) -> int: ...
    async def query(self, vector: Sequence[float], options: VectorQuery) -> list[VectorMatch]: ...
    async def get_by_ids(self, ids: Sequence[str]) -> list[Vector]: ...
    async def delete_by_ids(self, ids: Sequence[str]) -> int: ...


class WorkersAi(Protocol):
    async def run(self, model: str, inputs: Mapping[str, Any]) -> Any: ...

    async def to_markdown(self, name: str, data: bytes, content_type: str) -> Any:
        """`env.AI.toMarkdown([{name, blob}])`'s result for the one file: `{name, mimeType, format:
        "markdown", tokens, data}` or `{name, mimeType, format: "error", error}`."""
        ...


class RateLimiter(Protocol):
    async def limit(self, key: str) -> bool:
        """True when the call is within the limit."""
        ...


@dataclass
class UpstreamResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: AsyncIterator[bytes]  # streamed; read it once

    async def read(self) -> bytes:
        chunks = [chunk async for chunk in self.body]
        return b"".join(chunks)


async def close_stream(body: AsyncIterator[bytes]) -> None:
    """Close an upstream body early (releases the connection); never raises."""
    closer = getattr(body, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):  # closing a broken upstream must not fail the request
            await closer()


class Fetcher(Protocol):
    async def __call__(
        self, url: str, *, method: str, headers: Mapping[str, str], body: bytes | None, timeout_ms: int
    ) -> UpstreamResponse:
        """Outbound HTTP (`workers.fetch` in production). Raises `UpstreamError` on connect/timeout."""
        ...


class UpstreamError(Exception):
    """A connection failure or timeout talking to an upstream (never an HTTP status)."""


WaitUntil = Callable[[Awaitable[Any]], None]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
