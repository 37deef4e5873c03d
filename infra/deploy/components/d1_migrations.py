"""`edgestack:index:D1Migrations`: apply a D1 database's migrations folder (a dynamic resource).

The Worker version must `depends_on` this component so tables exist before code uses them. With
the program's `Storage` component, pass `apply_d1_migrations` as its `d1_migrator`; directly:

    migrations = D1Migrations("db-migrations", account_id=stack.account_id,
                              database_id=database.id, database_name=db_name,
                              migrations_dir=resolved_path,
                              opts=pulumi.ResourceOptions(parent=storage, depends_on=[database]))
    pulumi.export("d1_migrations", migrations.applied)

The folder is read and checked when the program runs (a bad file stops the program with one line);
`files` (names in apply order) is known at synth time; `applied` after `pulumi up`.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_cloudflare as cloudflare

from infra.d1.files import load_migrations
from infra.deploy.providers.d1_migrations import D1MigrationsResource, migration_props
from infra.plan.model import D1MigrationsPlan
from infra.plan.planned_resource import Token
from infra.stackfile.project import project_relative


class D1Migrations(pulumi.ComponentResource):
    applied: pulumi.Output[list[str]]
    files: list[str]

    def __init__(
        self,
        name: str,
        *,
        account_id: str,
        database_id: pulumi.Input[str],
        database_name: pulumi.Input[str],
        migrations_dir: str | Path,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        folder = Path(migrations_dir)
        files = load_migrations(folder)  # MigrationDirError: one line naming the file
        super().__init__(Token.D1_MIGRATIONS.value, name, None, opts)
        props = migration_props(
            account_id=account_id,
            database_id=database_id,
            database_name=database_name,
            migrations_dir=project_relative(folder),
            files=files,
        )
        self.files = [m.name for m in files]
        self.resource = D1MigrationsResource(f"{name}-migrations", props, pulumi.ResourceOptions(parent=self))
        self.applied = self.resource.applied
        self.register_outputs({"applied": self.applied, "files": self.files})


def apply_d1_migrations(
    plan: D1MigrationsPlan,
    account_id: str,
    database: cloudflare.D1Database,
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    """`Storage`'s `d1_migrator`: the planned folder applied to `database`."""
    return D1Migrations(
        plan.name,
        account_id=account_id,
        database_id=database.id,
        database_name=database.name,
        migrations_dir=plan.migrations_dir,
        opts=opts,
    )
