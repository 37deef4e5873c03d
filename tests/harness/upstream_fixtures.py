"""The loopback fake LLM upstreams as pytest fixtures, for test folders that script them per test
(agents, security). Import both names into the folder's conftest.py; `tests/gateway` must be on
sys.path (for gateway_testing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_testing import Upstreams


@pytest.fixture(scope="module")
def running_upstreams() -> Iterator[Upstreams]:
    with Upstreams.running() as fakes:
        yield fakes


@pytest.fixture
def upstreams(running_upstreams: Upstreams) -> Upstreams:
    """The fakes with no queued faults or scripted replies."""
    return running_upstreams.fresh()
