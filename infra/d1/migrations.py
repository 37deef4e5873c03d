"""D1 schema migrations with wrangler's semantics, over any `D1QueryClient`.

- Source: the `.sql` files of a migrations folder, ordered like `wrangler d1 migrations apply`
  (numeric prefix, then name; zero-padded names therefore sort the same either way).
- Records: wrangler's `d1_migrations(id, name, applied_at)` table, so `wrangler d1 migrations apply`
  and `pulumi up` can be mixed on one database.
- Atomic per file: each pending file is sent as its statements followed by the insert of its name,
  in one request; D1 runs a multi-statement request as one transaction and rolls it back on error.
- Failure: stop at the first failing file; earlier files stay recorded; the error names the file and
  the failing statement (found by re-sending rolled-back prefixes, see `_locate_failure`). The next run
  resumes at that file.
- Integrity: callers pass the checksums recorded when files were applied (the Pulumi resource keeps
  them in its state); an applied file whose content changed is refused, never re-run.

The client is a protocol so the same runner serves Cloudflare (`infra.deploy.cloudflare_api.D1RestClient`)
and the local dev host, which exposes the same REST shape on loopback. Reading the folder: `files.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.errors import EdgestackError

from .files import (
    MIGRATIONS_TABLE,
    D1MigrationError,
    MigrationFile,
    Statement,
    join_statements,
    migration_sort_key,
    record_statement,
)

# Same table wrangler creates (workers-sdk packages/wrangler/src/d1/migrations/helpers.ts).
CREATE_MIGRATIONS_TABLE = f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)"""

# A table name no schema uses: appending a read of it makes a request fail *after* the statements
# before it ran, so D1 rolls them back. Used only to find which statement of a failed file failed.
_PROBE_TABLE = "__edgestack_probe_never_exists__"
_MAX_PROBES = 12


# --- the client protocol ------------------------------------------------------------------------


class D1QueryError(EdgestackError, RuntimeError):
    """D1 refused a request (SQL error, unknown database, ...). `status` is the HTTP status if any."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StatementResult:
    """One statement's result: rows as column -> value, and D1's `meta`."""

    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


class D1QueryClient(Protocol):
    def query(self, sql: str, params: Sequence[str] = ()) -> list[StatementResult]:
        """Run `sql` (one or more `;`-separated statements, as one transaction). Raises D1QueryError."""
        ...


class EditedMigrationError(D1MigrationError):
    def __init__(self, path: str, recorded: str, current: str) -> None:
        self.path = path
        super().__init__(
            f"{path}: already applied with sha256 {recorded[:12]}…, but the file now has sha256 "
            f"{current[:12]}…; applied migrations are never re-run: restore the file and add a new migration"
        )


class MigrationFailedError(D1MigrationError):
    def __init__(
        self,
        migration: MigrationFile,
        statement: Statement | None,
        d1_message: str,
        applied_before: Sequence[str],
    ) -> None:
        self.migration = migration
        self.statement = statement
        self.d1_message = d1_message
        self.applied_before = tuple(applied_before)
        where = f"{migration.path}:{statement.line}" if statement and statement.line else migration.path
        if statement is None:
            stmt = ""
        elif statement.line:
            stmt = f" in statement `{statement.snippet()}`"
        else:
            stmt = f" recording it in {MIGRATIONS_TABLE}"
        kept = f"{len(applied_before)} migration(s) before it stay applied; " if applied_before else ""
        super().__init__(
            f"{where}: migration {migration.name} failed{stmt}: {d1_message}; it was rolled back; "
            f"{kept}fix it and run again to resume from it"
        )


# --- planning and applying ----------------------------------------------------------------------


@dataclass(frozen=True)
class D1MigrationPlan:
    pending: tuple[MigrationFile, ...]  # not recorded in d1_migrations, in apply order
    already_applied: tuple[MigrationFile, ...]  # recorded; checksum matches or was never known


def plan_migrations(
    files: Sequence[MigrationFile],
    recorded: Iterable[str],
    known_checksums: Mapping[str, str],
) -> D1MigrationPlan:
    """Split files into pending and applied. Raises EditedMigrationError for an edited applied file.

    `known_checksums` are the sha256 recorded when files were applied; a recorded name without one
    (applied by wrangler) is accepted as is.
    """
    recorded_names = set(recorded)
    pending: list[MigrationFile] = []
    applied: list[MigrationFile] = []
    for migration in sorted(files, key=lambda m: migration_sort_key(m.name)):
        if migration.name not in recorded_names:
            pending.append(migration)
            continue
        known = known_checksums.get(migration.name)
        if known and known != migration.sha256:
            raise EditedMigrationError(migration.path, known, migration.sha256)
        applied.append(migration)
    return D1MigrationPlan(tuple(pending), tuple(applied))


@dataclass(frozen=True)
class MigrationReport:
    recorded: tuple[str, ...]  # every name in d1_migrations after the run, in id order
    newly_applied: tuple[str, ...]
    checksums: dict[str, str]  # name -> sha256 of each folder file now applied


def recorded_migrations(client: D1QueryClient) -> list[str]:
    """Names in d1_migrations in application order; [] when the table does not exist yet."""
    exists = client.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1", [MIGRATIONS_TABLE]
    )
    if not exists or not exists[0].rows:
        return []
    rows = client.query(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")
    return [str(row["name"]) for row in rows[0].rows] if rows else []


def apply_migrations(
    client: D1QueryClient,
    files: Sequence[MigrationFile],
    known_checksums: Mapping[str, str] | None = None,
) -> MigrationReport:
    """Apply every pending file, in order, one atomic request each. Safe to repeat.

    Raises EditedMigrationError before anything runs, or MigrationFailedError at the first failing
    file (earlier files stay recorded).
    """
    known = dict(known_checksums or {})
    client.query(CREATE_MIGRATIONS_TABLE)
    recorded = recorded_migrations(client)
    plan = plan_migrations(files, recorded, known)
    checksums = {m.name: known.get(m.name) or m.sha256 for m in plan.already_applied}
    newly: list[str] = []
    for migration in plan.pending:
        try:
            client.query(migration.request_sql())
        except D1QueryError as exc:
            # A replayed request (retry after a lost response) or a concurrent run may have applied it.
            if migration.name in recorded_migrations(client):
                pass
            else:
                statement = _locate_failure(client, migration)
                raise MigrationFailedError(migration, statement, exc.message, [*recorded, *newly]) from None
        newly.append(migration.name)
        checksums[migration.name] = migration.sha256
    return MigrationReport(tuple(recorded_migrations(client)), tuple(newly), checksums)


def _locate_failure(client: D1QueryClient, migration: MigrationFile) -> Statement | None:
    """Which statement failed: bisect over prefixes, each sent with a trailing read of a missing table.

    A prefix that runs cleanly fails on the probe table (and is rolled back); one that contains the
    bad statement fails on it first. Returns None when the failure does not reproduce.
    """
    record = Statement(record_statement(migration.name), 0)
    statements = [*migration.statements, record]
    ok, bad = 0, len(statements)  # prefix lengths known to pass / assumed to fail
    probes = 0
    while bad - ok > 1 and probes < _MAX_PROBES:
        mid = (ok + bad) // 2
        probes += 1
        probe_sql = join_statements([*(s.text for s in statements[:mid]), f"SELECT * FROM {_PROBE_TABLE}"])
        try:
            client.query(probe_sql)
        except D1QueryError as exc:
            if _PROBE_TABLE in exc.message:
                ok = mid
            else:
                bad = mid
            continue
        except Exception:
            return None  # e.g. the API became unavailable; report without a statement
        return None  # the probe table exists?! do not guess
    if bad - ok != 1:
        return None
    if bad == len(statements) and not _prefix_fails(client, statements):
        return None  # the whole request passes now: the failure was transient
    return statements[bad - 1]


def _prefix_fails(client: D1QueryClient, statements: Sequence[Statement]) -> bool:
    probe_sql = join_statements([*(s.text for s in statements), f"SELECT * FROM {_PROBE_TABLE}"])
    try:
        client.query(probe_sql)
    except D1QueryError as exc:
        return _PROBE_TABLE not in exc.message
    except Exception:
        return False
    return False
