"""Fixtures for the MCP tests (RagWorld: tests/harness/rag_world.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from harness.rag_world import RagWorld  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dev_runtime: runs against the real local runtime (edgestack dev)")


@pytest.fixture
def world() -> Iterator[RagWorld]:
    yield RagWorld()
