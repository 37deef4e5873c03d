"""The plan: every resource a stack needs, as typed data (no Pulumi, no network).

Each planned resource has a logical name (derived from `name_prefix` and the binding's slug), its
provider inputs as typed fields, its `protect` flag and the logical names it depends on, which the
components read to order creation. The `Plan` nests one slice per component (`StoragePlan`,
`WorkerPlan`, `RoutingPlan`, `AiGatewayPlan`), which is that component's args. The Worker's slice
and its bindings are in worker_model.py; the token enum and the resource base in planned_resource.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .planned_resource import PlannedResource, Token
from .worker_model import SecretTextBinding, WorkerBinding, WorkerPlan

# --- storage, routing and AI Gateway resources (the Worker's: worker_model.py) ------------------


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
        """The Worker's bindings, sorted by name (the upload, wrangler.jsonc and the local host list
        them in this order)."""
        return self.worker.bindings

    @property
    def secret_bindings(self) -> tuple[SecretTextBinding, ...]:
        """The bindings whose value is a secret (Pulumi secret config, `.dev.vars` locally)."""
        return tuple(b for b in self.bindings if isinstance(b, SecretTextBinding))
