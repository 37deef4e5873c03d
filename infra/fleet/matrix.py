"""`edgestack fleet matrix --shards N`: split the customers into N balanced shards for a CI matrix.

Each customer weighs the number of resources its stack declares (a deploy's time grows with it). Shards
are filled greedily, heaviest customer first, into the lightest shard (ties: lower shard number), which
is deterministic and within one heaviest customer of the optimum. Never more shards than customers, so
no runner gets an empty `--only`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from ..spec import Stack

# Resources every stack has whatever it declares: Worker, version, deployment, workers.dev subdomain.
_FIXED_RESOURCES = 4


def stack_weight(stack: Stack) -> int:
    """Resources the stack declares (data resources, routes, domains, crons, gateway), a cost proxy."""
    b, w = stack.bindings, stack.worker
    d1_migrations = sum(1 for spec in b.d1.values() if spec.migrations is not None)
    return (
        _FIXED_RESOURCES
        + len(b.kv)
        + len(b.d1)
        + d1_migrations
        + len(b.r2)
        + len(b.vectorize)
        + 2 * len(b.queues)
        + len(w.routes)
        + len(w.custom_domains)
        + (1 if w.crons else 0)
        + (1 if stack.ai_gateway else 0)
    )


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    customers: tuple[str, ...]
    weight: int

    def to_json(self) -> dict[str, object]:
        return {
            "shard": self.index,
            "customers": ",".join(self.customers),
            "count": len(self.customers),
            "weight": self.weight,
        }


def shard(weights: Mapping[str, int], shards: int) -> list[Shard]:
    """Balanced shards of `weights` (customer -> weight); customers sorted within each shard."""
    if shards < 1:
        raise ValueError(f"--shards must be at least 1, got {shards}")
    count = min(shards, len(weights))
    loads = [0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    for name, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0])):
        target = min(range(count), key=lambda i: (loads[i], i))
        loads[target] += weight
        members[target].append(name)
    return [Shard(i + 1, tuple(sorted(m)), loads[i]) for i, m in enumerate(members)]


def matrix_json(shards: list[Shard]) -> str:
    """GitHub Actions `strategy.matrix` (`fromJSON`): `{"include": [{"shard": 1, "customers": ...}]}`."""
    return json.dumps({"include": [s.to_json() for s in shards]}, separators=(",", ":"))
