"""The D1 migrations dynamic provider: check, diff (the preview), create, update, read, delete called
directly, with the SDK pointed at the loopback fake of the D1 query endpoint
(https://developers.cloudflare.com/api/resources/d1/subresources/database/methods/query/) backed by
a real in-memory SQLite database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.cloudflare_api import ACCOUNT_ID, D1_DATABASE_ID, FakeCloudflare
from pulumi.runtime import rpc

from infra.d1.files import load_migrations
from infra.d1.migrations import EditedMigrationError, MigrationFailedError
from infra.deploy.providers.d1_migrations import D1MigrationsProvider, migration_props
from tests.conftest import fake_api

DB = D1_DATABASE_ID  # the database the `fake` fixture (tests/conftest.py) holds


@pytest.fixture
def provider(fake: FakeCloudflare) -> D1MigrationsProvider:
    p = D1MigrationsProvider()
    p.use_api(fake_api(fake, max_attempts=2))
    return p


def folder_props(folder: Path, database_id: str = DB) -> dict:
    return migration_props(
        account_id=ACCOUNT_ID,
        database_id=database_id,
        database_name="acme-db",
        migrations_dir="stacks/migrations/db",
        files=load_migrations(folder),
    )


def write(folder: Path, name: str, content: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(content, encoding="utf-8")


def names(state: dict) -> list[str]:
    return [f["name"] for f in state["files"]]


def test_create_applies_everything_then_an_unchanged_folder_is_a_no_op(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    write(tmp_path, "0002_seed.sql", "INSERT INTO notes VALUES ('hello');")
    inputs = folder_props(tmp_path)
    assert provider.check({}, inputs).failures == []
    created = provider.create(inputs)
    assert created.id == f"{DB}/d1_migrations"
    state = created.outs
    assert state["applied"] == ["0001_init.sql", "0002_seed.sql"]
    assert state["files"] == inputs["files"] and state["sql"] == inputs["sql"]
    assert fake.databases[DB].execute("SELECT body FROM notes").fetchall() == [("hello",)]
    assert provider.diff(created.id, state, folder_props(tmp_path)).changes is False


def test_preview_diff_lists_the_files_that_would_be_applied(tmp_path, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    write(tmp_path, "0002_tags.sql", "CREATE TABLE tags (name TEXT);")
    write(tmp_path, "0003_more.sql", "CREATE TABLE more (x TEXT);")
    news = folder_props(tmp_path)
    diff = provider.diff("id", state, news)
    assert (diff.changes, diff.replaces) == (True, [])
    # the engine shows the property diff between state and inputs: exactly the pending files
    pending = [f for f in news["files"] if f not in state["files"]]
    assert [f["name"] for f in pending] == ["0002_tags.sql", "0003_more.sql"]
    assert set(news["sql"]) - set(state["sql"]) == {"0002_tags.sql", "0003_more.sql"}

    updated = provider.update("id", state, news).outs
    assert updated["applied"] == ["0001_init.sql", "0002_tags.sql", "0003_more.sql"]
    assert provider.diff("id", updated, folder_props(tmp_path)).changes is False


def test_edited_applied_migration_is_refused_at_preview_and_at_apply(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT, extra TEXT);")
    news = folder_props(tmp_path)
    with pytest.raises(EditedMigrationError, match=r"stacks/migrations/db/0001_init.sql: already applied"):
        provider.diff("id", state, news)
    with pytest.raises(EditedMigrationError):
        provider.update("id", state, news)
    columns = [r[1] for r in fake.databases[DB].execute("PRAGMA table_info(notes)")]
    assert columns == ["body"]


def test_failure_mid_run_then_resume(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    write(tmp_path, "0002_ok.sql", "CREATE TABLE ok (x TEXT);")
    write(tmp_path, "0003_bad.sql", "CREATE TABLE bad (x TEXT);\nINSERT INTO missing VALUES (1);")
    write(tmp_path, "0004_after.sql", "CREATE TABLE after_bad (x TEXT);")
    with pytest.raises(MigrationFailedError) as err:
        provider.update("id", state, folder_props(tmp_path))
    assert str(err.value).startswith(
        "stacks/migrations/db/0003_bad.sql:2: migration 0003_bad.sql failed in statement "
        "`INSERT INTO missing VALUES (1)`: no such table: missing: SQLITE_ERROR"
    )
    # Pulumi keeps the old state after a failed update; the database keeps 0002
    refreshed = provider.read("id", state).outs
    assert refreshed["applied"] == ["0001_init.sql", "0002_ok.sql"]

    write(tmp_path, "0003_bad.sql", "CREATE TABLE bad (x TEXT);")
    news = folder_props(tmp_path)
    assert provider.diff("id", state, news).changes is True
    resumed = provider.update("id", state, news).outs
    assert resumed["applied"] == ["0001_init.sql", "0002_ok.sql", "0003_bad.sql", "0004_after.sql"]
    assert names(resumed) == resumed["applied"]


def test_read_detects_rows_removed_from_the_table(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    write(tmp_path, "0002_more.sql", "CREATE TABLE more (x TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    fake.databases[DB].execute("DELETE FROM d1_migrations WHERE name = '0002_more.sql'")
    refreshed = provider.read("id", state).outs
    assert refreshed["applied"] == ["0001_init.sql"] and names(refreshed) == ["0001_init.sql"]
    assert provider.diff("id", refreshed, folder_props(tmp_path)).changes is True


def test_read_of_a_deleted_database_reports_gone(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    del fake.databases[DB]
    assert provider.read("id", state).id == ""


def test_migrations_applied_by_wrangler_get_checksums_recorded(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    # `wrangler d1 migrations apply` ran 0002 meanwhile
    write(tmp_path, "0002_wrangler.sql", "CREATE TABLE w (x TEXT);")
    fake.databases[DB].executescript(
        "CREATE TABLE w (x TEXT); INSERT INTO d1_migrations (name) VALUES ('0002_wrangler.sql');"
    )
    refreshed = provider.read("id", state).outs
    assert refreshed["applied"] == ["0001_init.sql", "0002_wrangler.sql"]
    news = folder_props(tmp_path)
    assert provider.diff("id", refreshed, news).changes is True  # only to record the checksum
    updated = provider.update("id", refreshed, news).outs
    assert names(updated) == ["0001_init.sql", "0002_wrangler.sql"]
    assert provider.diff("id", updated, folder_props(tmp_path)).changes is False


def test_another_database_means_replacement(tmp_path, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    diff = provider.diff("id", state, folder_props(tmp_path, database_id=rpc.UNKNOWN))
    assert (diff.changes, diff.replaces) == (True, ["database_id"])
    assert provider.check({}, folder_props(tmp_path, database_id=rpc.UNKNOWN)).failures == []


def test_delete_leaves_the_schema_alone(tmp_path, fake, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    state = provider.create(folder_props(tmp_path)).outs
    requests = len(fake.requests)
    provider.delete("id", state)
    assert len(fake.requests) == requests


def test_check_catches_inconsistent_inputs(tmp_path, provider) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE notes (body TEXT);")
    inputs = folder_props(tmp_path)
    inputs["files"] = inputs["files"] * 2
    inputs["sql"] = {}
    reasons = [(f.property, f.reason) for f in provider.check({}, inputs).failures]
    assert reasons == [
        ("files", "migration file names must be unique"),
        ("sql", "no SQL for 0001_init.sql"),
    ]
