"""The Worker's slice of the plan: its bindings, the named Worker, the upload carrying pending
Durable Object migrations, the version, and the deployment (this run's version, a rollout split or a
rollback pin) that serves it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .bundle import Module
from .do_migrations import MigrationPlan
from .planned_resource import PlannedResource, Token

# --- Worker bindings (the WorkerVersion `bindings` list) ----------------------------------------


@dataclass(frozen=True, kw_only=True)
class WorkerBinding:
    type: ClassVar[str]  # Cloudflare's binding type (the WorkerVersion wire field)
    kind: ClassVar[str]  # the Worker's name for the kind, shipped in `EDGESTACK_CONFIG.bindings`
    name: str


@dataclass(frozen=True, kw_only=True)
class ResourceBinding(WorkerBinding):
    """A binding to a resource of the plan, named by its logical name."""

    resource: str


@dataclass(frozen=True, kw_only=True)
class KvBinding(ResourceBinding):
    type: ClassVar[str] = "kv_namespace"
    kind: ClassVar[str] = "kv"


@dataclass(frozen=True, kw_only=True)
class D1Binding(ResourceBinding):
    type: ClassVar[str] = "d1"
    kind: ClassVar[str] = "d1"


@dataclass(frozen=True, kw_only=True)
class R2Binding(ResourceBinding):
    type: ClassVar[str] = "r2_bucket"
    kind: ClassVar[str] = "r2"
    bucket_name: str


@dataclass(frozen=True, kw_only=True)
class VectorizeBinding(ResourceBinding):
    type: ClassVar[str] = "vectorize"
    kind: ClassVar[str] = "vectorize"
    index_name: str


@dataclass(frozen=True, kw_only=True)
class QueueBinding(ResourceBinding):
    type: ClassVar[str] = "queue"
    kind: ClassVar[str] = "queue"
    queue_name: str


@dataclass(frozen=True, kw_only=True)
class DurableObjectBinding(WorkerBinding):
    type: ClassVar[str] = "durable_object_namespace"
    kind: ClassVar[str] = "durable_object"
    class_name: str


@dataclass(frozen=True, kw_only=True)
class AiBinding(WorkerBinding):
    type: ClassVar[str] = "ai"
    kind: ClassVar[str] = "ai"


@dataclass(frozen=True, kw_only=True)
class RateLimitBinding(WorkerBinding):
    type: ClassVar[str] = "ratelimit"
    kind: ClassVar[str] = "rate_limit"
    namespace_id: str
    limit: int
    period: int


@dataclass(frozen=True, kw_only=True)
class PlainTextBinding(WorkerBinding):
    type: ClassVar[str] = "plain_text"
    kind: ClassVar[str] = "plain_text"
    text: str


@dataclass(frozen=True, kw_only=True)
class SecretTextBinding(WorkerBinding):
    """Value from Pulumi secret config `<project>:<config_key>` (`pulumi config set --secret`)."""

    type: ClassVar[str] = "secret_text"
    kind: ClassVar[str] = "secret"
    config_key: str


# --- the Worker, its versions and deployment ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NamedWorkerPlan(PlannedResource):
    """The named Worker: identity and Worker-level settings (observability)."""

    kind: ClassVar[Token] = Token.WORKER
    component: ClassVar[Token] = Token.WORKER_COMPONENT
    script_name: str
    observability_enabled: bool
    head_sampling_rate: float


@dataclass(frozen=True, kw_only=True)
class WorkerCode:
    """What one upload of the Worker carries: modules, runtime settings and bindings."""

    main_module: str
    modules: tuple[Module, ...]
    compatibility_date: str
    compatibility_flags: tuple[str, ...]
    bindings: tuple[WorkerBinding, ...]
    cpu_ms: int | None
    placement_mode: str | None


@dataclass(frozen=True, kw_only=True)
class MigrationUploadPlan(PlannedResource):
    """Full script upload carrying pending Durable Object migrations (the non-versioned path)."""

    kind: ClassVar[Token] = Token.WORKERS_SCRIPT
    component: ClassVar[Token] = Token.DURABLE_OBJECTS
    script_name: str
    migration: MigrationPlan
    code: WorkerCode


@dataclass(frozen=True, kw_only=True)
class WorkerVersionPlan(PlannedResource):
    kind: ClassVar[Token] = Token.WORKER_VERSION
    component: ClassVar[Token] = Token.WORKER_COMPONENT
    worker: str
    code: WorkerCode


@dataclass(frozen=True)
class VersionShare:
    """One version of a deployment: this run's upload (`version`, a logical name) or an existing
    version by id (`version_id`: the stable version of a split, or a rollback's pinned version)."""

    percentage: int
    version: str | None = None
    version_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeploymentPlan(PlannedResource):
    """Percentage strategy. `version`/`percentage`: this run's upload and its share;
    `stable_version_id` gets the rest of a split; `pinned_version_id` (a rollback) gets 100% and
    nothing is uploaded."""

    kind: ClassVar[Token] = Token.WORKERS_DEPLOYMENT
    component: ClassVar[Token] = Token.WORKER_COMPONENT
    worker: str
    version: str
    strategy: str
    percentage: int
    forced_by_migration: bool
    stable_version_id: str | None = None
    pinned_version_id: str | None = None
    pinned_bundle_sha256: str | None = None

    @property
    def pinned(self) -> bool:
        return self.pinned_version_id is not None

    @property
    def shares(self) -> tuple[VersionShare, ...]:
        if self.pinned_version_id is not None:
            return (VersionShare(100, version_id=self.pinned_version_id),)
        new = VersionShare(self.percentage, version=self.version)
        if self.stable_version_id is None or self.percentage == 100:
            return (new,)
        return (new, VersionShare(100 - self.percentage, version_id=self.stable_version_id))


@dataclass(frozen=True, kw_only=True)
class WorkerPlan:
    """The `Worker` component's args: the named Worker, the upload carrying pending Durable Object
    migrations (if any), the version, and the deployment that serves it."""

    account_id: str
    name_prefix: str
    script: NamedWorkerPlan
    migration: MigrationPlan
    migration_upload: MigrationUploadPlan | None
    version: WorkerVersionPlan
    deployment: DeploymentPlan

    @property
    def bindings(self) -> tuple[WorkerBinding, ...]:
        return self.version.code.bindings

    def resources(self) -> tuple[PlannedResource, ...]:
        upload = (self.migration_upload,) if self.migration_upload else ()
        version = () if self.deployment.pinned else (self.version,)  # a rollback uploads nothing
        return (self.script, *upload, *version, self.deployment)
