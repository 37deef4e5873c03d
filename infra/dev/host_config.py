"""The Node host's configuration (`runtime/lib/config.mjs` validates the same shape).

Built from the planner's `Plan`, so the local runtime binds exactly what `pulumi up` would bind:
the same binding names, resource names, plain-text bindings (`EDGESTACK_CONFIG`,
`EDGESTACK_BUNDLE_VERSION`, `EDGESTACK_STACK`, `worker.vars`) and secret names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.plan.model import Plan
from infra.plan.worker_model import (
    AiBinding,
    DurableObjectBinding,
    KvBinding,
    PlainTextBinding,
    RateLimitBinding,
    SecretTextBinding,
)
from infra.spec import PYODIDE_LINES, Stack

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class KvConfig:
    binding: str
    id: str


@dataclass(frozen=True)
class D1Config:
    binding: str
    databaseId: str  # noqa: N815 - JSON field names are the host's (camelCase)
    databaseName: str  # noqa: N815


@dataclass(frozen=True)
class R2Config:
    binding: str
    bucketName: str  # noqa: N815


@dataclass(frozen=True)
class DurableObjectConfig:
    binding: str
    className: str  # noqa: N815


@dataclass(frozen=True)
class VectorizeConfig:
    binding: str
    name: str
    dimensions: int
    metric: str
    metadataIndexes: dict[str, str]  # noqa: N815


@dataclass(frozen=True)
class RateLimitConfig:
    binding: str
    namespaceId: str  # noqa: N815
    limit: int
    period: int


@dataclass(frozen=True)
class QueueConfig:
    binding: str
    name: str
    consume: bool
    maxBatchSize: int  # noqa: N815
    maxBatchTimeoutSeconds: int  # noqa: N815


@dataclass(frozen=True)
class AiConfig:
    binding: str
    embeddingsUrl: str | None = None  # noqa: N815
    textGenerationUrl: str | None = None  # noqa: N815
    textGenerationModelMap: dict[str, str] = field(default_factory=dict)  # noqa: N815


@dataclass(frozen=True)
class AdminConfig:
    token: str


@dataclass(frozen=True)
class HostConfig:
    host: str
    port: int
    stateDir: str  # noqa: N815
    bundleDir: str  # noqa: N815
    sourceLabel: str  # noqa: N815 - shown before module paths in errors, e.g. "worker_src/"
    mainModule: str  # noqa: N815
    pyodideLine: str  # noqa: N815
    scriptName: str  # noqa: N815
    compatibilityDate: str  # noqa: N815
    compatibilityFlags: list[str]  # noqa: N815
    accountId: str  # noqa: N815
    admin: AdminConfig
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)
    mapHosts: dict[str, str] = field(default_factory=dict)  # noqa: N815 - `--map-host` (local only)
    kv: list[KvConfig] = field(default_factory=list)
    d1: list[D1Config] = field(default_factory=list)
    r2: list[R2Config] = field(default_factory=list)
    durableObjects: list[DurableObjectConfig] = field(default_factory=list)  # noqa: N815
    vectorize: list[VectorizeConfig] = field(default_factory=list)
    rateLimits: list[RateLimitConfig] = field(default_factory=list)  # noqa: N815
    queues: list[QueueConfig] = field(default_factory=list)
    ai: AiConfig | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path


@dataclass(frozen=True)
class HostInputs:
    """What `edgestack dev` decides beyond the plan."""

    port: int
    state_dir: Path
    bundle_dir: Path
    source_label: str
    admin_token: str
    secrets: dict[str, str]
    embeddings_url: str | None = None
    text_generation_url: str | None = None
    text_generation_models: dict[str, str] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)
    map_hosts: dict[str, str] = field(default_factory=dict)  # HOST -> http://127.0.0.1:PORT


def build_host_config(stack: Stack, plan: Plan, inputs: HostInputs) -> HostConfig:
    worker = stack.worker
    kv = {b.name: b for b in plan.bindings if isinstance(b, KvBinding)}
    kv_titles = {p.binding: p.title for p in plan.storage.kv}
    plain: dict[str, str] = {b.name: b.text for b in plan.bindings if isinstance(b, PlainTextBinding)}
    secret_names = [b.name for b in plan.bindings if isinstance(b, SecretTextBinding)]
    ai = next((b for b in plan.bindings if isinstance(b, AiBinding)), None)
    return HostConfig(
        host=LOOPBACK,
        port=inputs.port,
        stateDir=str(inputs.state_dir.resolve()),
        bundleDir=str(inputs.bundle_dir.resolve()),
        sourceLabel=inputs.source_label,
        mainModule=plan.worker.version.code.main_module,
        pyodideLine=PYODIDE_LINES[worker.python],
        scriptName=plan.script_name,
        compatibilityDate=plan.worker.version.code.compatibility_date,
        compatibilityFlags=list(plan.worker.version.code.compatibility_flags),
        accountId=plan.account_id,
        admin=AdminConfig(token=inputs.admin_token),
        vars=plain,
        secrets={name: inputs.secrets[name] for name in secret_names if name in inputs.secrets},
        backends=dict(inputs.backends),
        mapHosts=dict(inputs.map_hosts),
        kv=[KvConfig(binding=name, id=kv_titles.get(name, b.resource)) for name, b in kv.items()],
        d1=[
            D1Config(binding=p.binding, databaseId=p.database_name, databaseName=p.database_name)
            for p in plan.storage.d1
        ],
        r2=[R2Config(binding=p.binding, bucketName=p.bucket_name) for p in plan.storage.r2],
        durableObjects=[
            DurableObjectConfig(binding=b.name, className=b.class_name)
            for b in plan.bindings
            if isinstance(b, DurableObjectBinding)
        ],
        vectorize=[
            VectorizeConfig(
                binding=p.binding,
                name=p.index_name,
                dimensions=p.dimensions,
                metric=p.metric,
                metadataIndexes=dict(p.metadata_indexes),
            )
            for p in plan.storage.vectorize
        ],
        rateLimits=[
            RateLimitConfig(binding=b.name, namespaceId=b.namespace_id, limit=b.limit, period=b.period)
            for b in plan.bindings
            if isinstance(b, RateLimitBinding)
        ],
        queues=[
            QueueConfig(
                binding=p.binding,
                name=p.queue_name,
                consume=stack.bindings.queues[p.binding].consume,
                maxBatchSize=stack.bindings.queues[p.binding].max_batch_size,
                maxBatchTimeoutSeconds=stack.bindings.queues[p.binding].max_batch_timeout_s,
            )
            for p in plan.storage.queues
        ],
        ai=(
            AiConfig(
                ai.name,
                inputs.embeddings_url,
                inputs.text_generation_url,
                dict(inputs.text_generation_models),
            )
            if ai
            else None
        ),
    )


def binding_rows(config: HostConfig) -> list[tuple[str, str, str]]:
    """(binding, kind, local backend) for the startup banner."""
    state = config.stateDir
    rows: list[tuple[str, str, str]] = []
    rows += [(b.binding, "KV namespace", f"Miniflare KV {b.id!r} ({state}/kv)") for b in config.kv]
    rows += [(b.binding, "D1 database", f"Miniflare D1 {b.databaseName!r} ({state}/d1)") for b in config.d1]
    rows += [(b.binding, "R2 bucket", f"Miniflare R2 {b.bucketName!r} ({state}/r2)") for b in config.r2]
    rows += [
        (b.binding, "Durable Object", f"class {b.className}, SQLite per object ({state}/do)")
        for b in config.durableObjects
    ]
    rows += [
        (
            b.binding,
            "Vectorize index",
            f"exact search {b.name!r}, {b.dimensions}d {b.metric} ({state}/vectorize)",
        )
        for b in config.vectorize
    ]
    rows += [
        (b.binding, "rate limiter", f"in-memory, {b.limit} per {b.period}s per key")
        for b in config.rateLimits
    ]
    rows += [(b.binding, "queue", f"local queue {b.name!r}") for b in config.queues]
    if config.ai:
        rows.append((config.ai.binding, "Workers AI", config.backends.get("ai", "local")))
    rows += [(name, "secret", "set") for name in sorted(config.secrets)]
    return rows
