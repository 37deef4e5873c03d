"""The stack file's `mcp` section: the model, the cross-reference checks of `edgestack validate`, and
what the planner ships the Worker (every field, defaults included)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from infra.plan.runtime_config import runtime_config_json
from infra.spec.apps import MCP_TOOLS
from infra.stackfile.load import load_stack
from tests.conftest import FIXTURE_WORKER_SRC
from tests.test_crossref import messages

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "worker_src"))

from app.mcp.config import mcp_config  # noqa: E402
from app.mcp.tools import TOOL_NAMES  # noqa: E402


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
    stack = load_stack(REPO / "stacks" / "local.yaml", worker_src=FIXTURE_WORKER_SRC)
    shipped = json.loads(runtime_config_json(stack))
    assert shipped["mcp"] == {
        "enabled": True,
        "tools": list(MCP_TOOLS),
        "resources": True,
        "allowed_origins": [],
    }
    config = mcp_config(shipped)
    assert config is not None and config.tools == frozenset(MCP_TOOLS) and config.resources
