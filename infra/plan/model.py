"""The plan: every resource a stack needs, as typed data (no Pulumi, no network).

Each planned resource has a logical name (derived from `name_prefix` and the binding's slug), its
provider inputs as typed fields, its `protect` flag and the logical names it depends on, which the
components read to order creation. The `Plan` nests one slice per component (`StoragePlan`,
`WorkerPlan`, `RoutingPlan`, `AiGatewayPlan`), which is that component's args.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from .bundle import Module
from .do_migrations import MigrationPlan


class Token(StrEnum):
    """Pulumi type tokens: edgestack's components, and what each planned resource becomes."""

    # components (`edgestack:index:*`), one per concern
    STORAGE = "edgestack:index:Storage"
    WORKER_COMPONENT = "edgestack:index:Worker"
    DURABLE_OBJECTS = "edgestack:index:DurableObjects"
    ROUTING = "edgestack:index:Routing"
    AI_GATEWAY_COMPONENT = "edgestack:index:AiGateway"
    # components holding one resource of edgestack's dynamic providers (deploy/providers/)
    VECTORIZE_INDEX = "edgestack:index:VectorizeIndex"
    D1_MIGRATIONS = "edgestack:index:D1Migrations"
    # pulumi-cloudflare resources
    WORKER = "cloudflare:index/worker:Worker"
    WORKER_VERSION = "cloudflare:index/workerVersion:WorkerVersion"
    WORKERS_DEPLOYMENT = "cloudflare:index/workersDeployment:WorkersDeployment"
    WORKERS_SCRIPT = "cloudflare:index/workersScript:WorkersScript"
    KV_NAMESPACE = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
    D1_DATABASE = "cloudflare:index/d1Database:D1Database"
    R2_BUCKET = "cloudflare:index/r2Bucket:R2Bucket"
    QUEUE = "cloudflare:index/queue:Queue"
    QUEUE_CONSUMER = "cloudflare:index/queueConsumer:QueueConsumer"
    R2_EVENT_NOTIFICATION = "cloudflare:index/r2BucketEventNotification:R2BucketEventNotification"
    WORKERS_ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
    CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
    CRON_TRIGGER = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
    SCRIPT_SUBDOMAIN = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
    AI_GATEWAY = "cloudflare:index/aiGateway:AiGateway"

    @property
    def dynamic(self) -> bool:
        """A component around one dynamic-provider resource (not a pulumi-cloudflare resource)."""
        return self in (Token.VECTORIZE_INDEX, Token.D1_MIGRATIONS)


# --- Worker bindings (the WorkerVersion `bindings` list) ----------------------------------------


@dataclass(frozen=True, kw_only=True)
class WorkerBinding:
    type: ClassVar[str]
    name: str


@dataclass(frozen=True, kw_only=True)
class ResourceBinding(WorkerBinding):
    """A binding to a resource of the plan, named by its logical name."""

    resource: str


@dataclass(frozen=True, kw_only=True)
class KvBinding(ResourceBinding):
    type: ClassVar[str] = "kv_namespace"


@dataclass(frozen=True, kw_only=True)
class D1Binding(ResourceBinding):
    type: ClassVar[str] = "d1"


@dataclass(frozen=True, kw_only=True)
class R2Binding(ResourceBinding):
    type: ClassVar[str] = "r2_bucket"
    bucket_name: str


@dataclass(frozen=True, kw_only=True)
class VectorizeBinding(ResourceBinding):
    type: ClassVar[str] = "vectorize"
    index_name: str


@dataclass(frozen=True, kw_only=True)
class QueueBinding(ResourceBinding):
    type: ClassVar[str] = "queue"
    queue_name: str


@dataclass(frozen=True, kw_only=True)
class DurableObjectBinding(WorkerBinding):
    type: ClassVar[str] = "durable_object_namespace"
    class_name: str


@dataclass(frozen=True, kw_only=True)
class AiBinding(WorkerBinding):
    type: ClassVar[str] = "ai"


@dataclass(frozen=True, kw_only=True)
class RateLimitBinding(WorkerBinding):
    type: ClassVar[str] = "ratelimit"
    namespace_id: str
    limit: int
    period: int


@dataclass(frozen=True, kw_only=True)
class PlainTextBinding(WorkerBinding):
    type: ClassVar[str] = "plain_text"
    text: str


@dataclass(frozen=True, kw_only=True)
class SecretTextBinding(WorkerBinding):
    """Value from Pulumi secret config `<project>:<config_key>` (`pulumi config set --secret`)."""

    type: ClassVar[str] = "secret_text"
    config_key: str


# --- planned resources --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlannedResource:
    kind: ClassVar[Token]
    component: ClassVar[Token]
    name: str
    protect: bool = False
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class KvNamespacePlan(PlannedResource):
    kind: ClassVar[Token] = Token.KV_NAMESPACE
    component: ClassVar[Token] = Token.STORAGE
    binding: str
    title: str


@dataclass(frozen=True, kw_only=True)
class D1DatabasePlan(PlannedResource):
    kind: ClassVar[Token] = Token.D1_DATABASE
    component: ClassVar[Token] = Token.STORAGE
    binding: str
    database_name: str


@dataclass(frozen=True, kw_only=True)
class D1MigrationsPlan(PlannedResource):
    """Apply the `.sql` files of `migrations_dir` to `database` (the D1 migrations dynamic provider)."""

    kind: ClassVar[Token] = Token.D1_MIGRATIONS
    component: ClassVar[Token] = Token.STORAGE
    binding: str
    database: str
    migrations_dir: str


@dataclass(frozen=True, kw_only=True)
class R2BucketPlan(PlannedResource):
    kind: ClassVar[Token] = Token.R2_BUCKET
    component: ClassVar[Token] = Token.STORAGE
    binding: str
    bucket_name: str
    location: str | None


@dataclass(frozen=True, kw_only=True)
class VectorizeIndexPlan(PlannedResource):
    """A Vectorize index (the Vectorize dynamic provider)."""

    kind: ClassVar[Token] = Token.VECTORIZE_INDEX
    component: ClassVar[Token] = Token.STORAGE
    binding: str
    index_name: str
    dimensions: int
    metric: str
    description: str
    metadata_indexes: tuple[tuple[str, str], ...]
    adopt_existing: bool


@dataclass(frozen=True, kw_only=True)
class QueuePlan(PlannedResource):
    kind: ClassVar[Token] = Token.QUEUE
    component: ClassVar[Token] = Token.STORAGE
    binding: str
    queue_name: str


@dataclass(frozen=True, kw_only=True)
class QueueConsumerPlan(PlannedResource):
    kind: ClassVar[Token] = Token.QUEUE_CONSUMER
    component: ClassVar[Token] = Token.ROUTING
    queue: str
    batch_size: int
    max_wait_time_ms: int


@dataclass(frozen=True, kw_only=True)
class R2EventNotificationPlan(PlannedResource):
    """R2 event notifications from a bucket to a queue (`rag.ingest_on_upload`)."""

    kind: ClassVar[Token] = Token.R2_EVENT_NOTIFICATION
    component: ClassVar[Token] = Token.ROUTING
    bucket: str  # logical name of the bucket plan
    queue: str  # logical name of the queue plan
    actions: tuple[str, ...]
    description: str


# The object writes and deletes RAG indexes (R2 event notification actions).
RAG_UPLOAD_ACTIONS = (
    "PutObject",
    "CopyObject",
    "CompleteMultipartUpload",
    "DeleteObject",
    "LifecycleDeletion",
)


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
class RoutePlan(PlannedResource):
    kind: ClassVar[Token] = Token.WORKERS_ROUTE
    component: ClassVar[Token] = Token.ROUTING
    pattern: str
    zone_id: str


@dataclass(frozen=True, kw_only=True)
class CustomDomainPlan(PlannedResource):
    kind: ClassVar[Token] = Token.CUSTOM_DOMAIN
    component: ClassVar[Token] = Token.ROUTING
    hostname: str
    zone_id: str


@dataclass(frozen=True, kw_only=True)
class CronTriggerPlan(PlannedResource):
    kind: ClassVar[Token] = Token.CRON_TRIGGER
    component: ClassVar[Token] = Token.ROUTING
    schedules: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SubdomainPlan(PlannedResource):
    kind: ClassVar[Token] = Token.SCRIPT_SUBDOMAIN
    component: ClassVar[Token] = Token.ROUTING
    enabled: bool


@dataclass(frozen=True, kw_only=True)
class AiGatewayPlan(PlannedResource):
    kind: ClassVar[Token] = Token.AI_GATEWAY
    component: ClassVar[Token] = Token.AI_GATEWAY_COMPONENT
    gateway_id: str
    cache_ttl: int
    collect_logs: bool
    rate_limiting_limit: int
    rate_limiting_interval: int
    rate_limiting_technique: str
    cache_invalidate_on_update: bool
    log_management: int | None
    log_management_strategy: str | None


# --- the plan, one slice per component -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StoragePlan:
    """The `Storage` component's args: every data resource the Worker binds."""

    account_id: str
    kv: tuple[KvNamespacePlan, ...]
    d1: tuple[D1DatabasePlan, ...]
    d1_migrations: tuple[D1MigrationsPlan, ...]
    r2: tuple[R2BucketPlan, ...]
    vectorize: tuple[VectorizeIndexPlan, ...]
    queues: tuple[QueuePlan, ...]

    def resources(self) -> tuple[PlannedResource, ...]:
        return (*self.kv, *self.d1, *self.d1_migrations, *self.r2, *self.vectorize, *self.queues)


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


@dataclass(frozen=True, kw_only=True)
class RoutingPlan:
    """The `Routing` component's args: every way events reach the deployed Worker."""

    account_id: str
    routes: tuple[RoutePlan, ...]
    custom_domains: tuple[CustomDomainPlan, ...]
    crons: CronTriggerPlan | None
    subdomain: SubdomainPlan
    queue_consumers: tuple[QueueConsumerPlan, ...]
    r2_event_notifications: tuple[R2EventNotificationPlan, ...] = ()

    def resources(self) -> tuple[PlannedResource, ...]:
        crons = (self.crons,) if self.crons else ()
        return (
            *self.routes,
            *self.custom_domains,
            *crons,
            self.subdomain,
            *self.queue_consumers,
            *self.r2_event_notifications,
        )

    def urls(self) -> list[str]:
        """`https://` URLs of the zone routes and custom domains (the workers.dev URL is the Worker's)."""
        return [f"https://{r.pattern}" for r in self.routes] + [
            f"https://{d.hostname}" for d in self.custom_domains
        ]


@dataclass(frozen=True, kw_only=True)
class Plan:
    stack_name: str
    account_id: str
    name_prefix: str
    script_name: str
    bundle_sha256: str
    bundle_version: str
    storage: StoragePlan
    worker: WorkerPlan
    routing: RoutingPlan
    ai_gateway: AiGatewayPlan | None

    def resources(self) -> tuple[PlannedResource, ...]:
        """Every planned resource, in creation order."""
        gateway = (self.ai_gateway,) if self.ai_gateway else ()
        return (*self.storage.resources(), *self.worker.resources(), *self.routing.resources(), *gateway)

    @property
    def bindings(self) -> tuple[WorkerBinding, ...]:
        return self.worker.bindings
