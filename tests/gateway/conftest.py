"""Fixtures for the gateway tests.

Unit tests import `app.gateway.*` directly. Integration tests get the `gateway` fixture: a factory
that starts the gateway for a config section on the selected target (see `harness/target.py`;
`EDGESTACK_GATEWAY_TARGET=dev` runs them against `edgestack dev`), with loopback fake upstreams.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from gateway_testing import SECRETS, Upstreams  # noqa: E402
from harness.target import RunningGateway, select_target  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "harness_only: needs the in-process harness (fake clock, binding access)"
    )
    config.addinivalue_line(
        "markers", "dev_runtime: always runs against `edgestack dev` (one runtime per module)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if select_target().name == "harness":
        return
    skip = pytest.mark.skip(reason="needs the in-process harness")
    for item in items:
        if "harness_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams.running() as fakes:
        yield fakes


@pytest.fixture
def fresh_upstreams(upstreams: Upstreams) -> Upstreams:
    return upstreams.fresh()


GatewayFactory = Callable[..., RunningGateway]


@pytest.fixture
def gateway(fresh_upstreams: Upstreams) -> Iterator[GatewayFactory]:
    """`gateway(section, secrets=SECRETS, clock=None, rate_limit=(limit, period))` -> a running gateway."""
    target = select_target()
    with ExitStack() as stack:

        def start(
            section: dict[str, Any],
            secrets: dict[str, str] | None = None,
            clock: Callable[[], float] | None = None,
            rate_limit: tuple[int, int] = (1000, 60),
        ) -> RunningGateway:
            return stack.enter_context(
                target.start(
                    {"gateway": section},
                    secrets if secrets is not None else SECRETS,
                    clock=clock,
                    rate_limit=rate_limit,
                )
            )

        yield start
