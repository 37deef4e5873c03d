"""Typed model of a stack file (after `extends:` is merged).

The loader (`infra.stackfile.load`) parses YAML with source positions, merges `extends:` chains and
validates the result into `Stack`. Everything downstream (planner, components, dev runtime)
takes a `Stack`, never raw dicts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .apps import EMBEDDING_DIMENSIONS, AgentsSpec, GatewaySpec, McpSpec, RagSpec
from .base import NAME_PREFIX_RE, Model, slug
from .policy import PolicyRuleId, PolicySpec
from .resources import (
    PYODIDE_LINES,
    PYTHON_VERSION_FLAGS,
    AiGatewaySpec,
    Bindings,
    D1DatabaseSpec,
    DurableObjectMigration,
    DurableObjectSpec,
    KvNamespaceSpec,
    Protection,
    QueueSpec,
    R2BucketSpec,
    RateLimitSpec,
    VectorizeIndexSpec,
    WorkerSpec,
    Zone,
)

Environment = Literal["local", "dev", "staging", "prod"]


class Stack(Model):
    """A fully merged stack file."""

    account_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name_prefix: str = Field(pattern=NAME_PREFIX_RE, description="Prefix of every resource name")
    environment: Environment = "dev"
    zones: dict[str, Zone] = Field(default_factory=dict)
    worker: WorkerSpec
    bindings: Bindings = Bindings()
    durable_object_migrations: tuple[DurableObjectMigration, ...] = ()
    protection: Protection = Protection()
    ai_gateway: AiGatewaySpec | None = None
    gateway: GatewaySpec | None = None
    rag: RagSpec | None = None
    agents: AgentsSpec | None = None
    mcp: McpSpec | None = None
    policy: PolicySpec = PolicySpec()

    @property
    def script_name(self) -> str:
        return f"{self.name_prefix}-{self.worker.name}"

    @property
    def ai_gateway_id(self) -> str | None:
        """The AI Gateway's id, prefixed like every other name so stacks in one account never collide."""
        return f"{self.name_prefix}-{self.ai_gateway.id}" if self.ai_gateway else None

    def resource_name(self, binding: str, explicit: str | None = None) -> str:
        """Cloudflare-side name of a binding's resource: explicit, or `<prefix>-<binding-slug>`."""
        return explicit or f"{self.name_prefix}-{slug(binding)}"

    @property
    def protect_data(self) -> bool:
        if self.protection.data is not None:
            return self.protection.data
        return self.environment == "prod"


__all__ = [
    "EMBEDDING_DIMENSIONS",
    "PYODIDE_LINES",
    "PYTHON_VERSION_FLAGS",
    "AgentsSpec",
    "AiGatewaySpec",
    "Bindings",
    "D1DatabaseSpec",
    "DurableObjectMigration",
    "DurableObjectSpec",
    "Environment",
    "GatewaySpec",
    "KvNamespaceSpec",
    "Model",
    "PolicyRuleId",
    "PolicySpec",
    "Protection",
    "QueueSpec",
    "R2BucketSpec",
    "RagSpec",
    "RateLimitSpec",
    "Stack",
    "VectorizeIndexSpec",
    "WorkerSpec",
    "Zone",
    "slug",
]
