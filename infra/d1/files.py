"""A D1 migrations folder as wrangler reads it: `.sql` files in apply order, split into statements.

Pure (no network, no database), so `edgestack validate` checks folders cheaply
(`check_migrations_dir`) and the runner (`migrations.py`) and the Pulumi resource share one reading.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.errors import EdgestackError

MIGRATIONS_TABLE = "d1_migrations"  # wrangler's record of applied files

_TRANSACTION_KEYWORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


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


class D1MigrationError(EdgestackError, RuntimeError):
    """Base of every migration error; the message is one line."""


class MigrationDirError(D1MigrationError):
    def __init__(self, problems: Sequence[MigrationProblem]) -> None:
        self.problems = tuple(problems)
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


class SqlSplitError(EdgestackError, ValueError):
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
