"""Everything a request handler may use, handed in by `entry.py` (or a test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .bindings import (
    Clock,
    D1Database,
    Fetcher,
    KvNamespace,
    QueueProducer,
    R2Bucket,
    RateLimiter,
    Sleep,
    VectorizeIndex,
    WaitUntil,
    WorkersAi,
)
from .config import BuildInfo, RuntimeConfig


class DurableObjectNamespace(Protocol):
    """A Durable Object namespace binding, addressed by object name (`idFromName` + `get`)."""

    async def fetch(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send a request to the object named `name`; returns (status, body)."""
        ...

    async def fetch_stream(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, dict[str, str], AsyncIterator[bytes]]:
        """Like `fetch`, with the response headers and the body as it arrives (streamed replies)."""
        ...


@dataclass
class Services:
    build: BuildInfo
    config: RuntimeConfig  # EDGESTACK_CONFIG, its root parsed
    fetch: Fetcher
    wait_until: WaitUntil
    clock: Clock  # seconds since the epoch; call only inside a request
    sleep: Sleep
    kv: Mapping[str, KvNamespace] = field(default_factory=dict)
    d1: Mapping[str, D1Database] = field(default_factory=dict)
    r2: Mapping[str, R2Bucket] = field(default_factory=dict)
    vectorize: Mapping[str, VectorizeIndex] = field(default_factory=dict)
    rate_limits: Mapping[str, RateLimiter] = field(default_factory=dict)
    ai: WorkersAi | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    durable_objects: Mapping[str, DurableObjectNamespace] = field(default_factory=dict)
    queues: Mapping[str, QueueProducer] = field(default_factory=dict)
    # binding kind -> what serves it; set only by the local runtime (`edgestack dev`), empty on Cloudflare
    local_backends: Mapping[str, str] = field(default_factory=dict)
