"""Fixtures for the security tests: the Worker core on CPython (gateway, RAG and agents) and the
loopback fake LLM upstreams."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO / "tests" / "gateway", REPO / "tests" / "agents", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from gateway_testing import Upstreams  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dev_runtime: runs against the real local runtime (edgestack dev)")


@pytest.fixture(scope="module")
def running_upstreams() -> Iterator[Upstreams]:
    with Upstreams.running() as fakes:
        yield fakes


@pytest.fixture
def upstreams(running_upstreams: Upstreams) -> Upstreams:
    """The fakes with no queued faults or scripted replies."""
    return running_upstreams.fresh()
