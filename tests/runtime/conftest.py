"""End-to-end tests of the local edge runtime (`edgestack dev`): a real Node host with Pyodide,
Cloudflare's workers-runtime-sdk and Miniflare, spoken to over HTTP on 127.0.0.1.

They need Node 20+ and `npm ci` in runtime/ (CI does both); every test is marked `runtime`.
A host takes a few seconds to start, so each module starts one and shares it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import REPO, RunningRuntime, start_runtime

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "runtime: end-to-end tests of the local edge runtime (Node host)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.runtime)


@pytest.fixture(scope="session", autouse=True)
def _runtime_prerequisites() -> None:
    if shutil.which("node") is None:
        pytest.fail("the runtime tests need Node.js 20+ on PATH", pytrace=False)
    from infra.dev.node_env import missing_packages

    missing = missing_packages()
    if missing:
        pytest.fail(
            f"runtime/node_modules is not installed ({missing[0]}): run `cd runtime && npm ci`", pytrace=False
        )


@pytest.fixture(scope="module")
def fixture_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    """The test Worker (tests/runtime/fixtures/worker) on the fixture stack, Pyodide 314."""
    state = tmp_path_factory.mktemp("state")
    os.environ["API_TOKEN"] = "token-from-environment"
    runtime = start_runtime(FIXTURES / "stack.yaml", FIXTURES / "worker", state)
    try:
        yield runtime
    finally:
        runtime.stop()
        os.environ.pop("API_TOKEN", None)


__all__ = ["FIXTURES", "REPO", "sys"]
