"""Hybrid fusion of the vector and keyword rankings: reciprocal rank fusion or max, with per-mode weights.

- `rrf` (default): score = Σ weight / (60 + rank), rank from 1 (Cormack, Clarke & Buettcher 2009).
- `max`: each mode's scores divided by that mode's best score (so its top hit is 1), times the
  mode's weight; an item's score is the higher of the two (Cloudflare AI Search's `max`).

Ties are broken by the sum of both contributions, then by first appearance (vector list first), so
an item that both modes put first is first. An item found only by a mode of weight 0 is dropped:
weights 1 / 0 give exactly the other mode's ranking.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from .config import Fusion

RRF_K = 60
K = TypeVar("K", bound=Hashable)


def _contributions(ranking: Sequence[tuple[K, float]], method: str, weight: float) -> dict[K, float]:
    if weight == 0 or not ranking:
        return {}
    if method == "rrf":
        return {key: weight / (RRF_K + rank) for rank, (key, _) in enumerate(ranking, start=1)}
    best = max(score for _, score in ranking)
    if best <= 0:  # nothing scored above zero: fall back to ranks, best first
        return {key: weight / rank for rank, (key, _) in enumerate(ranking, start=1)}
    return {key: weight * max(score, 0.0) / best for key, score in ranking}


def fuse(
    vector: Sequence[tuple[K, float]], keyword: Sequence[tuple[K, float]], fusion: Fusion
) -> list[tuple[K, float]]:
    """(item, fused score), best first; each input is (item, score) best first."""
    parts = [
        _contributions(vector, fusion.method, fusion.vector_weight),
        _contributions(keyword, fusion.method, fusion.keyword_weight),
    ]
    order: dict[K, int] = {}
    for part in parts:
        for key in part:
            order.setdefault(key, len(order))
    fused: list[tuple[K, float, float]] = []
    for key in order:
        values = [part[key] for part in parts if key in part]
        score = max(values) if fusion.method == "max" else sum(values)
        fused.append((key, score, sum(values)))
    fused.sort(key=lambda item: (-item[1], -item[2], order[item[0]]))
    return [(key, score) for key, score, _ in fused]

