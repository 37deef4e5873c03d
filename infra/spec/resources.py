"""Resource and binding sections of a stack file."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator

from .base import BindingName, Model, ResourceName, SecretName
from .vectorize import MAX_DIMENSIONS, MAX_METADATA_INDEXES, MetadataType, VectorizeMetric


class Zone(Model):
    """A Cloudflare zone the stack routes through, referenced by name from routes and domains."""

    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="Zone id (32 hex chars)")
    domain: str | None = Field(
        default=None,
        pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$",
        description="The zone's domain (example.com); routes and custom domains must be under it",
    )


def route_host(pattern: str) -> str:
    """A route pattern's host, lower-case: `*.API.example.com/v1/*` -> `*.api.example.com`."""
    return pattern.split("/", 1)[0].lower()


def route_domain(pattern: str) -> str:
    """The host a route pattern serves, without its wildcard: `*.api.example.com/*` -> `api.example.com`."""
    return route_host(pattern).removeprefix("*.").removeprefix("*")


class Route(Model):
    pattern: str = Field(min_length=1, description="e.g. api.example.com/v1/*")
    zone: str = Field(description="Key into the stack's `zones` map")


class CustomDomain(Model):
    hostname: str = Field(min_length=1)
    zone: str = Field(description="Key into the stack's `zones` map")


class Observability(Model):
    enabled: bool = True
    head_sampling_rate: float = Field(default=1.0, ge=0.0, le=1.0)


PythonVersion = Literal["3.13", "3.14"]

# Python version -> (compatibility flag, Pyodide line). From cloudflare-facts.md.
PYTHON_VERSION_FLAGS: dict[str, str] = {
    "3.13": "python_workers_20250116",
    "3.14": "python_workers_20260610",
}
PYODIDE_LINES: dict[str, str] = {"3.13": "0.28", "3.14": "314"}


class WorkerSpec(Model):
    name: ResourceName = Field(description="Script name suffix; the script is `<name_prefix>-<name>`")
    compatibility_date: dt.date
    compatibility_flags: tuple[str, ...] = ()
    python: PythonVersion = "3.14"
    vars: dict[str, str] = Field(default_factory=dict)
    secrets: tuple[SecretName, ...] = Field(
        default=(), description="Secret names only; values come from `pulumi config set --secret`"
    )
    routes: tuple[Route, ...] = ()
    custom_domains: tuple[CustomDomain, ...] = ()
    crons: tuple[str, ...] = ()
    observability: Observability = Observability()
    cpu_ms: int | None = Field(default=None, ge=10, le=300_000)
    placement: Literal["smart"] | None = None
    workers_dev: bool = True
    paid_plan: bool = Field(default=True, description="Selects the 10 MiB (paid) or 3 MiB (free) gzip limit")
    demo_route: bool = Field(
        default=False, description="Serve GET /demo (writes tenant-`demo` data, no key): local stacks only"
    )

    @field_validator("compatibility_flags")
    @classmethod
    def _no_python_version_flags(cls, flags: tuple[str, ...]) -> tuple[str, ...]:
        for flag in flags:
            if flag.startswith("python_workers_"):
                raise ValueError(f"set `python:` instead of the version flag {flag!r}")
        return flags

    @property
    def python_flag(self) -> str:
        return PYTHON_VERSION_FLAGS[self.python]

    @property
    def effective_compatibility_flags(self) -> tuple[str, ...]:
        """User flags plus the two Python flags, de-duplicated, in a stable order."""
        flags = list(dict.fromkeys(("python_workers", self.python_flag, *self.compatibility_flags)))
        return tuple(flags)


class KvNamespaceSpec(Model):
    title: str | None = Field(default=None, description="Defaults to `<prefix>-<binding-slug>`")
    protect: bool | None = None


class D1DatabaseSpec(Model):
    name: ResourceName | None = None
    migrations: str | None = Field(
        default=None, description="Folder of .sql files, relative to the stack file that declares it"
    )
    protect: bool | None = None


class R2BucketSpec(Model):
    name: ResourceName | None = None
    location: Literal["apac", "eeur", "enam", "weur", "wnam", "oc"] | None = None
    protect: bool | None = None


class VectorizeIndexSpec(Model):
    name: ResourceName | None = None
    dimensions: int = Field(ge=1, le=MAX_DIMENSIONS)
    metric: VectorizeMetric = "cosine"
    description: str = ""
    metadata_indexes: dict[str, MetadataType] = Field(default_factory=dict, max_length=MAX_METADATA_INDEXES)
    adopt_existing: bool = Field(
        default=False, description="Adopt an index that already exists with the same spec"
    )
    protect: bool | None = None


class DurableObjectSpec(Model):
    class_name: str = Field(pattern=r"^[A-Z][A-Za-z0-9_]*$")


class RateLimitSpec(Model):
    namespace_id: int = Field(ge=1, description="Unique positive integer per account")
    limit: int = Field(ge=1)
    period: Literal[10, 60]


class QueueSpec(Model):
    name: ResourceName | None = None
    consume: bool = Field(default=True, description="Deliver messages to this Worker's queue handler")
    max_batch_size: int = Field(default=10, ge=1, le=100)
    max_batch_timeout_s: int = Field(default=5, ge=0, le=60)


class Bindings(Model):
    kv: dict[BindingName, KvNamespaceSpec] = Field(default_factory=dict)
    d1: dict[BindingName, D1DatabaseSpec] = Field(default_factory=dict)
    r2: dict[BindingName, R2BucketSpec] = Field(default_factory=dict)
    vectorize: dict[BindingName, VectorizeIndexSpec] = Field(default_factory=dict)
    durable_objects: dict[BindingName, DurableObjectSpec] = Field(default_factory=dict)
    ai: BindingName | None = Field(default=None, description="Workers AI binding name, e.g. AI")
    rate_limits: dict[BindingName, RateLimitSpec] = Field(default_factory=dict)
    queues: dict[BindingName, QueueSpec] = Field(default_factory=dict)

    def names_by_kind(self) -> list[tuple[str, str]]:
        """Every declared binding as (kind, NAME), in declaration order."""
        out: list[tuple[str, str]] = []
        for kind in ("kv", "d1", "r2", "vectorize", "durable_objects", "rate_limits", "queues"):
            out.extend((kind, name) for name in getattr(self, kind))
        if self.ai:
            out.append(("ai", self.ai))
        return out


class RenamedClass(Model):
    from_: str = Field(alias="from")
    to: str


class DurableObjectMigration(Model):
    """One append-only migration step, with wrangler's semantics."""

    tag: str = Field(min_length=1, max_length=64)
    new_sqlite_classes: tuple[str, ...] = ()
    renamed_classes: tuple[RenamedClass, ...] = ()
    deleted_classes: tuple[str, ...] = ()


class Protection(Model):
    data: bool | None = Field(
        default=None,
        description="protect=True on D1, R2, KV and Vectorize; defaults to True when environment is prod",
    )


class AiGatewaySpec(Model):
    """Cloudflare's managed AI Gateway, provisioned with pulumi-cloudflare's AiGateway."""

    id: ResourceName
    cache_ttl: int = Field(default=0, ge=0)
    collect_logs: bool = True
    rate_limiting_limit: int = Field(default=0, ge=0)
    rate_limiting_interval: int = Field(default=0, ge=0)
    rate_limiting_technique: Literal["fixed", "sliding"] = "fixed"
    cache_invalidate_on_update: bool = Field(
        default=False, description="Drop cached responses when the gateway settings change"
    )
    log_management: int | None = Field(default=None, ge=1, description="How many logs the gateway keeps")
    log_management_strategy: Literal["STOP_INSERTING", "DELETE_OLDEST"] | None = Field(
        default=None, description="What happens when log_management is reached"
    )
