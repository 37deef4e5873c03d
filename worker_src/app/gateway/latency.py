"""Observed upstream latency for the `fastest` strategy.

Each isolate keeps an exponentially weighted moving average per candidate. Isolates share a summary
through KV: an isolate publishes its average at most every `PUBLISH_INTERVAL_S` per candidate (via
`wait_until`), and reads the shared value for candidates it has not yet measured enough, at most
every `REFRESH_INTERVAL_S`. KV is eventually consistent; the summary only steers, it never blocks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import NamedTuple

from ..bindings import KvNamespace, WaitUntil
from ..web.log import log_event

ALPHA = 0.3
MIN_LOCAL_SAMPLES = 3
PUBLISH_INTERVAL_S = 10.0
REFRESH_INTERVAL_S = 30.0
KV_PREFIX = "gw:latency:v1:"
KV_TTL_S = 3600


class LatencyStat(NamedTuple):
    ewma_ms: float
    samples: int
    updated_at: float


class LatencyTracker:
    def __init__(self) -> None:
        self._local: dict[str, LatencyStat] = {}
        self._shared: dict[str, LatencyStat] = {}
        self._shared_checked_at: dict[str, float] = {}
        self._published_at: dict[str, float] = {}

    def observe(self, key: str, latency_ms: float, now: float) -> LatencyStat:
        stat = self._local.get(key)
        if stat is None:
            stat = LatencyStat(ewma_ms=latency_ms, samples=1, updated_at=now)
        else:
            stat = LatencyStat(
                ewma_ms=ALPHA * latency_ms + (1 - ALPHA) * stat.ewma_ms,
                samples=stat.samples + 1,
                updated_at=now,
            )
        self._local[key] = stat
        return stat

    def estimate_ms(self, key: str) -> float | None:
        """Local average once measured enough, else the shared one, else any local sample."""
        local = self._local.get(key)
        if local is not None and local.samples >= MIN_LOCAL_SAMPLES:
            return local.ewma_ms
        shared = self._shared.get(key)
        if shared is not None:
            return shared.ewma_ms
        return local.ewma_ms if local is not None else None

    async def refresh_shared(self, kv: KvNamespace | None, keys: Sequence[str], now: float) -> None:
        """Read the KV summary for candidates this isolate has not measured enough (bounded rate)."""
        if kv is None:
            return
        stale = [
            key
            for key in keys
            if (self._local.get(key) is None or self._local[key].samples < MIN_LOCAL_SAMPLES)
            and now - self._shared_checked_at.get(key, -1e18) >= REFRESH_INTERVAL_S
        ]
        if not stale:
            return
        for key in stale:
            self._shared_checked_at[key] = now
        values = await asyncio.gather(*(_read(kv, key) for key in stale))
        for key, stat in zip(stale, values, strict=True):
            if stat is not None:
                self._shared[key] = stat

    def maybe_publish(self, kv: KvNamespace | None, wait_until: WaitUntil, key: str, now: float) -> None:
        if kv is None or key not in self._local:
            return
        if now - self._published_at.get(key, -1e18) < PUBLISH_INTERVAL_S:
            return
        self._published_at[key] = now
        stat = self._local[key]
        payload = json.dumps({"ewma_ms": round(stat.ewma_ms, 3), "samples": stat.samples, "at": now})
        wait_until(_write(kv, key, payload))


async def _read(kv: KvNamespace, key: str) -> LatencyStat | None:
    try:
        raw = await kv.get(KV_PREFIX + key)
        if raw is None:
            return None
        data = json.loads(raw)
        return LatencyStat(
            ewma_ms=float(data["ewma_ms"]),
            samples=int(data.get("samples", 1)),
            updated_at=float(data.get("at", 0)),
        )
    except Exception as error:  # a broken summary only loses a hint
        log_event("gateway", "latency_summary_read_failed", key=key, error=type(error).__name__)
        return None


async def _write(kv: KvNamespace, key: str, payload: str) -> None:
    try:
        await kv.put(KV_PREFIX + key, payload, expiration_ttl=KV_TTL_S)
    except Exception as error:
        log_event("gateway", "latency_summary_write_failed", key=key, error=type(error).__name__)
