"""Pulumi state written before the stage layout (issue 12) still loads.

Pulumi stores a dynamic provider in the state as `dill.dumps(provider)` in base64 (`__provider`), and
its provider process rebuilds it with `dill.loads` (pulumi/dynamic/__main__.py `get_provider`) for
read and delete, from the *old* state. dill pickles a class by reference, so the blobs below, made by
`serialize_provider` at main 1f9e8d0, name `infra.providers.vectorize` and
`infra.providers.d1_migrations`: modules that now live in `infra.deploy.providers`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

OLD_STATE_PROVIDERS = {
    "VectorizeIndexProvider": "gASVPgAAAAAAAACMGWluZnJhLnByb3ZpZGVycy52ZWN0b3JpemWUjBZWZWN0b3JpemVJbmRleFByb3ZpZGVylJOUKYGUfZRiLg==",
    "D1MigrationsProvider": "gASVQAAAAAAAAACMHWluZnJhLnByb3ZpZGVycy5kMV9taWdyYXRpb25zlIwURDFNaWdyYXRpb25zUHJvdmlkZXKUk5QpgZR9lGIu",
}

LOAD = """
import base64, sys, dill
provider = dill.loads(base64.b64decode(sys.argv[1]))
print(type(provider).__module__, type(provider).__qualname__)
"""


@pytest.mark.parametrize("name", sorted(OLD_STATE_PROVIDERS))
def test_a_provider_pickled_before_the_move_loads_as_the_current_class(name: str) -> None:
    """In a fresh interpreter, as Pulumi's provider process is."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD, OLD_STATE_PROVIDERS[name]], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    module = "vectorize" if name.startswith("Vectorize") else "d1_migrations"
    assert result.stdout.split() == [f"infra.deploy.providers.{module}", name]
