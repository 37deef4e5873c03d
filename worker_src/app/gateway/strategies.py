"""Candidate order for one request, per route strategy (pure; the attempt loop walks the order).

- fallback: the configured order.
- cheapest: ascending estimated cost = estimated prompt tokens x input price + expected output tokens
  x output price; candidates without a price go last; ties keep the configured order.
- fastest: ascending observed latency; candidates never measured go first (so each gets measured).
- weighted: weighted sampling without replacement from a random source seeded per request, so the
  first pick follows the weights and the rest are the fallback order. Weight 0 = fallback only.

Under every strategy, stand-ins (local-echo, no model) go after the real candidates (`stand_ins_last`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping

from .config import Candidate, Provider, Route
from .tokens import TokenUsage, cost_usd

RandomSource = Callable[[], float]  # uniform in [0, 1)


def request_random(request_id: str) -> RandomSource:
    """A deterministic random source derived from the request id (no global RNG, nothing at import)."""
    seed = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")
    return random.Random(seed).random


def stand_ins_last(order: list[Candidate], providers: Mapping[str, Provider]) -> list[Candidate]:
    """The same order with stand-in candidates (local-echo) moved to the end (stable)."""

    def is_stand_in(candidate: Candidate) -> bool:
        provider = providers.get(candidate.provider)
        return provider is not None and provider.stand_in

    return [c for c in order if not is_stand_in(c)] + [c for c in order if is_stand_in(c)]


def order_fallback(route: Route) -> list[Candidate]:
    return list(route.candidates)


def estimated_cost(
    candidate: Candidate, providers: Mapping[str, Provider], prompt_tokens: int, completion_tokens: int
) -> float | None:
    provider = providers.get(candidate.provider)
    price = provider.prices.get(candidate.model) if provider else None
    if price is None:
        return None
    return cost_usd(TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens), price)


def order_cheapest(
    route: Route, providers: Mapping[str, Provider], prompt_tokens: int, completion_tokens: int
) -> list[Candidate]:
    def sort_key(indexed: tuple[int, Candidate]) -> tuple[int, float, int]:
        index, candidate = indexed
        cost = estimated_cost(candidate, providers, prompt_tokens, completion_tokens)
        return (1, 0.0, index) if cost is None else (0, cost, index)

    return [candidate for _, candidate in sorted(enumerate(route.candidates), key=sort_key)]


def order_fastest(route: Route, estimate_ms: Callable[[str], float | None]) -> list[Candidate]:
    def sort_key(indexed: tuple[int, Candidate]) -> tuple[int, float, int]:
        index, candidate = indexed
        latency = estimate_ms(candidate.key)
        return (0, 0.0, index) if latency is None else (1, latency, index)

    return [candidate for _, candidate in sorted(enumerate(route.candidates), key=sort_key)]


def order_weighted(route: Route, rand: RandomSource) -> list[Candidate]:
    pool = [c for c in route.candidates if c.weight > 0]
    order: list[Candidate] = []
    while pool:
        total = sum(c.weight for c in pool)
        point = rand() * total
        for index, candidate in enumerate(pool):
            point -= candidate.weight
            if point < 0 or index == len(pool) - 1:
                order.append(pool.pop(index))
                break
    return order + [c for c in route.candidates if c.weight == 0]
