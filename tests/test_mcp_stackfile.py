"""The stack file's `mcp` section: the model, the cross-reference checks of `edgestack validate`, and
what the planner ships the Worker (every field, defaults included)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from infra.spec.apps import MCP_TOOLS
from tests.test_crossref import messages

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "worker_src"), str(REPO / "tests")]

from app.mcp.config import mcp_config  # noqa: E402
from app.mcp.tools import TOOL_NAMES  # noqa: E402
from harness.planned import planned_config, runtime_config  # noqa: E402

RAG = {**yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())["rag"], "generation_alias": None}


def test_the_spec_names_exactly_the_worker_tools() -> None:
    assert MCP_TOOLS == TOOL_NAMES


def test_unknown_and_repeated_tools_are_refused(tmp_path: Path) -> None:
    found = messages(tmp_path, {"mcp": {"tools": ["search_documents", "rm_rf"]}})
    assert any(m.startswith("mcp.tools[1]:") for m in found), found
    found = messages(tmp_path, {"mcp": {"tools": ["get_document", "get_document"]}})
    assert any("more than once" in m for m in found), found
    found = messages(tmp_path, {"mcp": {"allowed_origins": ["app.example"]}})
    assert any("is not an origin" in m for m in found), found


def test_tools_need_the_features_they_call(tmp_path: Path) -> None:
    found = messages(
        tmp_path, {"mcp": {"tools": ["message_agent", "search_documents"]}, "agents": None, "rag": None}
    )
    assert "mcp.tools[0]: message_agent messages agents: declare an enabled agents section" in found
    assert "mcp.tools[1]: search_documents serves documents: declare an enabled rag section" in found
    assert any(m.startswith("mcp.resources:") for m in found)
    assert not messages(tmp_path, {"mcp": {"tools": ["message_agent"], "resources": False}, "rag": None})


def test_the_planner_ships_every_field_and_the_worker_reads_it() -> None:
    shipped = planned_config({"gateway": {"public": True}, "rag": RAG, "mcp": {"tools": list(MCP_TOOLS[:-1])}})
    assert shipped["mcp"] == {"enabled": True, "tools": list(MCP_TOOLS[:-1]), "resources": True, "allowed_origins": []}
    config = mcp_config(runtime_config(shipped))
    assert config is not None and config.tools == MCP_TOOLS[:-1] and config.resources
    assert planned_config({"gateway": {"public": True}})["mcp"] is None  # no section: null, MCP off
