"""`edgestack:index:Storage`: KV namespaces, D1 databases, R2 buckets, queues, and through the
provisioner hooks (the program wires in the dynamic providers) Vectorize indexes and D1 migrations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.model import D1MigrationsPlan, StoragePlan, VectorizeIndexPlan
from infra.plan.planned_resource import PlannedResource, Token

from .bindings import waits_for


@dataclass(frozen=True)
class ProvisionedIndex:
    """A Vectorize index created by a provisioner: the resource and its Cloudflare name."""

    resource: pulumi.Resource
    index_name: pulumi.Input[str]


class IndexProvisioner(Protocol):
    """Creates the Vectorize index of `plan` as a child (`opts` carries parent and protect)."""

    def __call__(
        self, plan: VectorizeIndexPlan, account_id: str, opts: pulumi.ResourceOptions
    ) -> ProvisionedIndex: ...


class D1Migrator(Protocol):
    """Creates the resource applying `plan.migrations_dir` to `database` (`opts` carries the parent)."""

    def __call__(
        self,
        plan: D1MigrationsPlan,
        account_id: str,
        database: cloudflare.D1Database,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Resource: ...


class Storage(pulumi.ComponentResource):
    kv_namespaces: dict[str, cloudflare.WorkersKvNamespace]
    databases: dict[str, cloudflare.D1Database]
    buckets: dict[str, cloudflare.R2Bucket]
    queues: dict[str, cloudflare.Queue]
    indexes: dict[str, ProvisionedIndex]
    d1_migrations: dict[str, pulumi.Resource]

    def __init__(
        self,
        name: str,
        args: StoragePlan,
        *,
        index_provisioner: IndexProvisioner,
        d1_migrator: D1Migrator,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(Token.STORAGE.value, name, None, opts)
        self._plan = args
        account = args.account_id
        self.created: dict[str, pulumi.Resource] = {}

        def child(planned: PlannedResource) -> pulumi.ResourceOptions:
            depends_on = waits_for(planned, self.created)
            return pulumi.ResourceOptions(parent=self, protect=planned.protect, depends_on=depends_on or None)

        self.kv_namespaces = {
            kv.binding: cloudflare.WorkersKvNamespace(kv.name, account_id=account, title=kv.title, opts=child(kv))
            for kv in args.kv
        }
        self.databases = {
            db.binding: cloudflare.D1Database(db.name, account_id=account, name=db.database_name, opts=child(db))
            for db in args.d1
        }
        self.created.update({db.name: self.databases[db.binding] for db in args.d1})
        self.buckets = {
            bucket.binding: cloudflare.R2Bucket(
                bucket.name,
                account_id=account,
                name=bucket.bucket_name,
                location=bucket.location,
                opts=child(bucket),
            )
            for bucket in args.r2
        }
        self.queues = {
            queue.binding: cloudflare.Queue(queue.name, account_id=account, queue_name=queue.queue_name, opts=child(queue))
            for queue in args.queues
        }
        self.indexes = {index.binding: index_provisioner(index, account, child(index)) for index in args.vectorize}
        self.d1_migrations = {
            spec.binding: d1_migrator(spec, account, self.databases[spec.binding], child(spec))
            for spec in args.d1_migrations
        }
        self.created.update({kv.name: self.kv_namespaces[kv.binding] for kv in args.kv})
        self.created.update({bucket.name: self.buckets[bucket.binding] for bucket in args.r2})
        self.created.update({queue.name: self.queues[queue.binding] for queue in args.queues})
        self.created.update({index.name: self.indexes[index.binding].resource for index in args.vectorize})
        self.created.update({spec.name: self.d1_migrations[spec.binding] for spec in args.d1_migrations})

        self.register_outputs({"ids": self.ids()})

    def ids(self) -> dict[str, pulumi.Output[str]]:
        """Resource id by logical name."""
        plan = self._plan
        ids = {kv.name: self.kv_namespaces[kv.binding].id for kv in plan.kv}
        ids.update({db.name: self.databases[db.binding].id for db in plan.d1})
        ids.update({bucket.name: self.buckets[bucket.binding].id for bucket in plan.r2})
        ids.update({queue.name: self.queues[queue.binding].id for queue in plan.queues})
        return ids

    def deployed_values(self) -> dict[str, pulumi.Input[str]]:
        """Binding name -> the created resource's id or name its binding carries (`deployed_field`)."""
        plan = self._plan
        values: dict[str, pulumi.Input[str]] = {kv.binding: self.kv_namespaces[kv.binding].id for kv in plan.kv}
        values.update({db.binding: self.databases[db.binding].id for db in plan.d1})
        values.update({bucket.binding: self.buckets[bucket.binding].name for bucket in plan.r2})
        values.update({queue.binding: self.queues[queue.binding].queue_name for queue in plan.queues})
        values.update({index.binding: self.indexes[index.binding].index_name for index in plan.vectorize})
        return values
