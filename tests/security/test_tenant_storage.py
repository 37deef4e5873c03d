"""Tenants in RAG storage: scopes never contain '/', `/content` and `DELETE` go through the caller's
catalogue entry before R2, and R2 event keys are parsed strictly."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from app.rag.ids import split_object_key
from harness.planned import key_sha256
from harness.rag_world import RagWorld

from infra.stackfile.diagnostics import StackError
from infra.stackfile.load import load_stack
from tests.conftest import FIXTURE_WORKER_SRC, MALFORMED_DIR

PARENT, CHILD = "sk-parent", "sk-child"


def nested_scope_world() -> RagWorld:
    """A Worker config with scopes `tenant-a` and `tenant-a/sub`, as a stack could ship before
    validate refused '/' in a scope (the planned config, one key's scope changed afterwards)."""
    world = RagWorld()
    keys = world.config["gateway"]["keys"]
    template = keys["writer"]
    keys.clear()
    keys["parent"] = {**template, "sha256": key_sha256(PARENT), "scope": "tenant-a"}
    keys["child"] = {**template, "sha256": key_sha256(CHILD), "scope": "tenant-a/sub"}
    return world


def test_a_scope_with_a_slash_can_store_nothing() -> None:
    world = nested_scope_world()
    response = world.request("PUT", "/v1/documents/payroll", b"salaries", key=CHILD)
    assert response.status == 403 and b"cannot hold documents" in response.body
    assert world.r2.objects == {}
    assert world.request("PUT", "/v1/documents/sub/payroll", b"mine", key=PARENT).status == 200


def test_another_scopes_original_under_this_prefix_is_neither_served_nor_deleted() -> None:
    """`tenant-a/sub/payroll` in R2, written for the scope `tenant-a/sub` before validate refused it:
    tenant-a has no catalogue entry `sub/payroll`, so its `/content` and `DELETE` never reach R2."""
    world = nested_scope_world()
    asyncio.run(world.r2.put_object("tenant-a/sub/payroll", b"salaries", "text/plain", {}))
    assert world.request("GET", "/v1/documents/sub/payroll/content", key=PARENT).status == 404
    assert world.request("DELETE", "/v1/documents/sub/payroll", key=PARENT).status == 404
    assert world.r2.objects["tenant-a/sub/payroll"][0] == b"salaries"


def test_an_original_without_a_catalogue_entry_is_neither_served_nor_deleted() -> None:
    world = RagWorld()
    asyncio.run(world.r2.put_object("acme/raw.txt", b"uploaded", "text/plain", {}))
    assert world.request("GET", "/v1/documents/raw.txt/content").status == 404
    assert world.request("DELETE", "/v1/documents/raw.txt").status == 404
    assert "acme/raw.txt" in world.r2.objects


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("acme/docs/a.md", ("acme", "docs/a.md")),
        ("acme/../globex/x", None),
        ("acme x/doc", None),
        ("/doc", None),
        ("acme/", None),
        ("acme/a b", None),
        ("a" * 65 + "/doc", None),
    ],
)
def test_r2_event_keys_are_parsed_strictly(key: str, parts: tuple[str, str] | None) -> None:
    assert split_object_key(key) == parts


def _stack(tmp_path: Path, scope: str) -> Path:
    doc: dict[str, Any] = yaml.safe_load((MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text())
    doc["bindings"]["d1"]["DB"]["migrations"] = str(MALFORMED_DIR / "_parts" / "migrations")
    doc["gateway"]["keys"] = {"k": {"sha256": "0" * 64, "scope": scope}}
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("scope", ["tenant-a/sub", "", "a b", "x" * 65])
def test_validate_refuses_a_scope_outside_the_pattern_in_one_line(tmp_path: Path, scope: str) -> None:
    with pytest.raises(StackError) as caught:
        load_stack(_stack(tmp_path, scope), worker_src=FIXTURE_WORKER_SRC)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.key_path == "gateway.keys.k.scope"
    assert "1-64 letters, digits, '.', '_' or '-'" in diagnostic.message
    assert "\n" not in str(diagnostic)


def test_validate_accepts_the_shipped_scopes(tmp_path: Path) -> None:
    load_stack(_stack(tmp_path, "acme.eu_west-1"), worker_src=FIXTURE_WORKER_SRC)
