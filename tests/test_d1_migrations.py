"""The D1 migration runner (`infra.d1.migrations`), through the SDK-based client, on the loopback fake.

The fake follows the D1 query endpoint of
https://developers.cloudflare.com/api/resources/d1/subresources/database/methods/query/ (request
`{"sql", "params"}`, one result per statement) with D1's batch semantics (several statements run as
one transaction, rolled back on error: https://developers.cloudflare.com/d1/worker-api/d1-database/#batch)
on a real in-memory SQLite database. The migrations table is wrangler's
(workers-sdk packages/wrangler/src/d1/migrations/helpers.ts).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fakes.cloudflare_api import ACCOUNT_ID, D1_DATABASE_ID, FakeCloudflare

from infra.d1.files import (
    MigrationDirError,
    check_migrations_dir,
    load_migrations,
    migration_sort_key,
    split_statements,
)
from infra.d1.migrations import (
    CREATE_MIGRATIONS_TABLE,
    EditedMigrationError,
    MigrationFailedError,
    apply_migrations,
    recorded_migrations,
)
from infra.deploy.cloudflare_api import D1RestClient
from tests.conftest import fake_api

DB = D1_DATABASE_ID  # the database the `fake` fixture (tests/conftest.py) holds


@pytest.fixture
def client(fake: FakeCloudflare) -> D1RestClient:
    api = fake_api(fake, max_attempts=1)
    return D1RestClient(api, ACCOUNT_ID, DB)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def tables(fake: FakeCloudflare) -> list[str]:
    rows = fake.databases[DB].execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    return [r[0] for r in rows if not r[0].startswith("sqlite_")]


# --- reading the folder ---------------------------------------------------------------------------


def test_statements_split_outside_quotes_comments_and_triggers() -> None:
    sql = (
        "-- header; not a statement\n"
        "CREATE TABLE a (x TEXT DEFAULT 'a;b''c'); -- trailing comment\n"
        '/* block ; */ INSERT INTO a VALUES ("q;") ;\n'
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO a VALUES (1); END;\n"
        "SELECT [we;ird] FROM a -- last one has no semicolon\n"
    )
    statements = split_statements(sql)
    assert [s.text for s in statements] == [
        "CREATE TABLE a (x TEXT DEFAULT 'a;b''c')",
        'INSERT INTO a VALUES ("q;")',
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO a VALUES (1); END",
        "SELECT [we;ird] FROM a",
    ]
    assert [s.line for s in statements] == [2, 3, 4, 5]


def test_files_apply_in_wranglers_order() -> None:
    names = ["10_c.sql", "2_b.sql", "0001_a.sql", "notes.sql", "0002_b2.sql"]
    assert sorted(names, key=migration_sort_key) == [
        "0001_a.sql",
        "0002_b2.sql",
        "2_b.sql",
        "10_c.sql",
        "notes.sql",
    ]


def test_valid_folder_loads_in_order_with_checksums(tmp_path: Path) -> None:
    write(tmp_path, "0002_more.sql", "ALTER TABLE t ADD COLUMN b TEXT;")
    write(tmp_path, "0001_init.sql", "CREATE TABLE t (a TEXT);")
    write(tmp_path, "README.md", "not a migration")
    assert check_migrations_dir(tmp_path) == []
    files = load_migrations(tmp_path)
    assert [m.name for m in files] == ["0001_init.sql", "0002_more.sql"]
    assert files[0].sha256 == hashlib.sha256(b"CREATE TABLE t (a TEXT);").hexdigest()
    assert files[0].text == "CREATE TABLE t (a TEXT);"


def test_empty_and_comment_only_files_are_problems(tmp_path: Path) -> None:
    write(tmp_path, "0001_empty.sql", "")
    write(tmp_path, "0002_comments.sql", "-- nothing yet\n/* later */\n")
    problems = [str(p) for p in check_migrations_dir(tmp_path)]
    assert problems == [
        f"{tmp_path}/0001_empty.sql: is empty: a migration needs at least one SQL statement",
        f"{tmp_path}/0002_comments.sql: is empty: a migration needs at least one SQL statement",
    ]


def test_non_utf8_file_is_a_problem_with_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "0001_latin1.sql",
        "CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('caf\xe9');".encode("latin-1"),
    )
    (problem,) = check_migrations_dir(tmp_path)
    assert str(problem) == f"{tmp_path}/0001_latin1.sql:2: is not UTF-8 (byte 0xe9 at offset 51)"


def test_unterminated_quote_and_transaction_statements_are_problems(tmp_path: Path) -> None:
    write(tmp_path, "0001_quote.sql", "CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('oops);\n")
    write(tmp_path, "0002_tx.sql", "BEGIN TRANSACTION;\nCREATE TABLE u (a TEXT);\nCOMMIT;\n")
    problems = [str(p) for p in check_migrations_dir(tmp_path)]
    assert problems[0] == f"{tmp_path}/0001_quote.sql:2: unterminated ' quote"
    assert problems[1].startswith(f"{tmp_path}/0002_tx.sql:1: `BEGIN TRANSACTION`: D1 does not accept")
    assert problems[2].startswith(f"{tmp_path}/0002_tx.sql:3: `COMMIT`")


def test_missing_folder_and_load_error_are_one_line(tmp_path: Path) -> None:
    assert [str(p) for p in check_migrations_dir(tmp_path / "nope")] == [
        f"{tmp_path}/nope: migrations folder does not exist"
    ]
    write(tmp_path, "0001_a.sql", "")
    write(tmp_path, "0002_b.sql", b"\xff")
    with pytest.raises(MigrationDirError) as err:
        load_migrations(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}/0001_a.sql: is empty: a migration needs at least one SQL statement (and 1 more problem(s))"
    )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, "0001_bom.sql", "\ufeffCREATE TABLE t (a TEXT);".encode())
    (migration,) = load_migrations(tmp_path)
    assert migration.statements[0].text == "CREATE TABLE t (a TEXT)"


# --- applying -------------------------------------------------------------------------------------


def test_apply_creates_wranglers_table_and_records_each_file(tmp_path, fake, client) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")  # no `;`
    write(tmp_path, "0002_seed.sql", "INSERT INTO notes (body) VALUES ('it''s; fine'); -- comment")
    files = load_migrations(tmp_path)
    report = apply_migrations(client, files)
    assert report.newly_applied == ("0001_init.sql", "0002_seed.sql")
    assert report.recorded == ("0001_init.sql", "0002_seed.sql")
    assert report.checksums == {m.name: m.sha256 for m in files}
    db = fake.databases[DB]
    assert db.execute("SELECT body FROM notes").fetchall() == [("it's; fine",)]
    schema = db.execute("SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'").fetchone()[0]
    assert " ".join(schema.split()) == " ".join(CREATE_MIGRATIONS_TABLE.split()).replace(" IF NOT EXISTS", "")
    rows = db.execute("SELECT id, name, applied_at IS NOT NULL FROM d1_migrations ORDER BY id").fetchall()
    assert rows == [(1, "0001_init.sql", 1), (2, "0002_seed.sql", 1)]


def test_a_second_run_applies_nothing(tmp_path, fake, client) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    files = load_migrations(tmp_path)
    apply_migrations(client, files)
    requests_before = len(fake.requests)
    again = apply_migrations(client, files, {files[0].name: files[0].sha256})
    assert again.newly_applied == ()
    assert again.recorded == ("0001_init.sql",)
    # only the table check and reads: no migration SQL was sent again
    sent = [r.body["sql"] for r in fake.requests[requests_before:]]
    assert not any("CREATE TABLE notes" in sql for sql in sent)


def test_only_new_files_are_applied_later(tmp_path, fake, client) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    first = apply_migrations(client, load_migrations(tmp_path))
    write(tmp_path, "0002_index.sql", "CREATE INDEX notes_body ON notes (body);")
    second = apply_migrations(client, load_migrations(tmp_path), first.checksums)
    assert second.newly_applied == ("0002_index.sql",)
    assert second.recorded == ("0001_init.sql", "0002_index.sql")


def test_failure_mid_run_keeps_earlier_files_names_the_statement_and_resumes(tmp_path, fake, client) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    write(
        tmp_path,
        "0002_broken.sql",
        "CREATE TABLE tags (name TEXT);\n\nINSERT INTO tags VALUES ('a');\nINSERT INTO nowhere VALUES (1);\n"
        "CREATE TABLE after_error (x TEXT);\n",
    )
    write(tmp_path, "0003_later.sql", "CREATE TABLE later (x TEXT);")
    with pytest.raises(MigrationFailedError) as err:
        apply_migrations(client, load_migrations(tmp_path))
    message = str(err.value)
    assert message == (
        f"{tmp_path}/0002_broken.sql:4: migration 0002_broken.sql failed in statement "
        "`INSERT INTO nowhere VALUES (1)`: no such table: nowhere: SQLITE_ERROR; it was rolled back; "
        "1 migration(s) before it stay applied; fix it and run again to resume from it"
    )
    assert err.value.applied_before == ("0001_init.sql",)
    # the failed file left nothing behind, the file after it did not run
    assert tables(fake) == ["d1_migrations", "notes"]
    assert recorded_migrations(client) == ["0001_init.sql"]

    write(tmp_path, "0002_broken.sql", "CREATE TABLE tags (name TEXT);\nINSERT INTO tags VALUES ('a');\n")
    resumed = apply_migrations(client, load_migrations(tmp_path))
    assert resumed.newly_applied == ("0002_broken.sql", "0003_later.sql")
    assert tables(fake) == ["d1_migrations", "later", "notes", "tags"]


def test_failure_in_the_first_statement_is_located(tmp_path, fake, client) -> None:
    write(tmp_path, "0001_bad.sql", "CREATE TABLE (x);\nCREATE TABLE fine (x TEXT);")
    with pytest.raises(MigrationFailedError) as err:
        apply_migrations(client, load_migrations(tmp_path))
    assert err.value.statement is not None and err.value.statement.line == 1
    assert "syntax error" in err.value.d1_message
    assert err.value.applied_before == ()


def test_edited_applied_migration_is_refused_before_anything_runs(tmp_path, fake, client) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    first = apply_migrations(client, load_migrations(tmp_path))
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT, extra TEXT);")
    write(tmp_path, "0002_new.sql", "CREATE TABLE other (x TEXT);")
    with pytest.raises(EditedMigrationError) as err:
        apply_migrations(client, load_migrations(tmp_path), first.checksums)
    message = str(err.value)
    assert message.startswith(f"{tmp_path}/0001_init.sql: already applied with sha256 ")
    assert "restore the file and add a new migration" in message and "\n" not in message
    assert tables(fake) == ["d1_migrations", "notes"]


def test_files_applied_by_wrangler_are_skipped_and_adopted(tmp_path, fake, client) -> None:
    db = fake.databases[DB]
    db.execute(CREATE_MIGRATIONS_TABLE)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO d1_migrations (name) VALUES ('0001_init.sql')")
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    write(tmp_path, "0002_more.sql", "CREATE TABLE more (x TEXT);")
    report = apply_migrations(client, load_migrations(tmp_path))
    assert report.newly_applied == ("0002_more.sql",)
    assert set(report.checksums) == {"0001_init.sql", "0002_more.sql"}


def test_a_replayed_request_that_was_applied_counts_as_applied(tmp_path, fake) -> None:
    """The first attempt is applied but its response is lost (a 502 after the fact): the retry then
    fails (table exists); the runner sees the name recorded and carries on."""
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    (migration,) = load_migrations(tmp_path)
    fake.databases[DB].executescript(CREATE_MIGRATIONS_TABLE + ";" + migration.request_sql())

    class LostFirstTable:
        """Reports the table as missing once, as if the first read raced the apply."""

        def __init__(self, inner: D1RestClient) -> None:
            self.inner = inner
            self.hidden = True

        def query(self, sql, params=()):
            if self.hidden and sql.startswith("SELECT name FROM sqlite_master"):
                self.hidden = False
                return self.inner.query("SELECT 1 WHERE 0")
            return self.inner.query(sql, params)

    api = fake_api(fake, max_attempts=1)
    report = apply_migrations(LostFirstTable(D1RestClient(api, ACCOUNT_ID, DB)), [migration])
    assert report.newly_applied == ("0001_init.sql",)
    assert report.recorded == ("0001_init.sql",)


def test_5xx_during_apply_is_retried(tmp_path, fake) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    sleeps: list[float] = []
    api = fake_api(fake, max_attempts=3, sleep=sleeps.append)
    fake.fail("POST", r"/d1/database/.*/query$", 503, [(7500, "D1 is overloaded")])
    report = apply_migrations(D1RestClient(api, ACCOUNT_ID, DB), load_migrations(tmp_path))
    assert report.newly_applied == ("0001_init.sql",)
    assert sleeps == [0.5]


def test_a_request_whose_response_was_lost_is_replayed_without_running_twice(tmp_path, fake) -> None:
    """D1 commits a migration request but the response is lost (a 503 after running it): the retry
    must not apply the file a second time. The replay fails on the file's UNIQUE record inside the
    same transaction and rolls back whole; the runner then finds the file recorded."""
    write(tmp_path, "0001_seed.sql", "CREATE TABLE notes (body TEXT);\nINSERT INTO notes VALUES ('once');")
    sleeps: list[float] = []
    api = fake_api(fake, max_attempts=3, sleep=sleeps.append)
    fake.fail("POST", r"/d1/database/.*/query$", 503, after_running=True, body_contains="INSERT INTO notes")
    report = apply_migrations(D1RestClient(api, ACCOUNT_ID, DB), load_migrations(tmp_path))
    assert report.newly_applied == ("0001_seed.sql",) and report.recorded == ("0001_seed.sql",)
    assert sleeps == [0.5]  # it was re-sent once
    rows = fake.databases[DB].execute("SELECT body FROM notes").fetchall()
    assert rows == [("once",)]
