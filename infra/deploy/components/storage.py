"""`edgestack:index:Storage`: KV namespaces, D1 databases, R2 buckets, queues, and through the
provisioner hooks (the program wires in the dynamic providers) Vectorize indexes and D1 migrations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.planner import (
    Component,
    D1Binding,
    D1MigrationsPlan,
    KvBinding,
    Plan,
    QueueBinding,
    R2Binding,
    ResourceBinding,
    VectorizeBinding,
    VectorizeIndexPlan,
)

from .bindings import BindingFields


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
        plan: Plan,
        *,
        index_provisioner: IndexProvisioner | None = None,
        d1_migrator: D1Migrator | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(Component.STORAGE.value, name, None, opts)
        self._plan = plan
        account = plan.account_id

        def child(
            protect: bool = False, depends_on: list[pulumi.Resource] | None = None
        ) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, protect=protect, depends_on=depends_on)

        self.kv_namespaces = {
            kv.binding: cloudflare.WorkersKvNamespace(
                kv.name, account_id=account, title=kv.title, opts=child(kv.protect)
            )
            for kv in plan.kv
        }
        self.databases = {
            db.binding: cloudflare.D1Database(
                db.name, account_id=account, name=db.database_name, opts=child(db.protect)
            )
            for db in plan.d1
        }
        self.buckets = {
            bucket.binding: cloudflare.R2Bucket(
                bucket.name,
                account_id=account,
                name=bucket.bucket_name,
                location=bucket.location,
                opts=child(bucket.protect),
            )
            for bucket in plan.r2
        }
        self.queues = {
            queue.binding: cloudflare.Queue(
                queue.name, account_id=account, queue_name=queue.queue_name, opts=child()
            )
            for queue in plan.queues
        }
        # Created only when a provisioner is wired in (see docs/deploy.md).
        self.indexes = {}
        if index_provisioner is not None:
            for index in plan.vectorize:
                self.indexes[index.binding] = index_provisioner(index, account, child(index.protect))
        self.d1_migrations = {}
        if d1_migrator is not None:
            for spec in plan.d1_migrations:
                database = self.databases[spec.binding]
                self.d1_migrations[spec.binding] = d1_migrator(
                    spec, account, database, child(depends_on=[database])
                )

        self._bindings: dict[str, ResourceBinding] = {
            b.name: b for b in plan.bindings if isinstance(b, ResourceBinding)
        }
        self.register_outputs({"ids": self.ids()})

    @property
    def data_resources(self) -> list[pulumi.Resource]:
        """Everything a Worker version must wait for: storage, indexes and applied D1 migrations."""
        groups: list[Mapping[str, pulumi.Resource]] = [
            self.kv_namespaces,
            self.databases,
            self.buckets,
            self.queues,
        ]
        resources = [r for group in groups for r in group.values()]
        resources += [i.resource for i in self.indexes.values()]
        resources += list(self.d1_migrations.values())
        return resources

    def ids(self) -> dict[str, pulumi.Output[str]]:
        """Resource id by logical name."""
        plan = self._plan
        ids = {kv.name: self.kv_namespaces[kv.binding].id for kv in plan.kv}
        ids.update({db.name: self.databases[db.binding].id for db in plan.d1})
        ids.update({bucket.name: self.buckets[bucket.binding].id for bucket in plan.r2})
        ids.update({queue.name: self.queues[queue.binding].id for queue in plan.queues})
        return ids

    def binding_fields(self, name: str) -> BindingFields:
        binding = self._bindings[name]
        fields: BindingFields = {"name": binding.name, "type": binding.type}
        if isinstance(binding, KvBinding):
            fields["namespace_id"] = self.kv_namespaces[name].id
        elif isinstance(binding, D1Binding):
            fields["id"] = self.databases[name].id
        elif isinstance(binding, R2Binding):
            fields["bucket_name"] = self.buckets[name].name
        elif isinstance(binding, QueueBinding):
            fields["queue_name"] = self.queues[name].queue_name
        elif isinstance(binding, VectorizeBinding):
            index = self.indexes.get(name)
            fields["index_name"] = index.index_name if index is not None else binding.index_name
        else:
            raise TypeError(f"{name}: {type(binding).__name__} is not a storage binding")
        return fields

    def has_binding(self, name: str) -> bool:
        return name in self._bindings
