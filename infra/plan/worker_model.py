"""The Worker's slice of the plan: its bindings, the named Worker, the upload carrying pending
Durable Object migrations, the version, and the deployment (this run's version, a rollout split or a
rollback pin) that serves it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .bundle import Module
from .do_migrations import MigrationPlan
from .planned_resource import PlannedResource, Token

# --- Worker bindings (the WorkerVersion `bindings` list) ----------------------------------------
#
# Each binding kind has one home, its class here: its Cloudflare `type`, its stack-file `kind`, its
# Pulumi wire fields, its wrangler.jsonc fragment and printed row, its local host entry and its
# banner row. The deploy, dev and fleet layers consume these as plain data.

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class HostEntry:
    """One binding in the local host's configuration: `section` (a key of the host JSON, e.g. "kv")
    and the entry's fields as the host reads them (camelCase, `runtime/lib/config.mjs`)."""

    section: str
    fields: JsonObject


@dataclass(frozen=True, kw_only=True)
class WorkerBinding:
    type: ClassVar[str]  # Cloudflare's binding type (the WorkerVersion wire field)
    kind: ClassVar[str]  # the Worker's name for the kind, shipped in `EDGESTACK_CONFIG.bindings`
    # The wire field whose value only the deployment has (a created resource's id or name, a
    # secret's value); `None` when every field is known at plan time.
    deployed_field: ClassVar[str | None] = None
    # What `wrangler deploy` prints as the type (print-bindings.ts, `friendlyBindingNames`); `None`
    # for a binding wrangler never sees.
    wrangler_label: ClassVar[str | None]
    # The `edgestack dev` banner's word for the kind.
    banner_label: ClassVar[str]
    name: str

    def wire_fields(self) -> JsonObject:
        """The provider binding fields known at plan time (pulumi-cloudflare 6.x names)."""
        return {"name": self.name, "type": self.type, **self._own_wire_fields()}

    def _own_wire_fields(self) -> JsonObject:
        return {}

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        """This binding's part of wrangler.jsonc, merged into the config (lists append, objects
        merge); `relative` makes a path relative to the config's folder."""
        return {}

    def wrangler_detail(self) -> str | None:
        """What wrangler prints in parentheses after `env.NAME`."""
        return None

    def host_entry(self) -> HostEntry | None:
        return None

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        """The banner's description of the local backend (`None`: no banner row)."""
        return None


@dataclass(frozen=True, kw_only=True)
class ResourceBinding(WorkerBinding):
    """A binding to a resource of the plan, named by its logical name; the wire field
    `deployed_field` is the created resource's id or name."""

    resource: str


@dataclass(frozen=True, kw_only=True)
class KvBinding(ResourceBinding):
    type: ClassVar[str] = "kv_namespace"
    kind: ClassVar[str] = "kv"
    deployed_field: ClassVar[str | None] = "namespace_id"
    wrangler_label: ClassVar[str | None] = "KV Namespace"
    banner_label: ClassVar[str] = "KV namespace"
    title: str

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        # wrangler needs an id; the KV title stands in locally. Use the id from `pulumi stack output`
        # for remote development.
        return {"kv_namespaces": [{"binding": self.name, "id": self.title}]}

    def wrangler_detail(self) -> str | None:
        return self.title

    def host_entry(self) -> HostEntry | None:
        return HostEntry("kv", {"binding": self.name, "id": self.title})

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"Miniflare KV {self.title!r} ({state_dir}/kv)"


@dataclass(frozen=True, kw_only=True)
class D1Binding(ResourceBinding):
    type: ClassVar[str] = "d1"
    kind: ClassVar[str] = "d1"
    deployed_field: ClassVar[str | None] = "id"
    wrangler_label: ClassVar[str | None] = "D1 Database"
    banner_label: ClassVar[str] = "D1 database"
    database_name: str
    migrations_dir: str | None = None

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        entry: JsonObject = {
            "binding": self.name,
            "database_name": self.database_name,
            "database_id": self.database_name,
        }
        if self.migrations_dir is not None:
            entry["migrations_dir"] = relative(self.migrations_dir)
        return {"d1_databases": [entry]}

    def wrangler_detail(self) -> str | None:
        return self.database_name

    def host_entry(self) -> HostEntry | None:
        return HostEntry(
            "d1", {"binding": self.name, "databaseId": self.database_name, "databaseName": self.database_name}
        )

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"Miniflare D1 {self.database_name!r} ({state_dir}/d1)"


@dataclass(frozen=True, kw_only=True)
class R2Binding(ResourceBinding):
    type: ClassVar[str] = "r2_bucket"
    kind: ClassVar[str] = "r2"
    deployed_field: ClassVar[str | None] = "bucket_name"
    wrangler_label: ClassVar[str | None] = "R2 Bucket"
    banner_label: ClassVar[str] = "R2 bucket"
    bucket_name: str

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        return {"r2_buckets": [{"binding": self.name, "bucket_name": self.bucket_name}]}

    def wrangler_detail(self) -> str | None:
        return self.bucket_name

    def host_entry(self) -> HostEntry | None:
        return HostEntry("r2", {"binding": self.name, "bucketName": self.bucket_name})

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"Miniflare R2 {self.bucket_name!r} ({state_dir}/r2)"


@dataclass(frozen=True, kw_only=True)
class VectorizeBinding(ResourceBinding):
    """The Worker's view of a planned Vectorize index (the index itself: `VectorizeIndexPlan`)."""

    type: ClassVar[str] = "vectorize"
    kind: ClassVar[str] = "vectorize"
    deployed_field: ClassVar[str | None] = "index_name"
    wrangler_label: ClassVar[str | None] = "Vectorize Index"
    banner_label: ClassVar[str] = "Vectorize index"
    index_name: str
    dimensions: int
    metric: str
    metadata_indexes: tuple[tuple[str, str], ...]

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        return {"vectorize": [{"binding": self.name, "index_name": self.index_name}]}

    def wrangler_detail(self) -> str | None:
        return self.index_name

    def host_entry(self) -> HostEntry | None:
        return HostEntry(
            "vectorize",
            {
                "binding": self.name,
                "name": self.index_name,
                "dimensions": self.dimensions,
                "metric": self.metric,
                "metadataIndexes": dict(self.metadata_indexes),
            },
        )

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"exact search {self.index_name!r}, {self.dimensions}d {self.metric} ({state_dir}/vectorize)"


@dataclass(frozen=True, kw_only=True)
class QueueBinding(ResourceBinding):
    """A queue producer binding; `consume` and the batch settings are this Worker's consumer."""

    type: ClassVar[str] = "queue"
    kind: ClassVar[str] = "queue"
    deployed_field: ClassVar[str | None] = "queue_name"
    wrangler_label: ClassVar[str | None] = "Queue"
    banner_label: ClassVar[str] = "queue"
    queue_name: str
    consume: bool
    max_batch_size: int
    max_batch_timeout_s: int

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        consumer = {
            "queue": self.queue_name,
            "max_batch_size": self.max_batch_size,
            "max_batch_timeout": self.max_batch_timeout_s,
        }
        return {
            "queues": {
                "producers": [{"binding": self.name, "queue": self.queue_name}],
                "consumers": [consumer] if self.consume else [],
            }
        }

    def wrangler_detail(self) -> str | None:
        return self.queue_name

    def host_entry(self) -> HostEntry | None:
        return HostEntry(
            "queues",
            {
                "binding": self.name,
                "name": self.queue_name,
                "consume": self.consume,
                "maxBatchSize": self.max_batch_size,
                "maxBatchTimeoutSeconds": self.max_batch_timeout_s,
            },
        )

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"local queue {self.queue_name!r}"


@dataclass(frozen=True, kw_only=True)
class DurableObjectBinding(WorkerBinding):
    type: ClassVar[str] = "durable_object_namespace"
    kind: ClassVar[str] = "durable_object"
    wrangler_label: ClassVar[str | None] = "Durable Object"
    banner_label: ClassVar[str] = "Durable Object"
    class_name: str

    def _own_wire_fields(self) -> JsonObject:
        return {"class_name": self.class_name}

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        return {"durable_objects": {"bindings": [{"name": self.name, "class_name": self.class_name}]}}

    def wrangler_detail(self) -> str | None:
        return self.class_name

    def host_entry(self) -> HostEntry | None:
        return HostEntry("durableObjects", {"binding": self.name, "className": self.class_name})

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"class {self.class_name}, SQLite per object ({state_dir}/do)"


@dataclass(frozen=True, kw_only=True)
class AiBinding(WorkerBinding):
    type: ClassVar[str] = "ai"
    kind: ClassVar[str] = "ai"
    wrangler_label: ClassVar[str | None] = "AI"
    banner_label: ClassVar[str] = "Workers AI"

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        return {"ai": {"binding": self.name}}

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return backends.get("ai", "local")


@dataclass(frozen=True, kw_only=True)
class RateLimitBinding(WorkerBinding):
    type: ClassVar[str] = "ratelimit"
    kind: ClassVar[str] = "rate_limit"
    wrangler_label: ClassVar[str | None] = "Rate Limit"
    banner_label: ClassVar[str] = "rate limiter"
    namespace_id: str
    limit: int
    period: int

    def _own_wire_fields(self) -> JsonObject:
        return {"namespace_id": self.namespace_id, "simple": {"limit": self.limit, "period": self.period}}

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        return {"ratelimits": [{"name": self.name, **self._own_wire_fields()}]}

    def wrangler_detail(self) -> str | None:
        return f"{self.limit} requests/{self.period}s"

    def host_entry(self) -> HostEntry | None:
        return HostEntry(
            "rateLimits",
            {"binding": self.name, "namespaceId": self.namespace_id, "limit": self.limit, "period": self.period},
        )

    def local_backend(self, state_dir: str, backends: Mapping[str, str]) -> str | None:
        return f"in-memory, {self.limit} per {self.period}s per key"


@dataclass(frozen=True, kw_only=True)
class PlainTextBinding(WorkerBinding):
    type: ClassVar[str] = "plain_text"
    kind: ClassVar[str] = "plain_text"
    wrangler_label: ClassVar[str | None] = "Environment Variable"
    banner_label: ClassVar[str] = "var"
    text: str

    def _own_wire_fields(self) -> JsonObject:
        return {"text": self.text}

    def wrangler_fragment(self, relative: Callable[[str], str]) -> JsonObject:
        return {"vars": {self.name: self.text}}

    def wrangler_detail(self) -> str | None:
        # As wrangler prints a var (print-bindings.ts): quoted, cut to 37 characters + `...`.
        shown = 40
        return f'"{self.text}"' if len(self.text) < shown else f'"{self.text[: shown - 3]}..."'


@dataclass(frozen=True, kw_only=True)
class SecretTextBinding(WorkerBinding):
    """Value from Pulumi secret config `<project>:<config_key>` (`pulumi config set --secret`);
    wrangler reads secrets from `.dev.vars`, the local host from `HostInputs.secrets`."""

    type: ClassVar[str] = "secret_text"
    kind: ClassVar[str] = "secret"
    deployed_field: ClassVar[str | None] = "text"
    wrangler_label: ClassVar[str | None] = None
    banner_label: ClassVar[str] = "secret"
    config_key: str


# Every binding kind, in the order the `edgestack dev` banner lists them.
BINDING_TYPES: tuple[type[WorkerBinding], ...] = (
    KvBinding,
    D1Binding,
    R2Binding,
    DurableObjectBinding,
    VectorizeBinding,
    RateLimitBinding,
    QueueBinding,
    AiBinding,
    PlainTextBinding,
    SecretTextBinding,
)


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
