"""`edgestack:index:Worker`: the named Worker, its versioned upload and its deployment.

Order of creation: `Worker` (identity, observability) -> `DurableObjects` (a child component: the
migration-carrying script upload, only when migration steps are pending) -> `WorkerVersion` (the
multi-module Python upload with every binding) -> `WorkersDeployment` (percentage strategy: the
version at 100%, a split with the stable version, or a rollback pinning an earlier version at 100%
with no upload).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.planned_resource import Token
from infra.plan.worker_model import VersionShare, WorkerPlan

from .bindings import BindingFields, binding_fields, version_binding_args, waits_for
from .durable_objects import DurableObjects
from .storage import Storage


class Worker(pulumi.ComponentResource):
    worker: cloudflare.Worker
    durable_objects: DurableObjects
    version: cloudflare.WorkerVersion | None  # None when the deployment pins an earlier version
    deployment: cloudflare.WorkersDeployment

    def __init__(
        self,
        name: str,
        args: WorkerPlan,
        *,
        storage: Storage,
        secrets: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`secrets` maps each secret binding's name to its (secret) value. Every resource waits
        for what its plan `depends_on` names, among this component's resources and `storage`'s."""
        super().__init__(Token.WORKER_COMPONENT.value, name, None, opts)
        self._plan = args
        deployed = {**storage.deployed_values(), **secrets}
        created: dict[str, pulumi.Resource] = dict(storage.created)

        self.worker = cloudflare.Worker(
            args.script.name,
            account_id=args.account_id,
            name=args.script.script_name,
            observability={
                "enabled": args.script.observability_enabled,
                "head_sampling_rate": args.script.head_sampling_rate,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        created[args.script.name] = self.worker
        fields = [binding_fields(b, deployed) for b in args.bindings]
        self.durable_objects = DurableObjects(
            f"{args.name_prefix}-durable-objects",
            args,
            worker=self.worker,
            bindings=fields,
            created=created,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if self.durable_objects.migration_script is not None and args.migration_upload is not None:
            created[args.migration_upload.name] = self.durable_objects.migration_script
        self.version = None
        if not args.deployment.pinned:
            self.version = self._upload_version(fields, waits_for(args.version, created))
            created[args.version.name] = self.version
        deployment = args.deployment
        self.deployment = cloudflare.WorkersDeployment(
            deployment.name,
            account_id=args.account_id,
            script_name=self.worker.name,
            strategy=deployment.strategy,
            versions=[self._share_args(share) for share in deployment.shares],
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for(deployment, created)),
        )
        created[deployment.name] = self.deployment
        self.split: list[dict[str, pulumi.Input[str] | int]] = [
            {"versionId": self._share_args(share)["version_id"], "percentage": share.percentage}
            for share in deployment.shares
        ]
        self.current_version_id: pulumi.Output[str] = (
            self.version.id
            if self.version is not None
            else pulumi.Output.from_input(deployment.pinned_version_id or "")
        )
        self.created = created
        self.script_name: pulumi.Output[str] = self.worker.name
        self.migration_tag = self.durable_objects.migration_tag
        self.register_outputs(
            {
                "script_name": self.script_name,
                "worker_id": self.worker.id,
                "version_id": self.current_version_id,
                "deployment_id": self.deployment.id,
                "migration_tag": self.migration_tag,
            }
        )

    def _upload_version(
        self, fields: Sequence[BindingFields], depends_on: list[pulumi.Resource]
    ) -> cloudflare.WorkerVersion:
        """This run's upload. Retained on delete: a replaced version may still serve a split's
        stable share or be a rollback target (Cloudflare keeps a script's last 100 versions)."""
        args = self._plan
        code = args.version.code
        return cloudflare.WorkerVersion(
            args.version.name,
            account_id=args.account_id,
            worker_id=self.worker.id,
            main_module=code.main_module,
            compatibility_date=code.compatibility_date,
            compatibility_flags=list(code.compatibility_flags),
            modules=[
                {
                    "name": module.name,
                    "content_type": module.content_type,
                    "content_base64": module.content_base64,
                    "content_sha256": module.content_sha256,
                }
                for module in code.modules
            ],
            bindings=[version_binding_args(f) for f in fields],
            limits={"cpu_ms": code.cpu_ms} if code.cpu_ms else None,
            placement={"mode": code.placement_mode} if code.placement_mode else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, retain_on_delete=True),
        )

    def _share_args(self, share: VersionShare) -> cloudflare.WorkersDeploymentVersionArgsDict:
        if share.version is not None:
            assert self.version is not None
            return {"version_id": self.version.id, "percentage": share.percentage}
        return {"version_id": share.version_id or "", "percentage": share.percentage}

    def ids(self) -> dict[str, pulumi.Output[str]]:
        """Resource id by logical name."""
        plan = self._plan
        ids = {plan.script.name: self.worker.id, plan.deployment.name: self.deployment.id}
        if self.version is not None:
            ids[plan.version.name] = self.version.id
        script = self.durable_objects.migration_script
        if plan.migration_upload is not None and script is not None:
            ids[plan.migration_upload.name] = script.id
        return ids
