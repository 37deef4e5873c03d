"""Fixtures for the MCP tests: the loopback fake LLM upstreams (scripted per test), and the RAG
binding fakes on the path (tests/harness/rag_world.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO / "tests" / "gateway", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from gateway_testing import Upstreams  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dev_runtime: runs against `edgestack dev` (one runtime per module)")


@pytest.fixture(scope="module")
def running_upstreams() -> Iterator[Upstreams]:
    with Upstreams.running() as fakes:
        yield fakes


@pytest.fixture
def upstreams(running_upstreams: Upstreams) -> Upstreams:
    """The fakes with no queued faults or scripted replies."""
    return running_upstreams.fresh()
