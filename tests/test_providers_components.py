"""The Vectorize and D1 migration components inside the real program, synthesized offline under
Pulumi's mocks (`infra.deploy.synth`), with `provision_index` / `apply_d1_migrations` wired into `Storage`.

Checks the graph: resource types and inputs, the dependency order (index before the Worker version
that binds it, D1 database before its migrations, migrations before the Worker version), and that
no API token appears in what would be stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from pulumi_mocks import fake_bundle, make_stack

from infra.d1.files import MigrationDirError
from infra.deploy.components.d1_migrations import apply_d1_migrations
from infra.deploy.components.vectorize import VectorizeConfigError, VectorizeIndex, provision_index
from infra.deploy.program import build
from infra.deploy.providers.vectorize_config import IndexConfig
from infra.deploy.synth import SynthResult, run_program, synth_config
from infra.plan.planner import plan

TOKEN = "tok-never-serialized-9f8e7d"
INDEX_COMPONENT = "edgestack:index:VectorizeIndex"
INDEX_RESOURCE = "pulumi-python:dynamic/edgestack:VectorizeIndex"
MIGRATIONS_COMPONENT = "edgestack:index:D1Migrations"
MIGRATIONS_RESOURCE = "pulumi-python:dynamic/edgestack:D1Migrations"


def synth_with_providers(migrations: Path, *, edit_after_check: Callable[[], object] | None = None) -> SynthResult:
    stack = make_stack({"bindings": {"d1": {"DB": {"migrations": str(migrations)}}}})
    if edit_after_check is not None:
        edit_after_check()  # the folder changes between `load_stack` and the deploy
    the_plan = plan(stack, fake_bundle(), stack_name="prod")
    config, secret_keys = synth_config(the_plan, None)
    config["cloudflare:apiToken"] = TOKEN
    secret_keys.append("cloudflare:apiToken")

    def program() -> None:
        build(the_plan, index_provisioner=provision_index, d1_migrator=apply_d1_migrations)

    return run_program("prod", program, config=config, secret_keys=secret_keys)


@pytest.fixture(autouse=True)
def event_loop_for_pulumi() -> None:
    """Pulumi's synchronous runtime needs a current event loop; an earlier `asyncio.run` in the same
    process leaves none."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0002_docs.sql").write_text("CREATE TABLE docs (id TEXT);\n", encoding="utf-8")
    (folder / "0001_init.sql").write_text("CREATE TABLE notes (body TEXT);\n", encoding="utf-8")
    return folder


def test_synth_shows_the_index_and_migrations_with_their_dependencies(migrations: Path) -> None:
    result = synth_with_providers(migrations)

    (component,) = result.of_type(INDEX_COMPONENT)
    (index,) = result.of_type(INDEX_RESOURCE)
    assert index.parent == component.name
    assert component.protect and index.protect  # prod data is protected; the child inherits it
    assert {k: v for k, v in index.inputs.items() if k != "__provider"} == {
        "account_id": "0123456789abcdef0123456789abcdef",
        "index_name": "shop-vectors",
        "dimensions": 384,
        "metric": "cosine",
        "description": "",
        "metadata_indexes": {"tenant": "string"},
        "adopt_existing": False,
    }
    assert index.inputs["__provider"] == "[secret]"

    (migrations_component,) = result.of_type(MIGRATIONS_COMPONENT)
    (applied,) = result.of_type(MIGRATIONS_RESOURCE)
    assert applied.parent == migrations_component.name
    assert [f["name"] for f in applied.inputs["files"]] == ["0001_init.sql", "0002_docs.sql"]
    assert applied.inputs["sql"]["0001_init.sql"] == "CREATE TABLE notes (body TEXT);\n"
    (database,) = result.of_type("cloudflare:index/d1Database:D1Database")
    assert database.name in migrations_component.depends_on

    (version,) = result.of_type("cloudflare:index/workerVersion:WorkerVersion")
    # depends_on on a component reaches the engine as its custom resources
    assert index.name in version.depends_on
    assert applied.name in version.depends_on
    vectorize_binding = next(b for b in version.inputs["bindings"] if b["type"] == "vectorize")
    assert vectorize_binding["indexName"] == "shop-vectors"


def test_no_token_in_the_synthesized_graph(migrations: Path) -> None:
    import json

    assert TOKEN not in json.dumps(synth_with_providers(migrations).to_json())


def test_a_bad_migration_file_stops_the_program_with_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    migration = folder / "0001_init.sql"
    migration.write_bytes(b"CREATE TABLE t (a TEXT);\n")
    with pytest.raises(MigrationDirError) as err:
        synth_with_providers(
            folder, edit_after_check=lambda: migration.write_bytes(b"CREATE TABLE t (a TEXT);\n\xff\n")
        )
    assert str(err.value) == f"{folder}/0001_init.sql:2: is not UTF-8 (byte 0xff at offset 25)"


def test_invalid_index_arguments_are_one_line() -> None:
    args = IndexConfig(account_id="0123456789abcdef0123456789abcdef", index_name="9bad", dimensions=384)
    with pytest.raises(
        VectorizeConfigError, match=r"^Vectorize index rag: index_name: .*must start with a lowercase"
    ):
        VectorizeIndex("rag", args)
