"""The desired state of a Vectorize index, its validation (rules in `infra.spec.vectorize`) and its
Pulumi property form. Pure: no Pulumi, no SDK."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from infra.spec.vectorize import (
    MAX_DIMENSIONS,
    MAX_METADATA_INDEXES,
    METADATA_TYPES,
    METRICS,
    vectorize_name_problem,
)


@dataclass(frozen=True)
class IndexConfig:
    account_id: str
    index_name: str
    dimensions: int
    metric: str = "cosine"
    description: str = ""
    metadata_indexes: Mapping[str, str] = field(default_factory=dict)
    adopt_existing: bool = False

    def problems(self) -> list[tuple[str, str]]:
        """(property, message) for every invalid field."""
        out: list[tuple[str, str]] = []
        if not re.fullmatch(r"[0-9a-f]{32}", self.account_id):
            out.append(("account_id", f"account id {self.account_id!r} is not 32 hex characters"))
        name_problem = vectorize_name_problem(self.index_name)
        if name_problem:
            out.append(("index_name", name_problem))
        if not 1 <= self.dimensions <= MAX_DIMENSIONS:
            out.append(("dimensions", f"dimensions must be 1..{MAX_DIMENSIONS}, not {self.dimensions}"))
        if self.metric not in METRICS:
            out.append(("metric", f"metric {self.metric!r} is not one of {', '.join(METRICS)}"))
        if len(self.metadata_indexes) > MAX_METADATA_INDEXES:
            out.append(
                (
                    "metadata_indexes",
                    f"{len(self.metadata_indexes)} metadata indexes; the limit is {MAX_METADATA_INDEXES}",
                )
            )
        for prop, kind in self.metadata_indexes.items():
            if not prop:
                out.append(("metadata_indexes", "a metadata index needs a non-empty property name"))
            if kind not in METADATA_TYPES:
                out.append(
                    (
                        "metadata_indexes",
                        f"metadata index {prop!r}: type {kind!r} is not one of {', '.join(METADATA_TYPES)}",
                    )
                )
        return out

    def to_props(self) -> dict[str, Any]:
        return {**asdict(self), "metadata_indexes": dict(sorted(self.metadata_indexes.items()))}

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> IndexConfig:
        """Inverse of `to_props`. Pulumi hands numbers over as floats; they are normalized here."""
        raw_dims = props.get("dimensions")
        metadata = props.get("metadata_indexes") or {}
        return cls(
            account_id=str(props.get("account_id") or ""),
            index_name=str(props.get("index_name") or ""),
            dimensions=int(raw_dims) if isinstance(raw_dims, int | float) else 0,
            metric=str(props.get("metric") or ""),
            description=str(props.get("description") or ""),
            metadata_indexes={str(k): str(v) for k, v in sorted(dict(metadata).items())},
            adopt_existing=bool(props.get("adopt_existing", False)),
        )

    @property
    def immutable_key(self) -> tuple[str, str, int, str]:
        """What cannot change in place: the account, the name, dimensions and metric."""
        return (self.account_id, self.index_name, self.dimensions, self.metric)
