"""Fixtures for the security tests: the Worker core on CPython (gateway, RAG and agents) and the
loopback fake LLM upstreams."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO / "tests" / "gateway", REPO / "tests" / "agents", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from harness.upstream_fixtures import running_upstreams, upstreams  # noqa: E402

__all__ = ["running_upstreams", "upstreams"]  # fixtures, imported for pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dev_runtime: runs against the real local runtime (edgestack dev)")
