"""`edgestack:index:DurableObjects`: Durable Object namespaces and their migrations.

A namespace is not a standalone Cloudflare resource: it is created, renamed or deleted by a
migration carried on the Worker's own script. Cloudflare refuses migrations in a version upload
(error 10211), so when steps are pending this component performs a full script upload
(`WorkersScript`, the path `wrangler deploy` uses) of the same bundle and bindings with
`migrations: {old_tag, new_tag, steps}`. The Worker component creates this component between the
named `Worker` and the `WorkerVersion`, and uploads the version after it.

The script upload resource is named after the migration's new tag and `retain_on_delete`: once the
migration is applied it leaves the program, and Pulumi must forget it, never delete the script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.do_migrations import MigrationPlan
from infra.plan.planned_resource import Token
from infra.plan.worker_model import WorkerCode, WorkerPlan

from .bindings import BindingFields, script_binding_args, waits_for


def migrations_args(migration: MigrationPlan) -> cloudflare.WorkersScriptMigrationsArgsDict:
    steps: list[cloudflare.WorkersScriptMigrationsStepArgsDict] = []
    for step in migration.steps:
        args: cloudflare.WorkersScriptMigrationsStepArgsDict = {}
        if step.new_sqlite_classes:
            args["new_sqlite_classes"] = list(step.new_sqlite_classes)
        if step.renamed_classes:
            args["renamed_classes"] = [
                {"from_": r.from_class, "to": r.to_class} for r in step.renamed_classes
            ]
        if step.deleted_classes:
            args["deleted_classes"] = list(step.deleted_classes)
        steps.append(args)
    migrations: cloudflare.WorkersScriptMigrationsArgsDict = {"steps": steps}
    if migration.old_tag is not None:
        migrations["old_tag"] = migration.old_tag
    if migration.new_tag is not None:
        migrations["new_tag"] = migration.new_tag
    return migrations


def script_files(code: WorkerCode) -> dict[str, cloudflare.WorkersScriptFilesArgsDict]:
    return {
        module.name: {
            "content_type": module.content_type,
            "content_base64": module.content_base64,
            "content_sha256": module.content_sha256,
        }
        for module in code.modules
        if module.name != code.main_module
    }


class DurableObjects(pulumi.ComponentResource):
    migration_script: cloudflare.WorkersScript | None
    migration_tag: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        args: WorkerPlan,
        *,
        worker: cloudflare.Worker,
        bindings: Sequence[BindingFields],
        created: Mapping[str, pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`created` maps logical names to the resources the upload may wait for (its plan's `depends_on`)."""
        super().__init__(Token.DURABLE_OBJECTS.value, name, None, opts)
        self.migration_script = None
        upload = args.migration_upload
        if upload is not None:
            code = upload.code
            main = next(m for m in code.modules if m.name == code.main_module)
            self.migration_script = cloudflare.WorkersScript(
                upload.name,
                account_id=args.account_id,
                script_name=worker.name,
                main_module=code.main_module,
                content=main.content.decode("utf-8"),
                content_type=main.content_type,
                content_sha256=main.content_sha256,
                files=script_files(code),
                compatibility_date=code.compatibility_date,
                compatibility_flags=list(code.compatibility_flags),
                bindings=[script_binding_args(fields) for fields in bindings],
                migrations=migrations_args(upload.migration),
                limits={"cpu_ms": code.cpu_ms} if code.cpu_ms else None,
                placement={"mode": code.placement_mode} if code.placement_mode else None,
                observability={
                    "enabled": args.script.observability_enabled,
                    "head_sampling_rate": args.script.head_sampling_rate,
                },
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=waits_for(upload, created), retain_on_delete=True
                ),
            )
            self.migration_tag = self.migration_script.migration_tag
        else:
            self.migration_tag = pulumi.Output.from_input(args.migration.new_tag)
        self.register_outputs({"migration_tag": self.migration_tag})
