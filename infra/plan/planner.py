"""Pure planner: `plan(stack, bundle) -> Plan` (model.py), every resource the stack needs, without Pulumi.

One method per plan slice: `storage()` and `worker()` here, `routing()` and `ai_gateway()` in
routing_planner.py (the planner's base class). Nothing here talks
to Pulumi or the network, so planning is deterministic and property-tested; `infra.deploy.components`
turn the slices into resources.

Deploy path (see docs/deploy.md): the Worker ships as `Worker` + `WorkerVersion` +
`WorkersDeployment` (percentage strategy, one version at 100%). Cloudflare rejects Durable Object
migrations in a version upload (error 10211), so when migration steps are pending the plan adds a
`WorkersScript` upload of the same bundle that carries them; the version is uploaded after it and
deployed to 100%, so no split deployment or rollback crosses the migration.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.spec import Stack, slug

from .bundle import Bundle
from .do_migrations import MigrationPlan, pending_steps
from .model import (
    D1DatabasePlan,
    D1MigrationsPlan,
    KvNamespacePlan,
    Plan,
    QueuePlan,
    R2BucketPlan,
    StoragePlan,
    VectorizeIndexPlan,
)
from .naming import PlanError
from .rollout import KnownVersion, Rollout, check_rollout
from .routing_planner import RoutingPlanner
from .runtime_config import CONFIG_BINDING, STACK_BINDING, VERSION_BINDING, runtime_config_json
from .worker_model import (
    AiBinding,
    D1Binding,
    DeploymentPlan,
    DurableObjectBinding,
    KvBinding,
    MigrationUploadPlan,
    NamedWorkerPlan,
    PlainTextBinding,
    QueueBinding,
    R2Binding,
    RateLimitBinding,
    SecretTextBinding,
    VectorizeBinding,
    WorkerCode,
    WorkerPlan,
    WorkerVersionPlan,
)

DEPLOYMENT_STRATEGY = "percentage"


# --- planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """The stack config `edgestack:rollout` and `edgestack:versions` (see infra/plan/rollout.py)."""

    rollout: Rollout | None = None
    versions: tuple[KnownVersion, ...] = ()


class _Planner(RoutingPlanner):
    def __init__(
        self, stack: Stack, bundle: Bundle, stack_name: str, deployed_tag: str | None, release: Release
    ) -> None:
        super().__init__(stack)
        self.release = release
        self.bundle = bundle
        self.stack_name = stack_name
        self.deployed_tag = deployed_tag

    # sections ---------------------------------------------------------------------------------

    def storage(self) -> StoragePlan:
        spec = self.stack.bindings
        kv: list[KvNamespacePlan] = []
        titles: dict[str, str] = {}
        for binding, kv_spec in spec.kv.items():
            title = kv_spec.title or self.stack.resource_name(binding)
            if title in titles:
                raise PlanError(
                    f"bindings.kv.{binding}: title {title!r} is already used by bindings.kv.{titles[title]}"
                )
            titles[title] = binding
            plan = KvNamespacePlan(
                name=self.logical("kv", slug(binding), where=f"bindings.kv.{binding}"),
                binding=binding,
                title=title,
                protect=self.protect(kv_spec.protect),
            )
            kv.append(plan)
            self.bind(KvBinding(name=binding, resource=plan.name, title=title))

        d1: list[D1DatabasePlan] = []
        d1_migrations: list[D1MigrationsPlan] = []
        taken: dict[str, str] = {}
        for binding, d1_spec in spec.d1.items():
            database = D1DatabasePlan(
                name=self.logical("d1", slug(binding), where=f"bindings.d1.{binding}"),
                binding=binding,
                database_name=self.cloudflare_name("d1", binding, d1_spec.name, taken),
                protect=self.protect(d1_spec.protect),
            )
            d1.append(database)
            self.bind(
                D1Binding(
                    name=binding,
                    resource=database.name,
                    database_name=database.database_name,
                    migrations_dir=d1_spec.migrations,
                )
            )
            if d1_spec.migrations is not None:
                d1_migrations.append(
                    D1MigrationsPlan(
                        name=self.logical(
                            "d1", f"{slug(binding)}--migrations", where=f"bindings.d1.{binding}"
                        ),
                        binding=binding,
                        database=database.name,
                        migrations_dir=d1_spec.migrations,
                        depends_on=(database.name,),
                    )
                )

        r2: list[R2BucketPlan] = []
        taken = {}
        for binding, r2_spec in spec.r2.items():
            bucket = R2BucketPlan(
                name=self.logical("r2", slug(binding), where=f"bindings.r2.{binding}"),
                binding=binding,
                bucket_name=self.cloudflare_name("r2", binding, r2_spec.name, taken),
                location=r2_spec.location,
                protect=self.protect(r2_spec.protect),
            )
            r2.append(bucket)
            self.bind(R2Binding(name=binding, resource=bucket.name, bucket_name=bucket.bucket_name))

        vectorize: list[VectorizeIndexPlan] = []
        taken = {}
        for binding, index_spec in spec.vectorize.items():
            index = VectorizeIndexPlan(
                name=self.logical("vectorize", slug(binding), where=f"bindings.vectorize.{binding}"),
                binding=binding,
                index_name=self.cloudflare_name("vectorize", binding, index_spec.name, taken),
                dimensions=index_spec.dimensions,
                metric=index_spec.metric,
                description=index_spec.description,
                metadata_indexes=tuple(sorted(index_spec.metadata_indexes.items())),
                adopt_existing=index_spec.adopt_existing,
                protect=self.protect(index_spec.protect),
            )
            vectorize.append(index)
            self.bind(
                VectorizeBinding(
                    name=binding,
                    resource=index.name,
                    index_name=index.index_name,
                    dimensions=index.dimensions,
                    metric=index.metric,
                    metadata_indexes=index.metadata_indexes,
                )
            )

        queues: list[QueuePlan] = []
        taken = {}
        for binding, queue_spec in spec.queues.items():
            queue = QueuePlan(
                name=self.logical("queue", slug(binding), where=f"bindings.queues.{binding}"),
                binding=binding,
                queue_name=self.cloudflare_name("queues", binding, queue_spec.name, taken),
            )
            queues.append(queue)
            self.bind(
                QueueBinding(
                    name=binding,
                    resource=queue.name,
                    queue_name=queue.queue_name,
                    consume=queue_spec.consume,
                    max_batch_size=queue_spec.max_batch_size,
                    max_batch_timeout_s=queue_spec.max_batch_timeout_s,
                )
            )
        return StoragePlan(
            account_id=self.stack.account_id,
            kv=tuple(kv),
            d1=tuple(d1),
            d1_migrations=tuple(d1_migrations),
            r2=tuple(r2),
            vectorize=tuple(vectorize),
            queues=tuple(queues),
        )

    def runtime_bindings(self) -> None:
        """Bindings to no planned resource. A Durable Object class is one the migrations create
        (checked by `load_stack`)."""
        stack, spec = self.stack, self.stack.bindings
        for binding, do_spec in spec.durable_objects.items():
            self.bind(DurableObjectBinding(name=binding, class_name=do_spec.class_name))
        if spec.ai:
            self.bind(AiBinding(name=spec.ai))
        for binding, limit in spec.rate_limits.items():
            self.bind(
                RateLimitBinding(
                    name=binding, namespace_id=str(limit.namespace_id), limit=limit.limit, period=limit.period
                )
            )
        for name, value in stack.worker.vars.items():
            self.plain_text(name, value, f"worker.vars.{name}")
        for name in stack.worker.secrets:
            self.bind(SecretTextBinding(name=name, config_key=name))
        self.plain_text(VERSION_BINDING, self.bundle.version, "EDGESTACK_BUNDLE_VERSION")
        self.plain_text(STACK_BINDING, self.stack_name, "EDGESTACK_STACK")
        # last: it declares every binding of the upload, itself included
        kinds = {b.name: b.kind for b in self.bindings} | {CONFIG_BINDING: PlainTextBinding.kind}
        self.plain_text(
            CONFIG_BINDING, runtime_config_json(stack, kinds), "bindings/worker/gateway/rag/agents (EDGESTACK_CONFIG)"
        )

    def worker(self, migration: MigrationPlan, storage: StoragePlan) -> WorkerPlan:
        """The named Worker, the migration-carrying upload (when steps are pending), the version and
        its deployment; every upload waits for the storage it binds."""
        stack, worker_spec = self.stack, self.stack.worker
        bound_resources = tuple(r.name for r in storage.resources())
        script = NamedWorkerPlan(
            name=self.logical("worker"),
            script_name=stack.script_name,
            observability_enabled=worker_spec.observability.enabled,
            head_sampling_rate=worker_spec.observability.head_sampling_rate,
        )
        code = WorkerCode(
            main_module=self.bundle.main_module,
            modules=self.bundle.modules,
            compatibility_date=worker_spec.compatibility_date.isoformat(),
            compatibility_flags=worker_spec.effective_compatibility_flags,
            bindings=tuple(sorted(self.bindings, key=lambda b: b.name)),
            cpu_ms=worker_spec.cpu_ms,
            placement_mode=worker_spec.placement,
        )
        migration_upload = None
        if migration.pending:
            migration_upload = MigrationUploadPlan(
                name=self.logical("do-migration", slug(migration.new_tag or "")),
                script_name=stack.script_name,
                migration=migration,
                code=code,
                depends_on=(script.name, *bound_resources),
            )
        version = WorkerVersionPlan(
            name=self.logical("version"),
            worker=script.name,
            code=code,
            depends_on=(
                script.name,
                *bound_resources,
                *((migration_upload.name,) if migration_upload else ()),
            ),
        )
        deployment = self.deployment(script, version, migration)
        return WorkerPlan(
            account_id=stack.account_id,
            name_prefix=stack.name_prefix,
            script=script,
            migration=migration,
            migration_upload=migration_upload,
            version=version,
            deployment=deployment,
        )

    def deployment(
        self, script: NamedWorkerPlan, version: WorkerVersionPlan, migration: MigrationPlan
    ) -> DeploymentPlan:
        """This run's version at 100%, or the `edgestack:rollout` split or rollback pin (refusals:
        `check_rollout`)."""
        rollout = self.release.rollout
        other = check_rollout(
            rollout,
            self.release.versions,
            script=self.stack.script_name,
            live_migration_tag=migration.new_tag,
            migration_pending=migration.pending,
        )
        pinned = rollout.pin_version_id if rollout is not None else None
        return DeploymentPlan(
            name=self.logical("deployment"),
            worker=script.name,
            version=version.name,
            strategy=DEPLOYMENT_STRATEGY,
            percentage=0 if pinned else (rollout.percent or 100) if rollout else 100,
            forced_by_migration=migration.pending,
            stable_version_id=rollout.stable_version_id if rollout is not None and not pinned else None,
            pinned_version_id=pinned,
            pinned_bundle_sha256=other.bundle_sha256 if pinned and other is not None else None,
            depends_on=(script.name,) if pinned else (script.name, version.name),
        )

    def run(self) -> Plan:
        stack = self.stack
        self.bundle.check_limits(paid_plan=stack.worker.paid_plan)
        migration = pending_steps(stack.durable_object_migrations, self.deployed_tag)
        storage = self.storage()
        self.runtime_bindings()
        worker = self.worker(migration, storage)
        routing = self.routing(storage, worker)
        return Plan(
            stack_name=self.stack_name,
            account_id=stack.account_id,
            name_prefix=stack.name_prefix,
            script_name=stack.script_name,
            bundle_sha256=self.bundle.sha256,
            bundle_version=self.bundle.version,
            storage=storage,
            worker=worker,
            routing=routing,
            ai_gateway=self.ai_gateway(),
        )


def plan(
    stack: Stack,
    bundle: Bundle,
    *,
    stack_name: str | None = None,
    deployed_migration_tag: str | None = None,
    release: Release | None = None,
) -> Plan:
    """Plan every resource of `stack` for `bundle`.

    `stack_name` is the Pulumi stack (shipped as `EDGESTACK_STACK`, default `name_prefix`);
    `deployed_migration_tag` is the Durable Object migration tag the live script is at; `release`
    the rollout/rollback config. Raises an `EdgestackError` (`PlanError`, `MigrationError`, `BundleError`,
    `RolloutError`) with a one-line message for input Cloudflare would reject.
    """
    return _Planner(
        stack, bundle, stack_name or stack.name_prefix, deployed_migration_tag, release or Release()
    ).run()
