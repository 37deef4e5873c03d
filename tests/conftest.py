"""Fixtures shared by the stack-file tests. Keep this file minimal and generic."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"
MALFORMED_DIR = REPO_ROOT / "tests" / "malformed"
FIXTURE_WORKER_SRC = MALFORMED_DIR / "_parts" / "worker_src"


@pytest.fixture
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so diagnostics name files as `stacks/prod.yaml`."""
    monkeypatch.chdir(REPO_ROOT)
    return REPO_ROOT
