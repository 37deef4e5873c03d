"""The resource graph the policy rules and `edgestack diff` read, from either entry point.

`edgestack synth` gives a `SynthResult` (inputs as the provider receives them); a CrossGuard
policy pack gives pulumi-policy's `PolicyResource`s. Both carry engine property names
(`accountId`, `compatibilityDate`, ...), so one `Graph` type serves both and the rules are written
once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.deploy.synth import SynthResult
from infra.plan.planned_resource import Token
from infra.plan.runtime_config import CONFIG_BINDING, STACK_BINDING

VECTORIZE_INDEX_TYPE = "pulumi-python:dynamic/edgestack:VectorizeIndex"
DATA_TYPES = frozenset(
    {Token.KV_NAMESPACE.value, Token.D1_DATABASE.value, Token.R2_BUCKET.value, VECTORIZE_INDEX_TYPE}
)


@dataclass(frozen=True)
class GraphResource:
    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool

    @property
    def short_type(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.short_type})"


@dataclass(frozen=True)
class Graph:
    resources: tuple[GraphResource, ...]

    @classmethod
    def from_synth(cls, result: SynthResult) -> Graph:
        return cls(tuple(GraphResource(r.type, r.name, r.inputs, r.protect) for r in result.resources))

    def of_type(self, *types: str) -> Iterator[GraphResource]:
        return (r for r in self.resources if r.type in types)

    def worker_uploads(self) -> Iterator[GraphResource]:
        """Every upload of the Worker's code: versions first, then migration-carrying script uploads."""
        yield from self.of_type(Token.WORKER_VERSION.value)
        yield from self.of_type(Token.WORKERS_SCRIPT.value)

    def plain_text_bindings(self) -> Iterator[tuple[GraphResource, str, str]]:
        """(upload, binding name, text) of every plain_text binding."""
        for upload in self.worker_uploads():
            for binding in upload.props.get("bindings") or ():
                if isinstance(binding, Mapping) and binding.get("type") == "plain_text":
                    yield upload, str(binding.get("name")), str(binding.get("text", ""))

    def plain_text(self, name: str) -> str | None:
        return next((text for _, binding, text in self.plain_text_bindings() if binding == name), None)

    def stack_name(self) -> str | None:
        """The Pulumi stack this graph deploys (the `EDGESTACK_STACK` binding)."""
        return self.plain_text(STACK_BINDING)

    def runtime_config(self) -> dict[str, Any]:
        """The Worker's `EDGESTACK_CONFIG` (gateway/rag/agents sections), `{}` when absent or unreadable."""
        text = self.plain_text(CONFIG_BINDING)
        try:
            value = json.loads(text) if text else {}
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
