"""Fixtures shared by the stack-file tests and the Cloudflare API tests. Keep this file minimal and generic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fakes.cloudflare_api import D1_DATABASE_ID, TOKEN, FakeCloudflare, running_fake

if TYPE_CHECKING:
    from infra.deploy.cloudflare_api import CloudflareApi

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


def fake_api(
    fake: FakeCloudflare, max_attempts: int, sleep: Callable[[float], None] = lambda _s: None
) -> CloudflareApi:
    """edgestack's Cloudflare client on the fake, with the token it accepts; retries wait by calling
    `sleep` (by default they do not wait)."""
    from infra.deploy.cloudflare_api import RetryPolicy, connect

    return connect(TOKEN, base_url=fake.base_url, retry=RetryPolicy(max_attempts=max_attempts), sleep=sleep)
