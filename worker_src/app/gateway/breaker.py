"""Per-isolate circuit breakers, one per (route, candidate).

closed --N consecutive failures--> open --cool-down elapsed--> half-open (one probe at a time)
half-open --probe succeeds--> closed;  half-open --probe fails--> open (cool-down restarts)

State lives in the isolate: each Cloudflare isolate learns on its own, as Portkey's breaker does.
Times come from the injected clock (seconds).
"""

from __future__ import annotations

from typing import Literal

from .config import BreakerPolicy

BreakerState = Literal["closed", "open", "half_open"]


class _Breaker:
    __slots__ = ("failures", "opened_at", "probe_in_flight", "state")

    def __init__(self) -> None:
        self.state: BreakerState = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.probe_in_flight = False


class CircuitBreakers:
    def __init__(self) -> None:
        self._breakers: dict[str, _Breaker] = {}

    def state(self, key: str, policy: BreakerPolicy, now: float) -> BreakerState:
        breaker = self._breakers.get(key)
        if breaker is None:
            return "closed"
        if breaker.state == "open" and now - breaker.opened_at >= policy.cooldown_s:
            return "half_open"
        return breaker.state

    def try_acquire(self, key: str, policy: BreakerPolicy, now: float) -> bool:
        """May a call go to `key` now? In half-open, only one probe at a time is let through."""
        breaker = self._breakers.get(key)
        if breaker is None or breaker.state == "closed":
            return True
        if breaker.state == "open":
            if now - breaker.opened_at < policy.cooldown_s:
                return False
            breaker.state = "half_open"
            breaker.probe_in_flight = False
        if breaker.probe_in_flight:
            return False
        breaker.probe_in_flight = True
        return True

    def release(self, key: str) -> None:
        """A probe that was acquired but never reported (the request ended before using it)."""
        breaker = self._breakers.get(key)
        if breaker is not None:
            breaker.probe_in_flight = False

    def record_success(self, key: str) -> None:
        breaker = self._breakers.get(key)
        if breaker is not None:
            breaker.state, breaker.failures, breaker.probe_in_flight = "closed", 0, False

    def record_failure(self, key: str, policy: BreakerPolicy, now: float) -> None:
        breaker = self._breakers.setdefault(key, _Breaker())
        breaker.probe_in_flight = False
        if breaker.state == "half_open":
            breaker.state, breaker.opened_at = "open", now
            return
        breaker.failures += 1
        if breaker.state == "closed" and breaker.failures >= policy.failure_threshold:
            breaker.state, breaker.opened_at = "open", now

    def seconds_until_half_open(self, key: str, policy: BreakerPolicy, now: float) -> float:
        breaker = self._breakers.get(key)
        if breaker is None or breaker.state != "open":
            return 0.0
        return max(0.0, breaker.opened_at + policy.cooldown_s - now)
