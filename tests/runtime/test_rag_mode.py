"""The RAG mode `edgestack dev` plans when the stack file leaves `rag.mode` out (infra/dev/rag_mode.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from infra.dev.rag_mode import local_rag_mode
from infra.plan.runtime_config import runtime_config_json
from infra.spec import Stack
from infra.stackfile.load import load_stack

REPO = Path(__file__).resolve().parents[2]


def _stack(tmp_path: Path, **rag: object) -> Stack:
    data = yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())
    data["rag"].update(rag)
    (tmp_path / "migrations").symlink_to(REPO / "stacks" / "migrations")
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_stack(path)


def _shipped_mode(stack: Stack) -> str:
    return json.loads(runtime_config_json(stack, {}))["rag"]["mode"]


def test_on_the_hashing_floor_an_unset_mode_becomes_keyword(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    assert "mode" not in yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())["rag"]
    planned, line = local_rag_mode(stack, language_model=False)
    assert _shipped_mode(planned) == "keyword" and _shipped_mode(stack) == "hybrid"
    assert line is not None and line.startswith("RAG: default mode keyword, not hybrid")


def test_with_a_language_model_the_default_stays(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    planned, line = local_rag_mode(stack, language_model=True)
    assert planned is stack and line == "RAG: default mode hybrid"


def test_a_mode_written_in_the_stack_file_is_kept(tmp_path: Path) -> None:
    stack = _stack(tmp_path, mode="vector")
    planned, line = local_rag_mode(stack, language_model=False)
    assert _shipped_mode(planned) == "vector" and line == "RAG: default mode vector (set in the stack file)"
