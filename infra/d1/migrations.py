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

The client is a protocol so the same runner serves Cloudflare (`infra.deploy.cloudflare_api.D1RestClient`) and the
local dev host, which exposes the same REST shape on loopback.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

MIGRATIONS_TABLE = "d1_migrations"

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

_TRANSACTION_KEYWORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


# --- the client protocol ------------------------------------------------------------------------


class D1QueryError(RuntimeError):
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


# --- migration files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    text: str  # without the trailing `;` or trailing comments
    line: int  # 1-based line of its first token in the file

    def snippet(self, limit: int = 80) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class MigrationFile:
    name: str  # file name, as recorded in d1_migrations
    path: str  # for messages
    sha256: str  # of the file's bytes
    text: str  # decoded content
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, name: str, path: str, sha256: str, text: str) -> MigrationFile:
        """From already-read content (the Pulumi resource's inputs). Raises SqlSplitError."""
        return cls(name, path, sha256, text, tuple(split_statements(text)))

    def request_sql(self) -> str:
        """The file's statements followed by the insert of its name: one atomic request."""
        return join_statements([*(s.text for s in self.statements), record_statement(self.name)])


@dataclass(frozen=True)
class MigrationProblem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class D1MigrationError(RuntimeError):
    """Base of every migration error; the message is one line."""


class MigrationDirError(D1MigrationError):
    def __init__(self, problems: Sequence[MigrationProblem]) -> None:
        self.problems = tuple(problems)
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


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


class SqlSplitError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def split_statements(sql: str) -> list[Statement]:
    """Split SQL into statements at `;` outside quotes, comments and `CREATE TRIGGER ... END`.

    Comment-only chunks are dropped. Raises SqlSplitError for an unterminated quote, comment or
    trigger body.
    """
    statements: list[Statement] = []
    n = len(sql)
    i = 0
    chunk_start = 0
    first: int | None = None  # offset of the current statement's first token
    last_end = 0  # offset just past its last token

    def line_at(offset: int) -> int:
        return sql.count("\n", 0, offset) + 1

    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            if close < 0:
                raise SqlSplitError("unterminated /* comment", line_at(i))
            i = close + 2
            continue
        if ch.isspace():
            i += 1
            continue
        if ch == ";":
            if first is not None and sqlite3.complete_statement(sql[chunk_start : i + 1]):
                statements.append(Statement(sql[first:last_end].strip(), line_at(first)))
                first = None
                chunk_start = i + 1
            elif first is None:
                chunk_start = i + 1
            i += 1
            continue
        if first is None:
            first = i
        if ch in "'\"`[":
            end = _skip_quoted(sql, i)
            if end < 0:
                raise SqlSplitError(f"unterminated {ch} quote", line_at(i))
            i = end
        else:
            i += 1
        last_end = i

    if first is not None:
        if not sqlite3.complete_statement(sql[chunk_start:last_end] + "\n;"):
            raise SqlSplitError("unterminated statement (a CREATE TRIGGER without END?)", line_at(first))
        statements.append(Statement(sql[first:last_end].strip(), line_at(first)))
    return statements


def _skip_quoted(sql: str, start: int) -> int:
    """Offset just past the quoted token at `start`, or -1 when it never closes."""
    opener = sql[start]
    closer = "]" if opener == "[" else opener
    j = start + 1
    while True:
        k = sql.find(closer, j)
        if k < 0:
            return -1
        if closer != "]" and sql.startswith(closer * 2, k):
            j = k + 2  # doubled quote is an escaped quote
            continue
        return k + 1


def join_statements(statements: Iterable[str]) -> str:
    return "".join(f"{text}\n;\n" for text in statements)


def record_statement(name: str) -> str:
    """The insert wrangler appends after a migration's SQL (the name as a quoted literal)."""
    escaped = name.replace("'", "''")
    return f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES ('{escaped}')"


_NUMERIC_PREFIX = re.compile(r"^(\d+)")


def migration_sort_key(name: str) -> tuple[int, int, str]:
    """wrangler orders pending files by the number before the first `_`; ties and others by name."""
    match = _NUMERIC_PREFIX.match(name)
    return (0, int(match.group(1)), name) if match else (1, 0, name)


def _read_migration(path: Path) -> tuple[MigrationFile | None, list[MigrationProblem]]:
    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [MigrationProblem(shown, f"cannot read: {exc.strerror or exc}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        return None, [MigrationProblem(shown, f"is not UTF-8 (byte 0x{byte} at offset {exc.start})", line)]
    text = text.removeprefix("\ufeff")
    try:
        statements = split_statements(text)
    except SqlSplitError as exc:
        return None, [MigrationProblem(shown, str(exc), exc.line)]
    if not statements:
        return None, [MigrationProblem(shown, "is empty: a migration needs at least one SQL statement")]
    problems = []
    for stmt in statements:
        keyword = stmt.text.split(None, 1)[0].upper().rstrip(";")
        if keyword in _TRANSACTION_KEYWORDS:
            problems.append(
                MigrationProblem(
                    shown,
                    f"`{stmt.snippet(40)}`: D1 does not accept transaction statements; "
                    "each migration already runs as one transaction",
                    stmt.line,
                )
            )
    if problems:
        return None, problems
    digest = hashlib.sha256(data).hexdigest()
    return MigrationFile(path.name, shown, digest, text, tuple(statements)), []


def _scan(directory: Path) -> tuple[list[MigrationFile], list[MigrationProblem]]:
    if not directory.exists():
        return [], [MigrationProblem(str(directory), "migrations folder does not exist")]
    if not directory.is_dir():
        return [], [MigrationProblem(str(directory), "is not a folder")]
    files: list[MigrationFile] = []
    problems: list[MigrationProblem] = []
    for path in sorted(directory.iterdir(), key=lambda p: migration_sort_key(p.name)):
        if path.suffix != ".sql" or not path.is_file():
            continue
        migration, found = _read_migration(path)
        problems.extend(found)
        if migration is not None:
            files.append(migration)
    return files, problems


def check_migrations_dir(directory: str | Path) -> list[MigrationProblem]:
    """Every problem of a migrations folder (missing, empty or non-UTF-8 file, ...); [] when valid.

    For `edgestack validate`: no network, no database.
    """
    return _scan(Path(directory))[1]


def load_migrations(directory: str | Path) -> list[MigrationFile]:
    """The folder's migrations in apply order. Raises MigrationDirError (one line) on any problem."""
    files, problems = _scan(Path(directory))
    if problems:
        raise MigrationDirError(problems)
    return files


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
