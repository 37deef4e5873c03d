"""D1 schema migrations as a Pulumi dynamic resource, applied with `infra.d1.migrations`.

Properties (inputs):
  account_id, database_id, database_name, migrations_dir (for messages),
  files: [{name, sha256}] every migration file of the folder, in apply order,
  sql:   {name: file text}.
State (outputs): the same keys, with `files` and `sql` limited to the applied files (their sha256 as
applied), plus `applied`: every name in the database's `d1_migrations` table, in order.

So the preview's property diff between state and inputs lists exactly the files that would be applied
(added `files` entries and their SQL). An applied file whose checksum changed is refused at preview
(diff) and again at apply time, against the live table. Applying re-reads the live table first, so
the resource is safe to repeat and interoperates with `wrangler d1 migrations apply`.

Delete is a no-op: applied migrations cannot be un-applied (deleting the database removes them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.runtime import rpc

from infra.d1.files import MigrationFile, SqlSplitError
from infra.d1.migrations import (
    D1QueryClient,
    D1QueryError,
    MigrationReport,
    apply_migrations,
    plan_migrations,
    recorded_migrations,
)
from infra.deploy.cloudflare_api import D1RestClient
from infra.deploy.providers.base import CloudflareProvider, ProviderError


def migration_props(
    *,
    account_id: str,
    database_id: pulumi.Input[str],
    database_name: pulumi.Input[str],
    migrations_dir: str,
    files: Sequence[MigrationFile],
) -> dict[str, Any]:
    """Resource inputs for `files` (in apply order)."""
    return {
        "account_id": account_id,
        "database_id": database_id,
        "database_name": database_name,
        "migrations_dir": migrations_dir,
        "files": [{"name": m.name, "sha256": m.sha256} for m in files],
        "sql": {m.name: m.text for m in files},
    }


def files_from_props(props: Mapping[str, Any]) -> list[MigrationFile]:
    folder = str(props.get("migrations_dir") or "migrations")
    sql = props.get("sql") or {}
    out = []
    for entry in props.get("files") or []:
        name = str(entry["name"])
        try:
            out.append(MigrationFile.parse(name, f"{folder}/{name}", str(entry["sha256"]), str(sql[name])))
        except SqlSplitError as exc:
            raise ProviderError(f"{folder}/{name}:{exc.line}: {exc}") from None
    return out


def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's own properties (without the engine's `__provider` blob)."""
    return {k: v for k, v in props.items() if k != "__provider"}


def _checksums(props: Mapping[str, Any]) -> dict[str, str]:
    return {str(e["name"]): str(e["sha256"]) for e in props.get("files") or []}


class D1MigrationsProvider(CloudflareProvider):
    def _client(self, props: Mapping[str, Any]) -> D1QueryClient:
        return D1RestClient(self.api(), str(props["account_id"]), str(props["database_id"]))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        names = [str(e.get("name")) for e in news.get("files") or []]
        if len(set(names)) != len(names):
            failures.append(CheckFailure("files", "migration file names must be unique"))
        sql = news.get("sql") or {}
        missing = [n for n in dict.fromkeys(names) if n not in sql]
        if missing:
            failures.append(CheckFailure("sql", f"no SQL for {', '.join(missing)}"))
        if not news.get("database_id") and news.get("database_id") != rpc.UNKNOWN:
            failures.append(CheckFailure("database_id", "a D1 database id is required"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("account_id", "database_id") if olds.get(k) != news.get(k)]
        if replaces:
            # Another database: every migration applies there from scratch.
            return DiffResult(changes=True, replaces=replaces, stables=[], delete_before_replace=False)
        recorded = [str(n) for n in olds.get("applied") or []]
        known = _checksums(olds)
        plan = plan_migrations(files_from_props(news), recorded, known)  # raises on an edited applied file
        unrecorded_checksums = [m.name for m in plan.already_applied if m.name not in known]
        return DiffResult(changes=bool(plan.pending or unrecorded_checksums), replaces=[], stables=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        report = self._apply(props, known={})
        return CreateResult(f"{props['database_id']}/d1_migrations", self._outs(props, report))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        report = self._apply(news, known=_checksums(olds))
        return UpdateResult(self._outs(news, report))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            recorded = recorded_migrations(self._client(props))
        except D1QueryError as exc:
            if exc.status == 404:
                return ReadResult("", {})  # the database is gone
            raise ProviderError(
                f"reading d1_migrations of {props.get('database_name')}: {exc.message}"
            ) from None
        applied = set(recorded)
        files = [e for e in props.get("files") or [] if e["name"] in applied]
        sql = {name: text for name, text in (props.get("sql") or {}).items() if name in applied}
        return ReadResult(id_, {**_inputs(props), "files": files, "sql": sql, "applied": recorded})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None

    def _apply(self, props: Mapping[str, Any], known: Mapping[str, str]) -> MigrationReport:
        try:
            return apply_migrations(self._client(props), files_from_props(props), known)
        except D1QueryError as exc:
            raise ProviderError(
                f"D1 database {props.get('database_name')} ({props.get('database_id')}): {exc.message}"
            ) from None

    @staticmethod
    def _outs(props: Mapping[str, Any], report: MigrationReport) -> dict[str, Any]:
        files = [
            {"name": e["name"], "sha256": report.checksums[e["name"]]}
            for e in props.get("files") or []
            if e["name"] in report.checksums
        ]
        sql = {e["name"]: props["sql"][e["name"]] for e in files}
        return {**_inputs(props), "files": files, "sql": sql, "applied": list(report.recorded)}


class D1MigrationsResource(pulumi.dynamic.Resource, module="edgestack", name="D1Migrations"):
    """The dynamic resource (`pulumi-python:dynamic/edgestack:D1Migrations`)."""

    applied: pulumi.Output[list[str]]
    files: pulumi.Output[list[dict[str, str]]]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(D1MigrationsProvider(), name, {**props, "applied": None}, opts)
