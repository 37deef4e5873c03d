"""Fixtures shared by the stack-file tests and the Cloudflare API tests. Keep this file minimal and generic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.cloudflare_api import D1_DATABASE_ID, FakeCloudflare, running_fake

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"
MALFORMED_DIR = REPO_ROOT / "tests" / "malformed"
FIXTURE_WORKER_SRC = MALFORMED_DIR / "_parts" / "worker_src"


@pytest.fixture
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so diagnostics name files as `stacks/prod.yaml`."""
    monkeypatch.chdir(REPO_ROOT)
    return REPO_ROOT


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    """The loopback fake of the Cloudflare REST API (tests/fakes/cloudflare_api.py), running, with one
    empty D1 database `D1_DATABASE_ID`."""
    with running_fake() as server:
        server.add_database(D1_DATABASE_ID)
        yield server
