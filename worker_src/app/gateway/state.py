"""Per-isolate state: parsed config, circuit breakers, latency stats, a request counter.

Module-level but created empty at import (no clocks, randomness or I/O). `reset()` gives tests and
the harness a fresh isolate.
"""

from __future__ import annotations

from .breaker import CircuitBreakers
from .config import ConfigCache
from .latency import LatencyTracker


class IsolateState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.config = ConfigCache()
        self.breakers = CircuitBreakers()
        self.latency = LatencyTracker()
        self.requests = 0

    def next_request_number(self) -> int:
        self.requests += 1
        return self.requests

    def new_request_id(self, now: float) -> str:
        """`<ms since epoch, hex>-<request number in this isolate, hex>`."""
        return f"{int(now * 1000):x}-{self.next_request_number():x}"


ISOLATE = IsolateState()
